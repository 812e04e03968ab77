using System.Text.Json.Nodes;

namespace Tern.StandIns.Telegram;

/// <summary>A user (or bot) as Telegram's <c>User</c> object shows it.</summary>
internal sealed record UserRef(long Id, bool IsBot, string FirstName, string? Username);

/// <summary>Where a forwarded message came from (<c>MessageOrigin</c>).</summary>
internal sealed record ForwardOrigin(UserRef? SenderUser, StandInChat? Chat, int? MessageId, long Date);

/// <summary>
/// A message as it exists in a chat. Immutable: an edit stores a new version, so an update keeps
/// the content the message had when the update was created, and rendering needs no lock.
/// </summary>
internal sealed record StoredMessage
{
    public required StandInChat Chat { get; init; }

    public required int MessageId { get; init; }

    public required long Date { get; init; }

    public UserRef? From { get; init; }

    public StandInChat? SenderChat { get; init; }

    public string? Text { get; init; }

    public string? Caption { get; init; }

    public StoredMedia? Media { get; init; }

    public string? MediaGroupId { get; init; }

    /// <summary>The replied message as it was when this one was created (same chat only).</summary>
    public StoredMessage? ReplyTo { get; init; }

    public int? ThreadId { get; init; }

    public long? EditDate { get; init; }

    /// <summary>The bot that sent it, or null for incoming traffic.</summary>
    public long? SentByBotId { get; init; }

    public ForwardOrigin? Forward { get; init; }

    /// <summary>An inline keyboard, as JSON text.</summary>
    public string? ReplyMarkup { get; init; }

    public string MediaType => Media is null ? "text" : MediaTypeName(Media.Kind);

    public static string MediaTypeName(MediaKind kind) => kind switch
    {
        MediaKind.Photo => "photo",
        MediaKind.Video => "video",
        MediaKind.Document => "document",
        MediaKind.Audio => "audio",
        MediaKind.Voice => "voice",
        MediaKind.Animation => "animation",
        _ => "sticker",
    };
}

/// <summary>A callback query the user pressed on a message.</summary>
internal sealed record CallbackData(string Id, UserRef From, StoredMessage Message, string ChatInstance, string Data);

/// <summary>One entry of a bot's update queue.</summary>
internal sealed record PendingUpdate(long UpdateId, string Type, StoredMessage? Message, CallbackData? Callback);

/// <summary>Renders stored objects as the Bot API's JSON for one bot (file_ids are per bot).</summary>
internal sealed class MessageJson(FileStore files)
{
    public JsonObject Update(PendingUpdate update, long botId)
    {
        var json = new JsonObject { ["update_id"] = update.UpdateId };
        if (update.Callback is { } callback)
        {
            json[update.Type] = new JsonObject
            {
                ["id"] = callback.Id,
                ["from"] = User(callback.From),
                ["message"] = Message(callback.Message, botId),
                ["chat_instance"] = callback.ChatInstance,
                ["data"] = callback.Data,
            };
        }
        else if (update.Message is { } message)
        {
            json[update.Type] = Message(message, botId);
        }

        return json;
    }

    public JsonObject Message(StoredMessage message, long botId, bool withReply = true)
    {
        var json = new JsonObject { ["message_id"] = message.MessageId };
        if (message.ThreadId is { } thread)
        {
            json["message_thread_id"] = thread;
        }

        if (message.From is { } from) json["from"] = User(from);
        if (message.SenderChat is { } senderChat) json["sender_chat"] = Chat(senderChat);
        json["date"] = message.Date;
        json["chat"] = Chat(message.Chat);
        if (message.Forward is { } forward) json["forward_origin"] = Origin(forward);
        if (message.ThreadId is not null) json["is_topic_message"] = true;
        if (withReply && message.ReplyTo is { } reply) json["reply_to_message"] = Message(reply, botId, withReply: false);
        if (message.EditDate is { } editDate) json["edit_date"] = editDate;
        if (message.MediaGroupId is { } group) json["media_group_id"] = group;
        if (message.Text is { } text)
        {
            json["text"] = text;
            if (Entities(text) is { } entities) json["entities"] = entities;
        }

        if (message.Media is { } media) AddMedia(json, media, botId);
        if (message.Caption is { } caption) json["caption"] = caption;
        if (message.ReplyMarkup is { } markup && JsonNode.Parse(markup) is JsonObject keyboard && keyboard.ContainsKey("inline_keyboard"))
        {
            // Only inline keyboards are part of a Message.
            json["reply_markup"] = keyboard;
        }

        return json;
    }

    public static JsonObject User(UserRef user)
    {
        var json = new JsonObject { ["id"] = user.Id, ["is_bot"] = user.IsBot, ["first_name"] = user.FirstName };
        if (user.Username is { } username) json["username"] = username;
        return json;
    }

    public static JsonObject Chat(StandInChat chat)
    {
        var json = new JsonObject { ["id"] = chat.Id, ["type"] = ChatType(chat.Kind) };
        if (chat.Kind == ChatKind.Private)
        {
            json["first_name"] = chat.Title ?? PrivateName(chat.Id);
        }
        else
        {
            json["title"] = chat.Title ?? "Chat " + chat.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (chat.IsForum) json["is_forum"] = true;
        return json;
    }

    public static string PrivateName(long userId) => "User " + userId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string ChatType(ChatKind kind) => kind switch
    {
        ChatKind.Private => "private",
        ChatKind.Group => "group",
        ChatKind.Supergroup => "supergroup",
        _ => "channel",
    };

    public JsonObject File(StoredFile file, long botId)
    {
        var json = new JsonObject
        {
            ["file_id"] = files.FileId(botId, file),
            ["file_unique_id"] = file.UniqueId,
            ["file_size"] = file.Size,
        };
        return json;
    }

    private static JsonObject Origin(ForwardOrigin origin)
    {
        if (origin.Chat is { } chat)
        {
            return new JsonObject { ["type"] = "channel", ["chat"] = Chat(chat), ["message_id"] = origin.MessageId, ["date"] = origin.Date };
        }

        return new JsonObject { ["type"] = "user", ["sender_user"] = User(origin.SenderUser!), ["date"] = origin.Date };
    }

    private void AddMedia(JsonObject json, StoredMedia media, long botId)
    {
        var main = media.Main;
        switch (media.Kind)
        {
            case MediaKind.Photo:
                var sizes = new JsonArray();
                foreach (var size in media.Files)
                {
                    var photo = File(size, botId);
                    photo["width"] = size.Width;
                    photo["height"] = size.Height;
                    sizes.Add(photo);
                }

                json["photo"] = sizes;
                break;
            case MediaKind.Video:
                json["video"] = WithNameAndType(Sized(File(main, botId), main, withDuration: true), main);
                break;
            case MediaKind.Animation:
                json["animation"] = WithNameAndType(Sized(File(main, botId), main, withDuration: true), main);
                // "For backward compatibility, when this field is set, the document field will also be set."
                json["document"] = WithNameAndType(File(main, botId), main);
                break;
            case MediaKind.Audio:
                var audio = File(main, botId);
                audio["duration"] = main.Duration;
                json["audio"] = WithNameAndType(audio, main);
                break;
            case MediaKind.Voice:
                var voice = File(main, botId);
                voice["duration"] = main.Duration;
                voice["mime_type"] = main.MimeType;
                json["voice"] = voice;
                break;
            case MediaKind.Sticker:
                var sticker = Sized(File(main, botId), main, withDuration: false);
                sticker["type"] = "regular";
                sticker["is_animated"] = false;
                sticker["is_video"] = false;
                sticker["emoji"] = "\U0001F642";
                json["sticker"] = sticker;
                break;
            default:
                json["document"] = WithNameAndType(File(main, botId), main);
                break;
        }
    }

    private static JsonObject Sized(JsonObject json, StoredFile file, bool withDuration)
    {
        json["width"] = file.Width;
        json["height"] = file.Height;
        if (withDuration) json["duration"] = file.Duration;
        return json;
    }

    private static JsonObject WithNameAndType(JsonObject json, StoredFile file)
    {
        if (file.FileName is { } name) json["file_name"] = name;
        if (file.MimeType is { } type) json["mime_type"] = type;
        return json;
    }

    private static JsonArray? Entities(string text)
    {
        // A leading /command is a bot_command entity, as Telegram marks it.
        if (text.Length < 2 || text[0] != '/') return null;
        var end = 1;
        while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] is '_' or '@')) end++;
        if (end == 1) return null;
        return [new JsonObject { ["type"] = "bot_command", ["offset"] = 0, ["length"] = end }];
    }
}
