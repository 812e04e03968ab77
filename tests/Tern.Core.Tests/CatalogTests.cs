using Tern.Core.Catalog;

namespace Tern.Core.Tests;

public sealed class CatalogTests
{
    [Theory]
    [InlineData("hook")]
    [InlineData("a")]
    [InlineData("Hook-1_b.c")]
    [InlineData("0123456789")]
    public void Valid_identifiers(string id) => Assert.True(Identifiers.IsValid(id));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("has space")]
    [InlineData("slash/")]
    [InlineData("colon:")]
    [InlineData("ünïcode")]
    [InlineData("emoji🙂")]
    [InlineData("tab\t")]
    public void Invalid_identifiers(string? id) => Assert.False(Identifiers.IsValid(id));

    [Fact]
    public void Identifiers_are_at_most_64_characters()
    {
        Assert.True(Identifiers.IsValid(new string('a', Identifiers.MaxLength)));
        Assert.False(Identifiers.IsValid(new string('a', Identifiers.MaxLength + 1)));
    }

    [Theory]
    [InlineData("out", "out", null)]
    [InlineData("out:chat-1", "out", "chat-1")]
    [InlineData("out:+49 170 1234", "out", "+49 170 1234")]
    [InlineData("out:a:b", "out", "a:b")]
    public void Destination_parses_channel_and_optional_chat(string text, string channel, string? chat)
    {
        Assert.True(Destination.TryParse(text, out var destination));
        Assert.Equal(new Destination(channel, chat), destination);
        Assert.Equal(text, destination.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(":chat")]
    [InlineData("out:")]
    [InlineData("bad channel:chat")]
    [InlineData("bad/channel")]
    public void Destination_refuses_malformed_text(string text) => Assert.False(Destination.TryParse(text, out _));

    [Fact]
    public void Destination_refuses_a_channel_id_over_the_length_limit() =>
        Assert.False(Destination.TryParse(new string('c', Identifiers.MaxLength + 1) + ":chat", out _));

    [Fact]
    public void RoutesFrom_gives_the_enabled_routes_of_a_source_channel_in_catalog_order()
    {
        var snapshot = new CatalogSnapshot(3, [new ChannelDefinition("in", ChannelTypes.Webhook, null, null, null)],
        [
            new RouteDefinition("r1", "in", null, [new Destination("a", null)]),
            new RouteDefinition("r2", "other", null, [new Destination("b", null)]),
            new RouteDefinition("r3", "in", ["c"], [new Destination("c", null)]),
            new RouteDefinition("r4", "in", null, [new Destination("d", null)], Enabled: false),
        ]);

        Assert.Equal(["r1", "r3"], snapshot.RoutesFrom("in").ToArray().Select(r => r.Definition.Id));
        Assert.Equal(["r2"], snapshot.RoutesFrom("other").ToArray().Select(r => r.Definition.Id));
        Assert.True(snapshot.RoutesFrom("nobody").IsEmpty);
        Assert.True(snapshot.RoutesFrom("IN").IsEmpty);
        Assert.Equal(4, snapshot.Routes.Count);
        Assert.Equal(3, snapshot.Version);
        Assert.True(snapshot.Channels.ContainsKey("in"));
    }

    [Fact]
    public void The_empty_snapshot_has_version_zero_and_nothing_in_it()
    {
        Assert.Equal(0, CatalogSnapshot.Empty.Version);
        Assert.Empty(CatalogSnapshot.Empty.Channels);
        Assert.True(CatalogSnapshot.Empty.RoutesFrom("any").IsEmpty);
    }

    [Fact]
    public void RouteDefinition_Matches_checks_enabled_source_and_chats()
    {
        var route = new RouteDefinition("r", "in", ["x"], [new Destination("out", null)]);

        Assert.True(route.Matches("in", "x"));
        Assert.False(route.Matches("in", "y"));
        Assert.False(route.Matches("other", "x"));
        Assert.False((route with { Enabled = false }).Matches("in", "x"));
    }

    [Fact]
    public void A_printed_channel_never_shows_its_secret()
    {
        var channel = new ChannelDefinition("c", ChannelTypes.Webhook, "top-secret-value", new Uri("http://127.0.0.1/"), 2);

        Assert.DoesNotContain("top-secret-value", channel.ToString(), StringComparison.Ordinal);
        Assert.Contains("***", channel.ToString(), StringComparison.Ordinal);
        Assert.Contains("none", (channel with { Secret = null }).ToString(), StringComparison.Ordinal);
    }
}
