using System.Buffers;
using System.Text;
using System.Text.Json;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Events;
using Tern.Core.Messages;
using Tern.Core.Routing;

namespace Tern.Core.Pipeline;

/// <summary>Turns inbox messages into deliveries, one per matching route destination.</summary>
public static class Router
{
    /// <summary>Appends the deliveries for <paramref name="item"/> to <paramref name="into"/>; returns how many.</summary>
    public static int Route(InboxItem item, CatalogSnapshot catalog, Func<string?, ChannelCapabilities> capabilitiesOf, long nowMs, List<NewDelivery> into, ArrayBufferWriter<byte> scratch) =>
        Route([item], catalog, capabilitiesOf, nowMs, into, scratch);

    /// <summary>
    /// Routes one message, or one album (messages of one chat sharing a group id, in order): an album
    /// passes or fails the filters as a whole and becomes one delivery per destination, so it arrives together.
    /// </summary>
    /// <param name="capabilitiesOf">What chats of a channel type can show (<see cref="ChannelTypeRegistry.CapabilitiesOf"/>).</param>
    public static int Route(IReadOnlyList<InboxItem> items, CatalogSnapshot catalog, Func<string?, ChannelCapabilities> capabilitiesOf, long nowMs, List<NewDelivery> into, ArrayBufferWriter<byte> scratch)
    {
        var count = 0;
        var first = items[0];
        var envelope = first.Envelope;
        MessageFacts? facts = null;
        foreach (var route in catalog.RoutesFrom(envelope.ChannelId))
        {
            var definition = route.Definition;
            if (route.Rules is not { } rules || !definition.Matches(envelope.ChannelId, envelope.Chat)) continue;
            var options = rules.Options;
            if ((envelope.Kind == MessageKind.Edit && !options.Edits) || (envelope.Kind == MessageKind.Callback && !options.Callbacks)) continue;
            if (rules != RouteRules.Default)
            {
                facts ??= items.Count == 1 ? MessageFacts.Of(envelope) : MessageFacts.Of(items.Select(i => i.Envelope).ToArray());
                if (!rules.Passes(facts.Value)) continue;
            }

            var transformed = rules.HasTransform ? rules.Transform(facts!.Value.Text, facts.Value) : null;
            // A text message whose copy would be empty has nothing left to send.
            if (transformed is { Length: 0 } && items.Count == 1 && envelope.AttachmentsJson is null) continue;

            foreach (var destination in definition.Destinations)
            {
                // Only what the destination can show: some chats show no button press, some platforms cannot edit a forward.
                if (envelope.Kind == MessageKind.Callback || (envelope.Kind == MessageKind.Edit && options.Mode == RouteMode.Forward))
                {
                    var needs = envelope.Kind == MessageKind.Callback ? ChannelCapabilities.ButtonPresses : ChannelCapabilities.EditsOfForwards;
                    if ((capabilitiesOf(catalog.TypeOf(destination.ChannelId)) & needs) == 0) continue;
                }
                var chat = destination.Chat ?? envelope.Chat;
                var payload = BuildPayload(items, definition.Id, chat, options.Mode, transformed, scratch);
                into.Add(new NewDelivery(first.Seq, definition.Id, destination.ChannelId, chat, payload, nowMs));
                count++;
            }
        }
        foreach (var item in items) TenantEvents.Received(catalog, item, nowMs, into, scratch);
        return count;
    }

    /// <summary>
    /// The platform-neutral message a destination receives. Channel clients translate it to their
    /// platform's request; the webhook channel posts it as it is (docs/webhook-channel.md).
    /// </summary>
    internal static string BuildPayload(Envelope envelope, string routeId, string chat, ArrayBufferWriter<byte> scratch) =>
        BuildPayload([new InboxItem(0, envelope)], routeId, chat, RouteMode.Copy, null, scratch);

    private static string BuildPayload(IReadOnlyList<InboxItem> items, string routeId, string chat, RouteMode mode, string? transformed, ArrayBufferWriter<byte> scratch)
    {
        var envelope = items[0].Envelope;
        var album = items.Count > 1 || envelope.GroupId is not null && envelope.Kind == MessageKind.Message;
        scratch.ResetWrittenCount();
        using (var json = new Utf8JsonWriter(scratch))
        {
            json.WriteStartObject();
            json.WriteString("chat"u8, chat);
            if (envelope.Sender is not null) json.WriteString("sender"u8, envelope.Sender);
            if (envelope.Kind != MessageKind.Message) json.WriteString("kind"u8, envelope.Kind == MessageKind.Edit ? "edit"u8 : "callback"u8);
            if (!album)
            {
                var text = transformed ?? envelope.Text;
                if (text is not null) json.WriteString("text"u8, text);
                WriteAttachments(json, envelope.AttachmentsJson);
                if (envelope.MessageId is not null) json.WriteString("message_id"u8, envelope.MessageId);
            }
            else
            {
                json.WriteString("group_id"u8, envelope.GroupId);
                // The transformed caption goes where the album's caption was, or on the first item when none had one.
                var captioned = transformed is null ? -1 : Math.Max(0, IndexOfCaption(items));
                json.WriteStartArray("album"u8);
                for (var i = 0; i < items.Count; i++)
                {
                    var item = items[i].Envelope;
                    json.WriteStartObject();
                    if (item.MessageId is not null) json.WriteString("message_id"u8, item.MessageId);
                    var text = i == captioned ? transformed : item.Text;
                    if (!string.IsNullOrEmpty(text)) json.WriteString("text"u8, text);
                    WriteAttachments(json, item.AttachmentsJson);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }
            if (envelope.ReplyToId is not null) json.WriteString("reply_to"u8, envelope.ReplyToId);
            if (mode == RouteMode.Forward) json.WriteString("mode"u8, "forward"u8);
            if (transformed is not null) json.WriteBoolean("transformed"u8, true);
            if (envelope.MetaJson is not null)
            {
                json.WritePropertyName("meta"u8);
                json.WriteRawValue(envelope.MetaJson, skipInputValidation: true);
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

    private static int IndexOfCaption(IReadOnlyList<InboxItem> items)
    {
        for (var i = 0; i < items.Count; i++)
        {
            if (!string.IsNullOrEmpty(items[i].Envelope.Text)) return i;
        }
        return -1;
    }

    private static void WriteAttachments(Utf8JsonWriter json, string? attachmentsJson)
    {
        if (attachmentsJson is null) return;
        json.WritePropertyName("attachments"u8);
        json.WriteRawValue(attachmentsJson, skipInputValidation: true);
    }
}
