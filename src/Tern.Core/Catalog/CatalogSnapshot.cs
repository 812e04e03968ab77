using System.Collections.Frozen;

namespace Tern.Core.Catalog;

/// <summary>An immutable view of channels and routes; swapped whole when the catalog changes.</summary>
public sealed class CatalogSnapshot
{
    private readonly FrozenDictionary<string, RouteDefinition[]> _routesBySource;

    public CatalogSnapshot(long version, IEnumerable<ChannelDefinition> channels, IEnumerable<RouteDefinition> routes)
    {
        Version = version;
        Channels = channels.ToFrozenDictionary(c => c.Id, StringComparer.Ordinal);
        Routes = routes.ToArray();
        _routesBySource = Routes
            .Where(r => r.Enabled)
            .GroupBy(r => r.SourceChannel, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
    }

    public static CatalogSnapshot Empty { get; } = new(0, [], []);

    public long Version { get; }

    public FrozenDictionary<string, ChannelDefinition> Channels { get; }

    public IReadOnlyList<RouteDefinition> Routes { get; }

    public ReadOnlySpan<RouteDefinition> RoutesFrom(string channelId) =>
        _routesBySource.TryGetValue(channelId, out var routes) ? routes : [];
}
