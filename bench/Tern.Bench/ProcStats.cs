using System.Diagnostics;
using System.Globalization;
using System.Net;
using static System.FormattableString;

namespace Tern.Bench;

/// <summary>One reading of a process's memory, in KiB.</summary>
internal readonly record struct MemoryReading(long RssKb, long HwmKb, long PrivateKb);

internal static class ProcMemory
{
    /// <summary>VmRSS and VmHWM from /proc/PID/status; Private_Clean + Private_Dirty from /proc/PID/smaps_rollup.</summary>
    public static MemoryReading Read(int pid)
    {
        long rss = 0, hwm = 0, privateKb = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb(line);
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = Kb(line);
            }
            foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/smaps_rollup"))
            {
                if (line.StartsWith("Private_Clean:", StringComparison.Ordinal) || line.StartsWith("Private_Dirty:", StringComparison.Ordinal)) privateKb += Kb(line);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The process is gone.
        }
        return new MemoryReading(rss, hwm, privateKb);
    }

    private static long Kb(string line)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? kb : 0;
    }
}

/// <summary>Samples a process's memory on a timer and keeps the peaks.</summary>
internal sealed class MemorySampler : IDisposable
{
    private readonly int _pid;
    private readonly PeriodicTimer _timer;
    private readonly Task _loop;
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _peakRss;
    private long _peakRssTicks;
    private long _peakPrivate;
    private int _samples;

    public MemorySampler(int pid, TimeSpan interval)
    {
        _pid = pid;
        _timer = new PeriodicTimer(interval);
        Observe(ProcMemory.Read(pid));
        _loop = Task.Run(LoopAsync);
    }

    public long PeakRssKb => Interlocked.Read(ref _peakRss);

    public long PeakPrivateKb => Interlocked.Read(ref _peakPrivate);

    public int Samples => Volatile.Read(ref _samples);

    /// <summary>When the highest RSS sample was taken, from the sampler's start.</summary>
    public TimeSpan PeakRssAt => Stopwatch.GetElapsedTime(_start, Interlocked.Read(ref _peakRssTicks));

    public void Observe(MemoryReading reading)
    {
        Interlocked.Increment(ref _samples);
        if (Max(ref _peakRss, reading.RssKb)) Interlocked.Exchange(ref _peakRssTicks, Stopwatch.GetTimestamp());
        Max(ref _peakPrivate, reading.PrivateKb);
    }

    public async Task StopAsync()
    {
        _timer.Dispose();
        await _loop;
    }

    private async Task LoopAsync()
    {
        while (await _timer.WaitForNextTickAsync()) Observe(ProcMemory.Read(_pid));
    }

    /// <summary>Raises <paramref name="field"/> to <paramref name="value"/>; true when it did.</summary>
    private static bool Max(ref long field, long value)
    {
        while (true)
        {
            var seen = Interlocked.Read(ref field);
            if (value <= seen) return false;
            if (Interlocked.CompareExchange(ref field, value, seen) == seen) return true;
        }
    }

    public void Dispose() => _timer.Dispose();
}

/// <summary>CPU accounting from /proc: tern's own time, the driver's, and everyone else's.</summary>
internal static class Cpu
{
    private static readonly double Hz = Native.SysConf(Native.ScClkTck) is > 0 and var hz ? hz : 100;

    public readonly record struct Reading(long Timestamp, double MachineBusySeconds, double TernSeconds, double DriverSeconds);

    /// <param name="ternPid">null while no tern runs (its time is then 0)</param>
    public static Reading Snapshot(int? ternPid) =>
        new(Stopwatch.GetTimestamp(), MachineBusySeconds(), ternPid is { } pid ? ProcessSeconds(pid.ToString(CultureInfo.InvariantCulture)) : 0, ProcessSeconds("self"));

    /// <summary>CPU used by processes other than tern and the driver, as a share of the machine's capacity over the interval.</summary>
    public static double OthersPercent(Reading before, Reading after)
    {
        var wall = Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp).TotalSeconds;
        var others = (after.MachineBusySeconds - before.MachineBusySeconds) - (after.TernSeconds - before.TernSeconds) - (after.DriverSeconds - before.DriverSeconds);
        return wall <= 0 ? 0 : Math.Max(0, others) * 100 / (wall * Environment.ProcessorCount);
    }

    /// <summary>Waits until other processes leave the machine (nearly) idle for 5 s, or <paramref name="max"/> passes.</summary>
    public static async Task WaitQuietAsync(int? ternPid, TimeSpan max)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var before = Snapshot(ternPid);
            await Task.Delay(TimeSpan.FromSeconds(5));
            var after = Snapshot(ternPid);
            var others = OthersPercent(before, after);
            if (others < 10)
            {
                if (waited.Elapsed > TimeSpan.FromSeconds(6)) Console.WriteLine(Invariant($"machine quiet after {waited.Elapsed.TotalSeconds:F0} s"));
                return;
            }
            if (waited.Elapsed > max)
            {
                Console.WriteLine(Invariant($"machine still busy ({others:F0} % CPU used by other processes) after {max.TotalSeconds:F0} s; running anyway"));
                return;
            }
        }
    }

    /// <summary>Busy time of all CPUs (everything but idle and iowait), from /proc/stat.</summary>
    private static double MachineBusySeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal [guest guest_nice: already counted in user/nice]
        var total = fields.Take(8).Sum();
        return (total - fields[3] - fields[4]) / Hz;
    }

    /// <summary>User + system CPU time of a process, from /proc/PID/stat; NaN when it is gone.</summary>
    private static double ProcessSeconds(string pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // After "pid (comm) " the state is field 3 of the man page; utime and stime (14, 15) are at 11 and 12 here.
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / Hz;
        }
        catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException)
        {
            return double.NaN;
        }
    }
}

internal static class Ports
{
    public static int Free()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

internal static class Machine
{
    public static long TotalMemoryMb()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or FormatException)
        {
            return 0;
        }
    }
}
