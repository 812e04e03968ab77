using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tern.StandIns.Telegram;

// The methods that send, copy, forward and edit messages. Each checks what it can before taking
// the lock (as Telegram's server parses a request before it looks at the chat), then checks the
// chat and creates the messages under the lock, so a refused call creates nothing.
public sealed partial class BotApiStandIn
{
    private const int MaxAlbumSize = 10;
    private const int MaxRepeatedMessages = 100;

    private static readonly HashSet<string> ChatActions = new(StringComparer.Ordinal)
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice", "upload_document",
        "choose_sticker", "find_location", "record_video_note", "upload_video_note",
    };

    /// <summary>Where a media parameter's file comes from: a multipart part, an http(s) URL, or a file_id.</summary>
    private sealed record MediaSource(UploadedFile? Upload, string? Url, string? FileId);

    private sealed record AlbumItem(MediaKind Kind, MediaSource Source, string? Caption, string? ParseMode);

    private JsonObject SendMessage(BotState bot, BotApiParameters p, long arrivedAt)
    {
        var text = p.String("text");
        if (string.IsNullOrWhiteSpace(text)) throw BotApiException.BadRequest("message text is empty");
        var parseMode = ParseModeOf(p.String("parse_mode"));
        var markup = MarkupOf(p);
        lock (_gate)
        {
            var chat = WritableChat(bot, p.String("chat_id"));
            var thread = ThreadFor(chat, p);
            var reply = ReplyFor(chat, p);
            if (text.Length > MaxTextLength) throw BotApiException.BadRequest("message is too long");
            var message = NewBotMessage(bot, chat, thread, reply.Target) with { Text = text, ReplyMarkup = markup };
            Store(chat, message);
            RecordSent(chat, Row(bot, "sendMessage", message, arrivedAt) with
            {
                ReplyToMessageId = reply.MessageId,
                ParseMode = parseMode,
                ReplyMarkup = markup,
            });
            return _json.Message(message, bot.Bot.Id);
        }
    }

    private JsonObject SendMedia(BotState bot, string method, BotApiParameters p, long arrivedAt)
    {
        var (kind, field) = method switch
        {
            "sendPhoto" => (MediaKind.Photo, "photo"),
            "sendVideo" => (MediaKind.Video, "video"),
            "sendDocument" => (MediaKind.Document, "document"),
            "sendAudio" => (MediaKind.Audio, "audio"),
            "sendVoice" => (MediaKind.Voice, "voice"),
            "sendAnimation" => (MediaKind.Animation, "animation"),
            _ => (MediaKind.Sticker, "sticker"),
        };
        var source = SourceOf(p, field) ?? throw BotApiException.BadRequest($"there is no {field} in the request");
        // Stickers have no caption.
        var caption = kind == MediaKind.Sticker ? null : p.String("caption");
        var parseMode = ParseModeOf(p.String("parse_mode"));
        var markup = MarkupOf(p);
        lock (_gate)
        {
            var chat = WritableChat(bot, p.String("chat_id"));
            var thread = ThreadFor(chat, p);
            var reply = ReplyFor(chat, p);
            if (caption?.Length > MaxCaptionLength) throw BotApiException.BadRequest("message caption is too long");
            var media = ResolveMedia(bot, kind, source) ?? throw BotApiException.BadRequest("wrong file identifier/HTTP URL specified");
            var message = NewBotMessage(bot, chat, thread, reply.Target) with { Media = media, Caption = caption, ReplyMarkup = markup };
            Store(chat, message);
            RecordSent(chat, MediaRow(bot, method, message, source, arrivedAt) with
            {
                ReplyToMessageId = reply.MessageId,
                ParseMode = parseMode,
                ReplyMarkup = markup,
            });
            return _json.Message(message, bot.Bot.Id);
        }
    }

    private JsonArray SendMediaGroup(BotState bot, BotApiParameters p, long arrivedAt)
    {
        if (!p.Has("media")) throw BotApiException.BadRequest("parameter \"media\" is required");
        if (p.Json("media", "media") is not JsonArray media) throw BotApiException.BadRequest("expected an Array of InputMedia");
        if (media.Count == 0) throw BotApiException.BadRequest("there are no messages to send");
        if (media.Count > MaxAlbumSize) throw BotApiException.BadRequest("too many messages to send as an album");
        var items = new List<AlbumItem>(media.Count);
        foreach (var node in media)
        {
            if (node is not JsonObject item) throw BotApiException.BadRequest("can't parse InputMedia: Object expected");
            var type = StringOf(item["type"]);
            var kind = type switch
            {
                "photo" => MediaKind.Photo,
                "video" => MediaKind.Video,
                "document" => MediaKind.Document,
                "audio" => MediaKind.Audio,
                _ => throw BotApiException.BadRequest($"can't parse InputMedia: type \"{type}\" can't be used in sendMediaGroup"),
            };
            var value = StringOf(item["media"]);
            MediaSource? source = null;
            if (value is not null && value.StartsWith("attach://", StringComparison.Ordinal))
            {
                if (p.File(value["attach://".Length..]) is { } upload) source = new MediaSource(upload, null, null);
            }
            else if (value is not null)
            {
                source = UrlOrFileId(value);
            }

            if (source is null) throw BotApiException.BadRequest("can't parse InputMedia: media not found");
            items.Add(new AlbumItem(kind, source, StringOf(item["caption"]), ParseModeOf(StringOf(item["parse_mode"]))));
        }

        // "Documents and audio files can be only grouped in an album with messages of the same type."
        if (items.Exists(i => i.Kind == MediaKind.Document) && items.Exists(i => i.Kind != MediaKind.Document))
        {
            throw BotApiException.BadRequest("document can't be mixed with other media types");
        }

        if (items.Exists(i => i.Kind == MediaKind.Audio) && items.Exists(i => i.Kind != MediaKind.Audio))
        {
            throw BotApiException.BadRequest("audio can't be mixed with other media types");
        }

        lock (_gate)
        {
            var chat = WritableChat(bot, p.String("chat_id"));
            var thread = ThreadFor(chat, p);
            var reply = ReplyFor(chat, p);
            var resolved = new StoredMedia[items.Count];
            for (var i = 0; i < items.Count; i++)
            {
                if (items[i].Caption?.Length > MaxCaptionLength) throw BotApiException.BadRequest("message caption is too long");
                resolved[i] = ResolveMedia(bot, items[i].Kind, items[i].Source)
                    ?? throw BotApiException.BadRequest(string.Create(
                        CultureInfo.InvariantCulture, $"failed to send message #{i + 1} with the error message \"Wrong file identifier/HTTP URL specified\""));
            }

            // One item is sent as an ordinary message, outside any album, as Telegram does.
            var groupId = items.Count > 1 ? NewMediaGroupId() : null;
            var result = new JsonArray();
            for (var i = 0; i < items.Count; i++)
            {
                var message = NewBotMessage(bot, chat, thread, reply.Target) with
                {
                    Media = resolved[i],
                    Caption = items[i].Caption,
                    MediaGroupId = groupId,
                };
                Store(chat, message);
                RecordSent(chat, MediaRow(bot, "sendMediaGroup", message, items[i].Source, arrivedAt) with
                {
                    ReplyToMessageId = reply.MessageId,
                    ParseMode = items[i].ParseMode,
                });
                result.Add(_json.Message(message, bot.Bot.Id));
            }

            return result;
        }
    }

    private JsonObject CopyMessage(BotState bot, BotApiParameters p, long arrivedAt)
    {
        var from = p.String("from_chat_id") ?? throw BotApiException.BadRequest("parameter \"from_chat_id\" is required");
        var messageId = p.Int("message_id");
        var caption = p.String("caption");
        var hasCaption = p.Has("caption");
        var removeCaption = p.Bool("remove_caption");
        var parseMode = ParseModeOf(p.String("parse_mode"));
        var markup = MarkupOf(p);
        lock (_gate)
        {
            var chat = WritableChat(bot, p.String("chat_id"));
            var source = ReadableChat(bot, from).Find(messageId) ?? throw BotApiException.BadRequest("message to copy not found");
            var thread = ThreadFor(chat, p);
            var reply = ReplyFor(chat, p);
            // Only media messages have captions; caption replaces the original, remove_caption drops it.
            var newCaption = source.Media is null ? null : removeCaption ? null : hasCaption ? caption : source.Caption;
            if (newCaption?.Length > MaxCaptionLength) throw BotApiException.BadRequest("message caption is too long");
            var copy = NewBotMessage(bot, chat, thread, reply.Target) with
            {
                Text = source.Text,
                Media = source.Media,
                Caption = newCaption,
                ReplyMarkup = markup,
            };
            Store(chat, copy);
            RecordSent(chat, Row(bot, "copyMessage", copy, arrivedAt) with
            {
                FromChatId = source.Chat.Id,
                SourceMessageId = source.MessageId,
                ReplyToMessageId = reply.MessageId,
                ParseMode = parseMode,
                ReplyMarkup = markup,
            });
            return new JsonObject { ["message_id"] = copy.MessageId };
        }
    }

    private JsonObject ForwardMessage(BotState bot, BotApiParameters p, long arrivedAt)
    {
        var from = p.String("from_chat_id") ?? throw BotApiException.BadRequest("parameter \"from_chat_id\" is required");
        var messageId = p.Int("message_id");
        lock (_gate)
        {
            var chat = WritableChat(bot, p.String("chat_id"));
            var source = ReadableChat(bot, from).Find(messageId) ?? throw BotApiException.BadRequest("message to forward not found");
            var thread = ThreadFor(chat, p);
            var forward = Forwarded(bot, chat, thread, source, mediaGroupId: null);
            Store(chat, forward);
            RecordSent(chat, Row(bot, "forwardMessage", forward, arrivedAt) with
            {
                FromChatId = source.Chat.Id,
                SourceMessageId = source.MessageId,
                IsForward = true,
            });
            return _json.Message(forward, bot.Bot.Id);
        }
    }

    /// <summary>copyMessages and forwardMessages.</summary>
    private JsonArray RepeatMessages(BotState bot, BotApiParameters p, long arrivedAt, bool forward)
    {
        var method = forward ? "forwardMessages" : "copyMessages";
        var from = p.String("from_chat_id") ?? throw BotApiException.BadRequest("parameter \"from_chat_id\" is required");
        var ids = MessageIdsOf(p);
        for (var i = 1; i < ids.Count; i++)
        {
            if (ids[i] <= ids[i - 1]) throw BotApiException.BadRequest("message identifiers must be in a strictly increasing order");
        }

        var removeCaption = !forward && p.Bool("remove_caption");
        lock (_gate)
        {
            var chat = WritableChat(bot, p.String("chat_id"));
            var fromChat = ReadableChat(bot, from);
            var thread = ThreadFor(chat, p);
            // "If some of the specified messages can't be found or forwarded, they are skipped."
            var found = new List<StoredMessage>(ids.Count);
            foreach (var id in ids)
            {
                if (fromChat.Find(id) is { } message) found.Add(message);
            }

            // Telegram's server words this alike for both methods (its library forwards in both cases).
            if (found.Count == 0) throw BotApiException.BadRequest("there are no messages to forward");

            // "Album grouping is kept": two or more messages of one album share a new media_group_id.
            var albums = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var group in found.Where(m => m.MediaGroupId is not null).GroupBy(m => m.MediaGroupId!, StringComparer.Ordinal))
            {
                if (group.Count() > 1) albums[group.Key] = NewMediaGroupId();
            }

            var result = new JsonArray();
            foreach (var source in found)
            {
                var groupId = source.MediaGroupId is { } old ? albums.GetValueOrDefault(old) : null;
                var message = forward
                    ? Forwarded(bot, chat, thread, source, groupId)
                    : NewBotMessage(bot, chat, thread, null) with
                    {
                        Text = source.Text,
                        Media = source.Media,
                        Caption = source.Media is null || removeCaption ? null : source.Caption,
                        MediaGroupId = groupId,
                    };
                Store(chat, message);
                RecordSent(chat, Row(bot, method, message, arrivedAt) with
                {
                    FromChatId = source.Chat.Id,
                    SourceMessageId = source.MessageId,
                    IsForward = forward,
                });
                result.Add(new JsonObject { ["message_id"] = message.MessageId });
            }

            return result;
        }
    }

    private JsonObject EditMessage(BotState bot, BotApiParameters p, long arrivedAt, bool text)
    {
        var method = text ? "editMessageText" : "editMessageCaption";
        var newText = text ? p.String("text") : null;
        if (text && string.IsNullOrWhiteSpace(newText)) throw BotApiException.BadRequest("message text is empty");
        var newCaption = text ? null : p.String("caption");
        var chatId = p.String("chat_id");
        var messageId = p.Int("message_id");
        if (chatId is null && p.Has("inline_message_id")) throw BotApiException.BadRequest("MESSAGE_ID_INVALID");
        if (chatId is null || messageId == 0) throw BotApiException.BadRequest("message identifier is not specified");
        var parseMode = ParseModeOf(p.String("parse_mode"));
        var markup = MarkupOf(p);
        lock (_gate)
        {
            var chat = WritableChat(bot, chatId);
            var message = chat.Find(messageId) ?? throw BotApiException.BadRequest("message to edit not found");
            if (message.SentByBotId != bot.Bot.Id) throw BotApiException.BadRequest("message can't be edited");
            StoredMessage edited;
            if (text)
            {
                if (message.Text is null) throw BotApiException.BadRequest("there is no text in the message to edit");
                if (newText!.Length > MaxTextLength) throw BotApiException.BadRequest("message is too long");
                if (newText == message.Text && markup == message.ReplyMarkup) throw NotModified();
                edited = message with { Text = newText, ReplyMarkup = markup, EditDate = UnixNow() };
            }
            else
            {
                if (message.Media is null) throw BotApiException.BadRequest("there is no caption in the message to edit");
                if (newCaption?.Length > MaxCaptionLength) throw BotApiException.BadRequest("message caption is too long");
                if (newCaption == message.Caption && markup == message.ReplyMarkup) throw NotModified();
                edited = message with { Caption = newCaption, ReplyMarkup = markup, EditDate = UnixNow() };
            }

            Store(chat, edited);
            RecordSent(chat, Row(bot, method, edited, arrivedAt) with { Edited = true, ParseMode = parseMode, ReplyMarkup = markup });
            return _json.Message(edited, bot.Bot.Id);
        }
    }

    private static BotApiException NotModified() => BotApiException.BadRequest(
        "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message");

    private JsonNode AnswerCallbackQuery(BotState bot, BotApiParameters p)
    {
        var id = p.String("callback_query_id");
        lock (_gate)
        {
            if (id is null || !bot.OpenCallbackQueries.Remove(id))
            {
                throw BotApiException.BadRequest("query is too old and response timeout expired or query ID is invalid");
            }
        }

        return true;
    }

    private JsonNode SendChatAction(BotState bot, BotApiParameters p)
    {
        var action = p.String("action");
        if (action is null || !ChatActions.Contains(action)) throw BotApiException.BadRequest("wrong parameter action in request");
        lock (_gate) WritableChat(bot, p.String("chat_id"));
        return true;
    }

    /// <summary>The chat named by chat_id. Telegram resolves "@username" too; chats here have no usernames.</summary>
    private ChatState ChatFor(string? chatId)
    {
        if (chatId is null) throw BotApiException.BadRequest("chat_id is empty");
        if (ChatIdOf(chatId) is not { } id || !_chats.TryGetValue(id, out var chat)) throw BotApiException.BadRequest("chat not found");
        return chat;
    }

    /// <summary>A chat the bot may send to: not migrated, and the bot not blocked (or removed) there.</summary>
    private ChatState WritableChat(BotState bot, string? chatId)
    {
        var chat = ChatFor(chatId);
        if (chat.MigratedTo is { } supergroup)
        {
            throw new BotApiException(400, "Bad Request: group chat was upgraded to a supergroup chat", migrateToChatId: supergroup);
        }

        ThrowIfBlocked(bot, chat);
        return chat;
    }

    /// <summary>A chat the bot copies or forwards from: it must still be in it.</summary>
    private ChatState ReadableChat(BotState bot, string chatId)
    {
        var chat = ChatFor(chatId);
        ThrowIfBlocked(bot, chat);
        return chat;
    }

    private static void ThrowIfBlocked(BotState bot, ChatState chat)
    {
        if (!bot.BlockedIn.Contains(chat.Info.Id)) return;
        throw new BotApiException(403, chat.Info.Kind switch
        {
            ChatKind.Private => "Forbidden: bot was blocked by the user",
            ChatKind.Group => "Forbidden: bot was kicked from the group chat",
            ChatKind.Supergroup => "Forbidden: bot was kicked from the supergroup chat",
            _ => "Forbidden: bot was kicked from the channel chat",
        });
    }

    /// <summary>message_thread_id: in a forum the topic must exist; elsewhere it is ignored.</summary>
    private static int? ThreadFor(ChatState chat, BotApiParameters p)
    {
        var thread = p.Int("message_thread_id");
        if (thread == 0 || !chat.Info.IsForum) return null;
        if (!chat.Topics.Contains(thread)) throw BotApiException.BadRequest("message thread not found");
        return thread;
    }

    /// <summary>reply_parameters (or the older reply_to_message_id and allow_sending_without_reply).</summary>
    private (StoredMessage? Target, int? MessageId) ReplyFor(ChatState chat, BotApiParameters p)
    {
        int messageId;
        bool allowWithoutReply;
        var target = chat;
        var parameters = p.Json("reply_parameters", "reply parameters");
        if (parameters is not null)
        {
            if (parameters is not JsonObject reply) throw BotApiException.BadRequest("object expected as reply parameters");
            messageId = IntOf(reply["message_id"]);
            allowWithoutReply = BoolOf(reply["allow_sending_without_reply"]);
            if (StringOf(reply["chat_id"]) is { } replyChat && ChatIdOf(replyChat) != chat.Info.Id)
            {
                target = ChatFor(replyChat);
                // "Always False for replies in another chat or forum topic."
                allowWithoutReply = false;
            }
        }
        else
        {
            messageId = p.Int("reply_to_message_id");
            if (messageId == 0) return (null, null);
            allowWithoutReply = p.Bool("allow_sending_without_reply");
        }

        if (target.Find(messageId) is { } replied)
        {
            // A reply into another chat is recorded, but only same-chat replies carry reply_to_message.
            return (target == chat ? replied : null, messageId);
        }

        if (allowWithoutReply) return (null, null);
        throw BotApiException.BadRequest("message to be replied not found");
    }

    private static string? ParseModeOf(string? mode)
    {
        if (mode is null) return null;
        // Entities are not parsed: the text is kept as sent. Only the mode's name is checked.
        return mode.Equals("HTML", StringComparison.OrdinalIgnoreCase) || mode.Equals("Markdown", StringComparison.OrdinalIgnoreCase)
            || mode.Equals("MarkdownV2", StringComparison.OrdinalIgnoreCase)
            ? mode
            : throw BotApiException.BadRequest("unsupported parse_mode");
    }

    private static string? MarkupOf(BotApiParameters p)
    {
        var markup = p.Json("reply_markup", "reply markup");
        if (markup is null) return null;
        if (markup is not JsonObject) throw BotApiException.BadRequest("object expected as reply markup");
        return markup.ToJsonString(JsonOptions);
    }

    private static List<int> MessageIdsOf(BotApiParameters p)
    {
        var value = p.Json("message_ids", "message_ids") ?? throw BotApiException.BadRequest("message identifiers are not specified");
        if (value is not JsonArray array) throw BotApiException.BadRequest("expected an Array of message identifiers");
        if (array.Count == 0) throw BotApiException.BadRequest("message identifiers are not specified");
        if (array.Count > MaxRepeatedMessages) throw BotApiException.BadRequest("too many message identifiers specified");
        var ids = new List<int>(array.Count);
        foreach (var node in array)
        {
            var id = IntOf(node);
            if (id <= 0) throw BotApiException.BadRequest("invalid message identifier specified");
            ids.Add(id);
        }

        return ids;
    }

    private static MediaSource? SourceOf(BotApiParameters p, string field)
    {
        if (p.File(field) is { } upload) return new MediaSource(upload, null, null);
        var value = p.String(field);
        if (value is null) return null;
        if (value.StartsWith("attach://", StringComparison.Ordinal))
        {
            return p.File(value["attach://".Length..]) is { } attached ? new MediaSource(attached, null, null) : null;
        }

        return UrlOrFileId(value);
    }

    private static MediaSource UrlOrFileId(string value) =>
        value.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
            ? new MediaSource(null, value, null)
            : new MediaSource(null, null, value);

    /// <summary>
    /// The media a source names, or null for a file_id this bot was not given or a URL that is not one.
    /// URLs are accepted without fetching them.
    /// </summary>
    private StoredMedia? ResolveMedia(BotState bot, MediaKind kind, MediaSource source)
    {
        if (source.Upload is { } upload)
        {
            return upload.Content.Length > 0 ? _files.Upload(kind, upload) : throw BotApiException.BadRequest("file must be non-empty");
        }

        if (source.Url is { } url)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return null;
            var name = Path.GetFileName(uri.AbsolutePath);
            return _files.Generate(kind, null, name.Length > 0 ? name : null, url);
        }

        var media = _files.Resolve(bot.Bot.Id, source.FileId!);
        if (media is null || media.Kind == kind) return media;
        // A document may be re-sent from any file but a photo or sticker; other kinds must match.
        if (kind == MediaKind.Document && media.Kind is not (MediaKind.Photo or MediaKind.Sticker)) return media with { Kind = kind };
        throw BotApiException.BadRequest($"can't use file of type {TdName(media.Kind)} as {TdName(kind)}");
    }

    private static string TdName(MediaKind kind) => kind switch
    {
        MediaKind.Voice => "VoiceNote",
        _ => kind.ToString(),
    };

    private static StoredMessage NewBotMessage(BotState bot, ChatState chat, int? thread, StoredMessage? reply)
    {
        var channel = chat.Info.Kind == ChatKind.Channel;
        return new StoredMessage
        {
            Chat = chat.Info,
            MessageId = chat.NextMessageId(),
            Date = UnixNow(),
            // In channels a post's sender is the channel itself.
            From = channel ? null : bot.User,
            SenderChat = channel ? chat.Info : null,
            ReplyTo = reply,
            // A reply in a forum stays in the replied message's topic.
            ThreadId = thread ?? (chat.Info.IsForum ? reply?.ThreadId : null),
            SentByBotId = bot.Bot.Id,
        };
    }

    private static StoredMessage Forwarded(BotState bot, ChatState chat, int? thread, StoredMessage source, string? mediaGroupId)
    {
        // A forward of a forward keeps the first origin.
        var origin = source.Forward ?? (source.Chat.Kind == ChatKind.Channel
            ? new ForwardOrigin(null, source.Chat, source.MessageId, source.Date)
            : new ForwardOrigin(source.From, null, null, source.Date));
        return NewBotMessage(bot, chat, thread, null) with
        {
            Text = source.Text,
            Media = source.Media,
            Caption = source.Caption,
            Forward = origin,
            MediaGroupId = mediaGroupId,
        };
    }

    private string NewMediaGroupId() => (++_nextMediaGroupId).ToString(CultureInfo.InvariantCulture);

    private static void Store(ChatState chat, StoredMessage message) => chat.Messages[message.MessageId] = message;

    private void RecordSent(ChatState chat, SentMessage row)
    {
        _sent.Add(row);
        chat.Sent.Add(row);
    }

    private static SentMessage Row(BotState bot, string method, StoredMessage message, long arrivedAt) => new()
    {
        Bot = bot.Bot.Username,
        Method = method,
        ChatId = message.Chat.Id,
        ThreadId = message.ThreadId,
        MessageId = message.MessageId,
        Text = message.Text,
        Caption = message.Caption,
        MediaType = message.MediaType,
        MediaGroupId = message.MediaGroupId,
        ReplyToMessageId = message.ReplyTo?.MessageId,
        FileName = message.Media?.Main.FileName,
        ArrivedAt = arrivedAt,
    };

    private static SentMessage MediaRow(BotState bot, string method, StoredMessage message, MediaSource source, long arrivedAt) =>
        Row(bot, method, message, arrivedAt) with
        {
            FileId = source.FileId,
            MediaUrl = source.Url,
            UploadedBytes = source.Upload?.Content.LongLength,
            UploadedSha256 = source.Upload is null ? null : message.Media!.Main.UploadedSha256,
        };

    private static string? StringOf(JsonNode? node) => node switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>() is { Length: > 0 } text ? text : null,
        JsonValue value => value.ToJsonString(),
        _ => node.ToJsonString(),
    };

    private static int IntOf(JsonNode? node) =>
        int.TryParse(StringOf(node), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : 0;

    private static bool BoolOf(JsonNode? node) => StringOf(node) is { } text && (text.Equals("true", StringComparison.OrdinalIgnoreCase) || text == "1");
}
