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

/// <summary>How an outbound message's history ends, the same on every engine.</summary>
public static class MessageHistory
{
    private static readonly string[] ReceiptStatuses = ["sent", "delivered", "read", "played", "failed"];

    /// <summary>
    /// Adds the send's own outcome — <c>sent</c> when the platform took it, <c>failed</c> with the error when Tern gave up — after
    /// Tern's own entries (queued, retries) and before the platform's receipts, which are recorded after the send's answer even
    /// when they came first. The receipts keep the platform's times and the order they were recorded in.
    /// </summary>
    public static void AddOutcome(MessageView message, List<MessageStatusChange> history)
    {
        MessageStatusChange outcome;
        if (message.Status is "sent" or "delivered" or "read" or "played" || (message.Status == "failed" && message.PlatformId is not null))
        {
            outcome = new MessageStatusChange(message.UpdatedAt, "sent", null);
        }
        else if (message.Status == "failed")
        {
            outcome = new MessageStatusChange(message.UpdatedAt, "failed", message.LastError);
        }
        else
        {
            return;
        }
        var firstReceipt = history.FindIndex(1, change => ReceiptStatuses.Contains(change.Status));
        if (firstReceipt < 0) history.Add(outcome);
        else history.Insert(firstReceipt, outcome);
    }
}
