using Tern.Core.Delivery;
using Tern.Core.Messages;

namespace Tern.Channels.Telegram;

/// <summary>A medium to send: a platform file id (valid for one bot only) or a URL Telegram fetches.</summary>
public sealed record MediaRef(string Type, string? FileId, string? Url, string? FileName);

/// <summary>One message to send: its text or caption, its medium, and the source message it copies (if any).</summary>
public sealed record OutboundItem(string? SourceMessageId, string? Text, MediaRef? Media, IReadOnlyList<string> MediaTypes);

/// <summary>
/// What a delivery asks the Telegram sender to do, read from the platform-neutral <see cref="DeliveryPayload"/>
/// (docs/webhook-channel.md describes it): a message, an album, an edit; copy or forward.
/// </summary>
public sealed record OutboundMessage(
    MessageKind Kind,
    bool Forward,
    bool Transformed,
    string? SourceChannel,
    string? SourceChat,
    string? ReplyTo,
    bool IsAlbum,
    IReadOnlyList<OutboundItem> Items)
{
    public static OutboundMessage? Parse(string json, out string? problem)
    {
        if (DeliveryPayload.Parse(json, out problem) is not { } payload) return null;
        var isAlbum = payload.Album is not null;
        var items = isAlbum
            ? payload.Album!.Select(item => Item(item.MessageId, item.Text, item.Attachments)).ToList()
            : [Item(payload.MessageId, payload.Text, payload.Attachments)];
        if (items.Count == 0)
        {
            problem = "the album is empty";
            return null;
        }
        return new OutboundMessage(payload.KindOrMessage, payload.IsForward, payload.Transformed == true,
            payload.Source.Channel, payload.Source.Chat, payload.ReplyTo, isAlbum, items);
    }

    private static OutboundItem Item(string? messageId, string? text, RawJson? attachments)
    {
        MediaRef? media = null;
        var all = DeliveryPayload.AttachmentsOf(attachments);
        var types = new List<string>(all.Count);
        foreach (var attachment in all)
        {
            // Telegram sends what it cannot name (a bare URL, say) as a document.
            var current = new MediaRef(attachment.Type ?? "document", attachment.FileId, attachment.Url, attachment.FileName);
            types.Add(current.Type);
            media ??= current;
        }
        return new OutboundItem(messageId, text, media, types);
    }
}
