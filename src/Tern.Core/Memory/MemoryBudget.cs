using System.Globalization;

namespace Tern.Core.Memory;

/// <summary>Where the budget came from, shown in /memory and `tern plan`.</summary>
public enum BudgetSource
{
    Configured,
    CgroupV2,
    CgroupV1,
    MachineShare,
}

/// <summary>The one number every bound is derived from.</summary>
public readonly record struct MemoryBudget(long Bytes, BudgetSource Source)
{
    /// <summary>Share of the machine's RAM taken when nothing else says: Tern is the whole stack, but the OS and a database may share the box.</summary>
    public const double MachineShare = 0.5;

    /// <summary>Below this a .NET web process cannot do useful work.</summary>
    public const long Minimum = 64L << 20;

    /// <summary>
    /// Resolves the budget: the configured value, else the cgroup v2 or v1 limit, else a share of the
    /// machine's RAM. Files are read below <paramref name="root"/> so tests can use fixture folders.
    /// </summary>
    public static MemoryBudget Resolve(long? configured, string root = "/")
    {
        if (configured is > 0) return new MemoryBudget(configured.Value, BudgetSource.Configured);
        if (ReadCgroupV2(root) is { } v2) return new MemoryBudget(v2, BudgetSource.CgroupV2);
        if (ReadCgroupV1(root) is { } v1) return new MemoryBudget(v1, BudgetSource.CgroupV1);
        var total = ReadMemTotal(root) ?? (long)GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return new MemoryBudget(Math.Max(Minimum, (long)(total * MachineShare)), BudgetSource.MachineShare);
    }

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

    public override string ToString() => $"{Format(Bytes)} ({Source})";

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 when bytes % (1L << 30) == 0 => $"{(bytes >> 30).ToString(CultureInfo.InvariantCulture)} GB",
        >= 1L << 20 => $"{(bytes / (double)(1L << 20)).ToString("0.#", CultureInfo.InvariantCulture)} MB",
        >= 1L << 10 => $"{(bytes / 1024.0).ToString("0.#", CultureInfo.InvariantCulture)} KB",
        _ => $"{bytes.ToString(CultureInfo.InvariantCulture)} B",
    };
}
