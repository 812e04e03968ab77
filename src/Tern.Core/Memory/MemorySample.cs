using System.Globalization;

namespace Tern.Core.Memory;

/// <summary>One reading of the process's memory.</summary>
public readonly record struct MemorySample(
    long ResidentBytes,
    long PrivateBytes,
    long GcHeapBytes,
    long GcCommittedBytes,
    long GcFragmentedBytes,
    int Gen0Collections,
    int Gen1Collections,
    int Gen2Collections,
    int Threads);

public interface IMemoryReader
{
    MemorySample Read();
}

/// <summary>Reads this process's figures from /proc and the GC.</summary>
public sealed class ProcessMemoryReader : IMemoryReader
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
