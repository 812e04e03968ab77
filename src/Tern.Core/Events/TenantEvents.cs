using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Messages;

namespace Tern.Core.Events;

/// <summary>
/// Tenant events become deliveries to the tenant's webhook subscriptions, written in the same
/// transaction as the change they report, and sent through the same durable outbox (retries,
/// backoff, order per message). A subscription is a catalog channel of type
/// <see cref="ChannelTypes.TenantWebhook"/>; its settings list the event types it wants.
/// </summary>
public static class TenantEvents
{
    public const string MessageReceived = "message.received";
    public const string MessageSent = "message.sent";
    public const string MessageDelivered = "message.delivered";
    public const string MessageRead = "message.read";
    public const string MessageFailed = "message.failed";
    public const string ChannelStatus = "channel.status";

    public static IReadOnlyList<string> All { get; } = [MessageReceived, MessageSent, MessageDelivered, MessageRead, MessageFailed, ChannelStatus];

    /// <summary>The public id of an inbound message.</summary>
    public static string InboundId(long seq) => "in_" + seq.ToString(CultureInfo.InvariantCulture);

    /// <summary>The public id of an outbound message (a delivery).</summary>
    public static string OutboundId(long deliveryId) => "out_" + deliveryId.ToString(CultureInfo.InvariantCulture);

    /// <summary>message.received for an inbound message, one delivery per subscription of the channel's tenant.</summary>
    public static void Received(CatalogSnapshot catalog, InboxItem item, long nowMs, List<NewDelivery> into, ArrayBufferWriter<byte> scratch)
    {
        if (!catalog.Channels.TryGetValue(item.Envelope.ChannelId, out var channel)) return;
        var subscriptions = catalog.Subscriptions(channel.TenantId, MessageReceived);
        if (subscriptions.Length == 0) return;
        var e = item.Envelope;
        var messageId = InboundId(item.Seq);
        var payload = Write(scratch, MessageReceived, channel.TenantId, nowMs, json =>
        {
            json.WriteString("id"u8, messageId);
            json.WriteString("direction"u8, "in");
            json.WriteString("channel"u8, e.ChannelId);
            json.WriteString("chat"u8, e.Chat);
            json.WriteString("platform_id"u8, e.PlatformId);
            if (e.Sender is not null) json.WriteString("sender"u8, e.Sender);
            if (e.Text is not null) json.WriteString("text"u8, e.Text);
            if (e.AttachmentsJson is not null)
            {
                json.WritePropertyName("attachments"u8);
                json.WriteRawValue(e.AttachmentsJson, skipInputValidation: true);
            }
            json.WriteNumber("received_at"u8, e.ReceivedAtMs);
        });
        // Tied to the inbox row: written only if this routing pass is the one that moves it out of pending.
        foreach (var subscription in subscriptions) into.Add(ForSubscription(subscription, item.Seq, messageId, payload, nowMs));
    }

    /// <summary>message.sent / message.failed for an outbound message to a channel of a tenant with subscriptions.</summary>
    public static IReadOnlyList<NewDelivery> Outcome(CatalogSnapshot catalog, PendingDelivery delivery, string eventType, string? platformMessageId, string? error, long nowMs)
    {
        if (delivery.Kind != DeliveryKind.Message || !catalog.Channels.TryGetValue(delivery.ChannelId, out var channel)) return [];
        var subscriptions = catalog.Subscriptions(channel.TenantId, eventType);
        if (subscriptions.Length == 0) return [];
        var messageId = OutboundId(delivery.Id);
        var payload = Write(new ArrayBufferWriter<byte>(512), eventType, channel.TenantId, nowMs, json =>
        {
            json.WriteString("id"u8, messageId);
            json.WriteString("direction"u8, "out");
            json.WriteString("channel"u8, delivery.ChannelId);
            json.WriteString("chat"u8, delivery.Chat);
            json.WriteNumber("attempts"u8, delivery.Attempts + 1);
            if (platformMessageId is not null) json.WriteString("platform_id"u8, platformMessageId);
            if (error is not null) json.WriteString("error"u8, error);
        });
        return subscriptions.Select(s => ForSubscription(s, delivery.InboxSeq, messageId, payload, nowMs)).ToArray();
    }

    /// <summary>channel.status: a destination was parked after repeated failures, or works again.</summary>
    public static IReadOnlyList<NewDelivery> ChannelStatusChanged(CatalogSnapshot catalog, string channelId, string status, string? detail, long nowMs)
    {
        if (!catalog.Channels.TryGetValue(channelId, out var channel) || channel.Type == ChannelTypes.TenantWebhook) return [];
        var subscriptions = catalog.Subscriptions(channel.TenantId, ChannelStatus);
        if (subscriptions.Length == 0) return [];
        var payload = Write(new ArrayBufferWriter<byte>(256), ChannelStatus, channel.TenantId, nowMs, json =>
        {
            json.WriteString("channel"u8, channelId);
            json.WriteString("status"u8, status);
            if (detail is not null) json.WriteString("detail"u8, detail);
        });
        return subscriptions.Select(s => ForSubscription(s, null, "channel:" + channelId, payload, nowMs)).ToArray();
    }

    private static NewDelivery ForSubscription(ChannelDefinition subscription, long? inboxSeq, string orderKey, string payload, long nowMs) =>
        new(inboxSeq, null, subscription.Id, orderKey, payload, nowMs, DeliveryKind.Event, subscription.TenantId);

    private static string Write(ArrayBufferWriter<byte> scratch, string type, string tenantId, long nowMs, Action<Utf8JsonWriter> data)
    {
        scratch.ResetWrittenCount();
        using (var json = new Utf8JsonWriter(scratch))
        {
            json.WriteStartObject();
            json.WriteString("type"u8, type);
            json.WriteString("tenant"u8, tenantId);
            json.WriteNumber("created_at"u8, nowMs);
            json.WriteStartObject("data"u8);
            data(json);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(scratch.WrittenSpan);
    }
}
