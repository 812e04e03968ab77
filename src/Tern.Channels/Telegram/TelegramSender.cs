using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Tern.Channels.Telegram.BotApi;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Messages;

namespace Tern.Channels.Telegram;

/// <summary>
/// Delivers to Telegram chats. Within one bot a copy is made with copyMessage(s) (nothing is uploaded
/// again) or a forward with forwardMessage(s); through another bot, media is fetched with the source
/// bot's token and uploaded (file ids belong to one bot). Edits and replies find the copies in the
/// message links. Limits are taken before every call (per bot, chat and group); Telegram's answers are
/// classified as the Bot API documents them: 429 waits for retry_after, migrate_to_chat_id moves the
/// destination, 403 and "chat not found" park the chat, other 4xx fail the delivery, 5xx and network
/// errors retry.
/// </summary>
public sealed partial class TelegramSender(
    BotApiClient client,
    CatalogCache catalog,
    SendLimiter limiter,
    IMessageLinks links,
    IChatMigrations migrations,
    TimeSpan timeout,
    TimeProvider time,
    ILogger<TelegramSender> logger) : IChannelSender
{
    public const int MaxText = 4096;
    public const int MaxCaption = 1024;

    /// <summary>Files Telegram lets a bot download (getFile).</summary>
    private const long MaxDownloadBytes = 20L << 20;

    // Chats that moved (learned from migrate_to_chat_id, also stored); bounded by the groups a bot was in that upgraded.
    private readonly ConcurrentDictionary<(string Channel, string Chat), string> _moved = new();

    // Recent 429s per bot, to tell a bot-wide flood limit (many chats at once) from one chat's.
    private readonly ConcurrentDictionary<string, FloodTracker> _floods = new(StringComparer.Ordinal);

    public string ChannelType => TelegramChannelType.TypeName;

    public async Task<SendResult> SendAsync(ChannelDefinition channel, PendingDelivery delivery, CancellationToken cancellationToken)
    {
        if (TelegramSettings.Of(channel) is not { } settings || TelegramSettings.BotOf(channel) is not { } bot) return SendResult.Rejected($"channel '{channel.Id}' has no valid Telegram settings (bot token)");
        var message = OutboundMessage.Parse(delivery.Payload, out var problem);
        if (message is null) return SendResult.Rejected(problem!);

        var (laneChat, thread) = SplitTopic(delivery.Chat);
        var chat = _moved.TryGetValue((channel.Id, laneChat), out var movedTo) ? movedTo : laneChat;
        var target = new Target(channel, settings, bot, chat, thread, thread is null ? chat : $"{chat}#{thread.Value.ToString(CultureInfo.InvariantCulture)}");

        var source = SourceOf(message);
        var result = message.Kind == MessageKind.Edit
            ? await EditAsync(target, message, cancellationToken).ConfigureAwait(false)
            : await SendMessageAsync(target, source, message, cancellationToken).ConfigureAwait(false);
        return result;
    }

    private sealed record Target(ChannelDefinition Channel, TelegramSettings Settings, BotEndpoint Bot, string Chat, long? Thread, string LinkChat);

    private sealed record Source(string Channel, string Chat, BotEndpoint? Bot);

    /// <summary>"-100123#42" is topic 42 of chat -100123 (a forum); any other chat is used as it is.</summary>
    public static (string Chat, long? Thread) SplitTopic(string laneChat)
    {
        var hash = laneChat.LastIndexOf('#');
        if (hash > 0 && long.TryParse(laneChat.AsSpan(hash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var thread) && thread > 0)
        {
            return (laneChat[..hash], thread);
        }
        return (laneChat, null);
    }

    private Source? SourceOf(OutboundMessage message)
    {
        if (message.SourceChannel is null || message.SourceChat is null) return null;
        var bot = catalog.Current.Channels.TryGetValue(message.SourceChannel, out var channel) && channel.Type == TelegramChannelType.TypeName
            ? TelegramSettings.BotOf(channel)
            : null;
        return new Source(message.SourceChannel, message.SourceChat, bot);
    }

    private async Task<SendResult> SendMessageAsync(Target target, Source? source, OutboundMessage message, CancellationToken cancellationToken)
    {
        var sameBot = source?.Bot is { } sourceBot && sourceBot.SameBotAs(target.Bot);
        var sourceIds = message.Items.Select(i => i.SourceMessageId).ToArray();
        var canRefer = source?.Bot is not null && sourceIds.All(id => id is not null);
        var reply = await ReplyToAsync(target, source, message, cancellationToken).ConfigureAwait(false);

        // Forward: always by reference (Telegram shows "forwarded from"); the bot must be able to read the source chat.
        if (message.Forward && canRefer)
        {
            return message.IsAlbum
                ? await CallAsync(target, "forwardMessages",
                    new ForwardMessagesRequest(target.Chat, target.Thread, source!.Chat, Ids(sourceIds)),
                    BotApiJsonContext.Default.ForwardMessagesRequest, BotApiJsonContext.Default.BotApiResponseIReadOnlyListMessageId,
                    ids => Linked(target, source, sourceIds, ids.Select(i => i.Id)), cancellationToken).ConfigureAwait(false)
                : await CallAsync(target, "forwardMessage",
                    new ForwardMessageRequest(target.Chat, target.Thread, source!.Chat, Id(sourceIds[0]!)),
                    BotApiJsonContext.Default.ForwardMessageRequest, BotApiJsonContext.Default.BotApiResponseMessage,
                    m => Linked(target, source, sourceIds, [m.MessageId]), cancellationToken).ConfigureAwait(false);
        }

        if (sameBot && canRefer)
        {
            if (!message.IsAlbum)
            {
                var item = message.Items[0];
                // A transformed text message is new text; a transformed medium keeps its file and gets the new caption.
                if (message.Transformed && item.Media is null)
                {
                    return await SendTextAsync(target, source, sourceIds, item.Text ?? "", reply, cancellationToken).ConfigureAwait(false);
                }
                var caption = message.Transformed ? Truncate(item.Text ?? "", MaxCaption) : null;
                return await CallAsync(target, "copyMessage",
                    new CopyMessageRequest(target.Chat, target.Thread, source!.Chat, Id(item.SourceMessageId!), caption, reply),
                    BotApiJsonContext.Default.CopyMessageRequest, BotApiJsonContext.Default.BotApiResponseMessageId,
                    m => Linked(target, source, sourceIds, [m.Id]), cancellationToken).ConfigureAwait(false);
            }
            if (!message.Transformed)
            {
                return await CallAsync(target, "copyMessages",
                    new CopyMessagesRequest(target.Chat, target.Thread, source!.Chat, Ids(sourceIds), null),
                    BotApiJsonContext.Default.CopyMessagesRequest, BotApiJsonContext.Default.BotApiResponseIReadOnlyListMessageId,
                    ids => Linked(target, source, sourceIds, ids.Select(i => i.Id)), cancellationToken).ConfigureAwait(false);
            }
        }

        // Everything else is sent anew: text as text, media by file id (same bot), URL, or uploaded from the source bot.
        if (message.IsAlbum) return await SendAlbumAsync(target, source, sameBot, sourceIds, message, reply, cancellationToken).ConfigureAwait(false);
        var single = message.Items[0];
        if (single.Media is null) return await SendTextAsync(target, source, sourceIds, single.Text ?? "", reply, cancellationToken).ConfigureAwait(false);
        return await SendMediaAsync(target, source, sameBot, sourceIds, single, reply, cancellationToken).ConfigureAwait(false);
    }

    private Task<SendResult> SendTextAsync(Target target, Source? source, string?[] sourceIds, string text, ReplyParameters? reply, CancellationToken cancellationToken)
    {
        if (text.Length == 0) return Task.FromResult(SendResult.Rejected("nothing to send: the message has no text and no media"));
        return CallAsync(target, "sendMessage", new SendMessageRequest(target.Chat, target.Thread, Truncate(text, MaxText), reply),
            BotApiJsonContext.Default.SendMessageRequest, BotApiJsonContext.Default.BotApiResponseMessage,
            m => Linked(target, source, sourceIds, [m.MessageId]), cancellationToken);
    }

    private static readonly string[] SendableTypes = ["photo", "video", "document", "audio", "voice", "animation", "sticker"];

    private async Task<SendResult> SendMediaAsync(
        Target target, Source? source, bool sameBot, string?[] sourceIds, OutboundItem item, ReplyParameters? reply, CancellationToken cancellationToken)
    {
        var media = item.Media!;
        if (!SendableTypes.Contains(media.Type))
        {
            return SendResult.Rejected($"a {media.Type} can only be copied within the bot that received it (route it through the same bot)");
        }
        var caption = media.Type == "sticker" || string.IsNullOrEmpty(item.Text) ? null : Truncate(item.Text, MaxCaption);
        var method = "send" + char.ToUpperInvariant(media.Type[0]) + media.Type[1..];

        // A file id from another bot is of no use here: fetch the file with the source bot and upload it.
        if (media.FileId is not null && source?.Bot is { } sourceBot && !sameBot)
        {
            return await UploadAsync(target, sourceBot, [(item, media)], method, caption, reply, source, sourceIds, cancellationToken).ConfigureAwait(false);
        }
        var reference = media.FileId ?? media.Url;
        if (reference is null) return SendResult.Rejected($"the {media.Type} has neither a file id nor a URL");
        var request = new SendMediaRequest(target.Chat, target.Thread, caption, reply) switch
        {
            var r when media.Type == "photo" => r with { Photo = reference },
            var r when media.Type == "video" => r with { Video = reference },
            var r when media.Type == "audio" => r with { Audio = reference },
            var r when media.Type == "voice" => r with { Voice = reference },
            var r when media.Type == "animation" => r with { Animation = reference },
            var r when media.Type == "sticker" => r with { Sticker = reference },
            var r => r with { Document = reference },
        };
        return await CallAsync(target, method, request, BotApiJsonContext.Default.SendMediaRequest, BotApiJsonContext.Default.BotApiResponseMessage,
            m => Linked(target, source, sourceIds, [m.MessageId]), cancellationToken).ConfigureAwait(false);
    }

    private static readonly string[] AlbumTypes = ["photo", "video", "document", "audio"];

    private async Task<SendResult> SendAlbumAsync(
        Target target, Source? source, bool sameBot, string?[] sourceIds, OutboundMessage message, ReplyParameters? reply, CancellationToken cancellationToken)
    {
        var items = message.Items;
        if (items.Any(i => i.Media is null || !AlbumTypes.Contains(i.Media.Type)))
        {
            return SendResult.Rejected("an album can only hold photos, videos, documents and audio to be sent anew; route it through the same bot to copy it as it is");
        }
        if (items.Count == 1)
        {
            return await SendMediaAsync(target, source, sameBot, sourceIds, items[0], reply, cancellationToken).ConfigureAwait(false);
        }
        if (source?.Bot is { } sourceBot && !sameBot && items.Any(i => i.Media!.FileId is not null))
        {
            return await UploadAsync(target, sourceBot, items.Select(i => (i, i.Media!)).ToArray(), "sendMediaGroup", null, reply, source, sourceIds, cancellationToken).ConfigureAwait(false);
        }
        var media = items.Select(i => new InputMedia(i.Media!.Type, i.Media.FileId ?? i.Media.Url ?? "", string.IsNullOrEmpty(i.Text) ? null : Truncate(i.Text, MaxCaption))).ToArray();
        return await CallAsync(target, "sendMediaGroup", new SendMediaGroupRequest(target.Chat, target.Thread, media, reply),
            BotApiJsonContext.Default.SendMediaGroupRequest, BotApiJsonContext.Default.BotApiResponseIReadOnlyListMessage,
            ms => Linked(target, source, sourceIds, ms.Select(m => m.MessageId)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Downloads each file with the source bot (getFile) and uploads it in one multipart call of the destination bot.</summary>
    private async Task<SendResult> UploadAsync(
        Target target, BotEndpoint sourceBot, (OutboundItem Item, MediaRef Media)[] files, string method, string? caption,
        ReplyParameters? reply, Source source, string?[] sourceIds, CancellationToken cancellationToken)
    {
        var downloads = new List<HttpResponseMessage>(files.Length);
        try
        {
            using var content = new MultipartFormDataContent();
            content.Add(new StringContent(target.Chat), "chat_id");
            if (target.Thread is { } thread) content.Add(new StringContent(thread.ToString(CultureInfo.InvariantCulture)), "message_thread_id");
            if (reply is not null) content.Add(new StringContent(JsonSerializer.Serialize(reply, BotApiJsonContext.Default.ReplyParameters)), "reply_parameters");
            var album = new List<InputMedia>();
            for (var i = 0; i < files.Length; i++)
            {
                var (item, media) = files[i];
                if (media.FileId is null)
                {
                    album.Add(new InputMedia(media.Type, media.Url ?? "", item.Text));
                    continue;
                }
                var file = await client.CallAsync(sourceBot, "getFile", new GetFileRequest(media.FileId), BotApiJsonContext.Default.GetFileRequest,
                    BotApiJsonContext.Default.BotApiResponseTelegramFile, timeout, cancellationToken).ConfigureAwait(false);
                if (file.Error is { } fileError) return Classify(target, fileError, "getFile (source bot)");
                if (file.Value!.FileSize > MaxDownloadBytes || file.Value.FilePath is null)
                {
                    return SendResult.Rejected($"the {media.Type} is larger than the 20 MB a bot may download, so it cannot be sent through another bot");
                }
                var (response, downloadError) = await client.DownloadAsync(sourceBot, file.Value.FilePath, timeout, cancellationToken).ConfigureAwait(false);
                if (downloadError is not null) return Classify(target, downloadError, "file download (source bot)");
                downloads.Add(response!);
                var part = new StreamContent(await response!.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
                part.Headers.ContentType = new MediaTypeHeaderValue(response.Content.Headers.ContentType?.MediaType ?? "application/octet-stream");
                var fileName = media.FileName ?? Path.GetFileName(file.Value.FilePath);
                if (method == "sendMediaGroup")
                {
                    var name = "file" + i.ToString(CultureInfo.InvariantCulture);
                    content.Add(part, name, fileName);
                    album.Add(new InputMedia(media.Type, "attach://" + name, string.IsNullOrEmpty(item.Text) ? null : Truncate(item.Text, MaxCaption)));
                }
                else
                {
                    content.Add(part, media.Type, fileName);
                }
            }
            if (method == "sendMediaGroup")
            {
                content.Add(new StringContent(JsonSerializer.Serialize(album, BotApiJsonContext.Default.IReadOnlyListInputMedia)), "media");
                return await CallMultipartAsync(target, method, content, BotApiJsonContext.Default.BotApiResponseIReadOnlyListMessage,
                    ms => Linked(target, source, sourceIds, ms.Select(m => m.MessageId)), cancellationToken).ConfigureAwait(false);
            }
            if (caption is not null) content.Add(new StringContent(caption), "caption");
            return await CallMultipartAsync(target, method, content, BotApiJsonContext.Default.BotApiResponseMessage,
                m => Linked(target, source, sourceIds, [m.MessageId]), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var download in downloads) download.Dispose();
        }
    }

    /// <summary>An edit of a source message edits each of its copies in this chat (text, or caption of a medium).</summary>
    private async Task<SendResult> EditAsync(Target target, OutboundMessage message, CancellationToken cancellationToken)
    {
        var item = message.Items[0];
        if (message.SourceChannel is null || message.SourceChat is null || item.SourceMessageId is null)
        {
            return SendResult.Rejected("an edit must name its source message");
        }
        var copies = await links.FindAsync(message.SourceChannel, message.SourceChat, item.SourceMessageId, target.Channel.Id, target.LinkChat, cancellationToken).ConfigureAwait(false);
        if (copies.Count == 0)
        {
            return SendResult.Rejected($"nothing to edit: no copy of message {item.SourceMessageId} is known in this chat (never sent, or older than the link retention)");
        }
        string? lastId = null;
        foreach (var copy in copies)
        {
            var result = item.Media is null
                ? await CallAsync(target, "editMessageText", new EditMessageTextRequest(target.Chat, Id(copy), Truncate(item.Text ?? "", MaxText)),
                    BotApiJsonContext.Default.EditMessageTextRequest, BotApiJsonContext.Default.BotApiResponseJsonElement, _ => null, cancellationToken).ConfigureAwait(false)
                : await CallAsync(target, "editMessageCaption", new EditMessageCaptionRequest(target.Chat, Id(copy), item.Text is null ? null : Truncate(item.Text, MaxCaption)),
                    BotApiJsonContext.Default.EditMessageCaptionRequest, BotApiJsonContext.Default.BotApiResponseJsonElement, _ => null, cancellationToken).ConfigureAwait(false);
            // "Not modified" means the copy already shows this text: an edit repeated after a crash.
            if (result.Outcome != SendOutcome.Sent && !(result.Error ?? "").Contains("message is not modified", StringComparison.OrdinalIgnoreCase)) return result;
            lastId = copy;
        }
        return SendResult.Ok(lastId);
    }

    /// <summary>A reply in the source becomes a reply to the copy of the replied-to message, when its copy in this chat is known.</summary>
    private async Task<ReplyParameters?> ReplyToAsync(Target target, Source? source, OutboundMessage message, CancellationToken cancellationToken)
    {
        if (message.ReplyTo is null || source is null || message.Forward) return null;
        var copies = await links.FindAsync(source.Channel, source.Chat, message.ReplyTo, target.Channel.Id, target.LinkChat, cancellationToken).ConfigureAwait(false);
        return copies.Count > 0 && long.TryParse(copies[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id)
            ? new ReplyParameters(id, AllowSendingWithoutReply: true)
            : null;
    }

    private static List<MessageLink>? Linked(Target target, Source? source, string?[] sourceIds, IEnumerable<long> destinationIds)
    {
        if (source is null) return null;
        var links = new List<MessageLink>(sourceIds.Length);
        var i = 0;
        foreach (var id in destinationIds)
        {
            // copyMessages skips messages it cannot copy; the rest keep their order, so pairs stay right while both lists last.
            if (i >= sourceIds.Length) break;
            if (sourceIds[i] is { } sourceId)
            {
                links.Add(new MessageLink(source.Channel, source.Chat, sourceId, target.Channel.Id, target.LinkChat, id.ToString(CultureInfo.InvariantCulture)));
            }
            i++;
        }
        return links;
    }

    private Task<SendResult> CallAsync<TRequest, TAnswer>(
        Target target, string method, TRequest request, JsonTypeInfo<TRequest> requestInfo, JsonTypeInfo<BotApiResponse<TAnswer>> answerInfo,
        Func<TAnswer, IReadOnlyList<MessageLink>?> linksOf, CancellationToken cancellationToken) =>
        LimitedAsync(target, method, () => client.CallAsync(target.Bot, method, request, requestInfo, answerInfo, timeout, cancellationToken), linksOf);

    private Task<SendResult> CallMultipartAsync<TAnswer>(
        Target target, string method, MultipartFormDataContent content, JsonTypeInfo<BotApiResponse<TAnswer>> answerInfo,
        Func<TAnswer, IReadOnlyList<MessageLink>?> linksOf, CancellationToken cancellationToken) =>
        LimitedAsync(target, method, () => client.CallMultipartAsync(target.Bot, method, content, answerInfo, timeout, cancellationToken), linksOf);

    /// <summary>Takes the bot's, chat's and group's limits, makes the call, and classifies the answer.</summary>
    private async Task<SendResult> LimitedAsync<TAnswer>(Target target, string method, Func<Task<BotApiResult<TAnswer>>> call, Func<TAnswer, IReadOnlyList<MessageLink>?> linksOf)
    {
        var lease = limiter.TryAcquire(target.Bot.BotId, target.Chat, target.Settings.EffectiveLimits, out var wait, out var botWide);
        if (lease is null) return SendResult.Later(wait, botWide);
        BotApiResult<TAnswer> result;
        try
        {
            result = await call().ConfigureAwait(false);
        }
        finally
        {
            lease.Complete();
        }
        if (result.Error is { } error) return Classify(target, error, method);
        var madeLinks = result.Value is { } value ? linksOf(value) : null;
        return SendResult.Ok(PlatformIdOf(result.Value), madeLinks);
    }

    private static string? PlatformIdOf<TAnswer>(TAnswer? value) => value switch
    {
        Message m => m.MessageId.ToString(CultureInfo.InvariantCulture),
        MessageId id => id.Id.ToString(CultureInfo.InvariantCulture),
        IReadOnlyList<MessageId> ids => string.Join(',', ids.Select(i => i.Id.ToString(CultureInfo.InvariantCulture))),
        IReadOnlyList<Message> messages => string.Join(',', messages.Select(m => m.MessageId.ToString(CultureInfo.InvariantCulture))),
        _ => null,
    };

    /// <summary>Telegram's documented error rules, applied to one answer.</summary>
    private SendResult Classify(Target target, BotApiError error, string method)
    {
        var reason = $"{method}: {error}";
        // The base URL is an address Tern must not call: no retry makes that better.
        if (error.Refused) return SendResult.Rejected(reason);
        if (error.IsNetwork) return SendResult.Transient(reason);
        if (error.MigrateToChatId is { } newChat)
        {
            // The group became a supergroup: remember, point the routes at it, and send there at once.
            var moved = newChat.ToString(CultureInfo.InvariantCulture);
            _moved[(target.Channel.Id, target.Chat)] = moved;
            _ = RecordMigrationAsync(target, moved);
            return SendResult.Transient($"{reason}; the chat is now {moved}, sending there", TimeSpan.Zero, destinationFault: false);
        }
        switch (error.ErrorCode)
        {
            case 429:
                {
                    var retryAfter = TimeSpan.FromSeconds(Math.Clamp(error.RetryAfter ?? 1, 1, 3600));
                    var botWide = _floods.GetOrAdd(target.Bot.BotId, _ => new FloodTracker()).Note(target.Chat, time.GetTimestamp(), time.TimestampFrequency);
                    return SendResult.Transient(reason, retryAfter, destinationFault: false) with { PauseChannel = botWide ? retryAfter : null };
                }
            case 403:
                return SendResult.Rejected(reason) with { ParkLane = true };
            case 400 when error.Description.Contains("chat not found", StringComparison.OrdinalIgnoreCase)
                       || error.Description.Contains("PEER_ID_INVALID", StringComparison.OrdinalIgnoreCase)
                       || error.Description.Contains("thread not found", StringComparison.OrdinalIgnoreCase):
                return SendResult.Rejected(reason) with { ParkLane = true };
            // A wrong or revoked token, or a base URL that is not a Bot API: nothing will work until the channel is fixed, so keep the messages and retry.
            case 401 or 404:
                return SendResult.Transient(reason + " (check the channel's bot token and base URL)");
            case 408:
                return SendResult.Transient(reason);
            case >= 500:
                return SendResult.Transient(reason);
            default:
                return SendResult.Rejected(reason);
        }
    }

    private async Task RecordMigrationAsync(Target target, string newChat)
    {
        try
        {
            await migrations.RecordAsync(target.Channel.Id, target.Chat, newChat, time.GetUtcNow().ToUnixTimeMilliseconds(), CancellationToken.None).ConfigureAwait(false);
            await catalog.RefreshAsync(force: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not fatal: the in-memory move already redirects this process's sends, and the routes are
            // moved again at the next migrate answer (after a restart, the first send to the old id).
            LogMigrationNotRecorded(ex, target.Channel.Id, target.Chat, newChat);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram channel {ChannelId}: chat {OldChat} moved to {NewChat}, but recording it failed; sends follow it anyway")]
    private partial void LogMigrationNotRecorded(Exception ex, string channelId, string oldChat, string newChat);

    private static long Id(string id) => long.Parse(id, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    private static long[] Ids(string?[] ids) => ids.Select(i => Id(i!)).ToArray();

    internal static string Truncate(string text, int max) => text.Length <= max ? text : string.Concat(text.AsSpan(0, max - 1), "…");

    /// <summary>429s of one bot: three different chats inside five seconds means the bot as a whole is over its limit.</summary>
    private sealed class FloodTracker
    {
        private readonly Lock _lock = new();
        private readonly (string Chat, long At)[] _recent = new (string, long)[8];
        private int _next;

        public bool Note(string chat, long now, long frequency)
        {
            lock (_lock)
            {
                _recent[_next] = (chat, now);
                _next = (_next + 1) % _recent.Length;
                var window = 5 * frequency;
                return _recent.Where(r => r.Chat is not null && now - r.At < window).Select(r => r.Chat).Distinct(StringComparer.Ordinal).Count() >= 3;
            }
        }
    }
}
