using System.Text.Json;
using Tern.Core.Messages;

namespace Tern.Core.Routing;

/// <summary>
/// What filters and templates look at, read once per message (or album) rather than once per route:
/// the text, the media types of its attachments and the names in its platform facts.
/// </summary>
public readonly record struct MessageFacts(
    string Channel,
    string Chat,
    string? Sender,
    string? Text,
    IReadOnlyList<string> MediaTypes,
    string? SenderUsername,
    string? SenderName,
    string? ChatTitle,
    string? MessageId,
    long ReceivedAtMs)
{
    public static MessageFacts Of(Envelope envelope)
    {
        var (username, name, title) = ReadMeta(envelope.MetaJson);
        return new MessageFacts(envelope.ChannelId, envelope.Chat, envelope.Sender, envelope.Text, MediaTypesOf(envelope.AttachmentsJson),
            username, name, title, envelope.MessageId, envelope.ReceivedAtMs);
    }

    /// <summary>An album is judged as one message: the first caption, every media type, the first item's sender.</summary>
    public static MessageFacts Of(IReadOnlyList<Envelope> album)
    {
        var first = Of(album[0]);
        var text = album.Select(e => e.Text).FirstOrDefault(t => !string.IsNullOrEmpty(t));
        var media = album.SelectMany(e => MediaTypesOf(e.AttachmentsJson)).Distinct(StringComparer.Ordinal).ToArray();
        return first with { Text = text, MediaTypes = media };
    }

    /// <summary>The "type" of each attachment; a message without attachments is "text".</summary>
    public static IReadOnlyList<string> MediaTypesOf(string? attachmentsJson)
    {
        if (string.IsNullOrEmpty(attachmentsJson)) return TextOnly;
        try
        {
            using var document = JsonDocument.Parse(attachmentsJson);
            if (document.RootElement.ValueKind != JsonValueKind.Array) return TextOnly;
            var types = new List<string>(1);
            foreach (var item in document.RootElement.EnumerateArray())
            {
                var type = item.ValueKind == JsonValueKind.Object && item.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
                    ? t.GetString()!
                    : "other";
                if (!RouteOptions.MediaTypes.Contains(type)) type = "other";
                if (!types.Contains(type)) types.Add(type);
            }
            return types.Count == 0 ? TextOnly : types;
        }
        catch (JsonException)
        {
            return Other;
        }
    }

    private static readonly string[] TextOnly = ["text"];
    private static readonly string[] Other = ["other"];

    private static (string? Username, string? Name, string? Title) ReadMeta(string? metaJson)
    {
        if (string.IsNullOrEmpty(metaJson)) return (null, null, null);
        try
        {
            using var document = JsonDocument.Parse(metaJson);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return (null, null, null);
            return (Get(root, "sender_username"), Get(root, "sender_name"), Get(root, "chat_title"));
        }
        catch (JsonException)
        {
            return (null, null, null);
        }

        static string? Get(JsonElement root, string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }
}
