using System.Globalization;

namespace Tern.StandIns.Telegram;

// Incoming traffic: what users and channels do, turned into messages in their chats and updates
// for a bot. Misuse by the test (unknown chat, wrong chat kind) throws; it is not an API answer.
public sealed partial class BotApiStandIn
{
    /// <summary>
    /// A user writes in a chat; <paramref name="bot"/> receives a "message" update. With
    /// <paramref name="media"/>, the message's caption is <see cref="IncomingMedia.Caption"/>
    /// (or <paramref name="text"/> if that is null). Messages sharing a
    /// <paramref name="mediaGroupId"/> form an album.
    /// </summary>
    public IncomingResult UserMessage(
        StandInBot bot,
        long chatId,
        long fromUserId,
        string? text,
        IncomingMedia? media = null,
        string? mediaGroupId = null,
        int? replyToMessageId = null,
        int? threadId = null,
        string? fromUsername = null)
    {
        if (text is null && media is null) throw new ArgumentException("A message has text, media or both.", nameof(text));
        if (fromUserId <= 0) throw new ArgumentOutOfRangeException(nameof(fromUserId), "User ids are positive.");
        lock (_gate)
        {
            var state = RequireBot(bot);
            var chat = RequireChat(chatId);
            if (chat.Info.Kind == ChatKind.Channel) throw new InvalidOperationException("Users do not write in channels; use ChannelPost.");
            if (chat.Info.Kind == ChatKind.Private && fromUserId != chatId)
            {
                throw new ArgumentException("In a private chat the user is the chat (chat id = user id).", nameof(fromUserId));
            }

            if (fromUsername is not null) _usernames[fromUserId] = fromUsername;
            var reply = replyToMessageId is { } replyId
                ? chat.Find(replyId) ?? throw new ArgumentException($"No message {replyId} in chat {chatId}.", nameof(replyToMessageId))
                : null;
            var thread = threadId;
            if (thread is { } topic && (!chat.Info.IsForum || !chat.Topics.Contains(topic)))
            {
                throw new ArgumentException($"Chat {chatId} has no topic {topic}.", nameof(threadId));
            }

            if (chat.Info.IsForum) thread ??= reply?.ThreadId;
            var message = Incoming(chat, text, media, mediaGroupId) with { From = UserOf(fromUserId), ReplyTo = reply, ThreadId = thread };
            return Deliver(state, chat, message, "message");
        }
    }

    /// <summary>A channel posts; <paramref name="bot"/> (a member of the channel) receives a "channel_post" update.</summary>
    public IncomingResult ChannelPost(StandInBot bot, long channelId, string? text, IncomingMedia? media = null, string? mediaGroupId = null)
    {
        if (text is null && media is null) throw new ArgumentException("A post has text, media or both.", nameof(text));
        lock (_gate)
        {
            var state = RequireBot(bot);
            var chat = RequireChat(channelId);
            if (chat.Info.Kind != ChatKind.Channel) throw new InvalidOperationException($"Chat {channelId} is not a channel.");
            var message = Incoming(chat, text, media, mediaGroupId) with { SenderChat = chat.Info };
            return Deliver(state, chat, message, "channel_post");
        }
    }

    /// <summary>
    /// The author edits an incoming message (its text, or its caption for media);
    /// <paramref name="bot"/> receives "edited_message" ("edited_channel_post" in channels).
    /// </summary>
    public IncomingResult EditMessage(StandInBot bot, long chatId, int messageId, string newTextOrCaption)
    {
        lock (_gate)
        {
            var state = RequireBot(bot);
            var chat = RequireChat(chatId);
            var message = chat.Find(messageId) ?? throw new ArgumentException($"No message {messageId} in chat {chatId}.", nameof(messageId));
            if (message.SentByBotId is not null) throw new InvalidOperationException("Messages that bots sent are edited with editMessageText/editMessageCaption.");
            var edited = message.Media is null
                ? message with { Text = newTextOrCaption, EditDate = UnixNow() }
                : message with { Caption = newTextOrCaption, EditDate = UnixNow() };
            Store(chat, edited);
            var type = chat.Info.Kind == ChatKind.Channel ? "edited_channel_post" : "edited_message";
            return Deliver(state, chat, edited, type, stored: true);
        }
    }

    /// <summary>A user presses an inline button on a message; <paramref name="bot"/> receives a "callback_query" update.</summary>
    public IncomingResult CallbackQuery(StandInBot bot, long chatId, int messageId, long fromUserId, string data)
    {
        lock (_gate)
        {
            var state = RequireBot(bot);
            var chat = RequireChat(chatId);
            var message = chat.Find(messageId) ?? throw new ArgumentException($"No message {messageId} in chat {chatId}.", nameof(messageId));
            var id = (++_nextCallbackQueryId).ToString(CultureInfo.InvariantCulture);
            // chat_instance is a global identifier of the chat the message is in, stable per chat.
            var chatInstance = ((ulong)HashCode.Combine(Options.Seed, chatId)).ToString(CultureInfo.InvariantCulture);
            var callback = new CallbackData(id, UserOf(fromUserId), message, chatInstance, data);
            var updateId = Enqueue(state, new PendingUpdate(0, "callback_query", null, callback));
            if (updateId is not null) state.OpenCallbackQueries.Add(id);
            return new IncomingResult(updateId, messageId, CallbackQueryId: id);
        }
    }

    /// <summary>
    /// Queues <paramref name="count"/> text messages of one user in one chat at once (a backlog of
    /// tens of thousands of updates), without a call per message. Texts are <paramref name="text"/>(0…count-1).
    /// </summary>
    public void EnqueueMany(StandInBot bot, long chatId, long fromUserId, int count, Func<int, string> text)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_gate)
        {
            var state = RequireBot(bot);
            var chat = RequireChat(chatId);
            var channel = chat.Info.Kind == ChatKind.Channel;
            var from = channel ? null : UserOf(fromUserId);
            var type = channel ? "channel_post" : "message";
            var allowed = IsAllowed(state, type);
            var date = UnixNow();
            for (var i = 0; i < count; i++)
            {
                var message = new StoredMessage
                {
                    Chat = chat.Info,
                    MessageId = chat.NextMessageId(),
                    Date = date,
                    From = from,
                    SenderChat = channel ? chat.Info : null,
                    Text = text(i),
                };
                Store(chat, message);
                if (allowed) state.Pending.Add(new PendingUpdate(state.NextUpdateId++, type, message, null));
            }

            if (allowed && count > 0) state.SignalArrived();
        }
    }

    private StoredMessage Incoming(ChatState chat, string? text, IncomingMedia? media, string? mediaGroupId)
    {
        if (media is { Kind: MediaKind.Sticker, Caption: not null }) throw new ArgumentException("Stickers have no caption.", nameof(media));
        return new StoredMessage
        {
            Chat = chat.Info,
            MessageId = chat.NextMessageId(),
            Date = UnixNow(),
            Text = media is null ? text : null,
            Media = media is null ? null : _files.Generate(media.Kind, media.FileSize, media.FileName),
            Caption = media is null || media.Kind == MediaKind.Sticker ? null : media.Caption ?? text,
            MediaGroupId = mediaGroupId,
        };
    }

    private IncomingResult Deliver(BotState state, ChatState chat, StoredMessage message, string type, bool stored = false)
    {
        if (!stored) Store(chat, message);
        var updateId = Enqueue(state, new PendingUpdate(0, type, message, null));
        var main = message.Media?.Main;
        return new IncomingResult(updateId, message.MessageId, main is null ? null : _files.FileId(state.Bot.Id, main), main?.UniqueId);
    }

    /// <summary>Queues an update with the bot's next update_id, unless allowed_updates excludes its type (then it never exists).</summary>
    private static long? Enqueue(BotState state, PendingUpdate update)
    {
        if (!IsAllowed(state, update.Type)) return null;
        var id = state.NextUpdateId++;
        state.Pending.Add(update with { UpdateId = id });
        state.SignalArrived();
        return id;
    }

    private UserRef UserOf(long userId)
    {
        var name = _chats.TryGetValue(userId, out var chat) && chat.Info.Title is { } title ? title : MessageJson.PrivateName(userId);
        return new UserRef(userId, false, name, _usernames.GetValueOrDefault(userId));
    }
}
