using System.Buffers;
using System.Text.Json;
using Tern.Channels.WhatsApp.Graph;
using Tern.Core.Delivery;
using Tern.Core.Messages;

namespace Tern.Channels.WhatsApp;

// What an API send's whatsapp object asks for beyond text and media: a template message, a read mark (WhatsAppSendOptions).
public sealed partial class WhatsAppSender
{
    private static WhatsAppSendOptions.Stored PlatformOptions(RawJson platform)
    {
        using var document = JsonDocument.Parse(platform.Json);
        // Clone: the template element outlives the document.
        return WhatsAppSendOptions.Read(document.RootElement.Clone());
    }

    private async Task<SendResult> SendOptionsAsync(
        WhatsAppSettings settings, GraphEndpoint endpoint, string recipient, WhatsAppSendOptions.Stored options, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("messaging_product", "whatsapp");
            if (options.MarkRead is { } messageId)
            {
                // Meta's read mark: no recipient, the user's message id; it is not a message, so no limits of messages apply.
                json.WriteString("status", "read");
                json.WriteString("message_id", messageId);
                if (options.TypingIndicator)
                {
                    json.WriteStartObject("typing_indicator");
                    json.WriteString("type", "text");
                    json.WriteEndObject();
                }
            }
            else
            {
                json.WriteString("recipient_type", "individual");
                json.WriteString(WhatsAppChats.IsUserId(recipient) ? "recipient" : "to", recipient);
                json.WriteString("type", "template");
                json.WritePropertyName("template");
                options.Template!.Value.WriteTo(json);
            }
            json.WriteEndObject();
        }
        if (options.MarkRead is null) return await LimitedAsync(settings, endpoint, recipient, buffer.WrittenSpan.ToArray(), cancellationToken).ConfigureAwait(false);

        var result = await client.SendMessageAsync(endpoint, buffer.WrittenSpan.ToArray(), timeout, cancellationToken).ConfigureAwait(false);
        if (result.Error is { } error) return Classify(settings, error);
        return result.Value?.Success == true ? SendResult.Ok(null) : SendResult.Transient("Meta answered the read mark without success: true");
    }
}
