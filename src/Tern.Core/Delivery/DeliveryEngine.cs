using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Tern.Core.Catalog;
using Tern.Core.Events;
using Tern.Core.Memory;
using Tern.Core.Pipeline;

namespace Tern.Core.Delivery;

/// <summary>
/// Claims due lanes from the outbox and sends their deliveries in order through the channel clients.
/// A delivery is marked sent (committed) before the next one of its lane starts, so a crash can only
/// duplicate the sends in flight: at most <see cref="DeliveryOptions.Concurrency"/>.
/// </summary>
public sealed partial class DeliveryEngine
{
    private readonly IOutboxStore _outbox;
    private readonly CatalogCache _catalog;
    private readonly Dictionary<string, IChannelSender> _senders;
    private readonly DeliveryOptions _options;
    private readonly PipelineCounters _counters;
    private readonly DeliveryLatency _latency;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Backoff _backoff;
    private readonly ISendPermits? _permits;

    // Both are bounded by the number of channels in the catalog.
    private readonly ConcurrentDictionary<string, int> _consecutiveFaults = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _parkedUntil = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _reportedDown = new(StringComparer.Ordinal);

    // Channels a rate limit holds back (bot-wide flood control); bounded by the number of channels.
    private readonly ConcurrentDictionary<string, long> _pausedUntil = new(StringComparer.Ordinal);

    // The channel as it was when a pause was ordered; a changed definition (a new access token) lifts the pause. Same bound.
    private readonly ConcurrentDictionary<string, ChannelDefinition> _pausedAs = new(StringComparer.Ordinal);

    // Lanes whose last visit failed in storage; at most one entry per lane that was in flight, cleared when claimed again.
    private readonly ConcurrentDictionary<Lane, long> _heldLanes = new();

    private int _inFlight;
    private readonly DeliveryReceipts? _receipts;

    public DeliveryEngine(
        IOutboxStore outbox,
        CatalogCache catalog,
        IEnumerable<IChannelSender> senders,
        DeliveryOptions options,
        PipelineCounters counters,
        DeliveryLatency latency,
        TimeProvider time,
        ILogger<DeliveryEngine> logger,
        ISendPermits? permits = null,
        DeliveryReceipts? receipts = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Concurrency, 1);
        _outbox = outbox;
        _catalog = catalog;
        _senders = senders.ToDictionary(s => s.ChannelType, StringComparer.Ordinal);
        _options = options;
        _counters = counters;
        _latency = latency;
        _time = time;
        _logger = logger;
        _permits = permits;
        _receipts = receipts;
        _backoff = new Backoff(options.BackoffBase, options.BackoffMax);
        Failures = new BoundedLruCache<Lane, DestinationFailure>("failing-destinations", Math.Max(1, options.FailureRecords), options.FailureMemory, time);
    }

    /// <summary>Destination chats that failed lately (bounded, forgotten after <see cref="DeliveryOptions.FailureMemory"/>); a success clears the chat's record.</summary>
    public BoundedLruCache<Lane, DestinationFailure> Failures { get; }

    /// <summary>A channel's failing destination chats, most recent first.</summary>
    public IReadOnlyList<KeyValuePair<Lane, DestinationFailure>> FailingDestinations(string channelId) =>
        Failures.Snapshot((lane, _) => string.Equals(lane.ChannelId, channelId, StringComparison.Ordinal));

    /// <summary>When a rate limit lets the channel send again, if it is holding it back now.</summary>
    public DateTimeOffset? PausedUntil(string channelId) =>
        _pausedUntil.TryGetValue(channelId, out var until) && until > NowMs ? DateTimeOffset.FromUnixTimeMilliseconds(until) : null;

    /// <summary>Lanes being sent right now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public bool Running { get; private set; }

    /// <summary>Channels parked after repeated faults, with the time they are tried again.</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> ParkedChannels =>
        _parkedUntil.Where(p => p.Value > NowMs).ToDictionary(p => p.Key, p => DateTimeOffset.FromUnixTimeMilliseconds(p.Value), StringComparer.Ordinal);

    /// <summary>Channels parked right now (bounded by the number of channels).</summary>
    public int ParkedCount => _parkedUntil.Count;

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Forgets cooldowns that are over (the scheduler's expiry job); returns how many.</summary>
    public int ExpireCooldowns()
    {
        var now = NowMs;
        var removed = 0;
        foreach (var (channelId, until) in _parkedUntil)
        {
            if (until <= now && _parkedUntil.TryRemove(channelId, out _)) removed++;
        }
        foreach (var (lane, until) in _heldLanes)
        {
            if (until <= now) _heldLanes.TryRemove(lane, out _);
        }
        foreach (var (channelId, until) in _pausedUntil)
        {
            if (until <= now && _pausedUntil.TryRemove(channelId, out _)) _pausedAs.TryRemove(channelId, out _);
        }
        Failures.RemoveExpired();
        return removed;
    }

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        Running = true;
        using var abortSends = new CancellationTokenSource();
        var running = new Dictionary<Task, Lane>();
        var perChannel = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var started = 0;
                var free = _options.Concurrency - running.Count;
                if (free > 0)
                {
                    started = await StartDueLanesAsync(running, perChannel, free, stoppingToken, abortSends.Token).ConfigureAwait(false);
                }

                var wake = _outbox.WaitForDeliveriesAsync(_options.PollInterval, stoppingToken);
                if (running.Count > 0 && (started == 0 || running.Count >= _options.Concurrency))
                {
                    await Task.WhenAny(Task.WhenAny(running.Keys), wake).ConfigureAwait(false);
                }
                else if (running.Count == 0)
                {
                    await wake.ConfigureAwait(false);
                }
                Reap(running, perChannel);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            Running = false;
            // Let in-flight sends finish within the grace period; then abandon them (they stay pending).
            var all = Task.WhenAll(running.Keys);
            if (await Task.WhenAny(all, Task.Delay(_options.ShutdownGrace, _time, CancellationToken.None)).ConfigureAwait(false) != all)
            {
                LogAbandoning(running.Count);
                await abortSends.CancelAsync().ConfigureAwait(false);
                await all.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task<int> StartDueLanesAsync(Dictionary<Task, Lane> running, Dictionary<string, int> perChannel, int free, CancellationToken stoppingToken, CancellationToken abortSends)
    {
        var catalog = await _catalog.GetAsync(stoppingToken).ConfigureAwait(false);
        var now = NowMs;
        var saturated = new List<string>();
        foreach (var (channelId, count) in perChannel)
        {
            if (count >= LimitOf(catalog, channelId)) saturated.Add(channelId);
        }
        if (_permits is not null)
        {
            foreach (var channel in catalog.Channels.Values)
            {
                if (!_permits.MaySend(channel)) saturated.Add(channel.Id);
            }
        }
        foreach (var (channelId, until) in _parkedUntil)
        {
            if (until > now) saturated.Add(channelId);
            else _parkedUntil.TryRemove(channelId, out _);
        }
        foreach (var (channelId, until) in _pausedUntil)
        {
            if (until <= now)
            {
                _pausedUntil.TryRemove(channelId, out _);
                _pausedAs.TryRemove(channelId, out _);
            }
            else if (!(_pausedAs.TryGetValue(channelId, out var pausedAs) && catalog.Channels.TryGetValue(channelId, out var current) && current != pausedAs
                         && await ResumeAsync(channelId, until, now).ConfigureAwait(false)))
            {
                saturated.Add(channelId);
            }
        }

        IReadOnlyList<Lane> due;
        try
        {
            due = await _outbox.ClaimDueLanesAsync(now, free + running.Count, saturated, stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogClaimFailed(ex);
            return 0;
        }

        var started = 0;
        foreach (var lane in due)
        {
            if (running.Count >= _options.Concurrency) break;
            if (running.ContainsValue(lane)) continue;
            if (_heldLanes.TryGetValue(lane, out var heldUntil))
            {
                if (heldUntil > now) continue;
                _heldLanes.TryRemove(lane, out _);
            }
            perChannel.TryGetValue(lane.ChannelId, out var active);
            if (active >= LimitOf(catalog, lane.ChannelId)) continue;
            perChannel[lane.ChannelId] = active + 1;
            catalog.Channels.TryGetValue(lane.ChannelId, out var channel);
            Interlocked.Increment(ref _inFlight);
            running.Add(Task.Run(() => SendLaneAsync(lane, channel, stoppingToken, abortSends), CancellationToken.None), lane);
            started++;
        }
        return started;
    }

    /// <summary>
    /// The channel's settings changed since a send paused it (a new access token after Meta refused the old one): the pause was
    /// about the old settings, so it is lifted and the lanes it held are due now instead of at its end. False when storage failed.
    /// </summary>
    private async Task<bool> ResumeAsync(string channelId, long until, long now)
    {
        try
        {
            await _outbox.ResumeChannelAsync(channelId, until, now, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogResumeFailed(ex, channelId);
            return false;
        }
        _pausedUntil.TryRemove(channelId, out _);
        _pausedAs.TryRemove(channelId, out _);
        LogResumed(channelId);
        return true;
    }

    private int LimitOf(CatalogSnapshot catalog, string channelId) =>
        catalog.Channels.TryGetValue(channelId, out var c) && c.MaxConcurrency is > 0 ? c.MaxConcurrency.Value : _options.PerChannelConcurrency;

    private void Reap(Dictionary<Task, Lane> running, Dictionary<string, int> perChannel)
    {
        List<Task>? done = null;
        foreach (var task in running.Keys)
        {
            if (task.IsCompleted) (done ??= []).Add(task);
        }
        if (done is null) return;
        foreach (var task in done)
        {
            var lane = running[task];
            running.Remove(task);
            if (--perChannel[lane.ChannelId] == 0) perChannel.Remove(lane.ChannelId);
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task SendLaneAsync(Lane lane, ChannelDefinition? channel, CancellationToken stoppingToken, CancellationToken abortSends)
    {
        try
        {
            var deliveries = await _outbox.ReadLaneAsync(lane, _options.LaneBatch, CancellationToken.None).ConfigureAwait(false);
            if (channel is null)
            {
                // Created a moment ago (CLI or another instance)? Look once more before failing its deliveries.
                var fresh = await _catalog.RefreshAsync(force: true, CancellationToken.None).ConfigureAwait(false);
                fresh.Channels.TryGetValue(lane.ChannelId, out channel);
            }
            IChannelSender? sender = null;
            var unroutable = channel is null ? $"channel '{lane.ChannelId}' does not exist"
                : !_senders.TryGetValue(channel.Type, out sender) ? $"no sender for channel type '{channel.Type}'"
                : null;

            foreach (var delivery in deliveries)
            {
                if (stoppingToken.IsCancellationRequested) return;
                if (unroutable is not null)
                {
                    await FailAsync(delivery, unroutable, NowMs).ConfigureAwait(false);
                    _counters.OnFailed();
                    continue;
                }

                var result = await SendOneAsync(sender!, channel!, delivery, abortSends).ConfigureAwait(false);
                if (abortSends.IsCancellationRequested) return;
                if (!await RecordAsync(lane, channel!, delivery, result).ConfigureAwait(false)) return;
            }
            await _outbox.ReleaseLaneAsync(lane, NowMs, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Storage trouble: the lane keeps its rows, but is left alone for a while so a failing
            // disk does not turn into a stream of re-sends of a delivery that could not be marked sent.
            LogLaneFailed(ex, lane.ChannelId);
            _heldLanes[lane] = NowMs + (long)_options.BackoffBase.TotalMilliseconds * 5;
        }
    }

    private static async Task<SendResult> SendOneAsync(IChannelSender sender, ChannelDefinition channel, PendingDelivery delivery, CancellationToken abortSends)
    {
        try
        {
            return await sender.SendAsync(channel, delivery, abortSends).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (abortSends.IsCancellationRequested)
        {
            return SendResult.Transient("abandoned at shutdown", destinationFault: false);
        }
        catch (Exception ex)
        {
            return SendResult.Transient(ex.GetType().Name + ": " + ex.Message);
        }
    }

    /// <summary>Writes the outcome; returns false when the lane must stop (a retry, a rate limit or a parked chat holds it).</summary>
    private async Task<bool> RecordAsync(Lane lane, ChannelDefinition channel, PendingDelivery delivery, SendResult result)
    {
        var now = NowMs;
        if (result.PauseChannel is { } pause)
        {
            PauseChannel(lane.ChannelId, now + (long)pause.TotalMilliseconds);
            _pausedAs[lane.ChannelId] = channel;
        }
        switch (result.Outcome)
        {
            case SendOutcome.Sent:
                await _outbox.MarkSentAsync(delivery.Id, result.PlatformMessageId, now,
                    TenantEvents.Outcome(_catalog.Current, delivery, TenantEvents.MessageSent, result.PlatformMessageId, null, now),
                    result.Links ?? [], CancellationToken.None).ConfigureAwait(false);
                // A platform may report on the message before its send's answer came back (a WhatsApp status): those land now.
                if (_receipts is { EarlyCount: > 0 } receipts && result.PlatformMessageId is { } platformId)
                {
                    await receipts.ApplyEarlyAsync(lane.ChannelId, platformId, CancellationToken.None).ConfigureAwait(false);
                }
                if (_reportedDown.TryRemove(lane.ChannelId, out _))
                {
                    await _outbox.AddAsync(TenantEvents.ChannelStatusChanged(_catalog.Current, lane.ChannelId, "up", null, now), CancellationToken.None).ConfigureAwait(false);
                }
                _counters.OnDelivered();
                _latency.Record(TimeSpan.FromMilliseconds(Math.Max(0, now - delivery.CreatedAtMs)));
                _consecutiveFaults.TryRemove(lane.ChannelId, out _);
                Failures.Remove(lane);
                return true;

            case SendOutcome.Permanent when result.RetireChannel:
                // The receiver says it is gone (410): this delivery and every other pending one of the channel fail, and it takes no more.
                var retired = await _outbox.RetireChannelAsync(lane.ChannelId, result.Error ?? "gone", now, CancellationToken.None).ConfigureAwait(false);
                _counters.OnFailed(retired);
                LogRetired(lane.ChannelId, result.Error ?? "gone", retired);
                await _catalog.RefreshAsync(force: true, CancellationToken.None).ConfigureAwait(false);
                return false;

            case SendOutcome.Permanent:
                await FailAsync(delivery, result.Error ?? "rejected", now).ConfigureAwait(false);
                _counters.OnFailed();
                _consecutiveFaults.TryRemove(lane.ChannelId, out _);
                if (!result.ParkLane) return true;
                // The chat refuses (blocked, gone): the next delivery to it waits for the cooldown, the rest of the channel goes on.
                var parkedUntil = now + (long)_options.Cooldown.TotalMilliseconds;
                NoteFailure(lane, result.Error ?? "rejected", now, parkedUntil);
                LogChatParked(lane.ChannelId, lane.Chat, result.Error ?? "rejected", _options.Cooldown);
                await _outbox.DeferLaneAsync(lane, parkedUntil, CancellationToken.None).ConfigureAwait(false);
                return false;

            case SendOutcome.Deferred:
                await _outbox.DeferLaneAsync(lane, now + (long)(result.RetryAfter ?? TimeSpan.FromSeconds(1)).TotalMilliseconds, CancellationToken.None).ConfigureAwait(false);
                return false;

            default:
                if (now - delivery.CreatedAtMs >= _options.GiveUpAfter.TotalMilliseconds)
                {
                    var reason = $"gave up after {delivery.Attempts + 1} attempts over {_options.GiveUpAfter}: {result.Error}";
                    await FailAsync(delivery, reason, now).ConfigureAwait(false);
                    _counters.OnFailed();
                    return true;
                }

                _counters.OnRetried();
                var delay = result.RetryAfter ?? _backoff.Delay(delivery.Attempts + 1, Random.Shared.NextDouble());
                await _outbox.ScheduleRetryAsync(delivery.Id, lane, now + (long)delay.TotalMilliseconds, result.Error ?? "retry", now, CancellationToken.None).ConfigureAwait(false);
                NoteFailure(lane, result.Error ?? "retry", now, null);
                if (result.DestinationFault) await CountFaultAsync(lane.ChannelId, now).ConfigureAwait(false);
                return false;
        }
    }

    private void PauseChannel(string channelId, long untilMs) =>
        _pausedUntil.AddOrUpdate(channelId, untilMs, (_, existing) => Math.Max(existing, untilMs));

    private void NoteFailure(Lane lane, string error, long now, long? parkedUntil)
    {
        var known = Failures.TryGet(lane, out var previous);
        Failures.Set(lane, new DestinationFailure(known ? previous.Failures + 1 : 1, error, known ? previous.FirstAtMs : now, now, parkedUntil));
    }

    private Task FailAsync(PendingDelivery delivery, string reason, long now) =>
        _outbox.MarkFailedAsync(delivery.Id, reason, now, TenantEvents.Outcome(_catalog.Current, delivery, TenantEvents.MessageFailed, null, reason, now), CancellationToken.None);

    private async Task CountFaultAsync(string channelId, long now)
    {
        var faults = _consecutiveFaults.AddOrUpdate(channelId, 1, (_, n) => n + 1);
        if (faults < _options.ParkAfterFailures) return;
        var until = now + (long)_options.Cooldown.TotalMilliseconds;
        _parkedUntil[channelId] = until;
        _consecutiveFaults.TryRemove(channelId, out _);
        LogParked(channelId, faults, _options.Cooldown);
        await _outbox.DeferChannelAsync(channelId, until, CancellationToken.None).ConfigureAwait(false);
        if (_reportedDown.TryAdd(channelId, true))
        {
            var detail = $"parked for {_options.Cooldown} after {faults} failures in a row";
            await _outbox.AddAsync(TenantEvents.ChannelStatusChanged(_catalog.Current, channelId, "down", detail, now), CancellationToken.None).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Channel {ChannelId} is gone ({Error}): disabled, {Failed} pending deliveries failed")]
    private partial void LogRetired(string channelId, string error, int failed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Channel {ChannelId} failed {Faults} times in a row; parked for {Cooldown}")]
    private partial void LogParked(string channelId, int faults, TimeSpan cooldown);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chat {Chat} of channel {ChannelId} refused a delivery ({Error}); its next delivery waits {Cooldown}")]
    private partial void LogChatParked(string channelId, string chat, string error, TimeSpan cooldown);

    [LoggerMessage(Level = LogLevel.Information, Message = "Channel {ChannelId} changed while paused; the pause is lifted")]
    private partial void LogResumed(string channelId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Lifting the pause of channel {ChannelId} failed; it stays paused")]
    private partial void LogResumeFailed(Exception ex, string channelId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Looking for due deliveries failed")]
    private partial void LogClaimFailed(Exception ex);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sending a lane of channel {ChannelId} failed; it will be retried")]
    private partial void LogLaneFailed(Exception ex, string channelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown grace over; abandoning {Count} in-flight lanes (their deliveries stay pending)")]
    private partial void LogAbandoning(int count);
}

/// <summary>What went wrong lately with one destination chat (shown in the channel's status).</summary>
/// <param name="Failures">Failed attempts since the last success.</param>
/// <param name="ParkedUntilMs">When the chat refused for good (blocked, not found), the time its next delivery is tried.</param>
public sealed record DestinationFailure(int Failures, string LastError, long FirstAtMs, long LastAtMs, long? ParkedUntilMs);
