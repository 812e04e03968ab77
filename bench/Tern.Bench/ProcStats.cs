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

/// <summary>One <see cref="MemorySampler"/> per tern instance of a run: the max of their peaks and the sum of their peaks.</summary>
internal sealed class MemorySamplers : IDisposable
{
    private readonly List<MemorySampler> _samplers;

    public MemorySamplers(IEnumerable<int> pids, TimeSpan interval)
    {
        _samplers = pids.Select(pid => new MemorySampler(pid, interval)).ToList();
    }

    public long PeakRssKb => _samplers.Max(s => s.PeakRssKb);

    public long SumOfPeakRssKb => _samplers.Sum(s => s.PeakRssKb);

    public long PeakPrivateKb => _samplers.Max(s => s.PeakPrivateKb);

    public int Samples => _samplers.Sum(s => s.Samples);

    /// <summary>When the highest RSS sample of the instance with the highest peak was taken.</summary>
    public TimeSpan PeakRssAt => _samplers.MaxBy(s => s.PeakRssKb)!.PeakRssAt;

    /// <summary>Per instance, in order: "a / b MB" when there are several.</summary>
    public string PerInstance => string.Join(" / ", _samplers.Select(s => Invariant($"{s.PeakRssKb / 1024.0:F1}"))) + " MB";

    public void Observe(IReadOnlyList<MemoryReading> readings)
    {
        for (var k = 0; k < _samplers.Count; k++) _samplers[k].Observe(readings[k]);
    }

    public async Task StopAsync()
    {
        foreach (var sampler in _samplers) await sampler.StopAsync();
    }

    public void Dispose()
    {
        foreach (var sampler in _samplers) sampler.Dispose();
    }
}

/// <summary>CPU accounting from /proc: tern's own time, the driver's, and everyone else's.</summary>
internal static class Cpu
{
    private static readonly double Hz = Native.SysConf(Native.ScClkTck) is > 0 and var hz ? hz : 100;

    /// <param name="TernSeconds">summed over the run's tern instances</param>
    /// <param name="PostgresSeconds">the run's PostgreSQL server: the postmaster, its live backends and the ones it reaped (0 on SQLite)</param>
    public readonly record struct Reading(long Timestamp, double MachineBusySeconds, double TernSeconds, double DriverSeconds, double PostgresSeconds);

    /// <param name="ternPids">the run's tern instances (none while no tern runs: their time is then 0)</param>
    /// <param name="postgresPid">the private PostgreSQL server's postmaster, when the run uses one</param>
    public static Reading Snapshot(IReadOnlyCollection<int> ternPids, int? postgresPid = null) =>
        new(Stopwatch.GetTimestamp(), MachineBusySeconds(), ternPids.Sum(pid => ProcessSeconds(pid.ToString(CultureInfo.InvariantCulture))), ProcessSeconds("self"),
            postgresPid is { } pg ? PostgresSeconds(pg) : 0);

    /// <summary>CPU used by processes other than tern, the driver and the run's PostgreSQL, as a share of the machine's capacity over the interval.</summary>
    public static double OthersPercent(Reading before, Reading after)
    {
        var wall = Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp).TotalSeconds;
        var others = (after.MachineBusySeconds - before.MachineBusySeconds) - (after.TernSeconds - before.TernSeconds) - (after.DriverSeconds - before.DriverSeconds)
            - (after.PostgresSeconds - before.PostgresSeconds);
        return wall <= 0 ? 0 : Math.Max(0, others) * 100 / (wall * Environment.ProcessorCount);
    }

    /// <summary>Waits until other processes leave the machine (nearly) idle for 5 s, or <paramref name="max"/> passes.</summary>
    public static async Task WaitQuietAsync(IReadOnlyCollection<int> ternPids, TimeSpan max, int? postgresPid = null)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var before = Snapshot(ternPids, postgresPid);
            await Task.Delay(TimeSpan.FromSeconds(5));
            var after = Snapshot(ternPids, postgresPid);
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

    /// <summary>
    /// The postmaster's own time and its reaped children's (cutime + cstime), plus the user + system time of its live
    /// children (the backends): a backend that exits moves from the second sum to the first.
    /// </summary>
    private static double PostgresSeconds(int postmaster)
    {
        var fields = StatFields(postmaster.ToString(CultureInfo.InvariantCulture));
        if (fields is null) return double.NaN;
        var ticks = Ticks(fields, 11) + Ticks(fields, 12) + Ticks(fields, 13) + Ticks(fields, 14);
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(directory);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0])) continue;
            var child = StatFields(name);
            // After "pid (comm) " the parent's pid (field 4 of the man page) is at 1 here.
            if (child is null || child[1] != postmaster.ToString(CultureInfo.InvariantCulture)) continue;
            ticks += Ticks(child, 11) + Ticks(child, 12);
        }
        return ticks / Hz;
    }

    /// <summary>The fields of /proc/PID/stat after "pid (comm) ", or null when the process is gone.</summary>
    private static string[]? StatFields(string pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static long Ticks(string[] fields, int index) =>
        index < fields.Length && long.TryParse(fields[index], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) ? ticks : 0;

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
