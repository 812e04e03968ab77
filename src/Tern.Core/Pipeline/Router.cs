using System.Buffers;
using System.Text;
using System.Text.Json;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Events;
using Tern.Core.Messages;

namespace Tern.Core.Pipeline;

/// <summary>Turns inbox messages into deliveries, one per matching route destination.</summary>
public static class Router
{
    /// <summary>Appends the deliveries for <paramref name="item"/> to <paramref name="into"/>; returns how many.</summary>
    public static int Route(InboxItem item, CatalogSnapshot catalog, long nowMs, List<NewDelivery> into, ArrayBufferWriter<byte> scratch)
    {
        var count = 0;
        var envelope = item.Envelope;
        foreach (var route in catalog.RoutesFrom(envelope.ChannelId))
        {
            if (!route.Matches(envelope.ChannelId, envelope.Chat)) continue;
            foreach (var destination in route.Destinations)
            {
                var chat = destination.Chat ?? envelope.Chat;
                var payload = BuildPayload(envelope, route.Id, chat, scratch);
                into.Add(new NewDelivery(item.Seq, route.Id, destination.ChannelId, chat, payload, nowMs));
                count++;
            }
        }
        TenantEvents.Received(catalog, item, nowMs, into, scratch);
        return count;
    }

    /// <summary>
    /// The platform-neutral message a destination receives. Channel clients translate it to their
    /// platform's request; the webhook channel posts it as it is.
    /// </summary>
    internal static string BuildPayload(Envelope envelope, string routeId, string chat, ArrayBufferWriter<byte> scratch)
    {
        scratch.ResetWrittenCount();
        using (var json = new Utf8JsonWriter(scratch))
        {
            json.WriteStartObject();
            json.WriteString("chat"u8, chat);
            if (envelope.Sender is not null) json.WriteString("sender"u8, envelope.Sender);
            if (envelope.Text is not null) json.WriteString("text"u8, envelope.Text);
            if (envelope.AttachmentsJson is not null)
            {
                json.WritePropertyName("attachments"u8);
                json.WriteRawValue(envelope.AttachmentsJson, skipInputValidation: true);
            }
            json.WriteStartObject("source"u8);
            json.WriteString("channel"u8, envelope.ChannelId);
            json.WriteString("chat"u8, envelope.Chat);
            json.WriteString("id"u8, envelope.PlatformId);
            json.WriteNumber("received_at"u8, envelope.ReceivedAtMs);
            json.WriteEndObject();
            json.WriteString("route"u8, routeId);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(scratch.WrittenSpan);
    }
}
