namespace Tern.StandIns.Telegram;

/// <summary>The kinds of Telegram chat (<c>Chat.type</c>).</summary>
public enum ChatKind
{
    Private,
    Group,
    Supergroup,
    Channel,
}

/// <summary>What an incoming message carries besides text.</summary>
public enum MediaKind
{
    Photo,
    Video,
    Document,
    Audio,
    Voice,
    Animation,
    Sticker,
}

/// <summary>What a window of the flood limits counts.</summary>
public enum LimitKind
{
    PerBot,
    PerChat,
    PerGroup,
}

/// <summary>A bot the stand-in knows: its token authorizes calls at <c>/bot{Token}/…</c>.</summary>
public sealed record StandInBot(long Id, string Token, string Username)
{
    public string FirstName => Username;
}

/// <summary>A chat that exists on the stand-in. Private chats have positive ids, all others negative.</summary>
public sealed record StandInChat(long Id, ChatKind Kind, string? Title, bool IsForum);

/// <summary>
/// Media of an incoming message. The stand-in generates the file (a few KB of deterministic bytes,
/// or <paramref name="FileSize"/> if given) and a file_id for the receiving bot.
/// </summary>
public sealed record IncomingMedia(MediaKind Kind, string? Caption = null, string? FileName = null, long? FileSize = null);

/// <summary>
/// What one piece of incoming traffic created. <see cref="UpdateId"/> is null when the bot's
/// allowed_updates excluded the update type (Telegram drops such updates when they happen).
/// <see cref="FileId"/> is the file_id as the receiving bot sees it (the largest size of a photo).
/// </summary>
public sealed record IncomingResult(long? UpdateId, int MessageId, string? FileId = null, string? FileUniqueId = null, string? CallbackQueryId = null);

/// <summary>One message a bot created (or edited) with a successful call.</summary>
public sealed record SentMessage
{
    /// <summary>The sending bot's username.</summary>
    public required string Bot { get; init; }

    /// <summary>The Bot API method, as Telegram spells it (<c>sendMessage</c>, <c>copyMessages</c>, …).</summary>
    public required string Method { get; init; }

    public required long ChatId { get; init; }

    public int? ThreadId { get; init; }

    /// <summary>The id the stand-in assigned in the destination chat (the edited message for edits).</summary>
    public required int MessageId { get; init; }

    public string? Text { get; init; }

    public string? Caption { get; init; }

    /// <summary>"text", "photo", "video", "document", "audio", "voice", "animation" or "sticker".</summary>
    public required string MediaType { get; init; }

    /// <summary>The file_id the bot sent, if it sent one.</summary>
    public string? FileId { get; init; }

    /// <summary>Bytes of a multipart upload.</summary>
    public long? UploadedBytes { get; init; }

    /// <summary>Lowercase hex SHA-256 of a multipart upload.</summary>
    public string? UploadedSha256 { get; init; }

    /// <summary>The http(s) URL the bot sent the media by (not fetched).</summary>
    public string? MediaUrl { get; init; }

    public string? FileName { get; init; }

    /// <summary>For copies and forwards: the chat the source message is in.</summary>
    public long? FromChatId { get; init; }

    /// <summary>For copies and forwards: the source message's id.</summary>
    public int? SourceMessageId { get; init; }

    public bool IsForward { get; init; }

    public string? MediaGroupId { get; init; }

    public int? ReplyToMessageId { get; init; }

    public string? ParseMode { get; init; }

    /// <summary>The reply_markup as sent (JSON text).</summary>
    public string? ReplyMarkup { get; init; }

    /// <summary>True for editMessageText / editMessageCaption rows.</summary>
    public bool Edited { get; init; }

    /// <summary><see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> when the call arrived.</summary>
    public required long ArrivedAt { get; init; }
}

/// <summary>
/// One method call as the stand-in answered it. <see cref="Bot"/> is the username, or empty for an
/// unknown token; <see cref="ArrivedAt"/> is a <see cref="System.Diagnostics.Stopwatch"/> timestamp.
/// </summary>
public sealed record RecordedCall(
    string Bot,
    string Method,
    long? ChatId,
    int HttpStatus,
    int? ErrorCode,
    string? Description,
    int? RetryAfter,
    long ArrivedAt);

/// <summary>One flood-limit window a call exceeded.</summary>
public sealed record LimitViolation(
    LimitKind Kind,
    string Bot,
    long? ChatId,
    string Method,
    int Limit,
    TimeSpan Window,
    int CallsInWindow,
    int RetryAfterSeconds,
    bool Rejected,
    long ArrivedAt);

/// <summary>
/// One POST of an update to a webhook. <see cref="StatusCode"/> is null for a connection error or
/// timeout; <see cref="RetryIn"/> is the delay before the next attempt (null once acknowledged).
/// </summary>
public sealed record WebhookAttempt(long UpdateId, int Attempt, int? StatusCode, string? Error, bool Acknowledged, long AttemptedAt, TimeSpan? RetryIn);

/// <summary>A bot's webhook as setWebhook left it, with what the pusher did so far.</summary>
public sealed record WebhookState(
    Uri Url,
    string? SecretToken,
    IReadOnlyList<string>? AllowedUpdates,
    int MaxConnections,
    long PushesAttempted,
    long PushesAcknowledged,
    int PendingUpdateCount,
    DateTimeOffset? LastErrorDate,
    string? LastErrorMessage,
    IReadOnlyList<WebhookAttempt> Attempts);

/// <summary>
/// Calls that exceeded a flood-limit window, by window. A call that exceeds several windows counts
/// in each. <see cref="Details"/> keeps the first <see cref="MaxDetails"/> violations.
/// </summary>
public sealed class LimitViolations
{
    public const int MaxDetails = 10_000;

    private readonly Lock _lock = new();
    private readonly List<LimitViolation> _details = [];
    private long _perBot;
    private long _perChat;
    private long _perGroup;

    public long PerBot => Interlocked.Read(ref _perBot);

    public long PerChat => Interlocked.Read(ref _perChat);

    public long PerGroup => Interlocked.Read(ref _perGroup);

    public long Total => PerBot + PerChat + PerGroup;

    public IReadOnlyList<LimitViolation> Details
    {
        get
        {
            lock (_lock) return [.. _details];
        }
    }

    internal void Add(LimitViolation violation)
    {
        switch (violation.Kind)
        {
            case LimitKind.PerBot:
                Interlocked.Increment(ref _perBot);
                break;
            case LimitKind.PerChat:
                Interlocked.Increment(ref _perChat);
                break;
            default:
                Interlocked.Increment(ref _perGroup);
                break;
        }

        lock (_lock)
        {
            if (_details.Count < MaxDetails) _details.Add(violation);
        }
    }
}
