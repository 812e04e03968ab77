namespace Tern.Core.Delivery;

/// <summary>A destination chat of a channel: deliveries in a lane go out in order, one at a time.</summary>
public readonly record struct Lane(string ChannelId, string Chat);

public enum DeliveryKind
{
    /// <summary>A message to a chat of a channel.</summary>
    Message = 0,

    /// <summary>A tenant event to a webhook subscription.</summary>
    Event = 1,
}

/// <summary>A delivery to be written: routed from the inbox, sent through the API, or a tenant event.</summary>
/// <param name="InboxSeq">The inbox message it was routed from; null for API sends and events.</param>
/// <param name="RouteId">The route that made it; null for API sends and events.</param>
/// <param name="ChannelId">Destination channel (for events, the subscription's lane channel).</param>
/// <param name="Chat">Destination chat (for events, the message the event is about, so its events stay in order).</param>
/// <param name="Payload">JSON body.</param>
/// <param name="CreatedAtMs">Unix milliseconds.</param>
/// <param name="Kind">Message or tenant event.</param>
/// <param name="TenantId">Owner, for API sends and events.</param>
/// <param name="IdempotencyKey">An API client's key: the same key returns the same message.</param>
public sealed record NewDelivery(
    long? InboxSeq,
    string? RouteId,
    string ChannelId,
    string Chat,
    string Payload,
    long CreatedAtMs,
    DeliveryKind Kind = DeliveryKind.Message,
    string? TenantId = null,
    string? IdempotencyKey = null);

/// <summary>What <c>EnqueueAsync</c> did: the delivery's id, and whether it existed already (same idempotency key).</summary>
public readonly record struct EnqueueResult(long Id, bool Existing);

/// <summary>A delivery waiting to be sent.</summary>
public sealed record PendingDelivery(
    long Id, long? InboxSeq, string? RouteId, string ChannelId, string Chat, string Payload, int Attempts, long CreatedAtMs, DeliveryKind Kind = DeliveryKind.Message);

public enum SendOutcome
{
    /// <summary>The platform accepted it.</summary>
    Sent,

    /// <summary>Worth trying again later (5xx, 408, 429, network).</summary>
    Retry,

    /// <summary>Will never succeed (a 4xx other than 408/429); recorded with its reason.</summary>
    Permanent,

    /// <summary>Not attempted: a rate limit says not yet. The lane (or the whole channel) waits for <see cref="SendResult.RetryAfter"/>; no attempt is counted.</summary>
    Deferred,
}

/// <summary>What a channel client learned from one send.</summary>
/// <param name="Outcome">Sent, retry, or permanent failure.</param>
/// <param name="PlatformMessageId">The platform's id for the sent message, when it says.</param>
/// <param name="RetryAfter">A wait the platform asked for (429 Retry-After); overrides the backoff.</param>
/// <param name="Error">Why it failed, for the record; never contains secrets.</param>
/// <param name="DestinationFault">True when the destination itself is failing (5xx, network), which counts toward parking it.</param>
public readonly record struct SendResult(SendOutcome Outcome, string? PlatformMessageId, TimeSpan? RetryAfter, string? Error, bool DestinationFault)
{
    /// <summary>Copies of source messages this send made (for edits and replies later).</summary>
    public IReadOnlyList<MessageLink>? Links { get; init; }

    /// <summary>The destination chat itself refuses (blocked, not found): its lane waits for the cooldown before the next delivery is tried.</summary>
    public bool ParkLane { get; init; }

    /// <summary>Every lane of the channel must wait this long (the platform's limit for the whole bot).</summary>
    public TimeSpan? PauseChannel { get; init; }

    /// <summary>With <see cref="SendOutcome.Permanent"/>: the destination is gone for good (410 Gone), so the channel is retired (a subscription disabled).</summary>
    public bool RetireChannel { get; init; }

    public static SendResult Ok(string? platformMessageId, IReadOnlyList<MessageLink>? links = null) =>
        new(SendOutcome.Sent, platformMessageId, null, null, false) { Links = links };

    /// <summary>Not now: a rate limit allows the next send after <paramref name="wait"/>; <paramref name="wholeChannel"/> holds every lane of the channel.</summary>
    public static SendResult Later(TimeSpan wait, bool wholeChannel = false) =>
        new(SendOutcome.Deferred, null, wait, null, false) { PauseChannel = wholeChannel ? wait : null };

    public static SendResult Transient(string error, TimeSpan? retryAfter = null, bool destinationFault = true) =>
        new(SendOutcome.Retry, null, retryAfter, error, destinationFault);

    public static SendResult Rejected(string error) => new(SendOutcome.Permanent, null, null, error, false);
}
