namespace Tern.Core.Catalog;

/// <summary>
/// Keeps the current <see cref="CatalogSnapshot"/> in memory. The store's version is checked at most
/// once per <c>checkInterval</c>, so the hot path reads a field, and a change made by another process
/// (the CLI) is seen within that interval.
/// </summary>
public sealed class CatalogCache : IDisposable
{
    private readonly ICatalogStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _checkInterval;
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private volatile CatalogSnapshot _current = CatalogSnapshot.Empty;
    private long _nextCheckTicks;

    public CatalogCache(ICatalogStore store, TimeProvider time, TimeSpan checkInterval)
    {
        _store = store;
        _time = time;
        _checkInterval = checkInterval;
    }

    public CatalogSnapshot Current => _current;

    /// <summary>Periodic checks that could not reach the store and kept the snapshot they had.</summary>
    public long StaleChecks { get; private set; }

    public void Dispose() => _refreshLock.Dispose();

    /// <summary>Returns the snapshot, reloading it first when the check interval has passed and the version moved.</summary>
    public ValueTask<CatalogSnapshot> GetAsync(CancellationToken cancellationToken)
    {
        if (_time.GetTimestamp() < Interlocked.Read(ref _nextCheckTicks)) return ValueTask.FromResult(_current);
        return new ValueTask<CatalogSnapshot>(RefreshAsync(force: false, cancellationToken));
    }

    /// <summary>A channel by id; when the snapshot does not have it, the store is asked once more (a channel the CLI or another instance added a moment ago).</summary>
    public async ValueTask<ChannelDefinition?> FindChannelAsync(string id, CancellationToken cancellationToken)
    {
        var snapshot = await GetAsync(cancellationToken).ConfigureAwait(false);
        if (snapshot.Channels.TryGetValue(id, out var channel)) return channel;
        snapshot = await RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return snapshot.Channels.GetValueOrDefault(id);
    }

    /// <summary>Checks the version now; used when a lookup misses (a channel added a moment ago).</summary>
    public Task<CatalogSnapshot> RefreshAsync(bool force, CancellationToken cancellationToken) => RefreshCoreAsync(force, cancellationToken);

    private async Task<CatalogSnapshot> RefreshCoreAsync(bool force, CancellationToken cancellationToken)
    {
        await _refreshLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!force && _time.GetTimestamp() < Interlocked.Read(ref _nextCheckTicks)) return _current;
            try
            {
                var version = await _store.GetVersionAsync(cancellationToken).ConfigureAwait(false);
                if (version != _current.Version) _current = await _store.LoadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Pipeline.StorageUnavailableException) when (!force && !ReferenceEquals(_current, CatalogSnapshot.Empty))
            {
                // The database is away for a moment: the pipeline goes on with the catalog it has and checks again next interval.
                StaleChecks++;
            }
            Interlocked.Exchange(ref _nextCheckTicks, _time.GetTimestamp() + (long)(_checkInterval.TotalSeconds * _time.TimestampFrequency));
            return _current;
        }
        finally
        {
            _refreshLock.Release();
        }
    }
}
