using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tern.Channels.Telegram.BotApi;
using Tern.Core.Messages;

namespace Tern.Channels.Telegram;

/// <summary>What one Telegram update means for Tern.</summary>
/// <param name="Envelope">The message to commit, or null for updates Tern does not route (service messages).</param>
/// <param name="MigratedFrom">A group became a supergroup: its old id and new id.</param>
public readonly record struct MappedUpdate(Envelope? Envelope, (string Old, string New)? MigratedFrom);

/// <summary>Turns Bot API updates into envelopes: the same shape for every platform, Telegram's facts kept in the meta JSON.</summary>
public static class UpdateMapper
{
    /// <summary>The update types a Telegram channel asks for (getUpdates and setWebhook allowed_updates).</summary>
    public static IReadOnlyList<string> AllowedUpdates { get; } = ["message", "edited_message", "channel_post", "edited_channel_post", "callback_query"];

    public static MappedUpdate Map(Update update, string channelId, long receivedAtMs)
    {
        if (update.Message is { } message) return FromMessage(update, message, channelId, MessageKind.Message, receivedAtMs);
        if (update.ChannelPost is { } post) return FromMessage(update, post, channelId, MessageKind.Message, receivedAtMs);
        if (update.EditedMessage is { } edited) return FromMessage(update, edited, channelId, MessageKind.Edit, receivedAtMs);
        if (update.EditedChannelPost is { } editedPost) return FromMessage(update, editedPost, channelId, MessageKind.Edit, receivedAtMs);
        if (update.CallbackQuery is { } callback) return FromCallback(callback, channelId, receivedAtMs);
        return default;
    }

    private static MappedUpdate FromMessage(Update update, Message message, string channelId, MessageKind kind, long receivedAtMs)
    {
        var chat = Id(message.Chat.Id);
        if (message.MigrateToChatId is { } newId) return new MappedUpdate(null, (chat, Id(newId)));

        var attachments = Attachments(message);
        var text = message.Text ?? message.Caption;
        if (text is null && attachments is null) return default; // A service message (member joined, title changed, …).

        var messageId = Id(message.MessageId);
        var platformId = kind == MessageKind.Edit
            ? $"{chat}:{messageId}:e{Id(message.EditDate ?? 0)}:u{Id(update.UpdateId)}"
            : $"{chat}:{messageId}";
        // In a forum topic every message "replies" to the topic's first message; that is not a reply.
        var replyTo = message.ReplyToMessage is { } reply && !(message.IsTopicMessage == true && reply.MessageId == message.MessageThreadId)
            ? Id(reply.MessageId)
            : null;
        var sender = message.From is { } from ? Id(from.Id) : message.SenderChat is { } senderChat ? Id(senderChat.Id) : null;
        return new MappedUpdate(new Envelope(
            channelId, platformId, chat, sender, text, attachments, receivedAtMs, kind, messageId, replyTo,
            kind == MessageKind.Message ? message.MediaGroupId : null, Meta(message, update.UpdateId)), null);
    }

    private static MappedUpdate FromCallback(CallbackQuery callback, string channelId, long receivedAtMs)
    {
        // A button under an inline message has no chat: the conversation is the user's private chat.
        var chat = callback.Message is { } message ? Id(message.Chat.Id) : Id(callback.From.Id);
        var meta = Write(json =>
        {
            json.WriteString("callback_id", callback.Id);
            if (callback.From.Username is not null) json.WriteString("sender_username", callback.From.Username);
            json.WriteString("sender_name", Name(callback.From));
            if (callback.InlineMessageId is not null) json.WriteString("inline_message_id", callback.InlineMessageId);
        });
        return new MappedUpdate(new Envelope(
            channelId, "cb:" + callback.Id, chat, Id(callback.From.Id), callback.Data ?? "", null, receivedAtMs, MessageKind.Callback,
            callback.Message is { } m ? Id(m.MessageId) : null, null, null, meta), null);
    }

    /// <summary>The message's media as Tern's attachments array; null for a text message.</summary>
    private static string? Attachments(Message m)
    {
        if (m.Photo is { Count: > 0 } sizes)
        {
            var largest = sizes.MaxBy(s => (long)s.Width * s.Height)!;
            return One("photo", largest.FileId, largest.FileUniqueId, largest.FileSize, json =>
            {
                json.WriteNumber("width", largest.Width);
                json.WriteNumber("height", largest.Height);
            });
        }
        // An animation also carries a document; the animation is what it is.
        if (m.Animation is { } a) return One("animation", a.FileId, a.FileUniqueId, a.FileSize, json => Named(json, a.FileName, a.MimeType));
        if (m.Video is { } v) return One("video", v.FileId, v.FileUniqueId, v.FileSize, json => { Named(json, v.FileName, v.MimeType); json.WriteNumber("duration", v.Duration); });
        if (m.Document is { } d) return One("document", d.FileId, d.FileUniqueId, d.FileSize, json => Named(json, d.FileName, d.MimeType));
        if (m.Audio is { } au) return One("audio", au.FileId, au.FileUniqueId, au.FileSize, json => { Named(json, au.FileName, au.MimeType); json.WriteNumber("duration", au.Duration); });
        if (m.Voice is { } vo) return One("voice", vo.FileId, vo.FileUniqueId, vo.FileSize, json => { Named(json, null, vo.MimeType); json.WriteNumber("duration", vo.Duration); });
        if (m.Sticker is { } st) return One("sticker", st.FileId, st.FileUniqueId, st.FileSize, json => { if (st.Emoji is not null) json.WriteString("emoji", st.Emoji); });
        if (m.VideoNote is { } vn) return One("video_note", vn.FileId, vn.FileUniqueId, vn.FileSize, json => json.WriteNumber("duration", vn.Duration));
        if (m.Venue is { } venue) return Array(json => { json.WriteString("type", "venue"); Coordinates(json, venue.Location); json.WriteString("title", venue.Title); json.WriteString("address", venue.Address); });
        if (m.Location is { } location) return Array(json => { json.WriteString("type", "location"); Coordinates(json, location); });
        if (m.Contact is { } c) return Array(json => { json.WriteString("type", "contact"); json.WriteString("phone_number", c.PhoneNumber); json.WriteString("first_name", c.FirstName); if (c.LastName is not null) json.WriteString("last_name", c.LastName); });
        if (m.Poll is { } poll) return Array(json => { json.WriteString("type", "poll"); json.WriteString("question", poll.Question); });
        if (m.Dice is { } dice) return Array(json => { json.WriteString("type", "dice"); json.WriteString("emoji", dice.Emoji); json.WriteNumber("value", dice.Value); });
        return null;
    }

    private static void Coordinates(Utf8JsonWriter json, Location location)
    {
        json.WriteNumber("latitude", location.Latitude);
        json.WriteNumber("longitude", location.Longitude);
    }

    private static void Named(Utf8JsonWriter json, string? fileName, string? mimeType)
    {
        if (fileName is not null) json.WriteString("file_name", fileName);
        if (mimeType is not null) json.WriteString("mime_type", mimeType);
    }

    private static string One(string type, string fileId, string fileUniqueId, long? fileSize, Action<Utf8JsonWriter> extra) =>
        Array(json =>
        {
            json.WriteString("type", type);
            json.WriteString("file_id", fileId);
            json.WriteString("file_unique_id", fileUniqueId);
            if (fileSize is not null) json.WriteNumber("file_size", fileSize.Value);
            extra(json);
        });

    private static string Array(Action<Utf8JsonWriter> item)
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

    private static string Meta(Message m, long updateId) => Write(json =>
    {
        json.WriteNumber("update_id", updateId);
        json.WriteString("chat_type", m.Chat.Type);
        var title = m.Chat.Title ?? Join(m.Chat.FirstName, m.Chat.LastName);
        if (title is not null) json.WriteString("chat_title", title);
        if (m.From is { } from)
        {
            if (from.Username is not null) json.WriteString("sender_username", from.Username);
            json.WriteString("sender_name", Name(from));
        }
        else if (m.SenderChat is { } senderChat)
        {
            if (senderChat.Username is not null) json.WriteString("sender_username", senderChat.Username);
            if (senderChat.Title is not null) json.WriteString("sender_name", senderChat.Title);
        }
        if (m.AuthorSignature is not null) json.WriteString("author_signature", m.AuthorSignature);
        if (m.MessageThreadId is { } thread && m.IsTopicMessage == true) json.WriteNumber("thread", thread);
        json.WriteNumber("date", m.Date);
        if (m.EditDate is { } editDate) json.WriteNumber("edit_date", editDate);
    });

    private static string Name(User user) => Join(user.FirstName, user.LastName) ?? user.FirstName;

    private static string? Join(string? first, string? last) =>
        first is null ? last : last is null ? first : first + " " + last;

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

    private static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);
}
