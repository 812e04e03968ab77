using System.Text.Json;
using Tern.Core.Messages;

namespace Tern.Channels.Telegram;

/// <summary>A medium to send: a platform file id (valid for one bot only) or a URL Telegram fetches.</summary>
public sealed record MediaRef(string Type, string? FileId, string? Url, string? FileName);

/// <summary>One message to send: its text or caption, its medium, and the source message it copies (if any).</summary>
public sealed record OutboundItem(string? SourceMessageId, string? Text, MediaRef? Media, IReadOnlyList<string> MediaTypes);

/// <summary>
/// What a delivery asks the Telegram sender to do, read from the platform-neutral payload the router
/// wrote (docs/webhook-channel.md describes it): a message, an album, an edit; copy or forward.
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
    public static OutboundMessage? Parse(string payload, out string? problem)
    {
        problem = null;
        try
        {
            using var document = JsonDocument.Parse(payload);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = "the payload is not a JSON object";
                return null;
            }
            var kind = String(root, "kind") switch
            {
                "edit" => MessageKind.Edit,
                "callback" => MessageKind.Callback,
                _ => MessageKind.Message,
            };
            string? sourceChannel = null, sourceChat = null;
            if (root.TryGetProperty("source", out var source) && source.ValueKind == JsonValueKind.Object)
            {
                sourceChannel = String(source, "channel");
                sourceChat = String(source, "chat");
            }

            var items = new List<OutboundItem>();
            var isAlbum = root.TryGetProperty("album", out var album) && album.ValueKind == JsonValueKind.Array;
            if (isAlbum)
            {
                foreach (var item in album.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.Object) items.Add(Item(item));
                }
                if (items.Count == 0)
                {
                    problem = "the album is empty";
                    return null;
                }
            }
            else
            {
                items.Add(Item(root));
            }
            return new OutboundMessage(kind, String(root, "mode") == "forward", root.TryGetProperty("transformed", out var t) && t.ValueKind == JsonValueKind.True,
                sourceChannel, sourceChat, String(root, "reply_to"), isAlbum, items);
        }
        catch (JsonException ex)
        {
            problem = "the payload is not valid JSON: " + ex.Message;
            return null;
        }
    }

    private static OutboundItem Item(JsonElement element)
    {
        MediaRef? media = null;
        var types = new List<string>(1);
        if (element.TryGetProperty("attachments", out var attachments) && attachments.ValueKind == JsonValueKind.Array)
        {
            foreach (var attachment in attachments.EnumerateArray())
            {
                MediaRef current;
                if (attachment.ValueKind == JsonValueKind.String)
                {
                    // The webhook channel allows a bare URL; Telegram sends what it cannot name as a document.
                    current = new MediaRef("document", null, attachment.GetString(), null);
                }
                else if (attachment.ValueKind == JsonValueKind.Object)
                {
                    current = new MediaRef(String(attachment, "type") ?? "document", String(attachment, "file_id"), String(attachment, "url"), String(attachment, "file_name"));
                }
                else
                {
                    continue;
                }
                types.Add(current.Type);
                media ??= current;
            }
        }
        return new OutboundItem(String(element, "message_id"), String(element, "text"), media, types);
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => value.GetRawText(),
            _ => null,
        } : null;
}
