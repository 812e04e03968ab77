using System.Globalization;
using Microsoft.Extensions.Logging;
using Tern.Channels.Telegram.BotApi;
using Tern.Core.Catalog;
using Tern.Core.Cluster;
using Tern.Core.Events;
using Tern.Core.Pipeline;

namespace Tern.Channels.Telegram;

/// <summary>
/// Keeps the inbound side of every Telegram channel running as the catalog says: a poller per
/// polling channel; for a webhook channel, setWebhook with its secret token (again whenever the
/// channel changes). A channel that leaves webhook mode or is removed gets deleteWebhook. In a cluster, each channel's
/// ingress runs on the one instance holding the channel's lease (which also sends for it), and stands by on the others.
/// </summary>
public sealed partial class TelegramIngressSupervisor(
    BotApiClient client,
    CatalogCache catalog,
    TelegramInbound inbound,
    IngressGate gate,
    IngressStatusBoard status,
    IOutboxStore outbox,
    TelegramIngressOptions options,
    TimeProvider time,
    ILogger<TelegramIngressSupervisor> logger,
    LeaseRunner? cluster = null)
{
    private readonly Dictionary<string, Running> _running = new(StringComparer.Ordinal);

    private sealed record Running(ChannelDefinition Channel, TelegramSettings Settings, CancellationTokenSource Stop, Task Task);

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        long? reconciled = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var snapshot = await catalog.GetAsync(stoppingToken).ConfigureAwait(false);
                // The running set only changes with the catalog.
                if (snapshot.Version != reconciled)
                {
                    await ReconcileAsync(snapshot, stoppingToken).ConfigureAwait(false);
                    reconciled = snapshot.Version;
                }
                await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var running in _running.Values) await running.Stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_running.Values.Select(r => r.Task)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            foreach (var running in _running.Values) running.Stop.Dispose();
            _running.Clear();
        }
    }

    private async Task ReconcileAsync(CatalogSnapshot snapshot, CancellationToken stoppingToken)
    {
        var wanted = snapshot.Channels.Values
            .Where(c => c.Type == TelegramChannelType.TypeName)
            .Select(c => (Channel: c, Settings: TelegramSettings.Of(c)))
            .Where(c => c.Settings is not null)
            .ToDictionary(c => c.Channel.Id, c => (c.Channel, Settings: c.Settings!), StringComparer.Ordinal);

        foreach (var (id, running) in _running.ToArray())
        {
            if (wanted.TryGetValue(id, out var now) && now.Channel == running.Channel) continue;
            await running.Stop.CancelAsync().ConfigureAwait(false);
            await running.Task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            running.Stop.Dispose();
            _running.Remove(id);
            // A webhook channel that is gone or now polls must not leave Telegram pushing to a URL that refuses.
            if (running.Settings.Mode == IngressMode.Webhook && (!wanted.TryGetValue(id, out var next) || next.Settings.Mode != IngressMode.Webhook || next.Settings.Token != running.Settings.Token))
            {
                await DeleteWebhookAsync(running.Settings, stoppingToken).ConfigureAwait(false);
            }
            if (!wanted.ContainsKey(id)) status.Remove(id);
        }

        foreach (var (id, (channel, settings)) in wanted)
        {
            if (_running.ContainsKey(id)) continue;
            var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var task = cluster is null
                ? Task.Run(() => RunIngressAsync(channel, settings, stop.Token), CancellationToken.None)
                : Task.Run(() => RunUnderLeaseAsync(cluster, channel, settings, stop.Token), CancellationToken.None);
            _running[id] = new Running(channel, settings, stop, task);
        }
    }

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    private Task RunIngressAsync(ChannelDefinition channel, TelegramSettings settings, CancellationToken stop) =>
        settings.Mode == IngressMode.Polling ? PollAsync(channel, settings, stop) : RegisterWebhookAsync(channel, settings, stop);

    /// <summary>Polls (or keeps the webhook) only while holding the channel's lease; the lease also lets this instance send for it.</summary>
    private async Task RunUnderLeaseAsync(LeaseRunner leases, ChannelDefinition channel, TelegramSettings settings, CancellationToken stop)
    {
        var mode = settings.Mode == IngressMode.Polling ? "polling" : "webhook";
        StandBy();
        await leases.RunWhileHeldAsync(LeaseNames.Channel(channel.Id), async held =>
        {
            try
            {
                await RunIngressAsync(channel, settings, held).ConfigureAwait(false);
                // A registered webhook needs nothing more, but the lease is kept: its holder is the one that sends.
                await Task.Delay(Timeout.Infinite, held).ConfigureAwait(false);
            }
            finally
            {
                if (!stop.IsCancellationRequested) StandBy();
            }
        }, stop).ConfigureAwait(false);

        void StandBy() => status.Set(channel.Id, mode, "standby", "another instance of the cluster holds this channel's lease", NowMs, settings.BotUsername);
    }

    /// <summary>
    /// Long polling. The offset moves past a batch only after the batch is committed, and Telegram
    /// forgets updates only when asked for a higher offset: a kill at any point loses nothing, and the
    /// updates it redelivers are dropped by the inbox's unique key.
    /// </summary>
    private async Task PollAsync(ChannelDefinition channel, TelegramSettings settings, CancellationToken stop)
    {
        const string Mode = "polling";
        var bot = settings.Endpoint();
        var request = new GetUpdatesRequest(null, 100, (int)options.PollTimeout.TotalSeconds, UpdateMapper.AllowedUpdates);
        var errorDelay = options.ErrorRetry;
        var conflictDelay = options.ConflictRetry;
        await SetStateAsync(channel, Mode, "starting", null, settings.BotUsername, stop).ConfigureAwait(false);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (gate.RefusalReason() is { } refusal)
                {
                    // Load shedding or a full backlog: leave the updates with Telegram for now.
                    await SetStateAsync(channel, Mode, "paused", refusal, null, stop).ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromSeconds(1), time, stop).ConfigureAwait(false);
                    continue;
                }

                var page = await client.CallAsync(bot, "getUpdates", request, BotApiJsonContext.Default.GetUpdatesRequest,
                    BotApiJsonContext.Default.BotApiResponseIReadOnlyListUpdate, options.PollTimeout + TimeSpan.FromSeconds(15), stop).ConfigureAwait(false);
                if (page.Error is { } error)
                {
                    var (state, wait) = error switch
                    {
                        { ErrorCode: 409 } => ("conflict", conflictDelay),
                        { ErrorCode: 401 or 404 } => ("unauthorized", options.ConflictRetryMax),
                        { ErrorCode: 429, RetryAfter: { } retryAfter } => ("error", TimeSpan.FromSeconds(Math.Max(1, retryAfter))),
                        _ => ("error", errorDelay),
                    };
                    if (state == "conflict") conflictDelay = Min(conflictDelay * 2, options.ConflictRetryMax);
                    else if (wait == errorDelay) errorDelay = Min(errorDelay * 2, TimeSpan.FromMinutes(1));
                    var detail = state switch
                    {
                        "conflict" => $"{error}; another getUpdates poller or a webhook is active for this bot (retrying in {Seconds(wait)} s)",
                        "unauthorized" => $"{error}; check the bot token and base URL (retrying in {Seconds(wait)} s)",
                        _ => $"{error} (retrying in {Seconds(wait)} s)",
                    };
                    await SetStateAsync(channel, Mode, state, detail, null, stop).ConfigureAwait(false);
                    LogPollFailed(channel.Id, detail);
                    await Task.Delay(wait, time, stop).ConfigureAwait(false);
                    continue;
                }

                errorDelay = options.ErrorRetry;
                conflictDelay = options.ConflictRetry;
                await SetStateAsync(channel, Mode, "ok", null, null, stop).ConfigureAwait(false);
                var updates = page.Value ?? [];
                if (updates.Count == 0) continue;
                await CommitUntilDoneAsync(channel, updates, stop).ConfigureAwait(false);
                request = request with { Offset = updates.Max(u => u.UpdateId) + 1 };
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Commits a page, retrying while the database fails: the offset must not move past updates that are not stored.</summary>
    private async Task CommitUntilDoneAsync(ChannelDefinition channel, IReadOnlyList<Update> updates, CancellationToken stop)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                await inbound.CommitAsync(channel.Id, updates, stop).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogCommitFailed(ex, channel.Id, updates.Count);
                await Task.Delay(delay, time, stop).ConfigureAwait(false);
                delay = Min(delay * 2, TimeSpan.FromSeconds(10));
            }
        }
    }

    /// <summary>Registers the webhook (with the channel's secret token) until Telegram accepts it; then watches nothing: Telegram pushes.</summary>
    private async Task RegisterWebhookAsync(ChannelDefinition channel, TelegramSettings settings, CancellationToken stop)
    {
        const string Mode = "webhook";
        var url = settings.WebhookUrl ?? (options.PublicUrl is { } publicUrl ? new Uri(publicUrl, $"/hooks/telegram/{Uri.EscapeDataString(channel.Id)}") : null);
        if (url is null)
        {
            await SetStateAsync(channel, Mode, "error", "webhook mode needs a public URL: set the channel's webhook_url or Tern:Http:PublicUrl", null, stop).ConfigureAwait(false);
            return;
        }
        var bot = settings.Endpoint();
        var delay = options.ErrorRetry;
        await SetStateAsync(channel, Mode, "starting", $"registering {url}", settings.BotUsername, stop).ConfigureAwait(false);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var result = await client.CallAsync(bot, "setWebhook",
                    new SetWebhookRequest(url.ToString(), null, UpdateMapper.AllowedUpdates, DropPendingUpdates: false, channel.Secret),
                    BotApiJsonContext.Default.SetWebhookRequest, BotApiJsonContext.Default.BotApiResponseBoolean, options.CallTimeout, stop).ConfigureAwait(false);
                if (result.Ok)
                {
                    await SetStateAsync(channel, Mode, "ok", $"Telegram pushes to {url}", null, stop).ConfigureAwait(false);
                    return;
                }
                var detail = $"setWebhook: {result.Error} (retrying in {Seconds(delay)} s)";
                await SetStateAsync(channel, Mode, result.Error!.ErrorCode is 401 or 404 ? "unauthorized" : "error", detail, null, stop).ConfigureAwait(false);
                LogPollFailed(channel.Id, detail);
                await Task.Delay(delay, time, stop).ConfigureAwait(false);
                delay = Min(delay * 2, options.ConflictRetryMax);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task DeleteWebhookAsync(TelegramSettings settings, CancellationToken stoppingToken)
    {
        var result = await client.CallAsync(settings.Endpoint(), "deleteWebhook", new DeleteWebhookRequest(DropPendingUpdates: false),
            BotApiJsonContext.Default.DeleteWebhookRequest, BotApiJsonContext.Default.BotApiResponseBoolean, options.CallTimeout, stoppingToken).ConfigureAwait(false);
        if (result.Error is { } error) LogPollFailed("(removed)", $"deleteWebhook: {error}");
    }

    /// <summary>Records the state; a change between working and not working becomes a channel.status event for the tenant.</summary>
    private async Task SetStateAsync(ChannelDefinition channel, string mode, string state, string? detail, string? bot, CancellationToken stop)
    {
        var now = NowMs;
        var previous = status.Set(channel.Id, mode, state, detail, now, bot);
        var wasDown = previous is { State: "conflict" or "unauthorized" or "error" };
        var isDown = state is "conflict" or "unauthorized" or "error";
        if (wasDown == isDown || state is "starting" or "paused") return;
        try
        {
            await outbox.AddAsync(TenantEvents.ChannelStatusChanged(catalog.Current, channel.Id, isDown ? "down" : "up", detail, now), stop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogCommitFailed(ex, channel.Id, 0);
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram channel {ChannelId}: {Detail}")]
    private partial void LogPollFailed(string channelId, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Telegram channel {ChannelId}: committing {Count} updates failed; retrying before the offset moves")]
    private partial void LogCommitFailed(Exception ex, string channelId, int count);
}
