using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tern.Core.Catalog;
using Tern.Server.Application;
using RouteOptions = Tern.Core.Routing.RouteOptions;

namespace Tern.Server.Cli;

/// <summary>
/// <c>tern channels …</c> and <c>tern routes …</c>: the catalog from the command line, also while a server
/// runs. The flags become the input the REST API's services take; a problem comes back naming the API
/// field, shown here as the flag that gave it.
/// </summary>
internal static class CatalogCommands
{
    public static async Task<int> ChannelsAsync(string noun, CommandLine line, CliServices services, TextWriter output, CancellationToken cancellationToken)
    {
        var channels = services.Channels;
        switch (noun)
        {
            case "add":
                {
                    var id = line.Required("id");
                    var typeName = line.Optional("type") ?? ChannelTypes.Webhook;
                    int? maxConcurrency = null;
                    var rawMax = line.Optional("max-concurrency");
                    if (rawMax is not null)
                    {
                        if (!int.TryParse(rawMax, NumberStyles.None, CultureInfo.InvariantCulture, out var max)) throw new UsageException($"--max-concurrency '{rawMax}': must be a whole number from 1 to 1024");
                        maxConcurrency = max;
                    }
                    var url = line.Optional("url");
                    var secret = line.Optional("secret");
                    var type = channels.Types.Find(typeName);
                    var values = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var flag in type?.Flags ?? [])
                    {
                        if (line.Optional(flag.Flag) is { } value) values[flag.Flag] = value;
                    }
                    // An unknown type is named as such, not its flags as unknown options.
                    if (type is not null) line.RejectUnused();

                    (string Flag, string? Value) FlagOf(string field)
                    {
                        switch (field)
                        {
                            case "id": return ("--id", id);
                            case "type": return ("--type", typeName);
                            case "url": return ("--url", url);
                            case "secret": return ("--secret", null);
                            case "max_concurrency": return ("--max-concurrency", rawMax);
                        }
                        var property = type?.SettingsProperty;
                        if (type is not null && property is not null && field.StartsWith(property + ".", StringComparison.Ordinal))
                        {
                            var name = field[(property.Length + 1)..];
                            var dot = name.IndexOf('.', StringComparison.Ordinal);
                            if (dot > 0) name = name[..dot];
                            if (type.Flags.FirstOrDefault(f => f.Field == name) is { } known)
                            {
                                return ("--" + known.Flag, known.Secret ? null : values.GetValueOrDefault(known.Flag));
                            }
                        }
                        return field == property ? ("--type", typeName) : (CliFailures.FlagFor(field), null);
                    }

                    JsonObject? settings = null;
                    if (type is not null)
                    {
                        var problems = new List<FieldError>();
                        settings = type.SettingsFromFlags(values, problems);
                        if (problems.Count > 0)
                        {
                            var failure = ValidationFailure.Invalid([.. problems.Select(p => p with { Field = (type.SettingsProperty ?? "settings") + "." + p.Field })]);
                            throw CliFailures.Usage(failure, FlagOf);
                        }
                    }
                    var input = new ChannelInput(id, typeName, url, secret, maxConcurrency, settings is null ? null : type!.SettingsProperty, settings);
                    var added = await channels.AddAsync(null, input, cancellationToken).ConfigureAwait(false);
                    if (!added.IsOk) throw CliFailures.Usage(added.Failure!, FlagOf);
                    var channel = added.Value;
                    await output.WriteLineAsync($"added channel {channel.Id} {type!.Summary(channel)}").ConfigureAwait(false);
                    return 0;
                }
            case "list":
                {
                    line.RejectUnused();
                    await output.WriteLineAsync("id\ttype\ttarget\tsigned\tmax_concurrency").ConfigureAwait(false);
                    foreach (var c in await channels.ListAsync(null, cancellationToken).ConfigureAwait(false))
                    {
                        var target = channels.Types.Find(c.Type)?.Target(c) ?? c.Url?.ToString() ?? "-";
                        await output.WriteLineAsync($"{c.Id}\t{c.Type}\t{target}\t{(c.Secret is null ? "no" : "yes")}\t{c.MaxConcurrency?.ToString(CultureInfo.InvariantCulture) ?? "-"}").ConfigureAwait(false);
                    }
                    return 0;
                }
            case "remove":
                {
                    var id = line.Required("id");
                    line.RejectUnused();
                    var removed = await channels.RemoveAsync(null, id, cancellationToken).ConfigureAwait(false);
                    if (!removed.IsOk) throw CliFailures.Usage(removed.Failure!, _ => ("--id", id));
                    await output.WriteLineAsync($"removed channel {id}").ConfigureAwait(false);
                    return 0;
                }
            default:
                throw new UsageException($"'channels {noun}': unknown; use channels add|list|remove");
        }
    }

    public static async Task<int> RoutesAsync(string noun, CommandLine line, CliServices services, TextWriter output, CancellationToken cancellationToken)
    {
        var routes = services.Routes;
        switch (noun)
        {
            case "add":
                {
                    var id = line.Required("id");
                    var from = line.Required("from");
                    var rawChats = line.Optional("chats");
                    var chats = rawChats?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                    var targets = line.Many("to");
                    if (targets.Count == 0) throw new UsageException("--to is required (channel or channel:chat; may be given more than once)");
                    var flags = RouteOptionFlags.Read(line);
                    line.RejectUnused();

                    JsonElement? optionsJson = null;
                    if (flags.Options is { } options)
                    {
                        using var document = JsonDocument.Parse(options.ToJson());
                        optionsJson = document.RootElement.Clone();
                    }
                    var added = await routes.AddAsync(null, new RouteInput(id, from, chats, targets, true, optionsJson), cancellationToken).ConfigureAwait(false);
                    if (!added.IsOk)
                    {
                        throw CliFailures.Usage(added.Failure!, field =>
                        {
                            var (name, index, _) = CliFailures.Split(field);
                            return name switch
                            {
                                "id" => ("--id", id),
                                "from" => ("--from", from),
                                "chats" => ("--chats", index is null ? rawChats : CliFailures.At(chats, index)),
                                "to" => ("--to", CliFailures.At(targets, index)),
                                _ when field.StartsWith("options", StringComparison.Ordinal) => flags.FlagOf(field),
                                _ => (CliFailures.FlagFor(field), null),
                            };
                        });
                    }
                    var route = added.Value;
                    await output.WriteLineAsync($"added route {id}: {from}{(chats is { Length: > 0 } ? $" (chats {string.Join(",", chats)})" : "")} -> {string.Join(", ", route.Destinations)}{(flags.Options is null ? "" : $" [{flags.Options.Describe()}]")}").ConfigureAwait(false);
                    return 0;
                }
            case "list":
                {
                    line.RejectUnused();
                    await output.WriteLineAsync("id\tfrom\tchats\tto\tenabled\toptions").ConfigureAwait(false);
                    foreach (var r in await routes.ListAsync(null, cancellationToken).ConfigureAwait(false))
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
                    var removed = await routes.RemoveAsync(null, id, cancellationToken).ConfigureAwait(false);
                    if (!removed.IsOk) throw CliFailures.Usage(removed.Failure!, _ => ("--id", id));
                    await output.WriteLineAsync($"removed route {id}").ConfigureAwait(false);
                    return 0;
                }
            default:
                throw new UsageException($"'routes {noun}': unknown; use routes add|list|remove");
        }
    }
}
