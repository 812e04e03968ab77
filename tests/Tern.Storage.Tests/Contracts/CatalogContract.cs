using Tern.Core.Catalog;

namespace Tern.Storage.Tests.Contracts;

/// <summary>What every <see cref="ICatalogStore"/> must do.</summary>
public abstract class CatalogContract<TFactory> : StoreContract<TFactory>
    where TFactory : StoreFactory, new()
{
    private static ChannelDefinition Hook(string id, string? secret = null, int? maxConcurrency = null) =>
        new(id, ChannelTypes.Webhook, secret, new Uri($"http://127.0.0.1:9/{id}"), maxConcurrency);

    [Fact]
    public async Task A_fresh_catalog_is_empty_with_a_version_above_the_empty_snapshot()
    {
        var snapshot = await Stores.Catalog.LoadAsync(Ct);

        Assert.Empty(snapshot.Channels);
        Assert.Empty(snapshot.Routes);
        // CatalogCache starts from CatalogSnapshot.Empty (version 0) and loads only when the version differs.
        Assert.NotEqual(CatalogSnapshot.Empty.Version, snapshot.Version);
        Assert.Equal(await Stores.Catalog.GetVersionAsync(Ct), snapshot.Version);
    }

    [Fact]
    public async Task Adding_a_channel_bumps_the_version_and_loads_back_every_field()
    {
        var before = await Stores.Catalog.GetVersionAsync(Ct);
        var channel = new ChannelDefinition("hook-1", ChannelTypes.Webhook, "s3cret", new Uri("https://receiver.example.test:8443/in?x=1"), 4);

        Assert.True(await Stores.Catalog.AddChannelAsync(channel, Ct));

        var after = await Stores.Catalog.GetVersionAsync(Ct);
        Assert.True(after > before);
        var snapshot = await Stores.Catalog.LoadAsync(Ct);
        Assert.Equal(after, snapshot.Version);
        Assert.Equal(channel, Assert.Single(snapshot.Channels).Value);
    }

    [Fact]
    public async Task A_channel_without_secret_url_or_limit_loads_back_with_nulls()
    {
        var channel = new ChannelDefinition("bare", ChannelTypes.Webhook, null, null, null);

        Assert.True(await Stores.Catalog.AddChannelAsync(channel, Ct));

        Assert.Equal(channel, (await Stores.Catalog.LoadAsync(Ct)).Channels["bare"]);
    }

    [Fact]
    public async Task A_duplicate_channel_id_is_refused_keeps_the_first_and_leaves_the_version()
    {
        Assert.True(await Stores.Catalog.AddChannelAsync(Hook("hook-1", secret: "first"), Ct));
        var version = await Stores.Catalog.GetVersionAsync(Ct);

        Assert.False(await Stores.Catalog.AddChannelAsync(Hook("hook-1", secret: "second", maxConcurrency: 9), Ct));

        Assert.Equal(version, await Stores.Catalog.GetVersionAsync(Ct));
        var kept = Assert.Single((await Stores.Catalog.LoadAsync(Ct)).Channels).Value;
        Assert.Equal("first", kept.Secret);
        Assert.Null(kept.MaxConcurrency);
    }

    [Fact]
    public async Task Removing_a_channel_bumps_the_version_and_removing_a_missing_one_does_not()
    {
        await Stores.Catalog.AddChannelAsync(Hook("hook-1"), Ct);
        await Stores.Catalog.AddChannelAsync(Hook("hook-2"), Ct);
        var version = await Stores.Catalog.GetVersionAsync(Ct);

        Assert.True(await Stores.Catalog.RemoveChannelAsync("hook-1", Ct));
        var afterRemove = await Stores.Catalog.GetVersionAsync(Ct);
        Assert.True(afterRemove > version);
        Assert.Equal(["hook-2"], (await Stores.Catalog.LoadAsync(Ct)).Channels.Keys.ToArray());

        Assert.False(await Stores.Catalog.RemoveChannelAsync("hook-1", Ct));
        Assert.False(await Stores.Catalog.RemoveChannelAsync("never-was", Ct));
        Assert.Equal(afterRemove, await Stores.Catalog.GetVersionAsync(Ct));
    }

    [Fact]
    public async Task Routes_round_trip_with_chats_and_destinations()
    {
        var filtered = new RouteDefinition("r-filtered", "in", ["chat-1", "chat 2", "чат"],
            [new Destination("out-a", null), new Destination("out-b", "fixed-chat"), new Destination("out-c", "a:b")]);
        var everyChat = new RouteDefinition("r-all", "in", null, [new Destination("out-a", null)]);
        var disabled = new RouteDefinition("r-off", "other", ["x"], [new Destination("out-a", "y")], Enabled: false);

        Assert.True(await Stores.Catalog.AddRouteAsync(filtered, Ct));
        Assert.True(await Stores.Catalog.AddRouteAsync(everyChat, Ct));
        Assert.True(await Stores.Catalog.AddRouteAsync(disabled, Ct));

        var routes = (await Stores.Catalog.LoadAsync(Ct)).Routes.ToDictionary(r => r.Id, StringComparer.Ordinal);
        Assert.Equal(3, routes.Count);
        AssertRoute(filtered, routes["r-filtered"]);
        AssertRoute(everyChat, routes["r-all"]);
        AssertRoute(disabled, routes["r-off"]);
    }

    [Fact]
    public async Task A_route_with_an_empty_chat_list_matches_every_chat_after_loading()
    {
        await Stores.Catalog.AddRouteAsync(new RouteDefinition("r", "in", [], [new Destination("out", null)]), Ct);

        var route = Assert.Single((await Stores.Catalog.LoadAsync(Ct)).Routes);

        Assert.True(route.SourceChats is null || route.SourceChats.Count == 0);
        Assert.True(route.Matches("in", "any-chat"));
    }

    [Fact]
    public async Task Route_changes_bump_the_version_and_duplicates_are_refused()
    {
        var route = new RouteDefinition("r1", "in", null, [new Destination("out", null)]);
        var v0 = await Stores.Catalog.GetVersionAsync(Ct);

        Assert.True(await Stores.Catalog.AddRouteAsync(route, Ct));
        var v1 = await Stores.Catalog.GetVersionAsync(Ct);
        Assert.True(v1 > v0);

        Assert.False(await Stores.Catalog.AddRouteAsync(route with { SourceChannel = "elsewhere" }, Ct));
        Assert.Equal(v1, await Stores.Catalog.GetVersionAsync(Ct));
        Assert.Equal("in", Assert.Single((await Stores.Catalog.LoadAsync(Ct)).Routes).SourceChannel);

        Assert.True(await Stores.Catalog.RemoveRouteAsync("r1", Ct));
        var v2 = await Stores.Catalog.GetVersionAsync(Ct);
        Assert.True(v2 > v1);
        Assert.Empty((await Stores.Catalog.LoadAsync(Ct)).Routes);

        Assert.False(await Stores.Catalog.RemoveRouteAsync("r1", Ct));
        Assert.Equal(v2, await Stores.Catalog.GetVersionAsync(Ct));
    }

    [Fact]
    public async Task A_loaded_snapshot_indexes_enabled_routes_by_source()
    {
        await Stores.Catalog.AddChannelAsync(Hook("in"), Ct);
        await Stores.Catalog.AddRouteAsync(new RouteDefinition("r-on", "in", null, [new Destination("out", null)]), Ct);
        await Stores.Catalog.AddRouteAsync(new RouteDefinition("r-off", "in", null, [new Destination("out", null)], Enabled: false), Ct);

        var snapshot = await Stores.Catalog.LoadAsync(Ct);

        Assert.Equal(["r-on"], snapshot.RoutesFrom("in").ToArray().Select(r => r.Definition.Id));
        Assert.Equal(2, snapshot.Routes.Count);
    }

    [Fact]
    public async Task The_catalog_and_its_version_survive_reopening()
    {
        await Stores.Catalog.AddChannelAsync(Hook("hook-1", "s", 3), Ct);
        await Stores.Catalog.AddRouteAsync(new RouteDefinition("r1", "hook-1", ["c"], [new Destination("hook-1", "d")]), Ct);
        var before = await Stores.Catalog.LoadAsync(Ct);

        await ReopenAsync();

        var after = await Stores.Catalog.LoadAsync(Ct);
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(before.Channels["hook-1"], after.Channels["hook-1"]);
        AssertRoute(before.Routes[0], Assert.Single(after.Routes));
    }

    private static void AssertRoute(RouteDefinition expected, RouteDefinition actual)
    {
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.SourceChannel, actual.SourceChannel);
        Assert.Equal(expected.Enabled, actual.Enabled);
        Assert.Equal(expected.SourceChats, actual.SourceChats);
        Assert.Equal(expected.Destinations, actual.Destinations);
    }
}
