using Tern.Core.Catalog;
using Tern.Core.Delivery;

namespace Tern.Storage.Tests.Contracts;

/// <summary>Migrations and durability: what every engine must do about its schema and its file or server.</summary>
public abstract class SchemaContract<TFactory> : StoreContract<TFactory>
    where TFactory : StoreFactory, new()
{
    [Fact]
    public async Task A_fresh_database_is_migrated_to_the_latest_schema_version()
    {
        Assert.True(Stores.LatestSchemaVersion > 0);
        Assert.True(Stores.MigrationsAppliedAtOpen > 0);
        Assert.Equal(Stores.LatestSchemaVersion, await Stores.SchemaVersionAsync(Ct));
    }

    [Fact]
    public async Task Applying_migrations_again_is_a_no_op_that_keeps_the_data()
    {
        var seq = await AppendAsync();
        await Stores.Catalog.AddChannelAsync(new ChannelDefinition("c", ChannelTypes.Webhook, null, null, null), Ct);
        var version = await Stores.Catalog.GetVersionAsync(Ct);

        Assert.Equal(0, await Stores.MigrateAsync(Ct));
        Assert.Equal(0, await Stores.MigrateAsync(Ct));

        Assert.Equal(Stores.LatestSchemaVersion, await Stores.SchemaVersionAsync(Ct));
        Assert.Equal(seq, Assert.Single(await Stores.Inbox.ReadPendingAsync(0, 10, Ct)).Seq);
        Assert.Equal(version, await Stores.Catalog.GetVersionAsync(Ct));
    }

    [Fact]
    public async Task Reopening_a_migrated_database_applies_nothing()
    {
        await ReopenAsync();

        Assert.Equal(0, Stores.MigrationsAppliedAtOpen);
        Assert.Equal(Stores.LatestSchemaVersion, await Stores.SchemaVersionAsync(Ct));
    }

    [Fact]
    public async Task Everything_committed_survives_reopening_through_new_instances()
    {
        var lane = new Lane("out", "chat-1");
        var routedSeq = await AppendAsync();
        var pendingSeq = await AppendAsync(chat: "chat-2");
        await Stores.Outbox.CommitRoutedAsync(
            [routedSeq],
            [Delivery(routedSeq, lane, 1_000, "{\"a\":1}"), Delivery(routedSeq, lane, 1_000, "{\"a\":2}"), Delivery(routedSeq, lane, 1_000, "{\"a\":3}")],
            Ct);
        var deliveries = await Stores.Outbox.ReadLaneAsync(lane, 10, Ct);
        await Stores.Outbox.MarkSentAsync(deliveries[0].Id, "pid-1", 2_000, [], [], Ct);
        await Stores.Outbox.MarkFailedAsync(deliveries[1].Id, "HTTP 400", 2_000, [], Ct);
        await Stores.Outbox.ScheduleRetryAsync(deliveries[2].Id, lane, 30_000, "HTTP 503", 2_000, Ct);
        await Stores.Catalog.AddChannelAsync(new ChannelDefinition("out", ChannelTypes.Webhook, "k", new Uri("http://127.0.0.1:9/"), 2), Ct);

        await ReopenAsync();

        var pending = Assert.Single(await Stores.Inbox.ReadPendingAsync(0, 10, Ct));
        Assert.Equal((pendingSeq, "chat-2"), (pending.Seq, pending.Envelope.Chat));
        Assert.Equal(2, await Stores.CountInboxRowsAsync(Ct));
        Assert.Equal((DeliveryState.Sent, "pid-1"), ((await DeliveryAsync(deliveries[0].Id)).State, (await DeliveryAsync(deliveries[0].Id)).PlatformMessageId));
        Assert.Equal((DeliveryState.Failed, "HTTP 400"), ((await DeliveryAsync(deliveries[1].Id)).State, (await DeliveryAsync(deliveries[1].Id)).LastError));
        var left = Assert.Single(await Stores.Outbox.ReadLaneAsync(lane, 10, Ct));
        Assert.Equal((deliveries[2].Id, 1, "{\"a\":3}"), (left.Id, left.Attempts, left.Payload));
        Assert.Empty(await ClaimAsync(29_999));
        Assert.Equal([lane], await ClaimAsync(30_000));
        Assert.Equal(2, (await Stores.Catalog.LoadAsync(Ct)).Channels["out"].MaxConcurrency);
        Assert.Equal((1L, 1L), (Stores.Inbox.PendingCount, Stores.Outbox.PendingCount));
    }

    [Fact]
    public async Task Concurrent_appends_survive_reopening()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() => Stores.Inbox.AppendAsync(Message($"c-{i}"), Ct))));

        await ReopenAsync();

        Assert.Equal(200, Stores.Inbox.PendingCount);
        Assert.Equal(results.Select(r => r.Seq).Order(), (await Stores.Inbox.ReadPendingAsync(0, 1_000, Ct)).Select(p => p.Seq));
    }
}
