using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Tern.StandIns.WhatsApp;

/// <summary>
/// <c>messages[]</c> items of Meta's messages webhook, one builder per documented type, with Meta's field
/// names: <c>from</c>, <c>id</c>, <c>timestamp</c> (Unix seconds as a string), <c>type</c> and the object named by the type.
/// <paramref name="from"/> is the user's wa_id; pass null (and a user id to <see cref="WithUserId"/>) for a user whose
/// phone number Meta withholds.
/// </summary>
public static class WhatsAppInbound
{
    private static long _next;

    /// <summary>A new inbound wamid, unique in the process.</summary>
    public static string NewWamid()
    {
        var n = Interlocked.Increment(ref _next);
        return "wamid.HBgM" + Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"inbound\u0015{n:D20}")));
    }

    public static JsonObject Text(string? from, string body, string? id = null, DateTimeOffset? at = null) =>
        Message(from, "text", new JsonObject { ["body"] = body }, id, at);

    public static JsonObject Image(string? from, string mediaId, string mimeType = "image/jpeg", string? caption = null, string? id = null, DateTimeOffset? at = null) =>
        Message(from, "image", Media(mediaId, mimeType, caption), id, at);

    public static JsonObject Video(string? from, string mediaId, string mimeType = "video/mp4", string? caption = null, string? id = null, DateTimeOffset? at = null) =>
        Message(from, "video", Media(mediaId, mimeType, caption), id, at);

    /// <summary>An audio message; <paramref name="voice"/> for a voice note (Meta: <c>audio.voice = true</c>, OGG/Opus).</summary>
    public static JsonObject Audio(string? from, string mediaId, bool voice = false, string? id = null, DateTimeOffset? at = null)
    {
        var audio = Media(mediaId, voice ? "audio/ogg; codecs=opus" : "audio/mpeg", null);
        audio["voice"] = voice;
        return Message(from, "audio", audio, id, at);
    }

    public static JsonObject Document(string? from, string mediaId, string filename, string mimeType = "application/pdf", string? caption = null, string? id = null, DateTimeOffset? at = null)
    {
        var document = Media(mediaId, mimeType, caption);
        document["filename"] = filename;
        return Message(from, "document", document, id, at);
    }

    public static JsonObject Sticker(string? from, string mediaId, bool animated = false, string? id = null, DateTimeOffset? at = null)
    {
        var sticker = Media(mediaId, "image/webp", null);
        sticker["animated"] = animated;
        return Message(from, "sticker", sticker, id, at);
    }

    public static JsonObject Location(string? from, double latitude, double longitude, string? name = null, string? address = null, string? id = null, DateTimeOffset? at = null)
    {
        var location = new JsonObject { ["latitude"] = latitude, ["longitude"] = longitude };
        if (name is not null) location["name"] = name;
        if (address is not null) location["address"] = address;
        return Message(from, "location", location, id, at);
    }

    /// <summary>A contacts message with one contact card: <c>contacts[{name{formatted_name,first_name}, phones[{phone,wa_id,type}]}]</c>.</summary>
    public static JsonObject Contacts(string? from, string formattedName, string phone, string? waId = null, string? id = null, DateTimeOffset? at = null)
    {
        var phoneItem = new JsonObject { ["phone"] = phone, ["type"] = "CELL" };
        if (waId is not null) phoneItem["wa_id"] = waId;
        var card = new JsonObject
        {
            ["name"] = new JsonObject { ["formatted_name"] = formattedName, ["first_name"] = formattedName.Split(' ')[0] },
            ["phones"] = new JsonArray(phoneItem),
        };
        var message = Base(from, "contacts", id, at);
        message["contacts"] = new JsonArray(card);
        return message;
    }

    /// <summary>The user tapped a reply button of an interactive message the business sent (<paramref name="replyTo"/>).</summary>
    public static JsonObject ButtonReply(string? from, string buttonId, string title, string replyTo, string businessNumber, string? id = null, DateTimeOffset? at = null) =>
        WithContext(Message(from, "interactive", new JsonObject
        {
            ["type"] = "button_reply",
            ["button_reply"] = new JsonObject { ["id"] = buttonId, ["title"] = title },
        }, id, at), replyTo, businessNumber);

    /// <summary>The user chose a row of a list message the business sent.</summary>
    public static JsonObject ListReply(string? from, string rowId, string title, string? description, string replyTo, string businessNumber, string? id = null, DateTimeOffset? at = null)
    {
        var reply = new JsonObject { ["id"] = rowId, ["title"] = title };
        if (description is not null) reply["description"] = description;
        return WithContext(Message(from, "interactive", new JsonObject { ["type"] = "list_reply", ["list_reply"] = reply }, id, at), replyTo, businessNumber);
    }

    /// <summary>The user tapped a quick-reply button of a template: <c>type: "button"</c>, <c>button{payload,text}</c>.</summary>
    public static JsonObject Button(string? from, string payload, string text, string replyTo, string businessNumber, string? id = null, DateTimeOffset? at = null) =>
        WithContext(Message(from, "button", new JsonObject { ["payload"] = payload, ["text"] = text }, id, at), replyTo, businessNumber);

    /// <summary>A reaction to a message (<paramref name="emoji"/> empty: the reaction was removed).</summary>
    public static JsonObject Reaction(string? from, string messageId, string emoji, string? id = null, DateTimeOffset? at = null) =>
        Message(from, "reaction", new JsonObject { ["message_id"] = messageId, ["emoji"] = emoji }, id, at);

    /// <summary>A message type Cloud API does not support: <c>type: "unsupported"</c>, <c>errors[]</c> with 131051 and <c>unsupported{type}</c>.</summary>
    public static JsonObject Unsupported(string? from, string originalType = "poll_creation", string? id = null, DateTimeOffset? at = null)
    {
        var message = Base(from, "unsupported", id, at);
        message["errors"] = UnknownTypeErrors();
        message["unsupported"] = new JsonObject { ["type"] = originalType };
        return message;
    }

    /// <summary>The older shape of the same: <c>type: "unknown"</c> with <c>errors[]</c> and no type object.</summary>
    public static JsonObject Unknown(string? from, string? id = null, DateTimeOffset? at = null)
    {
        var message = Base(from, "unknown", id, at);
        message["errors"] = UnknownTypeErrors();
        return message;
    }

    /// <summary>A reply: <c>context{from, id}</c> names the message replied to and the number that sent it.</summary>
    public static JsonObject WithContext(JsonObject message, string replyTo, string repliedToFrom)
    {
        ArgumentNullException.ThrowIfNull(message);
        message["context"] = new JsonObject { ["from"] = repliedToFrom, ["id"] = replyTo };
        return message;
    }

    /// <summary>A forwarded message: <c>context{forwarded: true}</c>, or <c>frequently_forwarded</c> (forwarded more than 5 times).</summary>
    public static JsonObject Forwarded(JsonObject message, bool frequently = false)
    {
        ArgumentNullException.ThrowIfNull(message);
        message["context"] = new JsonObject { [frequently ? "frequently_forwarded" : "forwarded"] = true };
        return message;
    }

    /// <summary>Adds the sender's business-scoped user id (<c>from_user_id</c>); with a null <c>from</c> it is the only sender id.</summary>
    public static JsonObject WithUserId(JsonObject message, string userId)
    {
        ArgumentNullException.ThrowIfNull(message);
        message["from_user_id"] = userId;
        return message;
    }

    private static JsonArray UnknownTypeErrors() =>
        new(new JsonObject
        {
            ["code"] = 131051,
            ["title"] = "Message type unknown",
            ["message"] = "Message type unknown",
            ["error_data"] = new JsonObject { ["details"] = "Message type is currently not supported." },
        });

    private static JsonObject Media(string mediaId, string mimeType, string? caption)
    {
        var media = new JsonObject
        {
            ["mime_type"] = mimeType,
            ["sha256"] = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(mediaId))),
            ["id"] = mediaId,
        };
        if (caption is not null) media["caption"] = caption;
        return media;
    }

    private static JsonObject Message(string? from, string type, JsonObject content, string? id, DateTimeOffset? at)
    {
        var message = Base(from, type, id, at);
        message[type] = content;
        return message;
    }

    private static JsonObject Base(string? from, string type, string? id, DateTimeOffset? at)
    {
        var message = new JsonObject();
        if (from is not null) message["from"] = from;
        message["id"] = id ?? NewWamid();
        message["timestamp"] = (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        message["type"] = type;
        return message;
    }
}

/// <summary>One <c>changes[]</c> item with <c>field: "messages"</c>: the metadata of the business number, contacts, messages, statuses.</summary>
public sealed class WhatsAppChange
{
    private readonly JsonArray _contacts = [];
    private readonly JsonArray _messages = [];
    private readonly JsonArray _statuses = [];

    public WhatsAppChange(string phoneNumberId, string displayPhoneNumber)
    {
        PhoneNumberId = phoneNumberId;
        DisplayPhoneNumber = displayPhoneNumber;
    }

    public WhatsAppChange(WhatsAppPhoneNumber phone)
        : this(phone?.Id ?? throw new ArgumentNullException(nameof(phone)), phone.DisplayPhoneNumber)
    {
    }

    public string PhoneNumberId { get; }

    public string DisplayPhoneNumber { get; }

    /// <summary><c>contacts[{profile{name}, wa_id, user_id?}]</c>; a null <paramref name="waId"/> for a user whose phone number is withheld.</summary>
    public WhatsAppChange Contact(string? waId, string name, string? userId = null)
    {
        var contact = new JsonObject { ["profile"] = new JsonObject { ["name"] = name } };
        if (waId is not null) contact["wa_id"] = waId;
        if (userId is not null) contact["user_id"] = userId;
        _contacts.Add(contact);
        return this;
    }

    public WhatsAppChange Message(JsonObject message)
    {
        _messages.Add(message);
        return this;
    }

    public WhatsAppChange Status(JsonObject status)
    {
        _statuses.Add(status);
        return this;
    }

    public JsonObject ToJson()
    {
        var value = new JsonObject
        {
            ["messaging_product"] = "whatsapp",
            ["metadata"] = new JsonObject { ["display_phone_number"] = DisplayPhoneNumber, ["phone_number_id"] = PhoneNumberId },
        };
        if (_contacts.Count > 0) value["contacts"] = _contacts.DeepClone();
        if (_messages.Count > 0) value["messages"] = _messages.DeepClone();
        if (_statuses.Count > 0) value["statuses"] = _statuses.DeepClone();
        return new JsonObject { ["value"] = value, ["field"] = "messages" };
    }
}

/// <summary>A whole webhook body: <c>{"object":"whatsapp_business_account","entry":[{"id":WABA_ID,"changes":[…]}]}</c>, many entries and changes allowed.</summary>
public sealed class WhatsAppWebhookBody
{
    private readonly List<(string WabaId, WhatsAppChange[] Changes)> _entries = [];

    public WhatsAppWebhookBody Entry(string wabaId, params WhatsAppChange[] changes)
    {
        _entries.Add((wabaId, changes));
        return this;
    }

    public JsonObject ToJson()
    {
        var entries = new JsonArray();
        foreach (var (wabaId, changes) in _entries)
        {
            entries.Add(new JsonObject { ["id"] = wabaId, ["changes"] = new JsonArray([.. changes.Select(c => (JsonNode)c.ToJson())]) });
        }

        return new JsonObject { ["object"] = "whatsapp_business_account", ["entry"] = entries };
    }

    /// <summary>The bytes as Meta sends them: compact UTF-8 JSON.</summary>
    public byte[] ToBytes() => WhatsAppWebhookSender.Serialize(ToJson());
}
