using System.Globalization;
using Tern.Core.Memory;

namespace Tern.Server.Hosting;

/// <summary>
/// The machine's memory limits, read from cgroup files and /proc/meminfo below a root (tests use fixture
/// folders laid out like a machine). Core decides the budget from them; reading them is the host's job.
/// </summary>
internal static class HostMemoryLimits
{
    public static MemoryLimits Read(string root = "/") =>
        new(ReadCgroupV2(root), ReadCgroupV1(root), ReadMemTotal(root) ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);

    /// <summary>
    /// The tightest <c>memory.max</c> on the way from the process's cgroup (v2) up to the root: a limit
    /// on a parent slice binds the process as much as its own. Null when every level says "max".
    /// </summary>
    public static long? ReadCgroupV2(string root)
    {
        var group = "/";
        var selfCgroup = Path.Combine(root, "proc/self/cgroup");
        if (File.Exists(selfCgroup))
        {
            foreach (var line in File.ReadLines(selfCgroup))
            {
                if (line.StartsWith("0::", StringComparison.Ordinal)) group = line[3..];
            }
        }
        long? tightest = null;
        var segments = group.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var depth = segments.Length; depth >= 0; depth--)
        {
            var file = Path.Combine([root, "sys/fs/cgroup", .. segments.Take(depth), "memory.max"]);
            if (!File.Exists(file)) continue;
            var text = File.ReadAllText(file).Trim();
            if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) && bytes > 0) tightest = Math.Min(tightest ?? long.MaxValue, bytes);
        }
        return tightest;
    }

    /// <summary><c>memory.limit_in_bytes</c> (v1); "unlimited" is a huge page-rounded number, treated as none.</summary>
    public static long? ReadCgroupV1(string root)
    {
        var file = Path.Combine(root, "sys/fs/cgroup/memory/memory.limit_in_bytes");
        if (!File.Exists(file)) return null;
        if (!long.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) || bytes <= 0) return null;
        return bytes >= (1L << 60) ? null : bytes;
    }

    /// <summary>MemTotal from /proc/meminfo, in bytes.</summary>
    public static long? ReadMemTotal(string root)
    {
        var file = Path.Combine(root, "proc/meminfo");
        if (!File.Exists(file)) return null;
        foreach (var line in File.ReadLines(file))
        {
            if (!line.StartsWith("MemTotal:", StringComparison.Ordinal)) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kib)) return kib * 1024;
        }
        return null;
    }
}

/// <summary>Reads this process's figures from /proc and the GC.</summary>
internal sealed class ProcessMemoryReader : IMemoryReader
{
    public MemorySample Read()
    {
        long rss = 0;
        var threads = 0;
        if (File.Exists("/proc/self/status"))
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = KiB(line);
                else if (line.StartsWith("Threads:", StringComparison.Ordinal)) threads = (int)Number(line);
            }
        }
        else
        {
            rss = Environment.WorkingSet;
        }

        long privateBytes = 0;
        if (File.Exists("/proc/self/smaps_rollup"))
        {
            foreach (var line in File.ReadLines("/proc/self/smaps_rollup"))
            {
                if (line.StartsWith("Private_Clean:", StringComparison.Ordinal) || line.StartsWith("Private_Dirty:", StringComparison.Ordinal)) privateBytes += KiB(line);
            }
        }
        else
        {
            privateBytes = rss;
        }

        var gc = GC.GetGCMemoryInfo();
        var heap = GC.GetTotalMemory(forceFullCollection: false);
        return new MemorySample(
            rss,
            privateBytes,
            heap,
            // The GC fills its memory info in at each collection: before the first one, committed reads 0
            // although the heap is in use, so the heap in use is the honest lower bound until then.
            gc.Index == 0 ? Math.Max(gc.TotalCommittedBytes, heap) : gc.TotalCommittedBytes,
            gc.FragmentedBytes,
            GC.CollectionCount(0),
            GC.CollectionCount(1),
            GC.CollectionCount(2),
            threads);
    }

    private static long KiB(string line) => Number(line) * 1024;

    private static long Number(string line)
    {
        var parts = line.Split(' ', '\t').Where(p => p.Length > 0).ToArray();
        return parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }
}
