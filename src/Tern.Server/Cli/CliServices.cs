using Tern.Channels;
using Tern.Channels.Telegram.BotApi;
using Tern.Core.Catalog;
using Tern.Server.Application;
using Tern.Server.Configuration;
using Tern.Storage.Sqlite;

namespace Tern.Server.Cli;

/// <summary>
/// The application services the CLI verbs use, made in this one place over the database: the same
/// services, and so the same rules, as the REST API's.
/// </summary>
internal sealed class CliServices : IDisposable
{
    /// <summary>How long <c>tern channels add --type telegram</c> waits for getMe.</summary>
    private static readonly TimeSpan TelegramCallTimeout = TimeSpan.FromSeconds(15);

    private readonly HttpClient _http;
    private readonly CatalogCache _catalog;

    private CliServices(HttpClient http, CatalogCache catalog, ChannelService channels, RouteService routes, TenantService tenants, KeyService keys)
    {
        _http = http;
        _catalog = catalog;
        Channels = channels;
        Routes = routes;
        Tenants = tenants;
        Keys = keys;
    }

    public ChannelService Channels { get; }

    public RouteService Routes { get; }

    public TenantService Tenants { get; }

    public KeyService Keys { get; }

    public static CliServices Create(SqliteDatabase database, TernOptions options)
    {
        _ = options;
        var catalogStore = new SqliteCatalogStore(database);
        var tenantStore = new SqliteTenantStore(database);
        var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var types = KnownChannelTypes.Create(new BotApiClient(http), TelegramCallTimeout);
        // No caching: every look-up asks the database, which other processes (a running server) change.
        var catalog = new CatalogCache(catalogStore, TimeProvider.System, TimeSpan.Zero);
        var channels = new ChannelService(catalogStore, catalog, types);
        return new CliServices(http, catalog, channels, new RouteService(catalogStore, catalog, channels),
            new TenantService(tenantStore, TimeProvider.System), new KeyService(tenantStore, TimeProvider.System));
    }

    public void Dispose()
    {
        _catalog.Dispose();
        _http.Dispose();
    }
}

/// <summary>A service's failure as the CLI shows it: one line naming the flag, <c>--flag 'value': message</c> (exit code 2).</summary>
internal static class CliFailures
{
    /// <summary>
    /// The usage error for the first problem. <paramref name="flagOf"/> maps an API field name to the flag and
    /// the value given for it (null: a secret, or no single value to show).
    /// </summary>
    public static UsageException Usage(ValidationFailure failure, Func<string, (string Flag, string? Value)> flagOf)
    {
        var error = failure.First;
        var (flag, value) = flagOf(error.Field);
        return new UsageException(value is null || error.Remote ? $"{flag}: {error.Message}" : $"{flag} '{value}': {error.Message}");
    }

    /// <summary>The flag for a field by convention: its last name, '_' as '-' (<c>max_concurrency</c> → <c>--max-concurrency</c>).</summary>
    public static string FlagFor(string field)
    {
        var (name, _, _) = Split(field);
        var dot = name.LastIndexOf('.');
        return "--" + (dot < 0 ? name : name[(dot + 1)..]).Replace('_', '-');
    }

    /// <summary>"to[1]" → ("to", 1, ""); "options.transform.replace[0].pattern" → ("options.transform.replace", 0, ".pattern").</summary>
    public static (string Name, int? Index, string After) Split(string field)
    {
        var open = field.IndexOf('[', StringComparison.Ordinal);
        var close = open < 0 ? -1 : field.IndexOf(']', open);
        if (close < 0 || !int.TryParse(field.AsSpan(open + 1, close - open - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index))
        {
            return (field, null, "");
        }
        return (field[..open], index, field[(close + 1)..]);
    }

    /// <summary>The item of a list flag an index points at, or null.</summary>
    public static string? At(IReadOnlyList<string>? values, int? index) => values is not null && index is { } i && i >= 0 && i < values.Count ? values[i] : null;
}
