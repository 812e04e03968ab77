using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Tern.StandIns.Telegram;

// getMe, getUpdates, webhooks and files.
public sealed partial class BotApiStandIn
{
    /// <summary>Every update type of Bot API 10.1, as allowed_updates names them.</summary>
    private static readonly HashSet<string> UpdateTypes = new(StringComparer.Ordinal)
    {
        "message", "edited_message", "channel_post", "edited_channel_post", "business_connection", "business_message",
        "edited_business_message", "deleted_business_messages", "guest_message", "message_reaction", "message_reaction_count",
        "inline_query", "chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query", "purchased_paid_media",
        "poll", "poll_answer", "my_chat_member", "chat_member", "chat_join_request", "chat_boost", "removed_chat_boost", "managed_bot",
    };

    private static readonly HashSet<string> NotAllowedByDefault = new(StringComparer.Ordinal)
    {
        "chat_member", "message_reaction", "message_reaction_count",
    };

    private const string WebhookActive =
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";

    private const string TerminatedByOtherGetUpdates =
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";

    private static JsonObject GetMe(BotState bot) => new()
    {
        ["id"] = bot.Bot.Id,
        ["is_bot"] = true,
        ["first_name"] = bot.Bot.FirstName,
        ["username"] = bot.Bot.Username,
        ["can_join_groups"] = true,
        ["can_read_all_group_messages"] = false,
        ["supports_inline_queries"] = false,
        ["can_connect_to_business"] = false,
        ["has_main_web_app"] = false,
    };

    private async Task<JsonNode> GetUpdatesAsync(BotState bot, BotApiParameters p, CancellationToken aborted)
    {
        var offset = p.Long("offset");
        var limit = p.Int("limit", 100, 1, 100);
        var timeout = p.Int("timeout", 0, 0, LongPollMaxTimeout);
        await WhileConfirmationsHeldAsync(bot, offset, aborted);
        LongPoll poll;
        Task arrived;
        lock (_gate)
        {
            if (bot.Webhook is not null) throw new BotApiException(409, WebhookActive);
            UpdateAllowedUpdates(bot, p);
            // Only one getUpdates may wait per bot: a new one ends the waiting one.
            bot.ActivePoll?.Ended.TrySetResult(TerminatedByOtherGetUpdates);
            bot.ActivePoll = null;
            ApplyOffset(bot, offset);
            // While waiting, the offset stays what it meant at the call (a negative one is resolved now).
            offset = offset > 0 ? offset : 0;
            if (bot.Pending.Count > 0 || timeout == 0) return RenderUpdates(bot, bot.Pending.Take(limit));
            poll = new LongPoll();
            bot.ActivePoll = poll;
            arrived = bot.Arrived;
        }

        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(aborted, _disposing.Token);
        var timedOut = Task.Delay(TimeSpan.FromSeconds(timeout), waiting.Token);
        try
        {
            while (true)
            {
                await Task.WhenAny(poll.Ended.Task, arrived, timedOut);
                lock (_gate)
                {
                    if (poll.Ended.Task.IsCompleted)
                    {
                        var conflict = poll.Ended.Task.Result;
                        if (conflict.Length == 0) return new JsonArray();
                        throw new BotApiException(409, conflict);
                    }

                    ApplyOffset(bot, offset);
                    if (bot.Pending.Count > 0 || timedOut.IsCompleted)
                    {
                        if (bot.ActivePoll == poll) bot.ActivePoll = null;
                        aborted.ThrowIfCancellationRequested();
                        return RenderUpdates(bot, bot.Pending.Take(limit));
                    }

                    arrived = bot.Arrived;
                }
            }
        }
        finally
        {
            await waiting.CancelAsync();
            lock (_gate)
            {
                if (bot.ActivePoll == poll) bot.ActivePoll = null;
            }
        }
    }

    /// <summary>
    /// Holds every getUpdates that would confirm (forget) an update back, while
    /// <see cref="HoldConfirmations"/> is in force: it waits before anything of it is applied.
    /// A call that would confirm nothing goes through.
    /// </summary>
    private async Task WhileConfirmationsHeldAsync(BotState bot, long offset, CancellationToken aborted)
    {
        while (true)
        {
            Task released;
            lock (_gate)
            {
                if (bot.ConfirmationHold is not { } hold || !WouldConfirm(bot, offset)) return;
                released = hold.Task;
                bot.HeldGetUpdates++;
            }

            try
            {
                await released.WaitAsync(aborted).WaitAsync(_disposing.Token);
            }
            finally
            {
                lock (_gate) bot.HeldGetUpdates--;
            }
        }
    }

    private static bool WouldConfirm(BotState bot, long offset) =>
        offset > 0 ? bot.Pending.First is { } first && first.UpdateId < offset : offset < 0 && bot.Pending.Count > -offset;

    /// <summary>
    /// From now on, a getUpdates of the bot whose offset would confirm an update waits, before it is
    /// applied, until <see cref="ReleaseConfirmations"/>: the client has taken updates Telegram has not
    /// forgotten. A held call whose client goes away applies nothing. Calls that confirm nothing are answered as usual.
    /// </summary>
    public void HoldConfirmations(StandInBot bot)
    {
        lock (_gate)
        {
            var state = RequireBot(bot);
            state.ConfirmationHold ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Ends <see cref="HoldConfirmations"/>: the held calls go on, in no particular order.</summary>
    public void ReleaseConfirmations(StandInBot bot)
    {
        TaskCompletionSource? hold;
        lock (_gate)
        {
            var state = RequireBot(bot);
            hold = state.ConfirmationHold;
            state.ConfirmationHold = null;
        }

        hold?.TrySetResult();
    }

    /// <summary>getUpdates calls of the bot that <see cref="HoldConfirmations"/> holds back now.</summary>
    public int HeldGetUpdates(StandInBot bot)
    {
        lock (_gate) return RequireBot(bot).HeldGetUpdates;
    }

    /// <summary>
    /// Completes when the pusher of the bot's latest webhook has stopped (after deleteWebhook or a new setWebhook):
    /// its last push has been answered or abandoned, and it pushes no more.
    /// </summary>
    public Task WebhookPusherStopped(StandInBot bot)
    {
        lock (_gate) return RequireBot(bot).LastPusher;
    }

    /// <summary>Whether a long poll of the bot is waiting for updates now.</summary>
    public bool LongPollWaiting(StandInBot bot)
    {
        lock (_gate) return RequireBot(bot).ActivePoll is not null;
    }

    private JsonArray RenderUpdates(BotState bot, List<PendingUpdate> updates)
    {
        var result = new JsonArray();
        foreach (var update in updates) result.Add(_json.Update(update, bot.Bot.Id));
        return result;
    }

    private static void ApplyOffset(BotState bot, long offset)
    {
        // "An update is considered confirmed as soon as getUpdates is called with an offset higher than its update_id.
        // The negative offset can be specified to retrieve updates starting from -offset update from the end of the
        // updates queue. All previous updates will be forgotten."
        if (offset > 0)
        {
            bot.Pending.ConfirmBelow(offset);
        }
        else if (offset < 0)
        {
            bot.Pending.KeepLast((int)Math.Min(int.MaxValue, -offset));
        }
    }

    /// <summary>
    /// Reads allowed_updates as Telegram's server does: a missing or malformed value keeps the
    /// previous setting, unknown names are ignored, and a list without a known name (such as [])
    /// means the default.
    /// </summary>
    private static void UpdateAllowedUpdates(BotState bot, BotApiParameters p)
    {
        JsonNode? value;
        try
        {
            value = p.Json("allowed_updates", "allowed updates");
        }
        catch (BotApiException)
        {
            return;
        }

        if (value is not JsonArray names) return;
        var allowed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (name is not JsonValue text || !text.TryGetValue<string>(out var type)) return;
            type = type.ToLowerInvariant();
            if (UpdateTypes.Contains(type)) allowed.Add(type);
        }

        bot.AllowedUpdates = allowed.Count == 0 ? null : allowed;
    }

    private static bool IsAllowed(BotState bot, string type) =>
        bot.AllowedUpdates is { } allowed ? allowed.Contains(type) : !NotAllowedByDefault.Contains(type);

    private (JsonNode, string?) SetWebhook(BotState bot, BotApiParameters p)
    {
        var url = p.String("url");
        if (url is null) return DeleteWebhook(bot, p);
        // Telegram requires https on ports 80, 88, 443 or 8443; the stand-in pushes to loopback test receivers over http.
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw BotApiException.BadRequest("invalid webhook URL specified");
        }

        var secret = p.String("secret_token");
        if (secret is not null)
        {
            if (secret.Length > 256) throw BotApiException.BadRequest("secret token is too long");
            foreach (var c in secret)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '_' && c != '-') throw BotApiException.BadRequest("secret token contains unallowed characters");
            }
        }

        var maxConnections = p.Int("max_connections", 40, 1, 100);
        WebhookConfig? previous;
        var hook = new WebhookConfig { Url = uri, SecretToken = secret, MaxConnections = maxConnections };
        lock (_gate)
        {
            previous = bot.Webhook;
            if (previous is not null && previous.Url == uri && previous.SecretToken == secret && previous.MaxConnections == maxConnections
                && !p.Bool("drop_pending_updates"))
            {
                UpdateAllowedUpdates(bot, p);
                return (true, "Webhook is already set");
            }

            previous?.Stop.Cancel();
            if (p.Bool("drop_pending_updates")) bot.Pending.Clear();
            UpdateAllowedUpdates(bot, p);
            bot.ActivePoll?.Ended.TrySetResult("Conflict: terminated by setWebhook request");
            bot.ActivePoll = null;
            bot.Webhook = hook;
            hook.Pusher = Task.Run(() => PushAsync(bot, hook, previous?.Pusher));
            bot.LastPusher = hook.Pusher;
        }

        return (true, "Webhook was set");
    }

    private (JsonNode, string?) DeleteWebhook(BotState bot, BotApiParameters p)
    {
        lock (_gate)
        {
            if (p.Bool("drop_pending_updates")) bot.Pending.Clear();
            if (bot.Webhook is not { } hook) return (true, "Webhook is already deleted");
            hook.Stop.Cancel();
            bot.Webhook = null;
            return (true, "Webhook was deleted");
        }
    }

    private JsonObject GetWebhookInfo(BotState bot)
    {
        lock (_gate)
        {
            var info = new JsonObject
            {
                ["url"] = bot.Webhook?.Url.OriginalString ?? "",
                ["has_custom_certificate"] = false,
                ["pending_update_count"] = bot.Pending.Count,
            };
            if (bot.Webhook is not { } hook) return info;
            if (hook.LastErrorDate is { } date)
            {
                info["last_error_date"] = date.ToUnixTimeSeconds();
                info["last_error_message"] = hook.LastErrorMessage;
            }

            info["max_connections"] = hook.MaxConnections;
            if (bot.AllowedUpdates is { } allowed)
            {
                var names = new JsonArray();
                foreach (var name in allowed.Order(StringComparer.Ordinal)) names.Add(name);
                info["allowed_updates"] = names;
            }

            return info;
        }
    }

    /// <summary>
    /// Pushes the bot's pending updates to its webhook one at a time in update_id order. A 2xx
    /// answer confirms an update; any other answer or a connection error is retried after a delay
    /// that doubles from WebhookRetryInitial up to WebhookRetryMax.
    /// </summary>
    private async Task PushAsync(BotState bot, WebhookConfig hook, Task? previousPusher)
    {
        // The previous webhook's pusher may be mid-request; let it finish so pushes never overlap.
        if (previousPusher is not null)
        {
            try
            {
                await previousPusher;
            }
            catch (Exception)
            {
                // Its failure is its own.
            }
        }

        var stop = hook.Stop.Token;
        var delay = Options.WebhookRetryInitial;
        long lastUpdateId = -1;
        var attempt = 0;
        while (!stop.IsCancellationRequested)
        {
            PendingUpdate? next;
            Task arrived;
            lock (_gate)
            {
                if (bot.Webhook != hook) return;
                next = bot.Pending.First;
                arrived = bot.Arrived;
            }

            if (next is null)
            {
                try
                {
                    // WaitAsync unregisters from the token when the update arrives; nothing piles up per wait.
                    await arrived.WaitAsync(stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            attempt = next.UpdateId == lastUpdateId ? attempt + 1 : 1;
            lastUpdateId = next.UpdateId;
            var attemptedAt = Stopwatch.GetTimestamp();
            var (status, error) = await PostUpdateAsync(bot, hook, next, stop);
            if (stop.IsCancellationRequested && status is null) return;
            var acknowledged = status is >= 200 and < 300;
            lock (_gate)
            {
                hook.Attempted++;
                if (hook.Attempts.Count == WebhookConfig.MaxAttemptsKept) hook.Attempts.Dequeue();
                hook.Attempts.Enqueue(new WebhookAttempt(next.UpdateId, attempt, status, error, acknowledged, attemptedAt, acknowledged ? null : delay));
                if (acknowledged)
                {
                    hook.Acknowledged++;
                    if (bot.Pending.First?.UpdateId == next.UpdateId) bot.Pending.RemoveFirst();
                }
                else
                {
                    hook.LastErrorDate = DateTimeOffset.UtcNow;
                    hook.LastErrorMessage = error;
                }
            }

            if (acknowledged)
            {
                delay = Options.WebhookRetryInitial;
                continue;
            }

            try
            {
                await Task.Delay(delay, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var doubled = delay * 2;
            delay = doubled > Options.WebhookRetryMax ? Options.WebhookRetryMax : doubled;
        }
    }

    private async Task<(int? Status, string? Error)> PostUpdateAsync(BotState bot, WebhookConfig hook, PendingUpdate update, CancellationToken stop)
    {
        var body = _json.Update(update, bot.Bot.Id).ToJsonString(JsonOptions);
        using var request = new HttpRequestMessage(HttpMethod.Post, hook.Url);
        request.Content = new StringContent(body, System.Text.Encoding.UTF8);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (hook.SecretToken is { } secret) request.Headers.Add("X-Telegram-Bot-Api-Secret-Token", secret);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(Options.WebhookRequestTimeout);
        try
        {
            using var response = await _webhookClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300) return (status, null);
            // Telegram's wording in getWebhookInfo.last_error_message.
            return (status, string.Create(CultureInfo.InvariantCulture, $"Wrong response from the webhook: {status} {response.ReasonPhrase}"));
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
            // The webhook was deleted or replaced, or the stand-in is stopping: not a delivery error.
            return (null, null);
        }
        catch (OperationCanceledException)
        {
            return (null, "Read timeout expired");
        }
        catch (Exception exception)
        {
            // E.g. "Connection refused", as Telegram reports an unreachable webhook.
            return (null, exception.InnerException?.Message ?? exception.Message);
        }
    }

    private JsonObject GetFile(BotState bot, BotApiParameters p)
    {
        var fileId = p.String("file_id") ?? throw BotApiException.BadRequest("invalid file_id");
        lock (_gate)
        {
            var file = _files.FileOf(bot.Bot.Id, fileId) ?? throw BotApiException.BadRequest("invalid file_id");
            if (file.Size > FileStore.MaxDownloadSize) throw BotApiException.BadRequest("file is too big");
            bot.IssuedPaths.Add(file.FilePath);
            return new JsonObject
            {
                ["file_id"] = fileId,
                ["file_unique_id"] = file.UniqueId,
                ["file_size"] = file.Size,
                ["file_path"] = file.FilePath,
            };
        }
    }

    private async Task DownloadAsync(HttpContext context, string tokenAndPath)
    {
        var slash = tokenAndPath.IndexOf('/', StringComparison.Ordinal);
        var token = slash < 0 ? tokenAndPath : tokenAndPath[..slash];
        var path = slash < 0 ? "" : tokenAndPath[(slash + 1)..];
        byte[]? content = null;
        lock (_gate)
        {
            if (_botsByToken.TryGetValue(token, out var bot) && bot.IssuedPaths.Contains(path) && _files.ByPath(path) is { } file)
            {
                content = _files.Content(file);
            }
        }

        if (content is null)
        {
            await WriteErrorAsync(context, new BotApiException(404, "Not Found"));
            return;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = content.Length;
        await context.Response.Body.WriteAsync(content, context.RequestAborted);
    }
}
