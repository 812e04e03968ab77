using Microsoft.Extensions.DependencyInjection;
using Tern.Channels.Http;
using Tern.Core.Catalog;
using Tern.Server.Application;
using Tern.Server.Configuration;
using Tern.Server.Hosting;
using Tern.Storage;

namespace Tern.Server.Cli;

/// <summary>
/// The application services the CLI verbs use, composed from the same registrations as the server's (the
/// storage engine's catalog stores, every channel type, the application services): the same rules as the
/// REST API's. Nothing of the pipeline is started; only what a verb resolves is made.
/// </summary>
internal sealed class CliServices : IDisposable
{
    private readonly ServiceProvider _provider;

    private CliServices(ServiceProvider provider)
    {
        _provider = provider;
        Channels = provider.GetRequiredService<ChannelService>();
        Routes = provider.GetRequiredService<RouteService>();
        Tenants = provider.GetRequiredService<TenantService>();
        Keys = provider.GetRequiredService<KeyService>();
    }

    public ChannelService Channels { get; }

    public RouteService Routes { get; }

    public TenantService Tenants { get; }

    public KeyService Keys { get; }

    public static CliServices Create(IStorageEngine storage, TernOptions options)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(options.Destinations);
        services.AddKeyedSingleton(OutboundHttp.SendClient, (_, _) => OutboundHttp.CreateClient(4, options.Destinations));
        services.AddTernCatalogStorage(storage);
        // No caching: every look-up asks the database, which other processes (a running server) change.
        services.AddSingleton(sp => new CatalogCache(sp.GetRequiredService<ICatalogStore>(), sp.GetRequiredService<TimeProvider>(), TimeSpan.Zero));
        services.AddTernChannels(options);
        services.AddTernApplication();
        return new CliServices(services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = false }));
    }

    public void Dispose() => _provider.Dispose();
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
