using System.Collections.Frozen;
using Tern.Core.Routing;

namespace Tern.Core.Catalog;

/// <summary>An immutable view of channels and routes; swapped whole when the catalog changes.</summary>
public sealed class CatalogSnapshot
{
    private readonly FrozenDictionary<string, CompiledRoute[]> _routesBySource;
    private readonly FrozenDictionary<string, ChannelDefinition[]> _subscriptionsByTenantEvent;

    public CatalogSnapshot(long version, IEnumerable<ChannelDefinition> channels, IEnumerable<RouteDefinition> routes)
    {
        Version = version;
        Channels = channels.ToFrozenDictionary(c => c.Id, StringComparer.Ordinal);
        Routes = routes.ToArray();
        _routesBySource = Routes
            .Where(r => r.Enabled)
            .GroupBy(r => r.SourceChannel, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.Select(CompiledRoute.Compile).ToArray(), StringComparer.Ordinal);
        _subscriptionsByTenantEvent = Channels.Values
            .Where(c => c.Type == ChannelTypes.TenantWebhook)
            .SelectMany(c => SubscribedEvents(c).Select(e => (Key: c.TenantId + "\n" + e, Channel: c)))
            .GroupBy(p => p.Key, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.Select(p => p.Channel).OrderBy(c => c.Id, StringComparer.Ordinal).ToArray(), StringComparer.Ordinal);
    }

    /// <summary>The tenant's webhook subscriptions that want <paramref name="eventType"/>.</summary>
    public ChannelDefinition[] Subscriptions(string tenantId, string eventType) =>
        _subscriptionsByTenantEvent.TryGetValue(tenantId + "\n" + eventType, out var subscriptions) ? subscriptions : [];

    /// <summary>A subscription's event types: its settings are a JSON array of them.</summary>
    public static IReadOnlyList<string> SubscribedEvents(ChannelDefinition subscription)
    {
        if (subscription.SettingsJson is null) return [];
        using var document = System.Text.Json.JsonDocument.Parse(subscription.SettingsJson);
        return document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Array
            ? document.RootElement.EnumerateArray().Select(e => e.GetString() ?? "").Where(e => e.Length > 0).ToArray()
            : [];
    }

    public static CatalogSnapshot Empty { get; } = new(0, [], []);

    public long Version { get; }

    public FrozenDictionary<string, ChannelDefinition> Channels { get; }

    public IReadOnlyList<RouteDefinition> Routes { get; }

    /// <summary>The enabled routes from a channel, with their rules compiled once for this version of the catalog.</summary>
    public ReadOnlySpan<CompiledRoute> RoutesFrom(string channelId) =>
        _routesBySource.TryGetValue(channelId, out var routes) ? routes : [];

    /// <summary>The channel's type, or null when there is no such channel.</summary>
    public string? TypeOf(string channelId) => Channels.TryGetValue(channelId, out var channel) ? channel.Type : null;
}

/// <summary>A route with its options compiled; <see cref="Rules"/> is null when the stored options no longer parse (the route is skipped).</summary>
public sealed record CompiledRoute(RouteDefinition Definition, RouteRules? Rules, string? Problem)
{
    public static CompiledRoute Compile(RouteDefinition route)
    {
        if (route.OptionsJson is null) return new CompiledRoute(route, RouteRules.Default, null);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var options = RouteOptions.Parse(route.OptionsJson, errors);
        if (options is null) return new CompiledRoute(route, null, string.Join("; ", errors.Select(e => $"{e.Key} {string.Join(", ", e.Value)}")));
        return new CompiledRoute(route, RouteRules.Compile(options), null);
    }
}
