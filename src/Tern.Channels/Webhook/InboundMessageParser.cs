using System.Globalization;
using System.Text.Json;
using Tern.Core.Messages;

namespace Tern.Channels.Webhook;

/// <summary>
/// Parses the webhook channel's inbound JSON: <c>{id?, chat, sender?, text?, attachments?}</c>.
/// Unknown fields are ignored, so senders can add their own metadata.
/// </summary>
public static class InboundMessageParser
{
    public const int MaxIdLength = 256;

    /// <summary>Either an envelope or the errors by field name.</summary>
    public static Envelope? Parse(ReadOnlySpan<byte> body, string channelId, long receivedAtMs, Dictionary<string, string[]> errors, string? senderMessageId = null)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.ToArray(), new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException ex)
        {
            errors["body"] = [$"is not valid JSON ({FirstSentence(ex.Message)})"];
            return null;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                errors["body"] = ["must be a JSON object"];
                return null;
            }

            var chat = ReadId(root, "chat", required: true, errors);
            var id = ReadId(root, "id", required: false, errors);
            var sender = ReadId(root, "sender", required: false, errors);

            string? text = null;
            if (root.TryGetProperty("text", out var textElement) && textElement.ValueKind != JsonValueKind.Null)
            {
                if (textElement.ValueKind == JsonValueKind.String) text = textElement.GetString();
                else errors["text"] = ["must be a string"];
            }

            string? attachments = null;
            if (root.TryGetProperty("attachments", out var attachmentsElement) && attachmentsElement.ValueKind != JsonValueKind.Null)
            {
                if (attachmentsElement.ValueKind != JsonValueKind.Array)
                {
                    errors["attachments"] = ["must be an array"];
                }
                else
                {
                    var index = 0;
                    foreach (var item in attachmentsElement.EnumerateArray())
                    {
                        if (item.ValueKind is not (JsonValueKind.Object or JsonValueKind.String))
                        {
                            errors[$"attachments[{index.ToString(CultureInfo.InvariantCulture)}]"] = ["must be an object or a string (URL)"];
                        }
                        index++;
                    }
                    if (index > 0) attachments = attachmentsElement.GetRawText();
                }
            }

            if (text is null && attachments is null && !errors.ContainsKey("text") && !errors.ContainsKey("attachments"))
            {
                errors["text"] = ["text or attachments is required"];
            }

            if (errors.Count > 0) return null;
            // Without an id (in the body, or the sender's webhook-id) there is nothing to recognise a redelivery by; each POST is a new message.
            return new Envelope(channelId, id ?? senderMessageId ?? Guid.NewGuid().ToString("N"), chat!, sender, text, attachments, receivedAtMs);
        }
    }

    private static string? ReadId(JsonElement root, string name, bool required, Dictionary<string, string[]> errors)
    {
        if (!root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            if (required) errors[name] = ["is required"];
            return null;
        }

        string? value = element.ValueKind switch
        {
            JsonValueKind.String => element.GetString(),
            JsonValueKind.Number when element.TryGetInt64(out var n) => n.ToString(CultureInfo.InvariantCulture),
            _ => null,
        };
        if (value is null)
        {
            errors[name] = ["must be a string or an integer"];
            return null;
        }
        if (value.Length == 0 || value.Length > MaxIdLength)
        {
            errors[name] = [$"must be 1 to {MaxIdLength} characters"];
            return null;
        }
        return value;
    }

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message.TrimEnd('.') : message[..end];
    }
}
