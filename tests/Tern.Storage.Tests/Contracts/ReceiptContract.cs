using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Events;
using Tern.Core.Tenancy;

namespace Tern.Storage.Tests.Contracts;

/// <summary>
/// What every <see cref="IReceiptStore"/> must do: a platform's receipt lands once in its sent message's history, becomes
/// its status when the decision says so and adds the decision's events in the same transaction; a receipt for a message
/// whose send's answer is not recorded yet is kept early until it is (or until it is too old). Seen through the message
/// queries, as the REST API shows it.
/// </summary>
public abstract class ReceiptContract<TFactory> : StoreContract<TFactory>
    where TFactory : StoreFactory, new()
{
    private const string Acme = "acme";
    private const string Channel = "acme-out";
    private const string Other = "acme-other";

    private IReceiptStore Receipts => Stores.Receipts;

    [Fact]
    public async Task A_receipt_for_a_sent_message_is_recorded_becomes_its_status_and_adds_the_decisions_events()
    {
        await ChannelAsync(Channel);
        var id = await SentAsync("chat-1", "wamid.X", 20_000, 30_000);
        var pending = Stores.Outbox.PendingCount;
        var before = await Stores.CountDeliveriesAsync(Ct);
        ReceiptTarget? seen = null;

        var result = await Receipts.ApplyAsync([Receipt("wamid.X", "delivered", 40_000)], (target, _) =>
        {
            seen = target;
            return new ReceiptDecision(true, [EventFor("chat-1")]);
        }, Ct);

        Assert.Equal(new ReceiptResult(1, 0, 0), result);
        Assert.NotNull(seen);
        Assert.Equal((id, Channel, "chat-1", 1, 20_000L, (string?)null), (seen.DeliveryId, seen.ChannelId, seen.Chat, seen.Attempts, seen.CreatedAtMs, seen.CurrentReceipt));
        var (message, history) = await GetAsync(id);
        Assert.Equal("delivered", message.Status);
        Assert.Equal(["queued", "sent", "delivered"], history.Select(h => h.Status));
        Assert.Equal(new MessageStatusChange(At(40_000), "delivered", null), history[2]);
        Assert.Equal(pending + 1, Stores.Outbox.PendingCount);
        Assert.Equal(before + 1, await Stores.CountDeliveriesAsync(Ct));
        var added = Assert.Single(await Stores.Outbox.ReadLaneAsync(new Lane(Channel, "chat-2"), 10, Ct));
        Assert.Equal(DeliveryState.Pending, (await DeliveryAsync(added.Id)).State);
    }

    [Fact]
    public async Task The_same_receipt_again_is_repeated_and_changes_nothing()
    {
        await ChannelAsync(Channel);
        var id = await SentAsync("chat-1", "wamid.X", 20_000, 30_000);
        Assert.Equal(new ReceiptResult(1, 0, 0), await Receipts.ApplyAsync([Receipt("wamid.X", "delivered", 40_000)], Forward, Ct));
        var first = await GetAsync(id);
        var pending = Stores.Outbox.PendingCount;
        var calls = 0;

        var again = await Receipts.ApplyAsync([Receipt("wamid.X", "delivered", 40_000)], (_, _) =>
        {
            calls++;
            return new ReceiptDecision(true, [EventFor("chat-1")]);
        }, Ct);

        Assert.Equal(new ReceiptResult(0, 0, 1), again);
        Assert.Equal(0, calls);
        var second = await GetAsync(id);
        Assert.Equal(first.Message, second.Message);
        Assert.Equal(first.History, second.History);
        Assert.Equal(pending, Stores.Outbox.PendingCount);
    }

    [Fact]
    public async Task A_receipt_the_decision_does_not_make_current_is_in_the_history_but_the_status_stays()
    {
        await ChannelAsync(Channel);
        var id = await SentAsync("chat-1", "wamid.X", 20_000, 30_000);
        Assert.Equal(new ReceiptResult(1, 0, 0), await Receipts.ApplyAsync([Receipt("wamid.X", "read", 40_000)], Forward, Ct));

        var result = await Receipts.ApplyAsync([Receipt("wamid.X", "delivered", 41_000)], (_, _) => new ReceiptDecision(false, []), Ct);

        Assert.Equal(new ReceiptResult(1, 0, 0), result);
        var (message, history) = await GetAsync(id);
        Assert.Equal("read", message.Status);
        Assert.Equal(["queued", "sent", "read", "delivered"], history.Select(h => h.Status));
    }

    [Fact]
    public async Task A_receipt_not_made_current_on_a_message_without_one_leaves_it_sent()
    {
        await ChannelAsync(Channel);
        var id = await SentAsync("chat-1", "wamid.X", 20_000, 30_000);

        var result = await Receipts.ApplyAsync([Receipt("wamid.X", "sent", 35_000)], (_, _) => new ReceiptDecision(false, []), Ct);

        Assert.Equal(new ReceiptResult(1, 0, 0), result);
        var (message, history) = await GetAsync(id);
        Assert.Equal("sent", message.Status);
        Assert.Equal(["queued", "sent", "sent"], history.Select(h => h.Status));
    }

    [Fact]
    public async Task A_failed_receipt_keeps_its_detail_in_the_history()
    {
        await ChannelAsync(Channel);
        var id = await SentAsync("chat-1", "wamid.X", 20_000, 30_000);

        Assert.Equal(new ReceiptResult(1, 0, 0), await Receipts.ApplyAsync([Receipt("wamid.X", "failed", 40_000, "131047 re-engagement")], Forward, Ct));

        var (message, history) = await GetAsync(id);
        Assert.Equal("failed", message.Status);
        Assert.Equal(["queued", "sent", "failed"], history.Select(h => h.Status));
        Assert.Equal(new MessageStatusChange(At(40_000), "failed", "131047 re-engagement"), history[2]);
    }

    [Fact]
    public async Task A_receipt_for_an_unknown_platform_id_is_kept_early_and_applied_once_the_send_is_recorded()
    {
        await ChannelAsync(Channel);
        var id = await EnqueueAsync("chat-1", 20_000);

        var early = await Receipts.ApplyAsync([Receipt("wamid.E", "delivered", 25_000)], Forward, Ct);
        Assert.Equal(new ReceiptResult(0, 1, 0), early);
        Assert.Equal(1, Receipts.EarlyCount);
        Assert.Equal(new ReceiptResult(0, 0, 1), await Receipts.ApplyAsync([Receipt("wamid.E", "delivered", 25_000)], Forward, Ct));
        Assert.Equal(1, Receipts.EarlyCount);
        Assert.Equal("queued", (await GetAsync(id)).Message.Status);

        await Stores.Outbox.MarkSentAsync(id, "wamid.E", 30_000, [], [], Ct);
        Assert.Equal("sent", (await GetAsync(id)).Message.Status);
        var applied = await Receipts.ApplyEarlyAsync(Channel, "wamid.E", Forward, Ct);

        Assert.Equal(new ReceiptResult(1, 0, 0), applied);
        Assert.Equal(0, Receipts.EarlyCount);
        var (message, history) = await GetAsync(id);
        Assert.Equal("delivered", message.Status);
        Assert.Equal(["queued", "sent", "delivered"], history.Select(h => h.Status));
        Assert.Equal(0, await Stores.ScalarSqlAsync("SELECT COUNT(*) FROM early_receipts", Ct));
        Assert.Equal(default, await Receipts.ApplyEarlyAsync(Channel, "wamid.E", Forward, Ct));
    }

    [Fact]
    public async Task The_early_count_is_counted_again_at_open()
    {
        await ChannelAsync(Channel);
        Assert.Equal(new ReceiptResult(0, 2, 0), await Receipts.ApplyAsync([Receipt("wamid.A", "delivered", 25_000), Receipt("wamid.B", "read", 26_000)], Forward, Ct));

        await ReopenAsync();

        Assert.Equal(2, Receipts.EarlyCount);
    }

    [Fact]
    public async Task Reconciling_applies_early_receipts_whose_message_is_known_and_drops_those_older_than_the_cutoff()
    {
        await ChannelAsync(Channel);
        var known = await EnqueueAsync("chat-1", 20_000);
        var unknown = await EnqueueAsync("chat-2", 20_000);
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.Equal(new ReceiptResult(0, 3, 0), await Receipts.ApplyAsync(
            [Receipt("wamid.K", "delivered", 25_000), Receipt("wamid.K", "read", 26_000), Receipt("wamid.U", "delivered", 25_000)], Forward, Ct));
        Assert.Equal(3, Receipts.EarlyCount);
        await Stores.Outbox.MarkSentAsync(known, "wamid.K", 30_000, [], [], Ct);

        // A cutoff before the receipts were kept: only the known message's receipts go (applied).
        var first = await Receipts.ReconcileEarlyAsync(Forward, start - 60_000, Ct);

        Assert.Equal(new ReceiptResult(2, 0, 0), first);
        Assert.Equal(1, Receipts.EarlyCount);
        var (message, history) = await GetAsync(known);
        Assert.Equal("read", message.Status);
        Assert.Equal(["queued", "sent", "delivered", "read"], history.Select(h => h.Status));
        Assert.Equal("queued", (await GetAsync(unknown)).Message.Status);
        Assert.Equal(1, await Stores.ScalarSqlAsync("SELECT COUNT(*) FROM early_receipts", Ct));

        // A cutoff in the future: every remaining one is too old, and goes without being applied.
        var second = await Receipts.ReconcileEarlyAsync(Forward, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 60_000, Ct);

        Assert.Equal(default, second);
        Assert.Equal(0, Receipts.EarlyCount);
        Assert.Equal(0, await Stores.ScalarSqlAsync("SELECT COUNT(*) FROM early_receipts", Ct));
        await Stores.Outbox.MarkSentAsync(unknown, "wamid.U", 40_000, [], [], Ct);
        Assert.Equal(default, await Receipts.ApplyEarlyAsync(Channel, "wamid.U", Forward, Ct));
        Assert.Equal("sent", (await GetAsync(unknown)).Message.Status);
    }

    [Fact]
    public async Task A_receipt_of_another_channel_with_the_same_platform_id_does_not_touch_this_channels_message()
    {
        await ChannelAsync(Channel);
        await ChannelAsync(Other);
        var id = await SentAsync("chat-1", "wamid.X", 20_000, 30_000);

        var result = await Receipts.ApplyAsync([new DeliveryReceipt(Other, "wamid.X", "read", 40_000, null)], Forward, Ct);

        Assert.Equal(new ReceiptResult(0, 1, 0), result);
        var (message, history) = await GetAsync(id);
        Assert.Equal("sent", message.Status);
        Assert.Equal(["queued", "sent"], history.Select(h => h.Status));

        // Sending the same platform id on this channel again does not pick up the other channel's early receipt.
        Assert.Equal(default, await Receipts.ApplyEarlyAsync(Channel, "wamid.X", Forward, Ct));
        Assert.Equal(1, Receipts.EarlyCount);
        Assert.Equal(new ReceiptResult(0, 0, 0), await Receipts.ReconcileEarlyAsync(Forward, 0, Ct));
        Assert.Equal("sent", (await GetAsync(id)).Message.Status);
        Assert.Equal(1, Receipts.EarlyCount);
    }

    [Fact]
    public async Task Receipts_of_one_message_in_one_batch_are_decided_in_turn_each_seeing_the_status_the_one_before_set()
    {
        await ChannelAsync(Channel);
        var id = await SentAsync("chat-1", "wamid.X", 20_000, 30_000);
        var seen = new List<string?>();

        var result = await Receipts.ApplyAsync([Receipt("wamid.X", "delivered", 40_000), Receipt("wamid.X", "read", 41_000), Receipt("wamid.X", "delivered", 40_000)], (target, _) =>
        {
            seen.Add(target.CurrentReceipt);
            return new ReceiptDecision(true, []);
        }, Ct);

        Assert.Equal(new ReceiptResult(2, 0, 1), result);
        Assert.Equal([null, "delivered"], seen);
        var (message, history) = await GetAsync(id);
        Assert.Equal("read", message.Status);
        Assert.Equal(["queued", "sent", "delivered", "read"], history.Select(h => h.Status));
    }

    [Fact]
    public async Task Applying_the_early_receipts_of_a_platform_id_not_recorded_yet_keeps_them()
    {
        await ChannelAsync(Channel);
        var id = await EnqueueAsync("chat-1", 20_000);
        Assert.Equal(new ReceiptResult(0, 1, 0), await Receipts.ApplyAsync([Receipt("wamid.E", "delivered", 25_000)], Forward, Ct));

        Assert.Equal(default, await Receipts.ApplyEarlyAsync(Channel, "wamid.E", Forward, Ct));

        Assert.Equal(1, Receipts.EarlyCount);
        Assert.Equal(1, await Stores.ScalarSqlAsync("SELECT COUNT(*) FROM early_receipts", Ct));
        await Stores.Outbox.MarkSentAsync(id, "wamid.E", 30_000, [], [], Ct);
        Assert.Equal(new ReceiptResult(1, 0, 0), await Receipts.ApplyEarlyAsync(Channel, "wamid.E", Forward, Ct));
        Assert.Equal("delivered", (await GetAsync(id)).Message.Status);
    }

    [Fact]
    public async Task Each_applied_receipts_events_are_added_whichever_way_it_lands()
    {
        await ChannelAsync(Channel);
        var direct = await SentAsync("chat-1", "wamid.D", 20_000, 30_000);
        var late = await EnqueueAsync("chat-3", 20_000);
        var pending = Stores.Outbox.PendingCount;
        Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> raise = (target, _) => new ReceiptDecision(true, [EventFor(target.Chat)]);

        Assert.Equal(new ReceiptResult(2, 1, 0), await Receipts.ApplyAsync(
            [Receipt("wamid.D", "delivered", 40_000), Receipt("wamid.D", "read", 41_000), Receipt("wamid.L", "delivered", 25_000)], raise, Ct));
        Assert.Equal(pending + 2, Stores.Outbox.PendingCount);
        await Stores.Outbox.MarkSentAsync(late, "wamid.L", 30_000, [], [], Ct);
        pending = Stores.Outbox.PendingCount;

        Assert.Equal(new ReceiptResult(1, 0, 0), await Receipts.ReconcileEarlyAsync(raise, 0, Ct));

        Assert.Equal(pending + 1, Stores.Outbox.PendingCount);
        Assert.Equal(3, (await Stores.Outbox.ReadLaneAsync(new Lane(Channel, "chat-2"), 10, Ct)).Count);
        Assert.Equal("read", (await GetAsync(direct)).Message.Status);
        Assert.Equal("delivered", (await GetAsync(late)).Message.Status);
    }

    [Fact]
    public async Task An_early_receipt_the_platform_delivered_again_after_the_send_is_recorded_once()
    {
        await ChannelAsync(Channel);
        var id = await EnqueueAsync("chat-1", 20_000);
        Assert.Equal(new ReceiptResult(0, 1, 0), await Receipts.ApplyAsync([Receipt("wamid.E", "delivered", 25_000)], Forward, Ct));
        await Stores.Outbox.MarkSentAsync(id, "wamid.E", 30_000, [], [], Ct);
        Assert.Equal(new ReceiptResult(1, 0, 0), await Receipts.ApplyAsync([Receipt("wamid.E", "delivered", 25_000)], Forward, Ct));

        Assert.Equal(new ReceiptResult(0, 0, 1), await Receipts.ApplyEarlyAsync(Channel, "wamid.E", Forward, Ct));

        Assert.Equal(0, Receipts.EarlyCount);
        Assert.Equal(["queued", "sent", "delivered"], (await GetAsync(id)).History.Select(h => h.Status));
    }

    [Fact]
    public async Task A_batch_whose_decision_throws_records_nothing()
    {
        await ChannelAsync(Channel);
        var id = await SentAsync("chat-1", "wamid.X", 20_000, 30_000);
        var pending = Stores.Outbox.PendingCount;

        // The decision fails the same way every time it is asked (SQLite's writer runs a failed request once more, alone).
        await Assert.ThrowsAsync<InvalidOperationException>(() => Receipts.ApplyAsync(
            [Receipt("wamid.X", "delivered", 40_000), Receipt("wamid.X", "read", 41_000), Receipt("wamid.N", "read", 41_000)], (_, receipt) =>
                receipt.Status == "read" ? throw new InvalidOperationException("boom") : new ReceiptDecision(true, [EventFor("chat-1")]), Ct));

        var (message, history) = await GetAsync(id);
        Assert.Equal("sent", message.Status);
        Assert.Equal(["queued", "sent"], history.Select(h => h.Status));
        Assert.Equal(pending, Stores.Outbox.PendingCount);
        Assert.Empty(await Stores.Outbox.ReadLaneAsync(new Lane(Channel, "chat-2"), 10, Ct));
        Assert.Equal(0, Receipts.EarlyCount);

        // The store still works afterwards.
        Assert.Equal(new ReceiptResult(1, 0, 0), await Receipts.ApplyAsync([Receipt("wamid.X", "delivered", 40_000)], Forward, Ct));
    }

    // --- helpers ---------------------------------------------------------------------------------------------------

    /// <summary>Every receipt becomes the status, no events.</summary>
    private static readonly Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> Forward = (_, _) => new ReceiptDecision(true, []);

    private static DeliveryReceipt Receipt(string platformId, string status, long atMs, string? detail = null) => new(Channel, platformId, status, atMs, detail);

    /// <summary>A delivery a decision raises (any new pending row will do), in lane (acme-out, chat-2).</summary>
    private static NewDelivery EventFor(string chat) =>
        new(null, null, Channel, "chat-2", $"{{\"chat\":\"chat-2\",\"text\":\"about {chat}\"}}", 45_000, TenantId: Acme);

    private async Task ChannelAsync(string id)
    {
        await Stores.Tenants.AddTenantAsync(new Tenant(Acme, null, DateTimeOffset.UnixEpoch), Ct);
        Assert.True(await Stores.Catalog.AddChannelAsync(new ChannelDefinition(id, ChannelTypes.Webhook, null, new Uri("http://127.0.0.1:9/" + id), null, Acme), Ct));
        Assert.Equal(1, await Stores.ExecuteSqlAsync($"UPDATE channels SET created_at = 0 WHERE id = '{id}'", Ct));
    }

    private async Task<long> EnqueueAsync(string chat, long createdAtMs)
    {
        var result = await Stores.Outbox.EnqueueAsync(new NewDelivery(null, null, Channel, chat, $"{{\"chat\":\"{chat}\",\"text\":\"x\"}}", createdAtMs, TenantId: Acme), Ct);
        Assert.False(result.Existing);
        return result.Id;
    }

    private async Task<long> SentAsync(string chat, string platformId, long createdAtMs, long sentAtMs)
    {
        var id = await EnqueueAsync(chat, createdAtMs);
        await Stores.Outbox.MarkSentAsync(id, platformId, sentAtMs, [], [], Ct);
        return id;
    }

    private async Task<(MessageView Message, IReadOnlyList<MessageStatusChange> History)> GetAsync(long id) =>
        await Stores.Messages.GetAsync(Acme, TenantEvents.OutboundId(id), Ct) ?? throw new Xunit.Sdk.XunitException($"{id} not found");

    private static DateTimeOffset At(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
