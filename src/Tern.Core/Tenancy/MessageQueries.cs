namespace Tern.Core.Tenancy;

public enum MessageDirection
{
    In,
    Out,
}

/// <summary>A message as the API shows it: an inbound message, or an outbound delivery.</summary>
/// <param name="Id"><c>in_{seq}</c> or <c>out_{id}</c>.</param>
/// <param name="Status">in: received, routed. out: queued, retrying, sent, failed.</param>
public sealed record MessageView(
    string Id,
    MessageDirection Direction,
    string ChannelId,
    string Chat,
    string Status,
    string? PlatformId,
    string? Text,
    string? Sender,
    string? AttachmentsJson,
    string? Payload,
    int Attempts,
    string? LastError,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

public sealed record MessageStatusChange(DateTimeOffset At, string Status, string? Detail);

public sealed record MessageFilter(
    string TenantId,
    string? ChannelId,
    MessageDirection? Direction,
    string? Status,
    string? Chat,
    DateTimeOffset? Since,
    DateTimeOffset? Until,
    int Page,
    int PageSize);

public sealed record PageOf<T>(IReadOnlyList<T> Items, int Page, int PageSize, long Total);

/// <summary>A delivery of a webhook subscription, for its delivery log.</summary>
public sealed record EventDeliveryView(long Id, string Type, string OrderKey, string Status, int Attempts, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>What a channel looks like from the outside: how far behind it is and what went wrong last.</summary>
public sealed record ChannelStatusView(string ChannelId, long Pending, long Failed, long Sent, double? LagSeconds, string? LastError, DateTimeOffset? LastErrorAt);

/// <summary>Read models for the REST API; every query is scoped to one tenant.</summary>
public interface IMessageQueries
{
    Task<PageOf<MessageView>> ListAsync(MessageFilter filter, CancellationToken cancellationToken);

    Task<(MessageView Message, IReadOnlyList<MessageStatusChange> History)?> GetAsync(string tenantId, string id, CancellationToken cancellationToken);

    Task<PageOf<EventDeliveryView>> WebhookDeliveriesAsync(string tenantId, string webhookId, int page, int pageSize, CancellationToken cancellationToken);

    Task<ChannelStatusView> ChannelStatusAsync(string channelId, long nowMs, CancellationToken cancellationToken);
}
