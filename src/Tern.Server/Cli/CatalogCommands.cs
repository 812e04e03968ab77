using System.Globalization;
using Tern.Channels.Telegram;
using Tern.Channels.Telegram.BotApi;
using Tern.Core.Catalog;
using Tern.Core.Routing;
using RouteOptions = Tern.Core.Routing.RouteOptions;
using Tern.Storage;

namespace Tern.Server.Cli;

/// <summary><c>tern channels …</c> and <c>tern routes …</c>: the catalog from the command line, also while a server runs.</summary>
internal static class CatalogCommands
{
    public static async Task<int> ChannelsAsync(string noun, CommandLine line, IStorageEngine storage, TextWriter output, CancellationToken cancellationToken)
    {
        var store = storage.Catalog;
        switch (noun)
        {
            case "add":
                {
                    var id = line.Required("id");
                    if (!Identifiers.IsValid(id)) throw new UsageException($"--id '{id}': must be {Identifiers.Rule}");
                    var type = line.Optional("type") ?? ChannelTypes.Webhook;
                    if (!ChannelTypes.IsKnown(type)) throw new UsageException($"--type '{type}': must be one of: {ChannelTypes.KnownList}");
                    int? maxConcurrency = null;
                    if (line.Optional("max-concurrency") is { } rawMax)
                    {
                        if (!int.TryParse(rawMax, NumberStyles.None, CultureInfo.InvariantCulture, out var max) || max is < 1 or > 1024)
                        {
                            throw new UsageException($"--max-concurrency '{rawMax}': must be a whole number from 1 to 1024");
                        }
                        maxConcurrency = max;
                    }
                    var channel = type == ChannelTypes.Telegram
                        ? await TelegramChannelAsync(id, maxConcurrency, line, cancellationToken).ConfigureAwait(false)
                        : WebhookChannel(id, maxConcurrency, line);
                    if (!await store.AddChannelAsync(channel, cancellationToken).ConfigureAwait(false))
                    {
                        throw new UsageException($"--id '{id}': a channel with this id exists");
                    }
                    await output.WriteLineAsync(Describe(channel)).ConfigureAwait(false);
                    return 0;
                }
            case "list":
                {
                    line.RejectUnused();
                    var snapshot = await store.LoadAsync(cancellationToken).ConfigureAwait(false);
                    await output.WriteLineAsync("id\ttype\ttarget\tsigned\tmax_concurrency").ConfigureAwait(false);
                    foreach (var c in snapshot.Channels.Values.Where(c => c.Type != ChannelTypes.TenantWebhook).OrderBy(c => c.Id, StringComparer.Ordinal))
                    {
                        var target = c.Type == ChannelTypes.Telegram && TelegramSettings.Of(c) is { } tg
                            ? $"@{tg.BotUsername} ({(tg.Mode == IngressMode.Webhook ? "webhook" : "polling")})"
                            : c.Url?.ToString() ?? "-";
                        await output.WriteLineAsync($"{c.Id}\t{c.Type}\t{target}\t{(c.Secret is null ? "no" : "yes")}\t{c.MaxConcurrency?.ToString(CultureInfo.InvariantCulture) ?? "-"}").ConfigureAwait(false);
                    }
                    return 0;
                }
            case "remove":
                {
                    var id = line.Required("id");
                    line.RejectUnused();
                    if (!await store.RemoveChannelAsync(id, cancellationToken).ConfigureAwait(false)) throw new UsageException($"--id '{id}': no such channel");
                    await output.WriteLineAsync($"removed channel {id}").ConfigureAwait(false);
                    return 0;
                }
            default:
                throw new UsageException($"'channels {noun}': unknown; use channels add|list|remove");
        }
    }

    public static async Task<int> RoutesAsync(string noun, CommandLine line, IStorageEngine storage, TextWriter output, CancellationToken cancellationToken)
    {
        var store = storage.Catalog;
        switch (noun)
        {
            case "add":
                {
                    var id = line.Required("id");
                    if (!Identifiers.IsValid(id)) throw new UsageException($"--id '{id}': must be {Identifiers.Rule}");
                    var from = line.Required("from");
                    var chats = line.Optional("chats")?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                    var targets = line.Many("to");
                    if (targets.Count == 0) throw new UsageException("--to is required (channel or channel:chat; may be given more than once)");
                    var options = RouteOptionFlags.Read(line);
                    line.RejectUnused();

                    var snapshot = await store.LoadAsync(cancellationToken).ConfigureAwait(false);
                    if (!snapshot.Channels.TryGetValue(from, out var source)) throw new UsageException($"--from '{from}': no such channel");
                    foreach (var chat in chats ?? [])
                    {
                        if (CatalogRules.SourceChat(source.Type, chat) is { } chatProblem) throw new UsageException($"--chats '{chat}': {chatProblem}");
                    }
                    var destinations = new List<Destination>();
                    foreach (var target in targets)
                    {
                        if (!Destination.TryParse(target, out var destination)) throw new UsageException($"--to '{target}': must be channel or channel:chat");
                        if (!snapshot.Channels.TryGetValue(destination.ChannelId, out var to)) throw new UsageException($"--to '{target}': no channel '{destination.ChannelId}'");
                        if (destination.Chat is { } chat && CatalogRules.DestinationChat(to.Type, chat) is { } problem) throw new UsageException($"--to '{target}': {problem}");
                        destinations.Add(destination);
                    }
                    var route = new RouteDefinition(id, from, chats, destinations, OptionsJson: options?.ToJson());
                    if (!await store.AddRouteAsync(route, cancellationToken).ConfigureAwait(false)) throw new UsageException($"--id '{id}': a route with this id exists");
                    await output.WriteLineAsync($"added route {id}: {from}{(chats is { Length: > 0 } ? $" (chats {string.Join(",", chats)})" : "")} -> {string.Join(", ", destinations)}{(options is null ? "" : $" [{options.Describe()}]")}").ConfigureAwait(false);
                    return 0;
                }
            case "list":
                {
                    line.RejectUnused();
                    var snapshot = await store.LoadAsync(cancellationToken).ConfigureAwait(false);
                    await output.WriteLineAsync("id\tfrom\tchats\tto\tenabled\toptions").ConfigureAwait(false);
                    foreach (var r in snapshot.Routes)
                    {
                        var described = r.OptionsJson is null ? "-" : RouteOptions.Parse(r.OptionsJson, new Dictionary<string, string[]>(StringComparer.Ordinal))?.Describe() ?? "invalid";
                        await output.WriteLineAsync($"{r.Id}\t{r.SourceChannel}\t{(r.SourceChats is { Count: > 0 } ? string.Join(",", r.SourceChats) : "*")}\t{string.Join(",", r.Destinations)}\t{(r.Enabled ? "yes" : "no")}\t{described}").ConfigureAwait(false);
                    }
                    return 0;
                }
            case "remove":
                {
                    var id = line.Required("id");
                    line.RejectUnused();
                    if (!await store.RemoveRouteAsync(id, cancellationToken).ConfigureAwait(false)) throw new UsageException($"--id '{id}': no such route");
                    await output.WriteLineAsync($"removed route {id}").ConfigureAwait(false);
                    return 0;
                }
            default:
                throw new UsageException($"'routes {noun}': unknown; use routes add|list|remove");
        }
    }

    private static ChannelDefinition WebhookChannel(string id, int? maxConcurrency, CommandLine line)
    {
        Uri? url = null;
        if (line.Optional("url") is { } rawUrl && CatalogRules.Url(rawUrl, out url) is { } problem) throw new UsageException($"--url '{rawUrl}': {problem}");
        var secret = line.Optional("secret");
        if (CatalogRules.Secret(secret) is { } secretProblem) throw new UsageException($"--secret: {secretProblem}");
        line.RejectUnused();
        return new ChannelDefinition(id, ChannelTypes.Webhook, secret, url, maxConcurrency);
    }

    /// <summary>A Telegram channel: the token is checked with getMe before anything is stored.</summary>
    private static async Task<ChannelDefinition> TelegramChannelAsync(string id, int? maxConcurrency, CommandLine line, CancellationToken cancellationToken)
    {
        var token = line.Required("token");
        if (TelegramSettings.CheckToken(token) is { } tokenProblem) throw new UsageException($"--token: {tokenProblem}");
        var rawMode = line.Optional("mode");
        if (!TelegramSettings.TryParseMode(rawMode, out var mode)) throw new UsageException($"--mode '{rawMode}': must be polling or webhook");
        Uri? baseUrl = null, webhookUrl = null;
        if (line.Optional("base-url") is { } rawBase && TelegramSettings.CheckUrl(rawBase, out baseUrl) is { } baseProblem) throw new UsageException($"--base-url '{rawBase}': {baseProblem}");
        if (line.Optional("webhook-url") is { } rawHook && TelegramSettings.CheckUrl(rawHook, out webhookUrl) is { } hookProblem) throw new UsageException($"--webhook-url '{rawHook}': {hookProblem}");
        SendLimits? limits = null;
        if (line.Optional("limits") is { } rawLimits)
        {
            if (TelegramSettings.TryParseLimits(rawLimits, out var parsed) is { } limitProblem) throw new UsageException($"--limits '{rawLimits}': {limitProblem}");
            limits = parsed;
        }
        line.RejectUnused();

        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var settings = new TelegramSettings(token, mode, baseUrl, webhookUrl, limits);
        var (verified, field, problem) = await TelegramChannels.VerifyAsync(new BotApiClient(http), settings, TimeSpan.FromSeconds(15), cancellationToken).ConfigureAwait(false);
        if (verified is null) throw new UsageException($"--{(field == "base_url" ? "base-url" : field)}: {problem}");
        var secret = mode == IngressMode.Webhook ? TelegramSettings.NewSecretToken() : null;
        return new ChannelDefinition(id, ChannelTypes.Telegram, secret, null, maxConcurrency, SettingsJson: verified.ToJson());
    }

    private static string Describe(ChannelDefinition channel)
    {
        if (channel.Type != ChannelTypes.Telegram)
        {
            return $"added channel {channel.Id} ({channel.Type}); inbound: POST /hooks/{channel.Type}/{channel.Id}{(channel.Url is null ? "" : $"; outbound: {channel.Url}")}";
        }
        var settings = TelegramSettings.Of(channel)!;
        return settings.Mode == IngressMode.Webhook
            ? $"added channel {channel.Id} (telegram, bot @{settings.BotUsername}); inbound: Telegram pushes to {settings.WebhookUrl?.ToString() ?? $"{{Tern:Http:PublicUrl}}/hooks/telegram/{channel.Id}"} once tern serve runs"
            : $"added channel {channel.Id} (telegram, bot @{settings.BotUsername}); inbound: tern serve polls getUpdates";
    }
}
