using Microsoft.Extensions.Time.Testing;
using Tern.Core.Catalog;
using Tern.Core.Tests.Doubles;

namespace Tern.Core.Tests;

public sealed class CatalogCacheTests : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
    private readonly InMemoryCatalogStore _store = new();
    private readonly CatalogCache _cache;

    public CatalogCacheTests() => _cache = new CatalogCache(_store, _time, Interval);

    public void Dispose() => _cache.Dispose();

    private static ChannelDefinition Channel(string id) => new(id, ChannelTypes.Webhook, null, null, null);

    [Fact]
    public async Task The_first_get_loads_the_catalog()
    {
        await _store.AddChannelAsync(Channel("a"), CancellationToken.None);
        Assert.Same(CatalogSnapshot.Empty, _cache.Current);

        var snapshot = await _cache.GetAsync(CancellationToken.None);

        Assert.True(snapshot.Channels.ContainsKey("a"));
        Assert.Same(snapshot, _cache.Current);
        Assert.Equal(1, _store.Loads);
    }

    [Fact]
    public async Task A_periodic_check_that_cannot_reach_the_store_keeps_the_snapshot_and_a_forced_one_fails()
    {
        await _store.AddChannelAsync(Channel("a"), CancellationToken.None);
        var first = await _cache.GetAsync(CancellationToken.None);
        _store.Unavailable = true;
        _time.Advance(Interval);

        Assert.Same(first, await _cache.GetAsync(CancellationToken.None));
        Assert.Equal(1, _cache.StaleChecks);
        await Assert.ThrowsAsync<Tern.Core.Pipeline.StorageUnavailableException>(() => _cache.RefreshAsync(force: true, CancellationToken.None));

        // Back: the next interval's check reloads what changed meanwhile.
        _store.Unavailable = false;
        await _store.AddChannelAsync(Channel("b"), CancellationToken.None);
        Assert.Same(first, await _cache.GetAsync(CancellationToken.None));
        _time.Advance(Interval);
        Assert.True((await _cache.GetAsync(CancellationToken.None)).Channels.ContainsKey("b"));
    }

    [Fact]
    public async Task Without_a_snapshot_yet_an_unreachable_store_fails_the_first_get()
    {
        _store.Unavailable = true;

        await Assert.ThrowsAsync<Tern.Core.Pipeline.StorageUnavailableException>(() => _cache.GetAsync(CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task A_change_is_seen_only_after_the_check_interval()
    {
        var first = await _cache.GetAsync(CancellationToken.None);
        var checks = _store.VersionChecks;
        await _store.AddChannelAsync(Channel("new"), CancellationToken.None);

        Assert.Same(first, await _cache.GetAsync(CancellationToken.None));
        _time.Advance(Interval - TimeSpan.FromMilliseconds(1));
        Assert.Same(first, await _cache.GetAsync(CancellationToken.None));
        Assert.Equal(checks, _store.VersionChecks);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        var second = await _cache.GetAsync(CancellationToken.None);

        Assert.NotSame(first, second);
        Assert.True(second.Channels.ContainsKey("new"));
        Assert.Equal(await _store.GetVersionAsync(CancellationToken.None), second.Version);
        Assert.Equal(2, _store.Loads);
    }

    [Fact]
    public async Task An_unchanged_version_is_not_reloaded()
    {
        var first = await _cache.GetAsync(CancellationToken.None);
        var checks = _store.VersionChecks;

        _time.Advance(Interval * 3);
        var again = await _cache.GetAsync(CancellationToken.None);

        Assert.Same(first, again);
        Assert.Equal(1, _store.Loads);
        Assert.Equal(checks + 1, _store.VersionChecks);
    }

    [Fact]
    public async Task After_a_check_the_next_one_waits_a_full_interval_again()
    {
        await _cache.GetAsync(CancellationToken.None);
        _time.Advance(Interval);
        await _cache.GetAsync(CancellationToken.None);
        var checks = _store.VersionChecks;
        await _store.AddRouteAsync(new RouteDefinition("r", "a", null, [new Destination("b", null)]), CancellationToken.None);

        _time.Advance(Interval / 2);
        Assert.Empty((await _cache.GetAsync(CancellationToken.None)).Routes);
        Assert.Equal(checks, _store.VersionChecks);

        _time.Advance(Interval / 2);
        Assert.Single((await _cache.GetAsync(CancellationToken.None)).Routes);
    }

    [Fact]
    public async Task A_forced_refresh_reloads_a_changed_catalog_at_once()
    {
        var first = await _cache.GetAsync(CancellationToken.None);
        await _store.AddChannelAsync(Channel("just-added"), CancellationToken.None);

        var refreshed = await _cache.RefreshAsync(force: true, CancellationToken.None);

        Assert.NotSame(first, refreshed);
        Assert.True(refreshed.Channels.ContainsKey("just-added"));
        Assert.Same(refreshed, await _cache.GetAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_forced_refresh_of_an_unchanged_catalog_keeps_the_snapshot()
    {
        var first = await _cache.GetAsync(CancellationToken.None);

        Assert.Same(first, await _cache.RefreshAsync(force: true, CancellationToken.None));
        Assert.Equal(1, _store.Loads);
    }

    [Fact]
    public async Task Concurrent_gets_after_the_interval_load_once()
    {
        await _cache.GetAsync(CancellationToken.None);
        await _store.AddChannelAsync(Channel("x"), CancellationToken.None);
        _time.Advance(Interval);

        var snapshots = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(async () => await _cache.GetAsync(CancellationToken.None))));

        Assert.All(snapshots, s => Assert.True(s.Channels.ContainsKey("x")));
        Assert.Equal(2, _store.Loads);
    }
}
