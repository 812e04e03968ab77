using Microsoft.Extensions.Logging;

namespace Tern.Core.Memory;

/// <summary>What the monitor does at each level; the host supplies the parts that touch I/O.</summary>
public interface IPressureActions
{
    /// <summary>Critical, after the caches were trimmed: a blocking, compacting full collection (the host forces it; Core does no runtime I/O).</summary>
    void CompactHeap();

    /// <summary>Critical: shrink pools (database, HTTP) after the caches have been trimmed.</summary>
    void ShrinkPools();

    /// <summary>Restart level reached: drain and exit, or shed load when the restart limit is spent.</summary>
    Task OnRestartLevelAsync(CancellationToken cancellationToken);

    /// <summary>Pressure fell below critical: stop shedding load.</summary>
    void OnRelieved();
}

public sealed class MemoryMonitorOptions
{
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Fraction of capacity every structure trims to at critical.</summary>
    public double TrimFraction { get; set; } = 0.5;

    /// <summary>While critical, trim and compact again at most this often.</summary>
    public TimeSpan CriticalRepeat { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Samples memory, moves between pressure levels and acts: warning logs once per crossing; critical
/// trims every registered structure, runs a compacting full GC (large object heap included) and
/// shrinks pools; restart hands over to <see cref="IPressureActions.OnRestartLevelAsync"/>.
/// </summary>
public sealed partial class MemoryMonitor
{
    private readonly IMemoryReader _reader;
    private readonly PressurePolicy _policy;
    private readonly BoundedRegistry _registry;
    private readonly IPressureActions _actions;
    private readonly MemoryMonitorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private long _lastCriticalAction = long.MinValue;
    private long _trims;
    private long _compactions;

    public MemoryMonitor(IMemoryReader reader, MemoryPlan plan, BoundedRegistry registry, IPressureActions actions, MemoryMonitorOptions options, TimeProvider time, ILogger<MemoryMonitor> logger)
    {
        _reader = reader;
        Plan = plan;
        _policy = new PressurePolicy(plan);
        _registry = registry;
        _actions = actions;
        _options = options;
        _time = time;
        _logger = logger;
        Started = time.GetUtcNow();
        Last = reader.Read();
    }

    public MemoryPlan Plan { get; }

    public PressureLevel Level { get; private set; } = PressureLevel.Normal;

    public MemorySample Last { get; private set; }

    public DateTimeOffset Started { get; }

    public TimeSpan Uptime => _time.GetUtcNow() - Started;

    /// <summary>Critical-level trims done so far.</summary>
    public long Trims => Interlocked.Read(ref _trims);

    public long Compactions => Interlocked.Read(ref _compactions);

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.SampleInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await SampleAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogSampleFailed(ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One sample and the actions it calls for; public so tests can drive it with a fake reader and clock.</summary>
    public async Task<PressureLevel> SampleAsync(CancellationToken cancellationToken)
    {
        var sample = _reader.Read();
        Last = sample;
        var previous = Level;
        var level = _policy.Next(previous, sample.ResidentBytes);
        Level = level;

        if (level != previous) LogLevelChanged(previous, level, sample.ResidentBytes >> 20, Plan.Budget.Bytes >> 20);

        if (level >= PressureLevel.Critical)
        {
            var now = _time.GetTimestamp();
            if (previous < PressureLevel.Critical || _time.GetElapsedTime(_lastCriticalAction, now) >= _options.CriticalRepeat || _lastCriticalAction == long.MinValue)
            {
                _lastCriticalAction = now;
                Relieve();
            }
        }
        else if (previous >= PressureLevel.Critical)
        {
            _actions.OnRelieved();
        }

        if (level == PressureLevel.Restart) await _actions.OnRestartLevelAsync(cancellationToken).ConfigureAwait(false);
        return level;
    }

    private void Relieve()
    {
        var dropped = _registry.TrimAll(_options.TrimFraction);
        Interlocked.Increment(ref _trims);
        _actions.CompactHeap();
        Interlocked.Increment(ref _compactions);
        _actions.ShrinkPools();
        LogRelieved(dropped, _options.TrimFraction);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Memory pressure {Previous} -> {Level}: resident {ResidentMb} MB of a {BudgetMb} MB budget")]
    private partial void LogLevelChanged(PressureLevel previous, PressureLevel level, long residentMb, long budgetMb);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Critical memory pressure: trimmed bounded structures to {Fraction:P0} ({Dropped} entries dropped), compacted the heap, shrank pools")]
    private partial void LogRelieved(int dropped, double fraction);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sampling memory failed")]
    private partial void LogSampleFailed(Exception ex);
}
