using Microsoft.Extensions.Logging;
using Tern.Core.Scheduling;

namespace Tern.Core.Cluster;

/// <summary>
/// Runs work only while this instance holds a lease, with a heartbeat. The work gets a token that is cancelled when the
/// lease is lost (another instance holds it, or renewals failed for longer than is safe) and is awaited before the lease
/// is asked for again, so the same work never runs twice in this process. Renewals that fail are given up on before the
/// lease could have expired in the database, so two instances never both believe they hold it.
/// </summary>
public sealed partial class LeaseRunner(ILeaseStore leases, ClusterOptions options, HeldLeases held, TimeProvider time, ILogger<LeaseRunner> logger)
{
    public ClusterOptions Options => options;

    public HeldLeases Held => held;

    /// <summary>
    /// Until <paramref name="stoppingToken"/> is cancelled: waits for the lease, runs <paramref name="work"/> while it is held,
    /// and starts over when it is lost. Work that returns by itself ends the loop (and gives the lease back).
    /// </summary>
    public async Task RunWhileHeldAsync(string name, Func<CancellationToken, Task> work, CancellationToken stoppingToken)
    {
        // Stop in time: the database lets the lease go at (last renewal + ttl); this process stops one renewal before that.
        var safeFor = options.LeaseTimeToLive - options.RenewInterval;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (await TryAcquireAsync(name, stoppingToken).ConfigureAwait(false) != Answer.Granted)
                {
                    await Task.Delay(options.AcquireInterval, time, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                var lastRenewal = time.GetTimestamp();
                held.Acquired(name, time.GetUtcNow());
                LogAcquired(name, options.InstanceId);
                using var whileHeld = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                var running = Task.Run(() => work(whileHeld.Token), CancellationToken.None);
                var lost = false;
                while (!running.IsCompleted)
                {
                    await ((Task)Task.WhenAny(running, Task.Delay(options.RenewInterval, time, stoppingToken))).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    if (running.IsCompleted || stoppingToken.IsCancellationRequested) break;
                    var answer = await TryAcquireAsync(name, stoppingToken).ConfigureAwait(false);
                    if (answer == Answer.Granted)
                    {
                        lastRenewal = time.GetTimestamp();
                        held.Renewed(name, time.GetUtcNow());
                    }
                    // Refused: another instance holds it. Failed (the database away) is not proof of that, until it could have expired.
                    else if (answer == Answer.Refused || time.GetElapsedTime(lastRenewal) >= safeFor)
                    {
                        lost = true;
                        break;
                    }
                }

                await whileHeld.CancelAsync().ConfigureAwait(false);
                var failed = false;
                try
                {
                    await running.ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (whileHeld.IsCancellationRequested)
                {
                }
                catch (Exception ex)
                {
                    failed = true;
                    LogWorkFailed(ex, name);
                }
                held.Released(name, lost);
                if (lost)
                {
                    LogLost(name, options.InstanceId);
                    continue;
                }
                // Stopping, done, or failed: hand the lease on now rather than make the next holder wait for it to expire.
                await ReleaseAsync(name).ConfigureAwait(false);
                if (stoppingToken.IsCancellationRequested) return;
                if (!failed) return;
                await Task.Delay(options.AcquireInterval, time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private enum Answer
    {
        Granted,
        Refused,
        Failed,
    }

    private async Task<Answer> TryAcquireAsync(string name, CancellationToken stoppingToken)
    {
        try
        {
            return await leases.TryAcquireAsync(name, options.InstanceId, options.LeaseTimeToLive, stoppingToken).ConfigureAwait(false) ? Answer.Granted : Answer.Refused;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogLeaseFailed(ex, name);
            return Answer.Failed;
        }
    }

    private async Task ReleaseAsync(string name)
    {
        try
        {
            await leases.ReleaseAsync(name, options.InstanceId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogLeaseFailed(ex, name);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {Name} taken by {Instance}")]
    private partial void LogAcquired(string name, string instance);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {Name} lost by {Instance}; its work stopped and the lease is asked for again")]
    private partial void LogLost(string name, string instance);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Taking or renewing lease {Name} failed")]
    private partial void LogLeaseFailed(Exception ex, string name);

    [LoggerMessage(Level = LogLevel.Error, Message = "Work under lease {Name} failed; it starts again while the lease is held")]
    private partial void LogWorkFailed(Exception ex, string name);
}
