using Tern.Core.Catalog;

namespace Tern.Core.Tests.Doubles;

/// <summary>A catalog kept in dictionaries; every change bumps the version, like the real stores.</summary>
internal sealed class InMemoryCatalogStore : ICatalogStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ChannelDefinition> _channels = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RouteDefinition> _routes = new(StringComparer.Ordinal);
    private long _version = 1;
    private int _loads;
    private int _versionChecks;

    public int Loads => Volatile.Read(ref _loads);

    public int VersionChecks => Volatile.Read(ref _versionChecks);

    /// <summary>While true, reading the catalog fails as a database that cannot be reached does.</summary>
    public bool Unavailable { get; set; }

    public Task<long> GetVersionAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _versionChecks);
        if (Unavailable) return Task.FromException<long>(new Tern.Core.Pipeline.StorageUnavailableException("the database is away", new IOException("connection refused")));
        lock (_lock) return Task.FromResult(_version);
    }

    public Task<CatalogSnapshot> LoadAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _loads);
        lock (_lock) return Task.FromResult(new CatalogSnapshot(_version, _channels.Values.ToList(), _routes.Values.ToList()));
    }

    public Task<bool> AddChannelAsync(ChannelDefinition channel, CancellationToken cancellationToken)
    {
        lock (_lock) return Task.FromResult(Bump(_channels.TryAdd(channel.Id, channel)));
    }

    public Task<bool> RemoveChannelAsync(string id, CancellationToken cancellationToken)
    {
        lock (_lock) return Task.FromResult(Bump(_channels.Remove(id)));
    }

    public Task<bool> AddRouteAsync(RouteDefinition route, CancellationToken cancellationToken)
    {
        lock (_lock) return Task.FromResult(Bump(_routes.TryAdd(route.Id, route)));
    }

    public Task<bool> RemoveRouteAsync(string id, CancellationToken cancellationToken)
    {
        lock (_lock) return Task.FromResult(Bump(_routes.Remove(id)));
    }

    public Task<bool> UpdateChannelAsync(ChannelDefinition channel, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_channels.ContainsKey(channel.Id)) return Task.FromResult(false);
            _channels[channel.Id] = channel;
            return Task.FromResult(Bump(true));
        }
    }

    public Task<bool> UpdateRouteAsync(RouteDefinition route, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_routes.ContainsKey(route.Id)) return Task.FromResult(false);
            _routes[route.Id] = route;
            return Task.FromResult(Bump(true));
        }
    }

    private bool Bump(bool changed)
    {
        if (changed) _version++;
        return changed;
    }
}
