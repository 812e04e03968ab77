using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tern.Core.Messages;

namespace Tern.Channels.WhatsApp;

/// <summary>One inbound message of a webhook body, for the business phone number it was sent to.</summary>
public readonly record struct InboundWhatsAppMessage(string PhoneNumberId, Envelope Envelope);

/// <summary>
/// One <c>statuses[]</c> item: what happened to a message the business sent (<c>sent</c>, <c>delivered</c>, <c>read</c>,
/// <c>played</c>, <c>failed</c>), with Meta's <c>errors[]</c> kept verbatim for a failure.
/// </summary>
/// <param name="Errors">A failure's <c>errors[]</c> as one line: "(code) title: details; …".</param>
public sealed record WhatsAppStatusUpdate(string PhoneNumberId, string Wamid, string Status, long TimestampSeconds, string? Recipient, string? Errors);

/// <summary>What a webhook body holds: messages and statuses in body order, and how many changes were of other fields.</summary>
public sealed class WebhookPayload
{
    public List<InboundWhatsAppMessage> Messages { get; } = [];

    public List<WhatsAppStatusUpdate> Statuses { get; } = [];

    /// <summary>Changes of other webhook fields (templates, account updates, …): acknowledged, not stored.</summary>
    public int OtherChanges { get; internal set; }

    /// <summary>Messages or statuses without the ids Tern needs (no wamid, no sender): acknowledged, not stored.</summary>
    public int Unusable { get; internal set; }
}

/// <summary>
/// Reads Meta's messages webhook (developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages):
/// <c>{"object":"whatsapp_business_account","entry":[{"id","changes":[{"field":"messages","value":{"metadata","contacts",
/// "messages","statuses"}}]}]}</c>, with many entries, changes, messages and statuses in one body. Every message becomes an
/// envelope whose platform id is its wamid (so a redelivery, or the same message through a second app, is stored once);
/// media are kept as Meta's ids, fetched only when something needs them; a type Tern does not know is kept as
/// <c>unsupported</c> with Meta's object verbatim, never dropped.
/// </summary>
public static class WebhookPayloadReader
{
    /// <summary>The body's meaning, or null with what is wrong when it is not a WhatsApp webhook at all.</summary>
    public static WebhookPayload? Read(ReadOnlySpan<byte> body, long receivedAtMs, out string? problem)
    {
        problem = null;
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(body);
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            problem = $"is not JSON ({ex.Message.Split(". ")[0]})";
            return null;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("entry", out var entries) || entries.ValueKind != JsonValueKind.Array)
            {
                problem = "must be a webhook object with an entry array ({\"object\":\"whatsapp_business_account\",\"entry\":[…]})";
                return null;
            }
            var payload = new WebhookPayload();
            foreach (var entry in entries.EnumerateArray())
            {
                var wabaId = String(entry, "id");
                if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("changes", out var changes) || changes.ValueKind != JsonValueKind.Array) continue;
                foreach (var change in changes.EnumerateArray())
                {
                    if (change.ValueKind != JsonValueKind.Object || String(change, "field") != "messages"
                        || !change.TryGetProperty("value", out var value) || value.ValueKind != JsonValueKind.Object)
                    {
                        payload.OtherChanges++;
                        continue;
                    }
                    ReadChange(value, wabaId, receivedAtMs, payload);
                }
            }
            return payload;
        }
    }

    private static void ReadChange(JsonElement value, string? wabaId, long receivedAtMs, WebhookPayload payload)
    {
        var metadata = value.TryGetProperty("metadata", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
        var phoneNumberId = metadata.ValueKind == JsonValueKind.Object ? String(metadata, "phone_number_id") : null;
        if (phoneNumberId is null)
        {
            payload.Unusable += Count(value, "messages") + Count(value, "statuses");
            return;
        }
        var displayNumber = String(metadata, "display_phone_number");
        var contacts = value.TryGetProperty("contacts", out var c) && c.ValueKind == JsonValueKind.Array ? c : default;
        if (value.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            foreach (var message in messages.EnumerateArray())
            {
                if (ToEnvelope(message, contacts, phoneNumberId, displayNumber, wabaId, receivedAtMs) is { } envelope) payload.Messages.Add(new(phoneNumberId, envelope));
                else payload.Unusable++;
            }
        }
        if (value.TryGetProperty("statuses", out var statuses) && statuses.ValueKind == JsonValueKind.Array)
        {
            foreach (var status in statuses.EnumerateArray())
            {
                if (ToStatus(status, phoneNumberId) is { } update) payload.Statuses.Add(update);
                else payload.Unusable++;
            }
        }
    }

    /// <summary>Meta's <c>errors[{code, title, message, error_data{details}}]</c> as one readable line.</summary>
    private static string ErrorsText(JsonElement errors)
    {
        var parts = new List<string>();
        foreach (var error in errors.EnumerateArray())
        {
            if (error.ValueKind != JsonValueKind.Object) continue;
            var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetRawText() : "?";
            var title = String(error, "title") ?? String(error, "message") ?? "error";
            var details = error.TryGetProperty("error_data", out var data) ? String(data, "details") : null;
            parts.Add(details is null || details == title ? $"({code}) {title}" : $"({code}) {title}: {details}");
        }
        return parts.Count == 0 ? "failed" : string.Join("; ", parts);
    }

    private static int Count(JsonElement value, string name) =>
        value.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array ? array.GetArrayLength() : 0;

    private static WhatsAppStatusUpdate? ToStatus(JsonElement status, string phoneNumberId)
    {
        if (status.ValueKind != JsonValueKind.Object || String(status, "id") is not { } wamid || String(status, "status") is not { } state) return null;
        var errors = status.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Array ? ErrorsText(e) : null;
        return new WhatsAppStatusUpdate(phoneNumberId, wamid, state, Seconds(status), String(status, "recipient_id") ?? String(status, "recipient_user_id"), errors);
    }

    private static Envelope? ToEnvelope(JsonElement message, JsonElement contacts, string phoneNumberId, string? displayNumber, string? wabaId, long receivedAtMs)
    {
        if (message.ValueKind != JsonValueKind.Object || String(message, "id") is not { Length: > 0 } wamid) return null;
        var from = String(message, "from");
        var contact = ContactOf(contacts, from, String(message, "from_user_id"));
        var userId = String(message, "from_user_id") ?? (contact.ValueKind == JsonValueKind.Object ? String(contact, "user_id") : null);
        var sender = from ?? userId;
        var groupId = String(message, "group_id");
        var chat = groupId ?? sender;
        if (chat is null) return null; // Nobody to answer: neither a phone number nor a user id.

        var type = String(message, "type") ?? "unknown";
        var content = message.TryGetProperty(type, out var body) ? body : default;
        var (text, attachments) = Content(type, content, message);
        string? replyTo = null;
        var forwarded = false;
        var frequentlyForwarded = false;
        string? contextFrom = null;
        if (message.TryGetProperty("context", out var context) && context.ValueKind == JsonValueKind.Object)
        {
            replyTo = String(context, "id");
            contextFrom = String(context, "from");
            forwarded = Bool(context, "forwarded");
            frequentlyForwarded = Bool(context, "frequently_forwarded");
        }
        if (type == "reaction" && content.ValueKind == JsonValueKind.Object) replyTo ??= String(content, "message_id");

        var meta = Write(json =>
        {
            json.WriteString("phone_number_id", phoneNumberId);
            if (displayNumber is not null) json.WriteString("display_phone_number", displayNumber);
            if (wabaId is not null) json.WriteString("waba_id", wabaId);
            json.WriteString("whatsapp_type", type);
            if (from is not null) json.WriteString("wa_id", from);
            if (userId is not null) json.WriteString("user_id", userId);
            if (contact.ValueKind == JsonValueKind.Object)
            {
                if (String(contact, "parent_user_id") is { } parent) json.WriteString("parent_user_id", parent);
                if (contact.TryGetProperty("profile", out var profile) && profile.ValueKind == JsonValueKind.Object)
                {
                    if (String(profile, "name") is { } name) json.WriteString("sender_name", name);
                    if (String(profile, "username") is { } username) json.WriteString("sender_username", username);
                }
            }
            if (groupId is not null) json.WriteString("group_id", groupId);
            if (contextFrom is not null) json.WriteString("context_from", contextFrom);
            if (forwarded) json.WriteBoolean("forwarded", true);
            if (frequentlyForwarded) json.WriteBoolean("frequently_forwarded", true);
            if (message.TryGetProperty("referral", out var referral)) { json.WritePropertyName("referral"); referral.WriteTo(json); }
            if (message.TryGetProperty("errors", out var errors)) { json.WritePropertyName("errors"); errors.WriteTo(json); }
            json.WriteNumber("date", Seconds(message));
        });
        return new Envelope(string.Empty, wamid, chat, sender, text, attachments, receivedAtMs, MessageKind.Message, wamid, replyTo, null, meta);
    }

    /// <summary>The contact of the message's sender: the one with its wa_id or user id, else the only one.</summary>
    private static JsonElement ContactOf(JsonElement contacts, string? from, string? userId)
    {
        if (contacts.ValueKind != JsonValueKind.Array) return default;
        foreach (var contact in contacts.EnumerateArray())
        {
            if (contact.ValueKind != JsonValueKind.Object) continue;
            if ((from is not null && String(contact, "wa_id") == from) || (userId is not null && String(contact, "user_id") == userId)) return contact;
        }
        return contacts.GetArrayLength() == 1 ? contacts[0] : default;
    }

    /// <summary>The text and Tern's attachments for a message of <paramref name="type"/> (Meta's object <paramref name="content"/>).</summary>
    private static (string? Text, string? Attachments) Content(string type, JsonElement content, JsonElement message)
    {
        var isObject = content.ValueKind == JsonValueKind.Object;
        switch (type)
        {
            case "text" when isObject:
                return (String(content, "body"), null);
            case "image" when isObject:
                return (String(content, "caption"), Media("photo", content));
            case "video" when isObject:
                return (String(content, "caption"), Media("video", content));
            case "audio" when isObject:
                return (null, Media(Bool(content, "voice") ? "voice" : "audio", content));
            case "document" when isObject:
                return (String(content, "caption"), Media("document", content));
            case "sticker" when isObject:
                return (null, Media("sticker", content));
            case "location" when isObject:
                return (null, One(json =>
                {
                    var name = String(content, "name");
                    var address = String(content, "address");
                    json.WriteString("type", name is not null || address is not null ? "venue" : "location");
                    json.WriteNumber("latitude", Number(content, "latitude"));
                    json.WriteNumber("longitude", Number(content, "longitude"));
                    if (name is not null) json.WriteString("title", name);
                    if (address is not null) json.WriteString("address", address);
                    if (String(content, "url") is { } url) json.WriteString("url", url);
                }));
            case "contacts" when message.TryGetProperty("contacts", out var cards) && cards.ValueKind == JsonValueKind.Array:
                return (null, Contacts(cards));
            case "interactive" when isObject && String(content, "type") is "button_reply" or "list_reply":
            {
                var kind = String(content, "type")!;
                var reply = content.TryGetProperty(kind, out var r) && r.ValueKind == JsonValueKind.Object ? r : default;
                var title = reply.ValueKind == JsonValueKind.Object ? String(reply, "title") : null;
                return (title, One(json =>
                {
                    json.WriteString("type", kind);
                    if (reply.ValueKind != JsonValueKind.Object) return;
                    if (String(reply, "id") is { } id) json.WriteString("id", id);
                    if (title is not null) json.WriteString("title", title);
                    if (String(reply, "description") is { } description) json.WriteString("description", description);
                }));
            }
            case "button" when isObject:
                return (String(content, "text"), One(json =>
                {
                    json.WriteString("type", "button");
                    if (String(content, "payload") is { } payload) json.WriteString("payload", payload);
                    if (String(content, "text") is { } buttonText) json.WriteString("text", buttonText);
                }));
            case "reaction" when isObject:
                return (null, One(json =>
                {
                    json.WriteString("type", "reaction");
                    json.WriteString("emoji", String(content, "emoji") ?? "");
                    if (String(content, "message_id") is { } reactedTo) json.WriteString("message_id", reactedTo);
                }));
            default:
                // unsupported, unknown, and anything Meta adds later: kept with Meta's object as it came.
                return (null, One(json =>
                {
                    json.WriteString("type", "unsupported");
                    json.WriteString("whatsapp_type", type == "unsupported" && isObject && String(content, "type") is { } original ? original : type);
                    if (content.ValueKind != JsonValueKind.Undefined)
                    {
                        json.WritePropertyName("whatsapp");
                        content.WriteTo(json);
                    }
                }));
        }
    }

    private static string Media(string kind, JsonElement media) => One(json =>
    {
        json.WriteString("type", kind);
        if (String(media, "id") is { } id) json.WriteString("media_id", id);
        if (String(media, "mime_type") is { } mime) json.WriteString("mime_type", mime);
        if (String(media, "sha256") is { } sha) json.WriteString("sha256", sha);
        if (String(media, "filename") is { } fileName) json.WriteString("file_name", fileName);
        if (media.TryGetProperty("animated", out var animated) && animated.ValueKind is JsonValueKind.True or JsonValueKind.False) json.WriteBoolean("animated", animated.GetBoolean());
        if (String(media, "url") is { } url) json.WriteString("url", url);
    });

    private static string Contacts(JsonElement cards)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var card in cards.EnumerateArray())
            {
                if (card.ValueKind != JsonValueKind.Object) continue;
                json.WriteStartObject();
                json.WriteString("type", "contact");
                var name = card.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.Object ? n : default;
                var firstName = name.ValueKind == JsonValueKind.Object ? String(name, "first_name") ?? String(name, "formatted_name") : null;
                var phone = card.TryGetProperty("phones", out var phones) && phones.ValueKind == JsonValueKind.Array && phones.GetArrayLength() > 0 ? phones[0] : default;
                if (phone.ValueKind == JsonValueKind.Object && String(phone, "phone") is { } number) json.WriteString("phone_number", number);
                if (firstName is not null) json.WriteString("first_name", firstName);
                if (name.ValueKind == JsonValueKind.Object && String(name, "last_name") is { } lastName) json.WriteString("last_name", lastName);
                if (phone.ValueKind == JsonValueKind.Object && String(phone, "wa_id") is { } waId) json.WriteString("wa_id", waId);
                json.WritePropertyName("whatsapp");
                card.WriteTo(json);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string One(Action<Utf8JsonWriter> item)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            json.WriteStartObject();
            item(json);
            json.WriteEndObject();
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            body(json);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static bool Bool(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private static double Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble()
        : element.TryGetProperty(name, out value) && value.ValueKind == JsonValueKind.String && double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed
        : 0;

    /// <summary>Meta's <c>timestamp</c>: Unix seconds as a string (a number is taken too); 0 when missing.</summary>
    private static long Seconds(JsonElement element)
    {
        if (!element.TryGetProperty("timestamp", out var value)) return 0;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number)) return number;
        return value.ValueKind == JsonValueKind.String && long.TryParse(value.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
    }
}
