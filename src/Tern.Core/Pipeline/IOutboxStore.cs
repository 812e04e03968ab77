using Tern.Core.Delivery;

namespace Tern.Core.Pipeline;

/// <summary>
/// The durable outbox. Deliveries to one destination chat form a <see cref="Lane"/> that is sent in
/// order, one at a time; lanes are what the sender claims, so the backlog stays on disk.
/// </summary>
public interface IOutboxStore
{
    /// <summary>
    /// In one transaction: marks the inbox messages routed and inserts their deliveries.
    /// </summary>
    Task CommitRoutedAsync(IReadOnlyList<long> inboxSeqs, IReadOnlyList<NewDelivery> deliveries, CancellationToken cancellationToken);

    /// <summary>Lanes whose next attempt is due, earliest first, leaving out channels that are saturated or parked.</summary>
    Task<IReadOnlyList<Lane>> ClaimDueLanesAsync(long nowMs, int max, IReadOnlyCollection<string> skipChannels, CancellationToken cancellationToken);

    /// <summary>The oldest pending deliveries of a lane, in order.</summary>
    Task<IReadOnlyList<PendingDelivery>> ReadLaneAsync(Lane lane, int max, CancellationToken cancellationToken);

    /// <summary>Marks a delivery sent and, in the same transaction, writes the events that report it and the message links it made.</summary>
    Task MarkSentAsync(long deliveryId, string? platformMessageId, long nowMs, IReadOnlyList<NewDelivery> events, IReadOnlyList<MessageLink> links, CancellationToken cancellationToken);

    /// <summary>Marks a delivery failed for good and, in the same transaction, writes the events that report it.</summary>
    Task MarkFailedAsync(long deliveryId, string reason, long nowMs, IReadOnlyList<NewDelivery> events, CancellationToken cancellationToken);

    /// <summary>
    /// Writes one delivery that no inbox message caused (an API send). With an idempotency key already
    /// used by the tenant, nothing is written and the earlier delivery's id comes back.
    /// </summary>
    Task<EnqueueResult> EnqueueAsync(NewDelivery delivery, CancellationToken cancellationToken);

    /// <summary>Writes deliveries that stand alone (e.g. channel.status events).</summary>
    Task AddAsync(IReadOnlyList<NewDelivery> deliveries, CancellationToken cancellationToken);

    /// <summary>Counts a failed attempt and holds the whole lane until <paramref name="dueAtMs"/>, keeping its order.</summary>
    Task ScheduleRetryAsync(long deliveryId, Lane lane, long dueAtMs, string error, long nowMs, CancellationToken cancellationToken);

    /// <summary>Holds a lane until <paramref name="untilMs"/> without counting an attempt (a rate limit, or a parked chat).</summary>
    Task DeferLaneAsync(Lane lane, long untilMs, CancellationToken cancellationToken);

    /// <summary>Drops the lane when it has nothing pending, else makes it due at <paramref name="nowMs"/> again.</summary>
    Task ReleaseLaneAsync(Lane lane, long nowMs, CancellationToken cancellationToken);

    /// <summary>Holds every lane of a channel until <paramref name="untilMs"/> (a parked destination).</summary>
    Task DeferChannelAsync(string channelId, long untilMs, CancellationToken cancellationToken);

    /// <summary>Makes the channel's lanes held no later than <paramref name="heldUntilMs"/> due at <paramref name="nowMs"/> (a pause that no longer applies).</summary>
    Task ResumeChannelAsync(string channelId, long heldUntilMs, long nowMs, CancellationToken cancellationToken);

    /// <summary>
    /// The destination is gone for good (a subscription's receiver answered 410 Gone): in one transaction, a webhook subscription
    /// is disabled (so no more events are queued for it), every pending delivery of the channel fails with <paramref name="reason"/>
    /// and its lanes are dropped. Returns how many deliveries failed.
    /// </summary>
    Task<int> RetireChannelAsync(string channelId, string reason, long nowMs, CancellationToken cancellationToken);

    /// <summary>Completes when deliveries were added, or after <paramref name="timeout"/>.</summary>
    Task WaitForDeliveriesAsync(TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Deliveries not yet sent or failed.</summary>
    long PendingCount { get; }
}
