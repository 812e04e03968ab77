namespace Tern.Core.Catalog;

/// <summary>Durable channels and routes. Every change bumps a version so running instances notice it.</summary>
public interface ICatalogStore
{
    Task<long> GetVersionAsync(CancellationToken cancellationToken);

    Task<CatalogSnapshot> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Adds a channel; false when the id is taken.</summary>
    Task<bool> AddChannelAsync(ChannelDefinition channel, CancellationToken cancellationToken);

    Task<bool> RemoveChannelAsync(string id, CancellationToken cancellationToken);

    /// <summary>Replaces a channel's definition (same id); false when there is none.</summary>
    Task<bool> UpdateChannelAsync(ChannelDefinition channel, CancellationToken cancellationToken);

    /// <summary>Adds a route; false when the id is taken.</summary>
    Task<bool> AddRouteAsync(RouteDefinition route, CancellationToken cancellationToken);

    Task<bool> RemoveRouteAsync(string id, CancellationToken cancellationToken);

    /// <summary>Replaces a route's definition (same id); false when there is none.</summary>
    Task<bool> UpdateRouteAsync(RouteDefinition route, CancellationToken cancellationToken);
}
