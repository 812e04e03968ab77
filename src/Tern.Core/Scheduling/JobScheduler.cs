using Microsoft.Extensions.Logging;
using Tern.Core.Cluster;

namespace Tern.Core.Scheduling;

/// <summary>A periodic job.</summary>
public sealed record ScheduledJob(string Name, TimeSpan Interval, Func<CancellationToken, Task> Run);

/// <summary>What /memory shows of a job.</summary>
/// <param name="Skipped">Times it was due here but had run elsewhere in the cluster within its interval.</param>
public sealed record JobReport(string Name, double IntervalSeconds, long Runs, long Failures, DateTimeOffset? LastRun, string? LastError, long Skipped);

/// <summary>
/// Runs periodic jobs (retention, TTL cleanup, database maintenance, the stats line) while this
/// instance holds the scheduler lease. Jobs run one after another on one loop: they are short, and
/// never overlapping keeps them off each other's locks.
/// </summary>
public sealed partial class JobScheduler
{
    public const string LeaseName = "scheduler";

    /// <summary>Each job's own lease in a cluster: <c>job/{name}</c>.</summary>
    public const string JobLeasePrefix = "job/";

    private readonly ILeaseStore _leases;
    private readonly JobState[] _jobs;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _tick;
    private readonly HeldLeases? _held;
    private readonly bool _clusterWide;

    public JobScheduler(ILeaseStore leases, IEnumerable<ScheduledJob> jobs, string holder, TimeProvider time, ILogger<JobScheduler> logger, TimeSpan? tick = null, HeldLeases? held = null, bool clusterWide = false)
    {
        _held = held;
        _clusterWide = clusterWide;
        _leases = leases;
        _jobs = jobs.Select(j => new JobState(j)).ToArray();
        Holder = holder;
        _time = time;
        _logger = logger;
        _tick = tick ?? TimeSpan.FromSeconds(1);
    }

    public string Holder { get; }

    /// <summary>True while this instance holds the lease.</summary>
    public bool IsLeader { get; private set; }

    public IReadOnlyList<JobReport> Report() =>
        _jobs.Select(j => new JobReport(j.Job.Name, j.Job.Interval.TotalSeconds, j.Runs, j.Failures, j.LastRun, j.LastError, j.Skipped)).ToArray();

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        var leaseTtl = TimeSpan.FromSeconds(Math.Max(15, _tick.TotalSeconds * 15));
        var renewEvery = leaseTtl / 3;
        var lastRenew = long.MinValue;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (lastRenew == long.MinValue || _time.GetElapsedTime(lastRenew) >= renewEvery || !IsLeader)
                {
                    var wasLeader = IsLeader;
                    try
                    {
                        IsLeader = await _leases.TryAcquireAsync(LeaseName, Holder, leaseTtl, stoppingToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        IsLeader = false;
                        LogLeaseFailed(ex);
                    }
                    lastRenew = _time.GetTimestamp();
                    if (IsLeader != wasLeader) LogLeadership(Holder, IsLeader);
                    if (IsLeader && !wasLeader) _held?.Acquired(LeaseName, _time.GetUtcNow());
                    else if (IsLeader) _held?.Renewed(LeaseName, _time.GetUtcNow());
                    else if (wasLeader) _held?.Released(LeaseName, lost: true);
                }

                if (IsLeader) await RunDueAsync(stoppingToken).ConfigureAwait(false);
                await Task.Delay(_tick, _time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _held?.Released(LeaseName, lost: false);
            if (IsLeader)
            {
                try
                {
                    await _leases.ReleaseAsync(LeaseName, Holder, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    LogLeaseFailed(ex);
                }
            }
        }
    }

    /// <summary>Runs every job whose interval has passed; public so tests can drive it with a fake clock.</summary>
    public async Task RunDueAsync(CancellationToken cancellationToken)
    {
        foreach (var state in _jobs)
        {
            var now = _time.GetUtcNow();
            if (state.LastRun is { } last && now - last < state.Job.Interval) continue;
            state.LastRun = now;
            try
            {
                // In a cluster the leader can change between two runs: a job's own lease, as long as its interval, keeps a
                // new leader from running it again before the old leader's period is over.
                if (_clusterWide && !await _leases.TryAcquireAsync(JobLeasePrefix + state.Job.Name, Holder, state.Job.Interval, cancellationToken).ConfigureAwait(false))
                {
                    state.Skipped++;
                    continue;
                }
                await state.Job.Run(cancellationToken).ConfigureAwait(false);
                state.Runs++;
                state.LastError = null;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                state.Failures++;
                state.LastError = ex.Message;
                LogJobFailed(ex, state.Job.Name);
            }
        }
    }

    private sealed class JobState(ScheduledJob job)
    {
        public ScheduledJob Job { get; } = job;
        public long Runs { get; set; }
        public long Failures { get; set; }
        public long Skipped { get; set; }
        public DateTimeOffset? LastRun { get; set; }
        public string? LastError { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduler lease: {Holder} leader = {IsLeader}")]
    private partial void LogLeadership(string holder, bool isLeader);

    [LoggerMessage(Level = LogLevel.Error, Message = "Scheduler job {Name} failed")]
    private partial void LogJobFailed(Exception ex, string name);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Taking the scheduler lease failed")]
    private partial void LogLeaseFailed(Exception ex);
}
