using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Tern.Channels.WhatsApp.Graph;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Messages;

namespace Tern.Channels.WhatsApp;

/// <summary>
/// Delivers to WhatsApp users through <c>POST /{phone-number-id}/messages</c>: text (with a link preview when it has a URL),
/// media by link or by Meta's media id with the caption, locations, contact cards, reactions, and replies (the replied-to
/// message's copy in the chat, found in the message links). The number's throughput and the pair rate are taken before every
/// call; Meta's answers are classified by <c>error.code</c> as docs/whatsapp.md lists: throughput and API rate limits back
/// off and retry, the pair rate holds that user only, a closed 24-hour window and refused messages fail with Meta's reason,
/// an expired token or a blocked account pause the whole channel (no hot retry loop), 5xx and network errors retry.
/// </summary>
public sealed partial class WhatsAppSender(GraphApiClient client, WhatsAppLimiter limiter, IMessageLinks links, TimeSpan timeout) : IChannelSender
{
    public const int MaxText = 4096;
    public const int MaxCaption = 1024;

    /// <summary>How long a channel waits after Meta refused its token or blocked its account before it tries again.</summary>
    public static readonly TimeSpan AccountPause = TimeSpan.FromMinutes(5);

    public string ChannelType => WhatsAppChannelType.TypeName;

    public async Task<SendResult> SendAsync(ChannelDefinition channel, PendingDelivery delivery, CancellationToken cancellationToken)
    {
        if (WhatsAppSettings.Of(channel) is not { } settings || WhatsAppSettings.EndpointOf(channel) is not { } endpoint)
        {
            return SendResult.Rejected($"channel '{channel.Id}' has no valid WhatsApp settings");
        }
        if (DeliveryPayload.Parse(delivery.Payload, out var problem) is not { } payload) return SendResult.Rejected(problem ?? "the payload is not a delivery payload");
        var recipient = delivery.Chat;
        if (WhatsAppChats.Check(recipient) is { } chatProblem) return SendResult.Rejected($"chat '{recipient}' {chatProblem}");
        if (payload.KindOrMessage == MessageKind.Edit) return SendResult.Rejected("WhatsApp cannot edit a message a business sent; the edit was not sent");
        if (payload.KindOrMessage == MessageKind.Callback) return SendResult.Rejected("a button press is not a message WhatsApp can show");
        WhatsAppSendOptions.Stored? options = null;
        if (payload.Platform is { } platform)
        {
            options = PlatformOptions(platform);
            if (options is { Template: not null } or { MarkRead: not null }) return await SendOptionsAsync(settings, endpoint, recipient, options, cancellationToken).ConfigureAwait(false);
        }

        var items = payload.Album is { } album
            ? album.Select(i => (i.MessageId, i.Text, i.Attachments)).ToList()
            : [(payload.MessageId, payload.Text, payload.Attachments)];
        var source = payload.Source is { Channel: { } sourceChannel, Chat: { } sourceChat } ? (Channel: sourceChannel, Chat: sourceChat) : ((string Channel, string Chat)?)null;
        var context = await ReplyContextAsync(channel, recipient, source, payload.ReplyTo, cancellationToken).ConfigureAwait(false);

        // WhatsApp has no albums: each item is its own message, in order (a retry after a partial album sends it whole again).
        var wamids = new List<string>(items.Count);
        var made = new List<MessageLink>(items.Count);
        foreach (var (messageId, text, attachments) in items)
        {
            var request = await RequestAsync(channel, recipient, source, text, attachments, context, apiSend: payload.Source.Api is not null, options?.PreviewUrl, cancellationToken)
                .ConfigureAwait(false);
            if (request.Problem is { } refused) return SendResult.Rejected(refused);
            var result = await LimitedAsync(settings, endpoint, recipient, request.Json!, cancellationToken).ConfigureAwait(false);
            if (result.Outcome != SendOutcome.Sent) return result;
            wamids.Add(result.PlatformMessageId!);
            if (source is { } s && messageId is not null) made.Add(new MessageLink(s.Channel, s.Chat, messageId, channel.Id, recipient, result.PlatformMessageId!));
            context = null; // Only the first message of an album answers the replied-to message.
        }
        return SendResult.Ok(string.Join(',', wamids), made);
    }

    /// <summary>The copy, in this chat, of the message the source message answers (its wamid); null when there is none.</summary>
    private async Task<string?> ReplyContextAsync(ChannelDefinition channel, string recipient, (string Channel, string Chat)? source, string? replyTo, CancellationToken cancellationToken)
    {
        if (replyTo is null || source is not { } s) return null;
        // A reply within the same WhatsApp chat (an answer routed back to where it came from) names the wamid itself.
        if (s.Channel == channel.Id && s.Chat == recipient) return replyTo;
        var copies = await links.FindAsync(s.Channel, s.Chat, replyTo, channel.Id, recipient, cancellationToken).ConfigureAwait(false);
        return copies.Count > 0 ? copies[0] : null;
    }

    private readonly record struct Request(byte[]? Json, string? Problem);

    /// <summary>The Graph request for one message, or why WhatsApp cannot carry it.</summary>
    private async Task<Request> RequestAsync(
        ChannelDefinition channel, string recipient, (string Channel, string Chat)? source, string? text, RawJson? attachments, string? context, bool apiSend,
        bool? previewUrl, CancellationToken cancellationToken)
    {
        var attachment = FirstAttachment(attachments);
        // A tenant sending through the API names Meta's media id as the file id; a file id routed from another platform is not one.
        if (apiSend && attachment is { MediaId: null, FileId: { } fileId }) attachment = attachment with { MediaId = fileId };
        string? reactedTo = null;
        if (attachment is { Type: "reaction" } reaction)
        {
            // The reacted-to message must be the copy in this chat.
            var original = reaction.MessageId;
            if (original is null) return new Request(null, "the reaction names no message");
            reactedTo = source is { } s && !(s.Channel == channel.Id && s.Chat == recipient)
                ? (await links.FindAsync(s.Channel, s.Chat, original, channel.Id, recipient, cancellationToken).ConfigureAwait(false)) is [var copy, ..] ? copy : null
                : original;
            if (reactedTo is null) return new Request(null, $"the reacted-to message {original} was not sent to this chat, so the reaction cannot be shown");
        }

        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("messaging_product", "whatsapp");
            json.WriteString("recipient_type", "individual");
            // Meta takes a phone number in `to` and a business-scoped user id in `recipient`.
            json.WriteString(WhatsAppChats.IsUserId(recipient) ? "recipient" : "to", recipient);
            if (context is not null && reactedTo is null)
            {
                json.WriteStartObject("context");
                json.WriteString("message_id", context);
                json.WriteEndObject();
            }
            var problem = attachment is null ? WriteText(json, text, previewUrl) : WriteAttachment(json, attachment, text, reactedTo);
            if (problem is not null) return new Request(null, problem);
            json.WriteEndObject();
        }
        return new Request(buffer.WrittenSpan.ToArray(), null);
    }

    private static string? WriteText(Utf8JsonWriter json, string? text, bool? previewUrl = null)
    {
        if (string.IsNullOrEmpty(text)) return "the message has neither text nor anything WhatsApp can show";
        json.WriteString("type", "text");
        json.WriteStartObject("text");
        json.WriteString("body", Truncate(text, MaxText));
        // Meta renders a preview of the first URL only when asked to; an API send may say not to.
        if (previewUrl ?? (text.Contains("https://", StringComparison.OrdinalIgnoreCase) || text.Contains("http://", StringComparison.OrdinalIgnoreCase)))
        {
            json.WriteBoolean("preview_url", true);
        }
        json.WriteEndObject();
        return null;
    }

    private static string? WriteAttachment(Utf8JsonWriter json, Attachment a, string? text, string? reactedTo)
    {
        switch (a.Type)
        {
            case "photo" or "video" or "animation" or "document" or "audio" or "voice" or "sticker":
            {
                var type = a.Type switch { "photo" => "image", "animation" => "video", "voice" => "audio", _ => a.Type };
                if (a.MediaId is null && a.Url is null)
                {
                    return a.FileId is not null
                        ? $"a {a.Type} from another platform (a file id, not a URL) cannot be sent to WhatsApp"
                        : $"the {a.Type} has neither a media id nor a URL";
                }
                json.WriteString("type", type);
                json.WriteStartObject(type);
                if (a.MediaId is not null) json.WriteString("id", a.MediaId);
                else json.WriteString("link", a.Url);
                // Meta takes captions on images, videos and documents only.
                if (text is { Length: > 0 } && type is "image" or "video" or "document") json.WriteString("caption", Truncate(text, MaxCaption));
                if (type == "document" && a.FileName is not null) json.WriteString("filename", a.FileName);
                json.WriteEndObject();
                return null;
            }
            case "location" or "venue":
                json.WriteString("type", "location");
                json.WriteStartObject("location");
                json.WriteNumber("latitude", a.Latitude ?? 0);
                json.WriteNumber("longitude", a.Longitude ?? 0);
                if (a.Title is not null) json.WriteString("name", a.Title);
                if (a.Address is not null) json.WriteString("address", a.Address);
                json.WriteEndObject();
                return null;
            case "contact":
                if (a.PhoneNumber is null) return "the contact has no phone number";
                json.WriteString("type", "contacts");
                json.WriteStartArray("contacts");
                json.WriteStartObject();
                json.WriteStartObject("name");
                var first = a.FirstName ?? a.PhoneNumber;
                json.WriteString("formatted_name", a.LastName is null ? first : first + " " + a.LastName);
                json.WriteString("first_name", first);
                if (a.LastName is not null) json.WriteString("last_name", a.LastName);
                json.WriteEndObject();
                json.WriteStartArray("phones");
                json.WriteStartObject();
                json.WriteString("phone", a.PhoneNumber);
                if (a.WaId is not null) json.WriteString("wa_id", a.WaId);
                json.WriteEndObject();
                json.WriteEndArray();
                json.WriteEndObject();
                json.WriteEndArray();
                return null;
            case "reaction":
                json.WriteString("type", "reaction");
                json.WriteStartObject("reaction");
                json.WriteString("message_id", reactedTo);
                json.WriteString("emoji", a.Emoji ?? "");
                json.WriteEndObject();
                return null;
            case "button_reply" or "list_reply" or "button" or "poll" or "dice":
                // What a user chose, or a question: as text in a chat that has no such control.
                return WriteText(json, text ?? a.Title ?? a.Text ?? a.Question ?? a.Emoji);
            default:
                return $"a {a.Type ?? "message"} ({a.WhatsAppType ?? "unknown type"}) cannot be sent to WhatsApp";
        }
    }

    /// <summary>Takes the number's and the user's limits, makes the call, and classifies the answer.</summary>
    private async Task<SendResult> LimitedAsync(WhatsAppSettings settings, GraphEndpoint endpoint, string recipient, byte[] request, CancellationToken cancellationToken)
    {
        var lease = limiter.TryAcquire(settings.PhoneNumberId, recipient, settings.EffectiveLimits, out var wait, out var numberWide);
        if (lease is null) return SendResult.Later(wait, numberWide);
        GraphResult<SendMessageAnswer> result;
        try
        {
            result = await client.SendMessageAsync(endpoint, request, timeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lease.Complete();
        }
        if (result.Error is { } error) return Classify(settings, error);
        return result.Value?.Wamid is { } wamid ? SendResult.Ok(wamid) : SendResult.Transient("Meta accepted the send but named no message id");
    }

    /// <summary>Meta's error codes (developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes), applied to one answer.</summary>
    public static SendResult Classify(WhatsAppSettings settings, GraphError error)
    {
        var reason = $"WhatsApp {error}";
        // The Graph root is an address Tern must not call: no retry makes that better.
        if (error.Refused) return SendResult.Rejected(reason);
        if (error.IsNetwork) return SendResult.Transient(reason);
        switch (error.Code)
        {
            case 130429:
                // Throughput of the number: every user of the channel waits a moment.
                return SendResult.Transient(reason, TimeSpan.FromSeconds(2), destinationFault: false) with { PauseChannel = TimeSpan.FromSeconds(2) };
            case 4 or 80007:
                // The app's or the account's API call limit: wait before calling again at all.
                return SendResult.Transient(reason, TimeSpan.FromMinutes(1), destinationFault: false) with { PauseChannel = TimeSpan.FromMinutes(1) };
            case 131056:
                // Too many messages to this user: only this user waits.
                return SendResult.Transient(reason, TimeSpan.FromSeconds(Math.Max(1, settings.EffectiveLimits.PairIntervalSeconds)), destinationFault: false);
            case 131047:
                return SendResult.Rejected(reason + " (more than 24 hours since the user last wrote: send a template message)");
            case 190:
                return SendResult.Transient(reason + " (the access token expired or was revoked: set a new whatsapp.access_token)", AccountPause, destinationFault: false)
                    with { PauseChannel = AccountPause };
            case 368:
                return SendResult.Transient(reason + " (Meta blocked the account for a policy violation; see the WhatsApp Manager)", AccountPause, destinationFault: false)
                    with { PauseChannel = AccountPause };
            case 1 or 2 or 131000 or 131016 or 133004:
                // Meta's own trouble (unknown error, service unavailable, server temporarily unavailable).
                return SendResult.Transient(reason);
        }
        if (error.HttpStatus >= 500) return SendResult.Transient(reason);
        return SendResult.Rejected(reason);
    }

    private sealed record Attachment(
        string? Type, string? MediaId, string? FileId, string? Url, string? FileName, double? Latitude, double? Longitude, string? Title, string? Address,
        string? PhoneNumber, string? FirstName, string? LastName, string? WaId, string? Emoji, string? MessageId, string? Text, string? Question, string? WhatsAppType);

    private static Attachment? FirstAttachment(RawJson? attachments)
    {
        if (attachments is not { } raw) return null;
        using var document = JsonDocument.Parse(raw.Json);
        if (document.RootElement.ValueKind != JsonValueKind.Array || document.RootElement.GetArrayLength() == 0) return null;
        var a = document.RootElement[0];
        if (a.ValueKind == JsonValueKind.String) return new Attachment("document", null, null, a.GetString(), null, null, null, null, null, null, null, null, null, null, null, null, null, null);
        if (a.ValueKind != JsonValueKind.Object) return null;
        return new Attachment(
            S(a, "type"), S(a, "media_id"), S(a, "file_id"), S(a, "url"), S(a, "file_name"), D(a, "latitude"), D(a, "longitude"), S(a, "title"), S(a, "address"),
            S(a, "phone_number"), S(a, "first_name"), S(a, "last_name"), S(a, "wa_id"), S(a, "emoji"), S(a, "message_id"), S(a, "text") ?? S(a, "title"), S(a, "question"),
            S(a, "whatsapp_type"));

        static string? S(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => null,
        } : null;

        static double? D(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
    }

    internal static string Truncate(string text, int max) => text.Length <= max ? text : string.Concat(text.AsSpan(0, max - 1), "…");
}
