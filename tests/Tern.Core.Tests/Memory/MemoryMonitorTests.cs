using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tern.Core.Memory;

namespace Tern.Core.Tests.Memory;

/// <summary>The monitor driven sample by sample with a controllable clock and memory reader.</summary>
public sealed class MemoryMonitorTests
{
    private const long Mb = 1L << 20;

    // 100 MB budget: warning 70 MB, critical 85 MB, restart 95 MB, hysteresis margin 5 MB.
    private static readonly MemoryPlan Plan = MemoryPlan.Derive(new MemoryBudget(100 * Mb, BudgetSource.Configured));

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeMemoryReader _reader = new() { ResidentBytes = 40 * Mb };
    private readonly BoundedRegistry _registry = new();
    private readonly ListLogger<MemoryMonitor> _log = new();

    private MemoryMonitor Create(IPressureActions actions, TimeSpan? criticalRepeat = null, double trimFraction = 0.5) =>
        new(_reader, Plan, _registry, actions, new MemoryMonitorOptions
        {
            SampleInterval = TimeSpan.FromSeconds(1),
            TrimFraction = trimFraction,
            CriticalRepeat = criticalRepeat ?? TimeSpan.FromSeconds(30),
        }, _time, _log);

    private async Task<PressureLevel> SampleAtAsync(MemoryMonitor monitor, long residentMb)
    {
        _reader.ResidentBytes = residentMb * Mb;
        _time.Advance(TimeSpan.FromSeconds(1));
        return await monitor.SampleAsync(CancellationToken.None);
    }

    private BoundedLruCache<int, string> FilledCache(string name, int capacity)
    {
        var cache = new BoundedLruCache<int, string>(name, capacity, time: _time);
        for (var i = 0; i < capacity; i++) cache.Set(i, "v" + i);
        _registry.Register(cache);
        return cache;
    }

    [Fact]
    public async Task Warning_is_logged_once_per_crossing_and_again_after_leaving_and_coming_back()
    {
        var actions = new RecordingPressureActions();
        var monitor = Create(actions);

        Assert.Equal(PressureLevel.Normal, await SampleAtAsync(monitor, 50));
        Assert.Equal(PressureLevel.Warning, await SampleAtAsync(monitor, 72));
        // Staying in warning, also hovering around its threshold, says nothing more.
        foreach (var mb in new long[] { 75, 70, 68, 71, 66, 80, 69 }) Assert.Equal(PressureLevel.Warning, await SampleAtAsync(monitor, mb));
        Assert.Equal(1, _log.CountContaining("-> Warning"));
        Assert.All(_log.Entries, e => Assert.Equal(LogLevel.Warning, e.Level));

        Assert.Equal(PressureLevel.Normal, await SampleAtAsync(monitor, 50));
        Assert.Equal(PressureLevel.Warning, await SampleAtAsync(monitor, 72));
        Assert.Equal(2, _log.CountContaining("Normal -> Warning"));
        Assert.Equal(1, _log.CountContaining("Warning -> Normal"));

        // Warning does nothing but log.
        Assert.Empty(actions.Calls);
        Assert.Equal(0, monitor.Trims);
        Assert.Equal(0, monitor.Compactions);
    }

    [Fact]
    public async Task Critical_trims_every_registered_cache_to_the_fraction_compacts_and_shrinks_pools()
    {
        var actions = new RecordingPressureActions();
        var a = FilledCache("a", 100);
        var b = FilledCache("b", 40);
        var queueDepth = 7;
        _registry.Register(new QueueGauge("queue", () => queueDepth, () => 10));
        var monitor = Create(actions, trimFraction: 0.25);

        Assert.Equal(PressureLevel.Critical, await SampleAtAsync(monitor, 88));

        Assert.Equal(25, a.Count);
        Assert.Equal(10, b.Count);
        Assert.Equal(75, a.Evictions);
        Assert.Equal(30, b.Evictions);
        // A queue cannot drop work: it is left as it is.
        Assert.Equal(7, _registry.Structures.Single(s => s.Name == "queue").Count);
        Assert.Equal(1, monitor.Trims);
        Assert.Equal(1, monitor.Compactions);
        Assert.Equal(1, actions.Compactions);
        Assert.Equal(new[] { "shrink" }, actions.Calls);
        Assert.Equal(1, _log.CountContaining("Critical memory pressure: trimmed"));
        // The most recently used entries are the ones kept.
        Assert.True(a.TryGet(99, out _));
        Assert.False(a.TryGet(0, out _));
    }

    [Fact]
    public async Task While_critical_the_trim_repeats_only_after_CriticalRepeat()
    {
        var actions = new RecordingPressureActions();
        var cache = FilledCache("cache", 100);
        var monitor = Create(actions, criticalRepeat: TimeSpan.FromSeconds(30));

        await SampleAtAsync(monitor, 90);
        Assert.Equal(1, monitor.Trims);
        // Refill: a repeat trim would be visible as evictions.
        for (var i = 100; i < 200; i++) cache.Set(i, "w");
        var evictions = cache.Evictions;

        // 1 s per sample: 28 more samples stay within 30 s of the first trim.
        for (var i = 0; i < 28; i++) Assert.Equal(PressureLevel.Critical, await SampleAtAsync(monitor, 90));
        Assert.Equal(1, monitor.Trims);
        Assert.Equal(1, monitor.Compactions);
        Assert.Equal(100, cache.Count);
        Assert.Equal(evictions, cache.Evictions);

        _time.Advance(TimeSpan.FromSeconds(1));
        await SampleAtAsync(monitor, 90); // 30 s after the first
        Assert.Equal(2, monitor.Trims);
        Assert.Equal(2, monitor.Compactions);
        Assert.Equal(50, cache.Count);
        Assert.Equal(2, actions.Count("shrink"));

        await SampleAtAsync(monitor, 90);
        Assert.Equal(2, monitor.Trims);
    }

    [Fact]
    public async Task Entering_critical_again_after_relief_trims_at_once()
    {
        var actions = new RecordingPressureActions();
        var monitor = Create(actions, criticalRepeat: TimeSpan.FromMinutes(10));

        await SampleAtAsync(monitor, 90);
        await SampleAtAsync(monitor, 60); // below critical by more than the margin
        await SampleAtAsync(monitor, 90);

        Assert.Equal(2, monitor.Trims);
        Assert.Equal(new[] { "shrink", "relieved", "shrink" }, actions.Calls);
    }

    [Fact]
    public async Task Restart_level_asks_for_a_restart_on_every_sample_it_lasts()
    {
        var actions = new RecordingPressureActions();
        var monitor = Create(actions);

        Assert.Equal(PressureLevel.Restart, await SampleAtAsync(monitor, 96));
        Assert.Equal(new[] { "shrink", "restart" }, actions.Calls);
        Assert.Equal(1, monitor.Trims);

        // Still at restart level: asked again (the coordinator decides whether that means anything).
        Assert.Equal(PressureLevel.Restart, await SampleAtAsync(monitor, 97));
        Assert.Equal(2, actions.Count("restart"));
        Assert.Equal(PressureLevel.Restart, monitor.Level);
        Assert.Equal(0, actions.Count("relieved"));
    }

    [Fact]
    public async Task Dropping_below_critical_calls_OnRelieved_once_and_not_while_still_critical()
    {
        var actions = new RecordingPressureActions();
        var monitor = Create(actions);

        await SampleAtAsync(monitor, 96);                 // restart
        await SampleAtAsync(monitor, 89);                 // critical: clear of restart by the margin, still critical
        Assert.Equal(PressureLevel.Critical, monitor.Level);
        Assert.Equal(0, actions.Count("relieved"));

        await SampleAtAsync(monitor, 82);                 // within the margin of critical: still critical
        Assert.Equal(PressureLevel.Critical, monitor.Level);
        Assert.Equal(0, actions.Count("relieved"));

        await SampleAtAsync(monitor, 72);                 // warning
        Assert.Equal(PressureLevel.Warning, monitor.Level);
        Assert.Equal(1, actions.Count("relieved"));

        await SampleAtAsync(monitor, 50);                 // normal
        await SampleAtAsync(monitor, 40);
        Assert.Equal(1, actions.Count("relieved"));
        Assert.Equal(1, actions.Count("restart"));
    }

    [Fact]
    public async Task With_a_real_coordinator_restart_level_records_and_exits_and_relief_ends_shedding()
    {
        var log = new InMemoryRestartLog();
        var exits = new List<int>();
        // The limit is spent already: two restarts in the last hour.
        await log.RecordAsync(_time.GetUtcNow().AddMinutes(-20), "memory pressure", CancellationToken.None);
        await log.RecordAsync(_time.GetUtcNow().AddMinutes(-10), "memory pressure", CancellationToken.None);
        var coordinator = new RestartCoordinator(log, 2, exits.Add, _time, NullLogger<RestartCoordinator>.Instance);
        var actions = new RecordingPressureActions { OnRestart = coordinator.OnRestartLevelAsync, OnRelief = coordinator.OnRelieved };
        var monitor = Create(actions);

        await SampleAtAsync(monitor, 99);
        Assert.True(coordinator.Shedding);
        Assert.Empty(exits);
        Assert.Equal(2, log.Entries.Count);

        await SampleAtAsync(monitor, 60);
        Assert.False(coordinator.Shedding);
        Assert.Null(coordinator.SheddingReason);
    }

    [Fact]
    public async Task Every_sample_reads_memory_once_and_Last_and_Uptime_follow()
    {
        var monitor = Create(new RecordingPressureActions());
        var readsAtStart = _reader.Reads;

        await SampleAtAsync(monitor, 33);
        await SampleAtAsync(monitor, 34);

        Assert.Equal(readsAtStart + 2, _reader.Reads);
        Assert.Equal(34 * Mb, monitor.Last.ResidentBytes);
        Assert.Equal(TimeSpan.FromSeconds(2), monitor.Uptime);
        Assert.Same(Plan, monitor.Plan);
    }

    [Fact]
    public async Task RunAsync_samples_on_its_interval_of_the_given_clock_until_cancelled()
    {
        var monitor = Create(new RecordingPressureActions());
        var readsAtStart = _reader.Reads;
        using var stop = new CancellationTokenSource();
        var run = monitor.RunAsync(stop.Token);

        _reader.ResidentBytes = 72 * Mb;
        for (var i = 0; i < 3; i++)
        {
            var before = _reader.Reads;
            _time.Advance(TimeSpan.FromSeconds(1));
            await Doubles.Wait.UntilAsync(() => _reader.Reads > before, "a sample after the interval passed");
        }
        Assert.Equal(readsAtStart + 3, _reader.Reads);
        Assert.Equal(PressureLevel.Warning, monitor.Level);

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(run.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task A_failing_reader_is_logged_and_sampling_goes_on()
    {
        var reader = new ThrowOnceReader();
        var monitor = new MemoryMonitor(reader, Plan, _registry, new RecordingPressureActions(), new MemoryMonitorOptions { SampleInterval = TimeSpan.FromSeconds(1) }, _time, _log);
        using var stop = new CancellationTokenSource();
        var run = monitor.RunAsync(stop.Token);

        for (var i = 0; i < 3; i++)
        {
            var before = reader.Reads;
            _time.Advance(TimeSpan.FromSeconds(1));
            await Doubles.Wait.UntilAsync(() => reader.Reads > before, "a sample");
        }
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, _log.CountContaining("Sampling memory failed"));
        Assert.Equal(4, reader.Reads); // one in the constructor, three samples
    }

    private sealed class ThrowOnceReader : IMemoryReader
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public MemorySample Read()
        {
            // The constructor's read succeeds; the first sample fails; the rest succeed.
            if (Interlocked.Increment(ref _reads) == 2) throw new IOException("/proc went away");
            return new MemorySample(10 * Mb, 10 * Mb, 0, 0, 0, 0, 0, 0, 1);
        }
    }
}
