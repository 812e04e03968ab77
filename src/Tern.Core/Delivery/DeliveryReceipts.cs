using Tern.Core.Catalog;
using Tern.Core.Events;

namespace Tern.Core.Delivery;

/// <summary>
/// A platform's report on a message Tern sent (a WhatsApp status): <c>sent</c>, <c>delivered</c>, <c>read</c>, <c>played</c>
/// or <c>failed</c>, found by the channel and the platform's message id the send was answered with.
/// </summary>
/// <param name="AtMs">When the platform says it happened (Unix milliseconds).</param>
/// <param name="Detail">What the platform said with it (a failure's errors), kept in the history.</param>
public sealed record DeliveryReceipt(string ChannelId, string PlatformMessageId, string Status, long AtMs, string? Detail);

/// <summary>The sent message a receipt is about, as stored.</summary>
/// <param name="CurrentReceipt">The receipt status the message shows now (null: none yet).</param>
/// <param name="Attempts">Send attempts made.</param>
public sealed record ReceiptTarget(long DeliveryId, long? InboxSeq, string ChannelId, string Chat, int Attempts, long CreatedAtMs, string? CurrentReceipt);

/// <summary>What to do with a receipt for a found message: whether it becomes the message's status, and the events to raise with it.</summary>
public readonly record struct ReceiptDecision(bool SetCurrent, IReadOnlyList<NewDelivery> Events);

/// <summary>What applying receipts did.</summary>
/// <param name="Applied">Receipts recorded on their message.</param>
/// <param name="Early">Receipts for a message whose send's answer is not recorded yet: kept until it is.</param>
/// <param name="Repeated">Receipts already recorded (a platform's redelivery): nothing changed.</param>
public readonly record struct ReceiptResult(int Applied, int Early, int Repeated);

/// <summary>
/// Where receipts are kept: each lands in its message's status history (once, however often it is delivered), becomes the
/// message's status when <see cref="DeliveryReceipts.Decide"/> says so, and raises its events in the same transaction. A
/// receipt that arrives before its send's answer was recorded is kept aside and applied when it is
/// (<see cref="ApplyEarlyAsync"/>).
/// </summary>
public interface IReceiptStore
{
    Task<ReceiptResult> ApplyAsync(IReadOnlyList<DeliveryReceipt> receipts, Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> decide, CancellationToken cancellationToken);

    /// <summary>Applies (and drops) the early receipts of one sent message, once its platform id is recorded.</summary>
    Task<ReceiptResult> ApplyEarlyAsync(string channelId, string platformMessageId, Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> decide, CancellationToken cancellationToken);

    /// <summary>Applies every early receipt whose message is now known, and drops those older than <paramref name="olderThanMs"/> (the platform's ids expire).</summary>
    Task<ReceiptResult> ReconcileEarlyAsync(Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> decide, long olderThanMs, CancellationToken cancellationToken);

    /// <summary>Early receipts kept now (counted at open, then as they come and go).</summary>
    long EarlyCount { get; }
}

/// <summary>
/// The rules for receipts: a platform reports out of order and may skip a step (<c>read</c> without <c>delivered</c>), so the
/// history keeps every report while the status only moves forward — sent, delivered, read, played; <c>failed</c> replaces
/// sent or delivered but never a read message. Each move raises <c>message.delivered</c>, <c>message.read</c> or
/// <c>message.failed</c> for the tenant's subscriptions.
/// </summary>
public sealed class DeliveryReceipts(IReceiptStore store, CatalogCache catalog, TimeProvider time)
{
    public static IReadOnlyList<string> Statuses { get; } = ["sent", "delivered", "read", "played", "failed"];

    public long EarlyCount => store.EarlyCount;

    public Task<ReceiptResult> ApplyAsync(IReadOnlyList<DeliveryReceipt> receipts, CancellationToken cancellationToken) =>
        receipts.Count == 0 ? Task.FromResult(default(ReceiptResult)) : store.ApplyAsync(receipts, Decide, cancellationToken);

    /// <summary>Called once a send's platform id is recorded: its receipts that came first land now.</summary>
    public Task<ReceiptResult> ApplyEarlyAsync(string channelId, string platformMessageId, CancellationToken cancellationToken) =>
        store.EarlyCount == 0 ? Task.FromResult(default(ReceiptResult)) : store.ApplyEarlyAsync(channelId, platformMessageId, Decide, cancellationToken);

    public Task<ReceiptResult> ReconcileEarlyAsync(long olderThanMs, CancellationToken cancellationToken) =>
        store.ReconcileEarlyAsync(Decide, olderThanMs, cancellationToken);

    /// <summary>Whether <paramref name="incoming"/> moves a message that shows <paramref name="current"/> forward.</summary>
    public static bool MovesForward(string? current, string incoming) =>
        incoming == "failed"
            ? current is null or "sent" or "delivered"
            : Rank(incoming) > Rank(current);

    private static int Rank(string? status) => status switch
    {
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        "played" => 4,
        "failed" => 5,
        _ => 0,
    };

    private ReceiptDecision Decide(ReceiptTarget target, DeliveryReceipt receipt)
    {
        // "sent" is what Tern already shows once the send was answered: history only.
        if (receipt.Status == "sent" || !MovesForward(target.CurrentReceipt, receipt.Status)) return new ReceiptDecision(false, []);
        var eventType = receipt.Status switch
        {
            "delivered" => TenantEvents.MessageDelivered,
            "read" or "played" => TenantEvents.MessageRead,
            "failed" => TenantEvents.MessageFailed,
            _ => null,
        };
        if (eventType is null) return new ReceiptDecision(true, []);
        // "read" after "played" cannot happen (played ranks higher); a voice message's "played" after "read" raises no second read.
        if (receipt.Status == "played" && target.CurrentReceipt == "read") return new ReceiptDecision(true, []);
        var delivery = new PendingDelivery(target.DeliveryId, target.InboxSeq, null, target.ChannelId, target.Chat, "", target.Attempts - 1, target.CreatedAtMs);
        var events = TenantEvents.Outcome(catalog.Current, delivery, eventType, receipt.PlatformMessageId, receipt.Status == "failed" ? receipt.Detail ?? "failed" : null, time.GetUtcNow().ToUnixTimeMilliseconds());
        return new ReceiptDecision(true, events);
    }
}
