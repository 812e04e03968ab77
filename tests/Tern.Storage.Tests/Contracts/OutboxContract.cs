using Tern.Core.Delivery;

namespace Tern.Storage.Tests.Contracts;

/// <summary>What every <see cref="Tern.Core.Pipeline.IOutboxStore"/> must do: routing commits, lanes, outcomes, gauges.</summary>
public abstract class OutboxContract<TFactory> : StoreContract<TFactory>
    where TFactory : StoreFactory, new()
{
    private static readonly Lane LaneA = new("out-a", "chat-1");
    private static readonly Lane LaneB = new("out-b", "chat-2");
    private static readonly Lane LaneC = new("out-c", "chat-3");

    [Fact]
    public async Task CommitRouted_marks_inbox_rows_routed_and_inserts_deliveries_and_lanes()
    {
        var first = await AppendAsync();
        var second = await AppendAsync();

        await Stores.Outbox.CommitRoutedAsync(
            [first, second],
            [Delivery(first, LaneA, 1_000, "{\"n\":1}", "route-1"), Delivery(first, LaneB, 1_000, "{\"n\":2}", "route-2"), Delivery(second, LaneA, 1_100, "{\"n\":3}", "route-1")],
            Ct);

        Assert.Empty(await Stores.Inbox.ReadPendingAsync(0, 10, Ct));
        Assert.Equal(0, Stores.Inbox.PendingCount);
        Assert.Equal(3, Stores.Outbox.PendingCount);
        Assert.Equal(3, await Stores.CountDeliveriesAsync(Ct));

        var lanes = await Stores.ReadLanesAsync(Ct);
        Assert.Equal(2, lanes.Count);
        Assert.Contains(new LaneRecord("out-a", "chat-1", 1_000), lanes);
        Assert.Contains(new LaneRecord("out-b", "chat-2", 1_000), lanes);

        var a = await Stores.Outbox.ReadLaneAsync(LaneA, 10, Ct);
        Assert.Equal(2, a.Count);
        Assert.Equal((first, "route-1", "{\"n\":1}", 0, 1_000L, "out-a", "chat-1"), (a[0].InboxSeq!.Value, a[0].RouteId!, a[0].Payload, a[0].Attempts, a[0].CreatedAtMs, a[0].ChannelId, a[0].Chat));
        Assert.Equal((second, "route-1", "{\"n\":3}", 0, 1_100L), (a[1].InboxSeq!.Value, a[1].RouteId!, a[1].Payload, a[1].Attempts, a[1].CreatedAtMs));
        var b = Assert.Single(await Stores.Outbox.ReadLaneAsync(LaneB, 10, Ct));
        Assert.Equal((first, "route-2", "{\"n\":2}"), (b.InboxSeq!.Value, b.RouteId!, b.Payload));
    }

    [Fact]
    public async Task Committing_the_same_inbox_seq_twice_inserts_nothing_the_second_time()
    {
        var seq = await AppendAsync();
        await Stores.Outbox.CommitRoutedAsync([seq], [Delivery(seq, LaneA, 1_000)], Ct);

        await Stores.Outbox.CommitRoutedAsync([seq], [Delivery(seq, LaneA, 2_000), Delivery(seq, LaneB, 2_000)], Ct);

        Assert.Equal(1, Stores.Outbox.PendingCount);
        Assert.Equal(1, await Stores.CountDeliveriesAsync(Ct));
        Assert.Single(await Stores.Outbox.ReadLaneAsync(LaneA, 10, Ct));
        Assert.Empty(await Stores.Outbox.ReadLaneAsync(LaneB, 10, Ct));
        Assert.Equal([new LaneRecord(LaneA.ChannelId, LaneA.Chat, 1_000)], await Stores.ReadLanesAsync(Ct));
        Assert.Equal(0, Stores.Inbox.PendingCount);
    }

    [Fact]
    public async Task A_batch_mixing_fresh_and_already_routed_seqs_inserts_only_the_fresh_deliveries()
    {
        var old = await AppendAsync();
        await Stores.Outbox.CommitRoutedAsync([old], [Delivery(old, LaneA, 1_000)], Ct);
        var fresh = await AppendAsync();

        await Stores.Outbox.CommitRoutedAsync([old, fresh], [Delivery(old, LaneA, 2_000), Delivery(fresh, LaneA, 2_000)], Ct);

        var lane = await Stores.Outbox.ReadLaneAsync(LaneA, 10, Ct);
        Assert.Equal(new long?[] { old, fresh }, lane.Select(d => d.InboxSeq));
        Assert.Equal(2, Stores.Outbox.PendingCount);
        Assert.Equal(0, Stores.Inbox.PendingCount);
    }

    [Fact]
    public async Task A_message_no_route_matched_is_marked_routed_without_deliveries()
    {
        var seq = await AppendAsync();

        await Stores.Outbox.CommitRoutedAsync([seq], [], Ct);

        Assert.Equal(0, Stores.Inbox.PendingCount);
        Assert.Empty(await Stores.Inbox.ReadPendingAsync(0, 10, Ct));
        Assert.Equal(0, Stores.Outbox.PendingCount);
        Assert.Empty(await Stores.ReadLanesAsync(Ct));
    }

    [Fact]
    public async Task CommitRouted_is_one_transaction_a_failing_delivery_leaves_the_message_pending()
    {
        var seq = await AppendAsync();
        var good = Delivery(seq, LaneA, 1_000);
        var bad = Delivery(seq, LaneB, 1_000) with { Payload = null! };

        await Assert.ThrowsAnyAsync<Exception>(() => Stores.Outbox.CommitRoutedAsync([seq], [good, bad], Ct));

        Assert.Equal(1, Stores.Inbox.PendingCount);
        Assert.Equal(seq, Assert.Single(await Stores.Inbox.ReadPendingAsync(0, 10, Ct)).Seq);
        Assert.Equal(0, Stores.Outbox.PendingCount);
        Assert.Equal(0, await Stores.CountDeliveriesAsync(Ct));
        Assert.Empty(await Stores.ReadLanesAsync(Ct));

        // And the store still works: the same message can be routed afterwards.
        await Stores.Outbox.CommitRoutedAsync([seq], [good], Ct);
        Assert.Equal(0, Stores.Inbox.PendingCount);
        Assert.Single(await Stores.Outbox.ReadLaneAsync(LaneA, 10, Ct));
    }

    [Fact]
    public async Task ClaimDueLanes_honours_the_due_time()
    {
        await SeedLaneAsync(LaneA, 1, createdAtMs: 5_000);

        Assert.Empty(await ClaimAsync(4_999));
        Assert.Equal([LaneA], await ClaimAsync(5_000));
        Assert.Equal([LaneA], await ClaimAsync(9_000));
    }

    [Fact]
    public async Task ClaimDueLanes_returns_the_earliest_due_first_and_at_most_max()
    {
        await SeedLaneAsync(LaneC, 1, createdAtMs: 3_000);
        await SeedLaneAsync(LaneA, 2, createdAtMs: 1_000);
        await SeedLaneAsync(LaneB, 1, createdAtMs: 2_000);

        Assert.Equal([LaneA, LaneB, LaneC], await ClaimAsync(10_000));
        Assert.Equal([LaneA, LaneB], await ClaimAsync(10_000, max: 2));
        Assert.Equal([LaneA], await ClaimAsync(1_500));
    }

    [Fact]
    public async Task ClaimDueLanes_leaves_out_the_skipped_channels()
    {
        await SeedLaneAsync(LaneA, 1, 1_000);
        await SeedLaneAsync(LaneB, 1, 1_000);
        await SeedLaneAsync(LaneC, 1, 1_000);
        var secondOfB = new Lane(LaneB.ChannelId, "chat-other");
        await SeedLaneAsync(secondOfB, 1, 1_000);

        var claimed = await ClaimAsync(2_000, 100, LaneA.ChannelId, LaneC.ChannelId);
        Assert.Equal(2, claimed.Count);
        Assert.Contains(LaneB, claimed);
        Assert.Contains(secondOfB, claimed);

        Assert.Equal([LaneC], await ClaimAsync(2_000, 100, LaneA.ChannelId, LaneB.ChannelId));
        Assert.Empty(await ClaimAsync(2_000, 100, LaneA.ChannelId, LaneB.ChannelId, LaneC.ChannelId));
        Assert.Equal(4, (await ClaimAsync(2_000, 100, "no-such-channel")).Count);
    }

    [Fact]
    public async Task ReadLane_returns_the_oldest_pending_deliveries_of_that_lane_only()
    {
        var seeded = await SeedLaneAsync(LaneA, 5, 1_000);
        await SeedLaneAsync(new Lane(LaneA.ChannelId, "another-chat"), 2, 1_000);
        await SeedLaneAsync(new Lane("another-channel", LaneA.Chat), 2, 1_000);

        var firstThree = await Stores.Outbox.ReadLaneAsync(LaneA, 3, Ct);
        Assert.Equal(seeded.Take(3).Select(d => d.Id), firstThree.Select(d => d.Id));
        Assert.Equal(firstThree.Select(d => d.Id).Order(), firstThree.Select(d => d.Id));

        await Stores.Outbox.MarkSentAsync(seeded[0].Id, null, 2_000, [], [], Ct);
        await Stores.Outbox.MarkFailedAsync(seeded[1].Id, "nope", 2_000, [], Ct);

        var rest = await Stores.Outbox.ReadLaneAsync(LaneA, 10, Ct);
        Assert.Equal(seeded.Skip(2).Select(d => d.Id), rest.Select(d => d.Id));
        Assert.All(rest, d => Assert.Equal(LaneA, new Lane(d.ChannelId, d.Chat)));
    }

    [Fact]
    public async Task MarkSent_records_the_platform_id_and_takes_the_delivery_out_of_its_lane()
    {
        var seeded = await SeedLaneAsync(LaneA, 2, 1_000);
        Assert.Equal(2, Stores.Outbox.PendingCount);

        await Stores.Outbox.MarkSentAsync(seeded[0].Id, "platform-77", 2_000, [], [], Ct);

        var record = await DeliveryAsync(seeded[0].Id);
        Assert.Equal(DeliveryState.Sent, record.State);
        Assert.Equal("platform-77", record.PlatformMessageId);
        Assert.Equal(1, record.Attempts);
        Assert.Null(record.LastError);
        Assert.Equal(1, Stores.Outbox.PendingCount);
        Assert.Equal([seeded[1].Id], (await Stores.Outbox.ReadLaneAsync(LaneA, 10, Ct)).Select(d => d.Id));
    }

    [Fact]
    public async Task MarkSent_after_a_retry_clears_the_error_and_counts_every_attempt()
    {
        var seeded = await SeedLaneAsync(LaneA, 1, 1_000);
        await Stores.Outbox.ScheduleRetryAsync(seeded[0].Id, LaneA, 3_000, "HTTP 503", 2_000, Ct);

        await Stores.Outbox.MarkSentAsync(seeded[0].Id, null, 4_000, [], [], Ct);

        var record = await DeliveryAsync(seeded[0].Id);
        Assert.Equal(DeliveryState.Sent, record.State);
        Assert.Equal(2, record.Attempts);
        Assert.Null(record.LastError);
        Assert.Null(record.PlatformMessageId);
    }

    [Fact]
    public async Task Marking_a_delivery_twice_changes_nothing_the_second_time()
    {
        var seeded = await SeedLaneAsync(LaneA, 2, 1_000);
        await Stores.Outbox.MarkSentAsync(seeded[0].Id, "first", 2_000, [], [], Ct);
        await Stores.Outbox.MarkFailedAsync(seeded[1].Id, "first reason", 2_000, [], Ct);
        Assert.Equal(0, Stores.Outbox.PendingCount);

        await Stores.Outbox.MarkSentAsync(seeded[0].Id, "second", 3_000, [], [], Ct);
        await Stores.Outbox.MarkFailedAsync(seeded[0].Id, "late failure", 3_000, [], Ct);
        await Stores.Outbox.MarkSentAsync(seeded[1].Id, "late success", 3_000, [], [], Ct);

        Assert.Equal(0, Stores.Outbox.PendingCount);
        var sent = await DeliveryAsync(seeded[0].Id);
        Assert.Equal((DeliveryState.Sent, "first", 1), (sent.State, sent.PlatformMessageId, sent.Attempts));
        var failed = await DeliveryAsync(seeded[1].Id);
        Assert.Equal((DeliveryState.Failed, "first reason", 1), (failed.State, failed.LastError, failed.Attempts));
    }

    [Fact]
    public async Task MarkFailed_records_the_reason()
    {
        var seeded = await SeedLaneAsync(LaneA, 2, 1_000);

        await Stores.Outbox.MarkFailedAsync(seeded[0].Id, "HTTP 404 Not Found: no such hook", 2_000, [], Ct);

        var record = await DeliveryAsync(seeded[0].Id);
        Assert.Equal(DeliveryState.Failed, record.State);
        Assert.Equal("HTTP 404 Not Found: no such hook", record.LastError);
        Assert.Equal(1, record.Attempts);
        Assert.Equal(1, Stores.Outbox.PendingCount);
        Assert.Equal([seeded[1].Id], (await Stores.Outbox.ReadLaneAsync(LaneA, 10, Ct)).Select(d => d.Id));
    }

    [Fact]
    public async Task A_very_long_failure_reason_is_stored_cut_short_not_refused()
    {
        var seeded = await SeedLaneAsync(LaneA, 1, 1_000);
        var reason = "E" + new string('x', 20_000);

        await Stores.Outbox.MarkFailedAsync(seeded[0].Id, reason, 2_000, [], Ct);

        var record = await DeliveryAsync(seeded[0].Id);
        Assert.Equal(DeliveryState.Failed, record.State);
        Assert.NotNull(record.LastError);
        Assert.StartsWith("Exxx", record.LastError, StringComparison.Ordinal);
        Assert.InRange(record.LastError.Length, 1, 4_000);
    }

    [Fact]
    public async Task ScheduleRetry_counts_the_attempt_and_holds_the_lane_until_due()
    {
        var seeded = await SeedLaneAsync(LaneA, 2, 1_000);

        await Stores.Outbox.ScheduleRetryAsync(seeded[0].Id, LaneA, 10_000, "HTTP 500", 2_000, Ct);

        Assert.Empty(await ClaimAsync(9_999));
        Assert.Equal([LaneA], await ClaimAsync(10_000));
        var lane = await Stores.Outbox.ReadLaneAsync(LaneA, 10, Ct);
        Assert.Equal(seeded.Select(d => d.Id), lane.Select(d => d.Id));
        Assert.Equal(1, lane[0].Attempts);
        Assert.Equal(0, lane[1].Attempts);
        var record = await DeliveryAsync(seeded[0].Id);
        Assert.Equal((DeliveryState.Pending, 1, "HTTP 500"), (record.State, record.Attempts, record.LastError));
        Assert.Equal(2, Stores.Outbox.PendingCount);

        await Stores.Outbox.ScheduleRetryAsync(seeded[0].Id, LaneA, 20_000, "HTTP 502", 10_000, Ct);

        Assert.Empty(await ClaimAsync(19_999));
        var again = await DeliveryAsync(seeded[0].Id);
        Assert.Equal((2, "HTTP 502"), (again.Attempts, again.LastError));
    }

    [Fact]
    public async Task ScheduleRetry_holds_only_its_own_lane()
    {
        var a = await SeedLaneAsync(LaneA, 1, 1_000);
        await SeedLaneAsync(LaneB, 1, 1_000);

        await Stores.Outbox.ScheduleRetryAsync(a[0].Id, LaneA, 50_000, "HTTP 500", 2_000, Ct);

        Assert.Equal([LaneB], await ClaimAsync(2_000));
    }

    [Fact]
    public async Task New_deliveries_do_not_make_a_held_lane_due_earlier()
    {
        var seeded = await SeedLaneAsync(LaneA, 1, 1_000);
        await Stores.Outbox.ScheduleRetryAsync(seeded[0].Id, LaneA, 50_000, "HTTP 500", 2_000, Ct);

        await SeedLaneAsync(LaneA, 1, createdAtMs: 3_000);

        Assert.Empty(await ClaimAsync(3_000));
        Assert.Equal([new LaneRecord(LaneA.ChannelId, LaneA.Chat, 50_000)], await Stores.ReadLanesAsync(Ct));
    }

    [Fact]
    public async Task ReleaseLane_drops_a_lane_with_nothing_pending()
    {
        var seeded = await SeedLaneAsync(LaneA, 2, 1_000);
        await Stores.Outbox.MarkSentAsync(seeded[0].Id, null, 2_000, [], [], Ct);
        await Stores.Outbox.MarkFailedAsync(seeded[1].Id, "bad", 2_000, [], Ct);

        await Stores.Outbox.ReleaseLaneAsync(LaneA, 2_000, Ct);

        Assert.Empty(await Stores.ReadLanesAsync(Ct));
        Assert.Empty(await ClaimAsync(long.MaxValue));
    }

    [Fact]
    public async Task ReleaseLane_keeps_a_lane_with_pending_deliveries_and_makes_it_due_now()
    {
        var seeded = await SeedLaneAsync(LaneA, 2, 1_000);
        await Stores.Outbox.ScheduleRetryAsync(seeded[0].Id, LaneA, 99_000, "HTTP 500", 2_000, Ct);
        await Stores.Outbox.MarkSentAsync(seeded[0].Id, null, 3_000, [], [], Ct);

        await Stores.Outbox.ReleaseLaneAsync(LaneA, 5_000, Ct);

        Assert.Empty(await ClaimAsync(4_999));
        Assert.Equal([LaneA], await ClaimAsync(5_000));
        Assert.Equal([seeded[1].Id], (await Stores.Outbox.ReadLaneAsync(LaneA, 10, Ct)).Select(d => d.Id));
    }

    [Fact]
    public async Task A_dropped_lane_comes_back_when_new_deliveries_arrive()
    {
        var seeded = await SeedLaneAsync(LaneA, 1, 1_000);
        await Stores.Outbox.MarkSentAsync(seeded[0].Id, null, 2_000, [], [], Ct);
        await Stores.Outbox.ReleaseLaneAsync(LaneA, 2_000, Ct);
        Assert.Empty(await Stores.ReadLanesAsync(Ct));

        var more = await SeedLaneAsync(LaneA, 1, createdAtMs: 7_000);

        Assert.Empty(await ClaimAsync(6_999));
        Assert.Equal([LaneA], await ClaimAsync(7_000));
        Assert.Equal([more[0].Id], (await Stores.Outbox.ReadLaneAsync(LaneA, 10, Ct)).Select(d => d.Id));
    }

    [Fact]
    public async Task DeferChannel_holds_every_lane_of_that_channel_and_no_other()
    {
        var a1 = new Lane("parked", "chat-1");
        var a2 = new Lane("parked", "chat-2");
        await SeedLaneAsync(a1, 1, 1_000);
        await SeedLaneAsync(a2, 1, 1_000);
        await SeedLaneAsync(LaneB, 1, 1_000);

        await Stores.Outbox.DeferChannelAsync("parked", 60_000, Ct);

        Assert.Equal([LaneB], await ClaimAsync(59_999));
        var due = await ClaimAsync(60_000);
        Assert.Equal(3, due.Count);
        Assert.Contains(a1, due);
        Assert.Contains(a2, due);
    }

    [Fact]
    public async Task DeferChannel_never_makes_a_lane_due_earlier()
    {
        var seeded = await SeedLaneAsync(LaneA, 1, 1_000);
        await Stores.Outbox.ScheduleRetryAsync(seeded[0].Id, LaneA, 90_000, "HTTP 500", 2_000, Ct);

        await Stores.Outbox.DeferChannelAsync(LaneA.ChannelId, 60_000, Ct);

        Assert.Empty(await ClaimAsync(89_999));
        Assert.Equal([LaneA], await ClaimAsync(90_000));
    }

    [Fact]
    public async Task ResumeChannel_makes_the_lanes_a_pause_held_due_now_and_leaves_later_holds_and_other_channels()
    {
        var paused1 = new Lane("paused", "chat-1");
        var paused2 = new Lane("paused", "chat-2");
        var parkedLonger = new Lane("paused", "chat-3");
        await SeedLaneAsync(paused1, 1, 1_000);
        await SeedLaneAsync(paused2, 1, 1_000);
        var longer = await SeedLaneAsync(parkedLonger, 1, 1_000);
        await SeedLaneAsync(LaneB, 1, 1_000);
        await Stores.Outbox.DeferChannelAsync("paused", 60_000, Ct);
        await Stores.Outbox.DeferChannelAsync(LaneB.ChannelId, 60_000, Ct);
        // One chat is held past the pause for its own reason (a retry of its own): a resume must not shorten that.
        await Stores.Outbox.ScheduleRetryAsync(longer[0].Id, parkedLonger, 90_000, "HTTP 500", 2_000, Ct);

        await Stores.Outbox.ResumeChannelAsync("paused", 60_000, 5_000, Ct);

        Assert.Empty(await ClaimAsync(4_999));
        var due = await ClaimAsync(5_000);
        Assert.Equal(2, due.Count);
        Assert.Contains(paused1, due);
        Assert.Contains(paused2, due);
        Assert.DoesNotContain(LaneB, await ClaimAsync(59_999));
        Assert.Contains(LaneB, await ClaimAsync(60_000));
        Assert.DoesNotContain(parkedLonger, await ClaimAsync(89_999));
        Assert.Contains(parkedLonger, await ClaimAsync(90_000));
    }

    [Fact]
    public async Task WaitForDeliveries_completes_when_deliveries_are_committed()
    {
        var seq = await AppendAsync();
        var wait = Stores.Outbox.WaitForDeliveriesAsync(Timeout.InfiniteTimeSpan, Ct);

        await Stores.Outbox.CommitRoutedAsync([seq], [Delivery(seq, LaneA, 1_000)], Ct);

        // Without the wake-up the wait never ends; the guard only stops a hung test.
        await wait.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.True(wait.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Pending_gauges_follow_every_step_and_are_rebuilt_after_reopening()
    {
        var seqs = new List<long>();
        for (var i = 0; i < 4; i++) seqs.Add(await AppendAsync());
        Assert.Equal((4L, 0L), (Stores.Inbox.PendingCount, Stores.Outbox.PendingCount));

        await Stores.Outbox.CommitRoutedAsync(
            [seqs[0], seqs[1]],
            [Delivery(seqs[0], LaneA, 1_000), Delivery(seqs[0], LaneB, 1_000), Delivery(seqs[1], LaneA, 1_000)],
            Ct);
        Assert.Equal((2L, 3L), (Stores.Inbox.PendingCount, Stores.Outbox.PendingCount));

        var a = await Stores.Outbox.ReadLaneAsync(LaneA, 10, Ct);
        await Stores.Outbox.MarkSentAsync(a[0].Id, null, 2_000, [], [], Ct);
        Assert.Equal(2, Stores.Outbox.PendingCount);
        await Stores.Outbox.ScheduleRetryAsync(a[1].Id, LaneA, 5_000, "HTTP 500", 2_000, Ct);
        Assert.Equal(2, Stores.Outbox.PendingCount);
        var b = await Stores.Outbox.ReadLaneAsync(LaneB, 10, Ct);
        await Stores.Outbox.MarkFailedAsync(b[0].Id, "HTTP 400", 2_000, [], Ct);
        Assert.Equal(1, Stores.Outbox.PendingCount);
        await Stores.Outbox.ReleaseLaneAsync(LaneB, 2_000, Ct);
        await Stores.Outbox.DeferChannelAsync(LaneA.ChannelId, 9_000, Ct);
        Assert.Equal((2L, 1L), (Stores.Inbox.PendingCount, Stores.Outbox.PendingCount));

        await ReopenAsync();

        Assert.Equal((2L, 1L), (Stores.Inbox.PendingCount, Stores.Outbox.PendingCount));
        Assert.Equal([new LaneRecord(LaneA.ChannelId, LaneA.Chat, 9_000)], await Stores.ReadLanesAsync(Ct));
        var left = Assert.Single(await Stores.Outbox.ReadLaneAsync(LaneA, 10, Ct));
        Assert.Equal((a[1].Id, 1), (left.Id, left.Attempts));
    }

    [Fact]
    public async Task Concurrent_outcomes_on_many_lanes_keep_the_gauge_exact()
    {
        var lanes = Enumerable.Range(0, 20).Select(i => new Lane("out", $"chat-{i}")).ToList();
        var all = new List<PendingDelivery>();
        foreach (var lane in lanes) all.AddRange(await SeedLaneAsync(lane, 5, 1_000));
        Assert.Equal(100, Stores.Outbox.PendingCount);

        await Task.WhenAll(all.Select((d, i) => Task.Run(() => i % 3 == 0
            ? Stores.Outbox.MarkFailedAsync(d.Id, "no", 2_000, [], Ct)
            : Stores.Outbox.MarkSentAsync(d.Id, null, 2_000, [], [], Ct))));
        await Task.WhenAll(lanes.Select(l => Stores.Outbox.ReleaseLaneAsync(l, 2_000, Ct)));

        Assert.Equal(0, Stores.Outbox.PendingCount);
        Assert.Empty(await Stores.ReadLanesAsync(Ct));
    }
}
