using System.Diagnostics;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tern.StandIns.Telegram;

/// <summary>
/// A loopback stand-in of the Telegram Bot API, started in-process for Tern's tests and benchmarks.
/// It answers as Telegram documents it (and as Telegram's own Bot API server words its errors):
/// per-bot update queues with offsets and long polling, webhooks with retries, per-bot file_ids,
/// per-chat message ids, flood limits and injected faults. It is not a mock that answers ok to
/// everything: a client that is wrong about Telegram should fail against it.
/// </summary>
public sealed partial class BotApiStandIn : IAsyncDisposable
{
    /// <summary>Telegram caps a long poll at 50 s.</summary>
    private const int LongPollMaxTimeout = 50;

    private const int MaxTextLength = 4096;
    private const int MaxCaptionLength = 1024;

    // Telegram answers in UTF-8 without escaping non-ASCII text.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly string[] MethodNames =
    [
        "getMe", "getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo", "getFile",
        "sendMessage", "sendPhoto", "sendVideo", "sendDocument", "sendAudio", "sendVoice", "sendAnimation", "sendSticker",
        "sendMediaGroup", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages",
        "editMessageText", "editMessageCaption", "answerCallbackQuery", "sendChatAction",
    ];

    /// <summary>Bot API method names are case-insensitive; the value is Telegram's spelling.</summary>
    private static readonly Dictionary<string, string> Methods = MethodNames.ToDictionary(name => name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Methods that send or edit messages: counted by the flood limits and subject to injected faults.</summary>
    private static readonly HashSet<string> SendingMethods = new(StringComparer.Ordinal)
    {
        "sendMessage", "sendPhoto", "sendVideo", "sendDocument", "sendAudio", "sendVoice", "sendAnimation", "sendSticker",
        "sendMediaGroup", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages", "editMessageText", "editMessageCaption",
    };

    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, BotState> _botsByToken = new(StringComparer.Ordinal);
    private readonly Dictionary<long, BotState> _botsById = [];
    private readonly Dictionary<long, ChatState> _chats = [];
    private readonly Dictionary<long, string?> _usernames = [];
    private readonly List<SentMessage> _sent = [];
    private readonly List<RecordedCall> _calls = [];
    private readonly FloodLimiter _limiter = new();
    private readonly FileStore _files;
    private readonly MessageJson _json;
    private readonly Random _faults;
    private readonly HttpClient _webhookClient;
    private readonly CancellationTokenSource _disposing = new();
    private long _nextMediaGroupId = 13_000_000_000_000_000;
    private long _nextCallbackQueryId = 4_000_000_000_000_000_000;
    private int _disposed;

    private BotApiStandIn(WebApplication app, StandInOptions options)
    {
        _app = app;
        Options = options;
        _files = new FileStore(options.Seed);
        _json = new MessageJson(_files);
        _faults = new Random(options.Seed);
        // Webhook pushes go to loopback receivers of the test; no proxy, no redirects.
        _webhookClient = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>The stand-in's root: methods at <c>{BaseUrl}/bot{token}/{method}</c>, files at <c>{BaseUrl}/file/bot{token}/{file_path}</c>.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    public StandInOptions Options { get; }

    public LimitViolations Violations { get; } = new();

    /// <summary>Starts Kestrel on <c>http://127.0.0.1:&lt;free port&gt;</c>.</summary>
    public static async Task<BotApiStandIn> StartAsync(StandInOptions? options = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // The test's working directory may hold an appsettings.json (Kestrel endpoints, logging) that is not ours.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Telegram accepts uploads of up to 50 MB.
            kestrel.Limits.MaxRequestBodySize = 64L * 1024 * 1024;
        });
        builder.Services.Configure<FormOptions>(form => form.MultipartBodyLengthLimit = 64L * 1024 * 1024);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        var standIn = new BotApiStandIn(app, options ?? new StandInOptions());
        app.Run(standIn.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        standIn.BaseUrl = new Uri(address.TrimEnd('/') + "/");
        return standIn;
    }

    /// <summary>Adds a bot; its id is the digits before ':' in <paramref name="token"/> ("&lt;digits&gt;:&lt;secret&gt;").</summary>
    public StandInBot AddBot(string token, string username)
    {
        var colon = token.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == token.Length - 1 || !long.TryParse(token.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id <= 0)
        {
            throw new ArgumentException("A bot token is \"<digits>:<secret>\".", nameof(token));
        }

        if (token.Contains('/', StringComparison.Ordinal)) throw new ArgumentException("A bot token has no '/'.", nameof(token));
        var bot = new StandInBot(id, token, username);
        lock (_gate)
        {
            if (_botsByToken.ContainsKey(token) || _botsById.ContainsKey(id)) throw new InvalidOperationException($"Bot {id} exists.");
            // Update ids start at some positive number per bot, as Telegram's do.
            var first = 700_000_000 + new Random(HashCode.Combine(Options.Seed, id)).Next(1, 100_000);
            var state = new BotState(bot, first);
            _botsByToken[token] = state;
            _botsById[id] = state;
            _usernames[id] = username;
        }

        return bot;
    }

    /// <summary>Adds a chat. Private chats (a user's chat with the bots) have the user's positive id; the others negative ids.</summary>
    public StandInChat AddChat(long id, ChatKind kind, string? title = null, bool isForum = false)
    {
        if (kind == ChatKind.Private ? id <= 0 : id >= 0)
        {
            throw new ArgumentException("Private chats have positive ids, groups, supergroups and channels negative ones.", nameof(id));
        }

        if (isForum && kind != ChatKind.Supergroup) throw new ArgumentException("Only supergroups are forums.", nameof(isForum));
        var chat = new StandInChat(id, kind, title, isForum);
        lock (_gate)
        {
            if (_chats.ContainsKey(id)) throw new InvalidOperationException($"Chat {id} exists.");
            _chats[id] = new ChatState(chat);
        }

        return chat;
    }

    /// <summary>Adds a forum topic (message_thread_id) that exists in a forum supergroup.</summary>
    public void AddTopic(long chatId, int threadId)
    {
        lock (_gate)
        {
            var chat = RequireChat(chatId);
            if (!chat.Info.IsForum) throw new InvalidOperationException($"Chat {chatId} is not a forum.");
            chat.Topics.Add(threadId);
        }
    }

    /// <summary>The user blocked the bot (private chat), or the bot was removed from the group or channel.</summary>
    public void Block(StandInBot bot, long chatId)
    {
        lock (_gate)
        {
            RequireChat(chatId);
            RequireBot(bot).BlockedIn.Add(chatId);
        }
    }

    public void Unblock(StandInBot bot, long chatId)
    {
        lock (_gate) RequireBot(bot).BlockedIn.Remove(chatId);
    }

    /// <summary>Upgrades a group to a supergroup (added if missing): sends to the group then fail with migrate_to_chat_id.</summary>
    public void MigrateGroup(long groupId, long supergroupId)
    {
        lock (_gate)
        {
            var group = RequireChat(groupId);
            if (group.Info.Kind != ChatKind.Group) throw new InvalidOperationException($"Chat {groupId} is not a group.");
            if (!_chats.TryGetValue(supergroupId, out var supergroup))
            {
                if (supergroupId >= 0) throw new ArgumentException("Supergroup ids are negative.", nameof(supergroupId));
                supergroup = new ChatState(new StandInChat(supergroupId, ChatKind.Supergroup, group.Info.Title, false));
                _chats[supergroupId] = supergroup;
            }
            else if (supergroup.Info.Kind != ChatKind.Supergroup)
            {
                throw new InvalidOperationException($"Chat {supergroupId} is not a supergroup.");
            }

            group.MigratedTo = supergroupId;
        }
    }

    /// <summary>Every message bots created or edited with successful calls, in arrival order.</summary>
    public IReadOnlyList<SentMessage> Sent
    {
        get
        {
            lock (_gate) return [.. _sent];
        }
    }

    public IReadOnlyList<SentMessage> SentTo(long chatId)
    {
        lock (_gate) return _chats.TryGetValue(chatId, out var chat) ? [.. chat.Sent] : [];
    }

    /// <summary>Every method call, as answered, in the order the answers were made.</summary>
    public IReadOnlyList<RecordedCall> Calls
    {
        get
        {
            lock (_gate) return [.. _calls];
        }
    }

    /// <summary>The bot's webhook, or null when it has none (it uses getUpdates).</summary>
    public WebhookState? Webhook(StandInBot bot)
    {
        lock (_gate)
        {
            var state = RequireBot(bot);
            if (state.Webhook is not { } hook) return null;
            return new WebhookState(
                hook.Url,
                hook.SecretToken,
                state.AllowedUpdates is { } allowed ? [.. allowed.Order(StringComparer.Ordinal)] : null,
                hook.MaxConnections,
                hook.Attempted,
                hook.Acknowledged,
                state.Pending.Count,
                hook.LastErrorDate,
                hook.LastErrorMessage,
                [.. hook.Attempts]);
        }
    }

    /// <summary>Updates of the bot not yet confirmed (by getUpdates offset or a 2xx webhook answer).</summary>
    public int PendingUpdates(StandInBot bot)
    {
        lock (_gate) return RequireBot(bot).Pending.Count;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _disposing.CancelAsync();
        List<Task> pushers = [];
        lock (_gate)
        {
            foreach (var bot in _botsById.Values)
            {
                bot.ActivePoll?.Ended.TrySetResult("");
                if (bot.Webhook is { } hook)
                {
                    hook.Stop.Cancel();
                    pushers.Add(hook.Pusher);
                }
            }
        }

        try
        {
            await Task.WhenAll(pushers).WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (Exception)
        {
            // A pusher that does not stop in time must not keep the test waiting.
        }

        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            await _app.StopAsync(stop.Token);
        }

        await _app.DisposeAsync();
        _webhookClient.Dispose();
        _disposing.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        // BaseUrl ends with '/', so "{BaseUrl}/bot…" arrives as "//bot…"; Telegram's front end merges such slashes too.
        if (path.StartsWith("//", StringComparison.Ordinal)) path = "/" + path.TrimStart('/');
        if (path.StartsWith("/file/bot", StringComparison.Ordinal))
        {
            await DownloadAsync(context, path["/file/bot".Length..]);
            return;
        }

        if (!path.StartsWith("/bot", StringComparison.Ordinal))
        {
            await WriteErrorAsync(context, new BotApiException(404, "Not Found"));
            return;
        }

        await CallAsync(context, path["/bot".Length..]);
    }

    private async Task CallAsync(HttpContext context, string tokenAndMethod)
    {
        var arrivedAt = Stopwatch.GetTimestamp();
        var slash = tokenAndMethod.IndexOf('/', StringComparison.Ordinal);
        var token = slash < 0 ? tokenAndMethod : tokenAndMethod[..slash];
        var methodName = slash < 0 ? "" : tokenAndMethod[(slash + 1)..];
        BotState? bot;
        lock (_gate) bot = _botsByToken.GetValueOrDefault(token);
        var method = Methods.GetValueOrDefault(methodName) ?? methodName;
        long? chatId = null;
        try
        {
            if (bot is null) throw new BotApiException(401, "Unauthorized");
            if (!Methods.ContainsKey(methodName)) throw new BotApiException(404, "Not Found");
            var parameters = await BotApiParameters.ReadAsync(context.Request, context.RequestAborted);
            chatId = ChatIdOf(parameters.String("chat_id"));
            if (SendingMethods.Contains(method)) Admit(bot, method, chatId, arrivedAt);
            var (result, description) = await InvokeAsync(bot, method, parameters, arrivedAt, context.RequestAborted);
            Record(bot, method, chatId, 200, null, arrivedAt);
            if (SendingMethods.Contains(method)) await WhileAnswersHeldAsync(bot, context.RequestAborted);
            await WriteResultAsync(context, result, description);
        }
        catch (BotApiException error)
        {
            Record(bot, method, chatId, error.ErrorCode, error, arrivedAt);
            await WriteErrorAsync(context, error);
        }
        catch (BadHttpRequestException)
        {
            var error = BotApiException.BadRequest("can't parse request");
            Record(bot, method, chatId, 400, error, arrivedAt);
            await WriteErrorAsync(context, error);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested || _disposing.IsCancellationRequested)
        {
            // The client went away (or the stand-in is stopping); nobody reads an answer.
        }
    }

    private async Task<(JsonNode Result, string? Description)> InvokeAsync(BotState bot, string method, BotApiParameters p, long arrivedAt, CancellationToken aborted)
    {
        switch (method)
        {
            case "getMe":
                return (GetMe(bot), null);
            case "getUpdates":
                return (await GetUpdatesAsync(bot, p, aborted), null);
            case "setWebhook":
                return SetWebhook(bot, p);
            case "deleteWebhook":
                return DeleteWebhook(bot, p);
            case "getWebhookInfo":
                return (GetWebhookInfo(bot), null);
            case "getFile":
                return (GetFile(bot, p), null);
            case "sendMessage":
                return (SendMessage(bot, p, arrivedAt), null);
            case "sendMediaGroup":
                return (SendMediaGroup(bot, p, arrivedAt), null);
            case "copyMessage":
                return (CopyMessage(bot, p, arrivedAt), null);
            case "copyMessages":
                return (RepeatMessages(bot, p, arrivedAt, forward: false), null);
            case "forwardMessage":
                return (ForwardMessage(bot, p, arrivedAt), null);
            case "forwardMessages":
                return (RepeatMessages(bot, p, arrivedAt, forward: true), null);
            case "editMessageText":
                return (EditMessage(bot, p, arrivedAt, text: true), null);
            case "editMessageCaption":
                return (EditMessage(bot, p, arrivedAt, text: false), null);
            case "answerCallbackQuery":
                return (AnswerCallbackQuery(bot, p), null);
            case "sendChatAction":
                return (SendChatAction(bot, p), null);
            default:
                return (SendMedia(bot, method, p, arrivedAt), null);
        }
    }

    /// <summary>
    /// From now on, a sending or edit call of the bot that succeeds is done (its message is in <see cref="Sent"/>)
    /// but not answered until <see cref="ReleaseAnswers"/>: the client has a send in flight that Telegram has made.
    /// A client that goes away meanwhile never learns that it was made.
    /// </summary>
    public void HoldAnswers(StandInBot bot)
    {
        lock (_gate)
        {
            var state = RequireBot(bot);
            state.AnswerHold ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Ends <see cref="HoldAnswers"/>: the held answers go out.</summary>
    public void ReleaseAnswers(StandInBot bot)
    {
        TaskCompletionSource? hold;
        lock (_gate)
        {
            var state = RequireBot(bot);
            hold = state.AnswerHold;
            state.AnswerHold = null;
        }

        hold?.TrySetResult();
    }

    /// <summary>Sending calls of the bot that are done but that <see cref="HoldAnswers"/> keeps unanswered now.</summary>
    public int HeldAnswers(StandInBot bot)
    {
        lock (_gate) return RequireBot(bot).HeldAnswers;
    }

    private async Task WhileAnswersHeldAsync(BotState bot, CancellationToken aborted)
    {
        Task released;
        lock (_gate)
        {
            if (bot.AnswerHold is not { } hold) return;
            released = hold.Task;
            bot.HeldAnswers++;
        }

        try
        {
            await released.WaitAsync(aborted).WaitAsync(_disposing.Token);
        }
        finally
        {
            lock (_gate) bot.HeldAnswers--;
        }
    }

    /// <summary>Flood limits and injected faults, at arrival, before anything else is looked at.</summary>
    private void Admit(BotState bot, string method, long? chatId, long arrivedAt)
    {
        var options = Options;
        if (options.EnforceLimits)
        {
            List<FloodLimiter.Exceeded>? exceeded;
            lock (_gate) exceeded = _limiter.Check(options, bot.Bot.Id, chatId, arrivedAt, countWhenExceeded: !options.RejectViolations);
            if (exceeded is not null)
            {
                var retryAfter = 1;
                foreach (var window in exceeded)
                {
                    Violations.Add(new LimitViolation(
                        window.Kind, bot.Bot.Username, window.Kind == LimitKind.PerBot ? null : chatId, method, window.Limit, window.Window,
                        window.CallsInWindow, window.RetryAfterSeconds, options.RejectViolations, arrivedAt));
                    retryAfter = Math.Max(retryAfter, window.RetryAfterSeconds);
                }

                if (options.RejectViolations) throw BotApiException.TooManyRequests(retryAfter);
            }
        }

        var tooManyRate = options.TooManyRequestsRate;
        var badGatewayRate = options.BadGatewayRate;
        if (tooManyRate <= 0 && badGatewayRate <= 0) return;
        double draw;
        lock (_gate) draw = _faults.NextDouble();
        if (draw < tooManyRate) throw BotApiException.TooManyRequests(Math.Max(1, options.RetryAfterSeconds));
        if (draw < tooManyRate + badGatewayRate) throw new BotApiException(502, "Bad Gateway");
    }

    private void Record(BotState? bot, string method, long? chatId, int status, BotApiException? error, long arrivedAt)
    {
        var call = new RecordedCall(bot?.Bot.Username ?? "", method, chatId, status, error?.ErrorCode, error?.Message, error?.RetryAfter, arrivedAt);
        lock (_gate) _calls.Add(call);
    }

    private static long? ChatIdOf(string? text) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id) ? id : null;

    private static async Task WriteResultAsync(HttpContext context, JsonNode result, string? description)
    {
        var body = new JsonObject { ["ok"] = true, ["result"] = result };
        if (description is not null) body["description"] = description;
        await WriteAsync(context, 200, body);
    }

    private static async Task WriteErrorAsync(HttpContext context, BotApiException error)
    {
        var body = new JsonObject { ["ok"] = false, ["error_code"] = error.ErrorCode, ["description"] = error.Message };
        if (error.Parameters is { } parameters) body["parameters"] = parameters;
        await WriteAsync(context, error.ErrorCode, body);
    }

    private static async Task WriteAsync(HttpContext context, int status, JsonObject body)
    {
        if (context.Response.HasStarted) return;
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var writer = new Utf8JsonWriter(context.Response.BodyWriter, WriterOptions);
        await using (writer.ConfigureAwait(false))
        {
            body.WriteTo(writer);
            await writer.FlushAsync();
        }
    }

    private BotState RequireBot(StandInBot bot) =>
        _botsById.TryGetValue(bot.Id, out var state) && state.Bot.Token == bot.Token
            ? state
            : throw new InvalidOperationException($"Bot {bot.Username} was not added to this stand-in.");

    private ChatState RequireChat(long chatId) =>
        _chats.TryGetValue(chatId, out var chat) ? chat : throw new InvalidOperationException($"Chat {chatId} was not added to this stand-in.");

    private static long UnixNow() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();
}
