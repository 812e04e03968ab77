using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Messages;

namespace Tern.Storage.Tests.Contracts;

/// <summary>What senders rely on: message links written with mark-sent, chat migrations, lane holds, and what routing stores in the inbox.</summary>
public abstract class ChannelStateContract<TFactory> : StoreContract<TFactory>
    where TFactory : StoreFactory, new()
{
    [Fact]
    public async Task Every_envelope_field_round_trips_through_the_inbox()
    {
        var envelope = new Envelope("tg", "-100:5", "-100", "42", "caption", """[{"type":"photo","file_id":"F"}]""", 77,
            MessageKind.Edit, "5", "4", "album-1", """{"chat_type":"supergroup","thread":3}""");
        await Stores.Inbox.AppendAsync(envelope, Ct);
        await ReopenAsync();

        Assert.Equal(envelope, Assert.Single(await Stores.Inbox.ReadPendingAsync(0, 10, Ct)).Envelope);
    }

    [Fact]
    public async Task Links_written_with_a_mark_sent_are_found_by_source_message_and_destination_chat()
    {
        var lane = new Lane("tg-out", "-200");
        var seeded = await SeedLaneAsync(lane, 2, 1_000);
        await Stores.Outbox.MarkSentAsync(seeded[0].Id, "901", 2_000, [],
            [new MessageLink("tg-in", "-100", "5", "tg-out", "-200", "901"), new MessageLink("tg-in", "-100", "6", "tg-out", "-200", "902")], Ct);
        // A second copy of message 5 in the same chat (another route), and one in another chat.
        await Stores.Outbox.MarkSentAsync(seeded[1].Id, "950", 3_000, [],
            [new MessageLink("tg-in", "-100", "5", "tg-out", "-200", "950"), new MessageLink("tg-in", "-100", "5", "tg-out", "-300#7", "12")], Ct);
        await ReopenAsync();

        Assert.Equal(["901", "950"], await Stores.MessageLinks.FindAsync("tg-in", "-100", "5", "tg-out", "-200", Ct));
        Assert.Equal(["902"], await Stores.MessageLinks.FindAsync("tg-in", "-100", "6", "tg-out", "-200", Ct));
        Assert.Equal(["12"], await Stores.MessageLinks.FindAsync("tg-in", "-100", "5", "tg-out", "-300#7", Ct));
        Assert.Empty(await Stores.MessageLinks.FindAsync("tg-in", "-100", "5", "tg-out", "-999", Ct));
        Assert.Empty(await Stores.MessageLinks.FindAsync("tg-in", "-101", "5", "tg-out", "-200", Ct));
    }

    [Fact]
    public async Task A_repeated_mark_sent_writes_its_links_once()
    {
        var lane = new Lane("tg-out", "-200");
        var seeded = await SeedLaneAsync(lane, 1, 1_000);
        var link = new MessageLink("tg-in", "-100", "5", "tg-out", "-200", "901");
        await Stores.Outbox.MarkSentAsync(seeded[0].Id, "901", 2_000, [], [link], Ct);
        await Stores.Outbox.MarkSentAsync(seeded[0].Id, "901", 2_500, [], [link], Ct);

        Assert.Equal(["901"], await Stores.MessageLinks.FindAsync("tg-in", "-100", "5", "tg-out", "-200", Ct));
    }

    [Fact]
    public async Task Retention_deletes_links_older_than_the_cutoff_only()
    {
        var lane = new Lane("tg-out", "-200");
        var seeded = await SeedLaneAsync(lane, 2, 1_000);
        await Stores.Outbox.MarkSentAsync(seeded[0].Id, "1", 10_000, [], [new MessageLink("tg-in", "-100", "old", "tg-out", "-200", "1")], Ct);
        await Stores.Outbox.MarkSentAsync(seeded[1].Id, "2", 20_000, [], [new MessageLink("tg-in", "-100", "new", "tg-out", "-200", "2")], Ct);

        Assert.Equal(1, await Stores.Retention.PurgeLinksAsync(DateTimeOffset.FromUnixTimeMilliseconds(15_000), 100, Ct));

        Assert.Empty(await Stores.MessageLinks.FindAsync("tg-in", "-100", "old", "tg-out", "-200", Ct));
        Assert.Equal(["2"], await Stores.MessageLinks.FindAsync("tg-in", "-100", "new", "tg-out", "-200", Ct));
        Assert.Equal(0, await Stores.Retention.PurgeLinksAsync(DateTimeOffset.FromUnixTimeMilliseconds(15_000), 100, Ct));
    }

    [Fact]
    public async Task A_chat_migration_is_remembered_and_routes_to_and_from_the_old_chat_follow_it()
    {
        await Stores.Catalog.AddChannelAsync(new ChannelDefinition("tg", "telegram", null, null, null), Ct);
        await Stores.Catalog.AddRouteAsync(new RouteDefinition("to-group", "src", null,
            [new Destination("tg", "-55"), new Destination("tg", "-55#9"), new Destination("tg", "-556"), new Destination("other", "-55")]), Ct);
        await Stores.Catalog.AddRouteAsync(new RouteDefinition("from-group", "tg", ["-55", "-1"], [new Destination("x", null)]), Ct);

        await Stores.ChatMigrations.RecordAsync("tg", "-55", "-10055", 1_000, Ct);

        Assert.Equal("-10055", await Stores.ChatMigrations.FindAsync("tg", "-55", Ct));
        Assert.Null(await Stores.ChatMigrations.FindAsync("tg", "-56", Ct));
        Assert.Null(await Stores.ChatMigrations.FindAsync("other", "-55", Ct));
        var catalog = await Stores.Catalog.LoadAsync(Ct);
        var to = catalog.Routes.Single(r => r.Id == "to-group");
        // Topics move with their chat; a chat whose id merely starts the same way, and other channels, do not.
        Assert.Equal(["tg:-10055", "tg:-10055#9", "tg:-556", "other:-55"], to.Destinations.Select(d => d.ToString()));
        Assert.Equal(["-55", "-1", "-10055"], catalog.Routes.Single(r => r.Id == "from-group").SourceChats!);

        // Recording it again changes nothing more.
        var version = await Stores.Catalog.GetVersionAsync(Ct);
        await Stores.ChatMigrations.RecordAsync("tg", "-55", "-10055", 2_000, Ct);
        Assert.Equal(version, await Stores.Catalog.GetVersionAsync(Ct));
    }

    [Fact]
    public async Task A_chat_move_rewritten_from_a_stale_catalog_writes_nothing_and_all_of_it_lands_in_one_step_otherwise()
    {
        await Stores.Catalog.AddRouteAsync(new RouteDefinition("to-group", "src", null, [new Destination("tg", "-55")]), Ct);
        var stale = await Stores.Catalog.LoadAsync(Ct);
        // Someone edits the catalog between the read and the write.
        await Stores.Catalog.AddRouteAsync(new RouteDefinition("later", "src", null, [new Destination("tg", "-55")]), Ct);
        var move = new ChatMove("tg", "-55", "-10055", 1_000);

        Assert.False(await Stores.ChatMoves.RecordAsync(move, stale.Version, ChatMigrations.RoutesAfter(move, stale.Routes), Ct));
        Assert.Null(await Stores.ChatMoves.FindAsync("tg", "-55", Ct));
        Assert.All((await Stores.Catalog.LoadAsync(Ct)).Routes, r => Assert.Equal("tg:-55", r.Destinations.Single().ToString()));

        var current = await Stores.Catalog.LoadAsync(Ct);
        Assert.True(await Stores.ChatMoves.RecordAsync(move, current.Version, ChatMigrations.RoutesAfter(move, current.Routes), Ct));
        Assert.Equal("-10055", await Stores.ChatMoves.FindAsync("tg", "-55", Ct));
        var after = await Stores.Catalog.LoadAsync(Ct);
        Assert.True(after.Version > current.Version);
        Assert.All(after.Routes, r => Assert.Equal("tg:-10055", r.Destinations.Single().ToString()));
    }

    [Fact]
    public async Task Deferring_a_lane_holds_it_without_counting_an_attempt_and_never_brings_it_forward()
    {
        var lane = new Lane("tg-out", "-200");
        var seeded = await SeedLaneAsync(lane, 1, 1_000);

        await Stores.Outbox.DeferLaneAsync(lane, 50_000, Ct);
        Assert.Empty(await ClaimAsync(49_999));
        Assert.Equal(lane, Assert.Single(await ClaimAsync(50_000)));
        await Stores.Outbox.DeferLaneAsync(lane, 10_000, Ct);
        Assert.Empty(await ClaimAsync(49_999));

        var record = await DeliveryAsync(seeded[0].Id);
        Assert.Equal((DeliveryState.Pending, 0), (record.State, record.Attempts));
    }
}
