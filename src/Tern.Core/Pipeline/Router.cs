using System.Buffers;
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
        DeliveryAlbumItem[]? albumItems = null;
        if (album)
        {
            // The transformed caption goes where the album's caption was, or on the first item when none had one.
            var captioned = transformed is null ? -1 : Math.Max(0, IndexOfCaption(items));
            albumItems = new DeliveryAlbumItem[items.Count];
            for (var i = 0; i < items.Count; i++)
            {
                var item = items[i].Envelope;
                var text = i == captioned ? transformed : item.Text;
                albumItems[i] = new DeliveryAlbumItem(item.MessageId, string.IsNullOrEmpty(text) ? null : text, Raw(item.AttachmentsJson));
            }
        }
        var payload = new DeliveryPayload
        {
            Chat = chat,
            Sender = envelope.Sender,
            Kind = envelope.Kind == MessageKind.Message ? null : envelope.Kind,
            Text = album ? null : transformed ?? envelope.Text,
            Attachments = album ? null : Raw(envelope.AttachmentsJson),
            MessageId = album ? null : envelope.MessageId,
            GroupId = album ? envelope.GroupId : null,
            Album = albumItems,
            ReplyTo = envelope.ReplyToId,
            Mode = mode == RouteMode.Forward ? RouteMode.Forward : null,
            Transformed = transformed is null ? null : true,
            Meta = Raw(envelope.MetaJson),
            Source = new DeliverySource { Channel = envelope.ChannelId, Chat = envelope.Chat, Id = envelope.PlatformId, ReceivedAt = envelope.ReceivedAtMs },
            Route = routeId,
        };
        return payload.ToJson(scratch);
    }

    private static RawJson? Raw(string? json) => json is null ? null : new RawJson(json);

    private static int IndexOfCaption(IReadOnlyList<InboxItem> items)
    {
        for (var i = 0; i < items.Count; i++)
        {
            if (!string.IsNullOrEmpty(items[i].Envelope.Text)) return i;
        }
        return -1;
    }
}
