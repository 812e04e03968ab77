using System.Globalization;
using Tern.Core.Catalog;
using Tern.Storage.Sqlite;

namespace Tern.Server.Cli;

/// <summary><c>tern channels …</c> and <c>tern routes …</c>: the catalog from the command line, also while a server runs.</summary>
internal static class CatalogCommands
{
    public static async Task<int> ChannelsAsync(string noun, CommandLine line, SqliteDatabase database, TextWriter output, CancellationToken cancellationToken)
    {
        var store = new SqliteCatalogStore(database);
        switch (noun)
        {
            case "add":
                {
                    var id = line.Required("id");
                    if (!Identifiers.IsValid(id)) throw new UsageException($"--id '{id}': must be {Identifiers.Rule}");
                    var type = line.Optional("type") ?? ChannelTypes.Webhook;
                    if (!ChannelTypes.IsKnown(type)) throw new UsageException($"--type '{type}': must be one of: {ChannelTypes.Webhook}");
                    Uri? url = null;
                    if (line.Optional("url") is { } rawUrl)
                    {
                        if (!Uri.TryCreate(rawUrl, UriKind.Absolute, out url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
                        {
                            throw new UsageException($"--url '{rawUrl}': must be an absolute http:// or https:// URL");
                        }
                    }
                    var secret = line.Optional("secret");
                    if (secret is { Length: < 16 }) throw new UsageException("--secret: must be at least 16 characters");
                    int? maxConcurrency = null;
                    if (line.Optional("max-concurrency") is { } rawMax)
                    {
                        if (!int.TryParse(rawMax, NumberStyles.None, CultureInfo.InvariantCulture, out var max) || max is < 1 or > 1024)
                        {
                            throw new UsageException($"--max-concurrency '{rawMax}': must be a whole number from 1 to 1024");
                        }
                        maxConcurrency = max;
                    }
                    line.RejectUnused();
                    if (!await store.AddChannelAsync(new ChannelDefinition(id, type, secret, url, maxConcurrency), cancellationToken).ConfigureAwait(false))
                    {
                        throw new UsageException($"--id '{id}': a channel with this id exists");
                    }
                    await output.WriteLineAsync($"added channel {id} ({type}); inbound: POST /hooks/{type}/{id}{(url is null ? "" : $"; outbound: {url}")}").ConfigureAwait(false);
                    return 0;
                }
            case "list":
                {
                    line.RejectUnused();
                    var snapshot = await store.LoadAsync(cancellationToken).ConfigureAwait(false);
                    await output.WriteLineAsync("id\ttype\turl\tsigned\tmax_concurrency").ConfigureAwait(false);
                    foreach (var c in snapshot.Channels.Values.OrderBy(c => c.Id, StringComparer.Ordinal))
                    {
                        await output.WriteLineAsync($"{c.Id}\t{c.Type}\t{c.Url?.ToString() ?? "-"}\t{(c.Secret is null ? "no" : "yes")}\t{c.MaxConcurrency?.ToString(CultureInfo.InvariantCulture) ?? "-"}").ConfigureAwait(false);
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

    public static async Task<int> RoutesAsync(string noun, CommandLine line, SqliteDatabase database, TextWriter output, CancellationToken cancellationToken)
    {
        var store = new SqliteCatalogStore(database);
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
                    line.RejectUnused();

                    var snapshot = await store.LoadAsync(cancellationToken).ConfigureAwait(false);
                    if (!snapshot.Channels.ContainsKey(from)) throw new UsageException($"--from '{from}': no such channel");
                    var destinations = new List<Destination>();
                    foreach (var target in targets)
                    {
                        if (!Destination.TryParse(target, out var destination)) throw new UsageException($"--to '{target}': must be channel or channel:chat");
                        if (!snapshot.Channels.ContainsKey(destination.ChannelId)) throw new UsageException($"--to '{target}': no channel '{destination.ChannelId}'");
                        destinations.Add(destination);
                    }
                    var route = new RouteDefinition(id, from, chats, destinations);
                    if (!await store.AddRouteAsync(route, cancellationToken).ConfigureAwait(false)) throw new UsageException($"--id '{id}': a route with this id exists");
                    await output.WriteLineAsync($"added route {id}: {from}{(chats is { Length: > 0 } ? $" (chats {string.Join(",", chats)})" : "")} -> {string.Join(", ", destinations)}").ConfigureAwait(false);
                    return 0;
                }
            case "list":
                {
                    line.RejectUnused();
                    var snapshot = await store.LoadAsync(cancellationToken).ConfigureAwait(false);
                    await output.WriteLineAsync("id\tfrom\tchats\tto\tenabled").ConfigureAwait(false);
                    foreach (var r in snapshot.Routes)
                    {
                        await output.WriteLineAsync($"{r.Id}\t{r.SourceChannel}\t{(r.SourceChats is { Count: > 0 } ? string.Join(",", r.SourceChats) : "*")}\t{string.Join(",", r.Destinations)}\t{(r.Enabled ? "yes" : "no")}").ConfigureAwait(false);
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
}
