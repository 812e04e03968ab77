using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Tests.Doubles;

namespace Tern.Core.Tests;

public sealed class DeliveryEngineTests
{
    private static readonly Lane Lane1 = new("out", "chat-1");

    private static Func<SendCall, Task<SendResult>> AlwaysOk => call => Task.FromResult(SendResult.Ok("p-" + call.Delivery.Id));

    [Fact]
    public async Task Sends_a_lane_in_order_records_platform_ids_and_drops_the_empty_lane()
    {
        var sender = new ScriptedSender(ChannelTypes.Webhook, AlwaysOk);
        await using var h = new EngineHarness(EngineHarness.DefaultOptions(), sender, EngineHarness.Hook("out"));
        var ids = h.Outbox.Add(Lane1, 5, h.NowMs);

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 5 && h.Outbox.Lanes.Count == 0, "5 sent and the lane dropped");
        await h.StopAsync();

        Assert.Equal(ids, h.Outbox.Sent);
        Assert.Equal(ids, sender.Calls.Select(c => c.Delivery.Id));
        Assert.All(ids, id => Assert.Equal("p-" + id, h.Outbox.Get(id).PlatformMessageId));
        Assert.All(sender.Calls, c => Assert.Equal("out", c.Channel.Id));
        Assert.Equal(5, h.Counters.Delivered);
        Assert.Equal(5, h.Latency.Count);
    }

    [Fact]
    public async Task A_retry_holds_the_lane_so_order_is_kept()
    {
        long? failOnce = null;
        var sender = new ScriptedSender(ChannelTypes.Webhook, call =>
            Task.FromResult(call.Delivery.Id == failOnce && call.PreviousCalls == 0
                ? SendResult.Transient("HTTP 503 Service Unavailable")
                : SendResult.Ok(null)));
        var options = EngineHarness.DefaultOptions();
        options.BackoffMax = TimeSpan.FromMinutes(1);
        await using var h = new EngineHarness(options, sender, EngineHarness.Hook("out"));
        var ids = h.Outbox.Add(Lane1, 3, h.NowMs);
        failOnce = ids[1];

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Retries.Count == 1, "the retry of the second delivery");

        var retry = h.Outbox.Retries[0];
        Assert.Equal((ids[1], Lane1), (retry.DeliveryId, retry.Lane));
        Assert.Contains("503", retry.Error, StringComparison.Ordinal);
        // First retry: base 1 s with equal jitter, so between 0.5 s and 1 s from now.
        Assert.InRange(retry.DueAtMs - h.NowMs, 500, 1_000);
        Assert.Equal([ids[0]], h.Outbox.Sent);
        Assert.DoesNotContain(sender.Calls, c => c.Delivery.Id == ids[2]);

        h.Time.Advance(TimeSpan.FromSeconds(1));
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 3, "all three sent");
        await h.StopAsync();

        Assert.Equal(ids, h.Outbox.Sent);
        Assert.Equal([ids[0], ids[1], ids[1], ids[2]], sender.Calls.Select(c => c.Delivery.Id));
        // The retry carries the attempt count, so a channel can tell a receiver which try this is.
        Assert.Equal([0, 1], sender.Calls.Where(c => c.Delivery.Id == ids[1]).Select(c => c.Delivery.Attempts));
        Assert.Equal(2, h.Outbox.Get(ids[1]).Attempts);
        Assert.Equal(1, h.Counters.Retried);
    }

    [Fact]
    public async Task The_backoff_grows_with_each_failed_attempt()
    {
        var sender = new ScriptedSender(ChannelTypes.Webhook, _ => Task.FromResult(SendResult.Transient("network: ConnectionError")));
        var options = EngineHarness.DefaultOptions();
        options.BackoffMax = TimeSpan.FromMinutes(1);
        options.ParkAfterFailures = 100;
        await using var h = new EngineHarness(options, sender, EngineHarness.Hook("out"));
        h.Outbox.Add(Lane1, 1, h.NowMs);

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Retries.Count == 1, "the first retry");
        h.Time.Advance(TimeSpan.FromSeconds(1));
        await Wait.UntilAsync(() => h.Outbox.Retries.Count == 2, "the second retry");
        await h.StopAsync();

        var second = h.Outbox.Retries[1];
        // Second retry: ceiling 2 s, equal jitter: 1 s to 2 s.
        Assert.InRange(second.DueAtMs - second.NowMs, 1_000, 2_000);
        Assert.Equal(2, h.Outbox.Get(second.DeliveryId).Attempts);
    }

    [Fact]
    public async Task A_permanent_failure_is_recorded_with_its_reason_and_the_lane_moves_on()
    {
        long? reject = null;
        var sender = new ScriptedSender(ChannelTypes.Webhook, call =>
            Task.FromResult(call.Delivery.Id == reject ? SendResult.Rejected("HTTP 400 Bad Request: missing field") : SendResult.Ok(null)));
        await using var h = new EngineHarness(EngineHarness.DefaultOptions(), sender, EngineHarness.Hook("out"));
        var ids = h.Outbox.Add(Lane1, 3, h.NowMs);
        reject = ids[0];

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 2 && h.Outbox.Lanes.Count == 0, "the rest of the lane sent");
        await h.StopAsync();

        Assert.Equal("HTTP 400 Bad Request: missing field", h.Outbox.Failed[ids[0]]);
        Assert.Equal(ids.Skip(1), h.Outbox.Sent);
        Assert.Empty(h.Outbox.Retries);
        Assert.Equal(1, sender.Calls.Count(c => c.Delivery.Id == ids[0]));
        Assert.Equal((1L, 2L), (h.Counters.Failed, h.Counters.Delivered));
    }

    [Fact]
    public async Task Retry_After_overrides_the_backoff_and_a_429_is_not_a_destination_fault()
    {
        var sender = new ScriptedSender(ChannelTypes.Webhook, call => Task.FromResult(call.PreviousCalls == 0
            ? SendResult.Transient("HTTP 429 Too Many Requests", TimeSpan.FromSeconds(30), destinationFault: false)
            : SendResult.Ok(null)));
        var options = EngineHarness.DefaultOptions();
        options.ParkAfterFailures = 1;
        await using var h = new EngineHarness(options, sender, EngineHarness.Hook("out"));
        var ids = h.Outbox.Add(Lane1, 1, h.NowMs);

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Retries.Count == 1, "the retry");

        Assert.Equal(EngineHarness.Start.ToUnixTimeMilliseconds() + 30_000, h.Outbox.Retries[0].DueAtMs);
        Assert.Equal(EngineHarness.Start.ToUnixTimeMilliseconds() + 30_000, h.Outbox.Lanes[Lane1]);
        Assert.Empty(h.Outbox.Defers);
        Assert.Empty(h.Engine.ParkedChannels);

        h.Time.Advance(TimeSpan.FromSeconds(30));
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 1, "the delivery sent after the wait");
        await h.StopAsync();
        Assert.Equal(ids, h.Outbox.Sent);
    }

    [Fact]
    public async Task Retry_After_on_a_server_error_is_honoured_too()
    {
        var sender = new ScriptedSender(ChannelTypes.Webhook, _ => Task.FromResult(SendResult.Transient("HTTP 503", TimeSpan.FromMinutes(2))));
        await using var h = new EngineHarness(EngineHarness.DefaultOptions(), sender, EngineHarness.Hook("out"));
        h.Outbox.Add(Lane1, 1, h.NowMs);

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Retries.Count == 1, "the retry");
        await h.StopAsync();

        Assert.Equal(h.NowMs + 120_000, h.Outbox.Retries[0].DueAtMs);
    }

    [Theory]
    [InlineData(2, null, 2)]
    [InlineData(null, 3, 3)]
    public async Task Per_channel_concurrency_is_never_exceeded(int? channelLimit, int? defaultLimit, int expectedMax)
    {
        var options = EngineHarness.DefaultOptions();
        if (defaultLimit is { } d) options.PerChannelConcurrency = d;
        var lanes = Enumerable.Range(0, 8).Select(i => new Lane("limited", $"chat-{i}")).ToList();

        var (sender, h, ids) = await RunUntilAllSentAsync(options, [EngineHarness.Hook("limited", channelLimit)], lanes, expectedMax, s => s.InFlightFor("limited"));
        await using (h)
        {
            Assert.Equal(expectedMax, sender.MaxInFlightFor("limited"));
            AssertLaneOrder(h, ids);
        }
    }

    [Fact]
    public async Task Overall_concurrency_is_never_exceeded()
    {
        var options = EngineHarness.DefaultOptions();
        options.Concurrency = 3;
        var lanes = Enumerable.Range(0, 10).Select(i => new Lane(i % 2 == 0 ? "a" : "b", $"chat-{i}")).ToList();

        var (sender, h, ids) = await RunUntilAllSentAsync(options, [EngineHarness.Hook("a"), EngineHarness.Hook("b")], lanes, 3, s => s.InFlight);
        await using (h)
        {
            Assert.Equal(3, sender.MaxInFlight);
            AssertLaneOrder(h, ids);
        }
    }

    /// <summary>
    /// Sends 3 deliveries in each lane. The first sends wait (up to a hang guard) until <paramref name="target"/>
    /// are in flight together, so the limit is actually reached; every send then yields a little so sends overlap.
    /// </summary>
    private static async Task<(ScriptedSender, EngineHarness, Dictionary<Lane, IReadOnlyList<long>>)> RunUntilAllSentAsync(
        DeliveryOptions options, ChannelDefinition[] channels, List<Lane> lanes, int target, Func<ScriptedSender, int> measure)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ScriptedSender sender = null!;
        sender = new ScriptedSender(ChannelTypes.Webhook, async call =>
        {
            if (measure(sender) >= target) reached.TrySetResult();
            await Task.WhenAny(reached.Task, Task.Delay(TimeSpan.FromSeconds(10)));
            await Task.Delay(1);
            return SendResult.Ok(null);
        });
        var h = new EngineHarness(options, sender, channels);
        var ids = lanes.ToDictionary(l => l, l => h.Outbox.Add(l, 3, h.NowMs));

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == lanes.Count * 3, "every delivery sent");
        await h.StopAsync();
        return (sender, h, ids);
    }

    private static void AssertLaneOrder(EngineHarness h, Dictionary<Lane, IReadOnlyList<long>> ids)
    {
        var sent = h.Outbox.Sent;
        foreach (var (lane, laneIds) in ids) Assert.Equal(laneIds, sent.Where(laneIds.Contains));
    }

    [Fact]
    public async Task A_channel_failing_repeatedly_is_parked_while_another_keeps_flowing()
    {
        var sender = new ScriptedSender(ChannelTypes.Webhook, call => Task.FromResult(call.Channel.Id == "down"
            ? SendResult.Transient("HTTP 500 Internal Server Error")
            : SendResult.Ok(null)));
        var options = EngineHarness.DefaultOptions();
        options.ParkAfterFailures = 3;
        options.Cooldown = TimeSpan.FromMinutes(10);
        await using var h = new EngineHarness(options, sender, EngineHarness.Hook("down"), EngineHarness.Hook("up"));
        for (var i = 0; i < 3; i++) h.Outbox.Add(new Lane("down", $"chat-{i}"), 1, h.NowMs);
        var up = new Lane("up", "chat-up");
        h.Outbox.Add(up, 2, h.NowMs);
        var parkedUntil = h.NowMs + (long)options.Cooldown.TotalMilliseconds;

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Defers.Count > 0, "the failing channel parked");
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 2, "the healthy channel's deliveries sent");

        Assert.Equal([("down", parkedUntil)], h.Outbox.Defers);
        Assert.Equal(3, sender.CallsTo("down"));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(parkedUntil), h.Engine.ParkedChannels["down"]);
        Assert.All(h.Outbox.Lanes.Where(l => l.Key.ChannelId == "down"), l => Assert.True(l.Value >= parkedUntil));

        // Past every backoff, inside the cooldown: the healthy channel gets new work and sends it; the parked one is left alone.
        h.Time.Advance(TimeSpan.FromSeconds(5));
        var more = h.Outbox.Add(new Lane("up", "chat-up-2"), 3, h.NowMs);
        await Wait.UntilAsync(() => more.All(h.Outbox.Sent.Contains), "new deliveries of the healthy channel sent");
        Assert.Equal(3, sender.CallsTo("down"));
        Assert.True(h.Engine.ParkedChannels.ContainsKey("down"));

        // After the cooldown the channel is tried again.
        h.Time.Advance(options.Cooldown);
        await Wait.UntilAsync(() => sender.CallsTo("down") > 3, "the parked channel tried again after its cooldown");
        await h.StopAsync();
    }

    [Fact]
    public async Task A_success_resets_the_run_of_faults_so_the_channel_is_not_parked()
    {
        var sender = new ScriptedSender(ChannelTypes.Webhook, call => Task.FromResult(call.PreviousCalls == 0
            ? SendResult.Transient("HTTP 502 Bad Gateway")
            : SendResult.Ok(null)));
        var options = EngineHarness.DefaultOptions();
        options.ParkAfterFailures = 2;
        await using var h = new EngineHarness(options, sender, EngineHarness.Hook("out"));
        var ids = h.Outbox.Add(Lane1, 3, h.NowMs);

        h.Begin();
        // Every delivery fails once, then succeeds: fault, success, fault, success, … never two faults in a row.
        for (var i = 0; i < 3; i++)
        {
            var n = i + 1;
            await Wait.UntilAsync(() => h.Outbox.Retries.Count == n, $"retry {n}");
            h.Time.Advance(TimeSpan.FromSeconds(1));
        }
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 3, "all sent");
        await h.StopAsync();

        Assert.Empty(h.Outbox.Defers);
        Assert.Equal(ids, h.Outbox.Sent);
    }

    [Fact]
    public async Task Deliveries_to_an_unknown_channel_or_one_without_a_sender_are_failed_with_a_reason()
    {
        var sender = new ScriptedSender(ChannelTypes.Webhook, AlwaysOk);
        await using var h = new EngineHarness(EngineHarness.DefaultOptions(), sender, EngineHarness.Hook("out"), EngineHarness.Hook("tg", type: "telegram"));
        var ghost = h.Outbox.Add(new Lane("ghost", "c"), 2, h.NowMs);
        var noSender = h.Outbox.Add(new Lane("tg", "c"), 1, h.NowMs);
        var fine = h.Outbox.Add(Lane1, 1, h.NowMs);

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Failed.Count == 3 && h.Outbox.Sent.Count == 1 && h.Outbox.Lanes.Count == 0, "everything settled");
        await h.StopAsync();

        Assert.All(ghost, id => Assert.Equal("channel 'ghost' does not exist", h.Outbox.Failed[id]));
        Assert.Equal("no sender for channel type 'telegram'", h.Outbox.Failed[noSender[0]]);
        Assert.Equal(fine, h.Outbox.Sent);
        Assert.Equal(fine, sender.Calls.Select(c => c.Delivery.Id));
        Assert.Equal(3, h.Counters.Failed);
    }

    [Fact]
    public async Task A_delivery_still_failing_after_the_give_up_time_is_recorded_as_failed()
    {
        var sender = new ScriptedSender(ChannelTypes.Webhook, _ => Task.FromResult(SendResult.Transient("HTTP 503 Service Unavailable")));
        var options = EngineHarness.DefaultOptions();
        options.GiveUpAfter = TimeSpan.FromHours(24);
        await using var h = new EngineHarness(options, sender, EngineHarness.Hook("out"));
        var old = h.Outbox.Add(Lane1, 1, h.NowMs - (long)TimeSpan.FromHours(25).TotalMilliseconds);

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Failed.Count == 1, "the old delivery given up");
        await h.StopAsync();

        Assert.StartsWith("gave up after 1 attempts", h.Outbox.Failed[old[0]], StringComparison.Ordinal);
        Assert.Contains("HTTP 503", h.Outbox.Failed[old[0]], StringComparison.Ordinal);
        Assert.Empty(h.Outbox.Retries);
    }

    [Fact]
    public async Task A_sender_that_throws_is_treated_as_a_transient_failure()
    {
        var sender = new ScriptedSender(ChannelTypes.Webhook, call => call.PreviousCalls == 0
            ? throw new InvalidOperationException("kaput")
            : Task.FromResult(SendResult.Ok(null)));
        await using var h = new EngineHarness(EngineHarness.DefaultOptions(), sender, EngineHarness.Hook("out"));
        var ids = h.Outbox.Add(Lane1, 1, h.NowMs);

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Retries.Count == 1, "the retry");
        Assert.Equal("InvalidOperationException: kaput", h.Outbox.Retries[0].Error);
        h.Time.Advance(TimeSpan.FromSeconds(1));
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 1, "sent on the retry");
        await h.StopAsync();

        Assert.Equal(ids, h.Outbox.Sent);
    }

    [Fact]
    public async Task A_lane_longer_than_one_batch_is_sent_completely_in_order()
    {
        var sender = new ScriptedSender(ChannelTypes.Webhook, AlwaysOk);
        var options = EngineHarness.DefaultOptions();
        options.LaneBatch = 3;
        await using var h = new EngineHarness(options, sender, EngineHarness.Hook("out"));
        var ids = h.Outbox.Add(Lane1, 10, h.NowMs);
        var other = h.Outbox.Add(new Lane("out", "chat-2"), 10, h.NowMs);

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 20, "both lanes sent");
        await h.StopAsync();

        Assert.Equal(ids, h.Outbox.Sent.Where(ids.Contains));
        Assert.Equal(other, h.Outbox.Sent.Where(other.Contains));
    }

    [Fact]
    public async Task On_shutdown_an_in_flight_send_may_finish_within_the_grace()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<SendResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sender = new ScriptedSender(ChannelTypes.Webhook, async call =>
        {
            entered.TrySetResult();
            return await release.Task.WaitAsync(call.Token);
        });
        await using var h = new EngineHarness(EngineHarness.DefaultOptions(), sender, EngineHarness.Hook("out"));
        var ids = h.Outbox.Add(Lane1, 2, h.NowMs);

        h.Begin();
        await entered.Task.GuardAsync();
        h.RequestStop();
        await Wait.UntilAsync(() => !h.Engine.Running, "the engine in its shutdown grace");
        Assert.False(h.Run.IsCompleted);

        release.SetResult(SendResult.Ok("late-but-fine"));
        await h.Run.GuardAsync();

        Assert.Equal([ids[0]], h.Outbox.Sent);
        Assert.Equal("late-but-fine", h.Outbox.Get(ids[0]).PlatformMessageId);
        Assert.False(sender.Calls[0].Token.IsCancellationRequested);
        // Nothing new starts after the stop: the second delivery stays pending for the next start.
        Assert.Single(sender.Calls);
        Assert.Equal(InMemoryOutboxStore.DeliveryState.Pending, h.Outbox.Get(ids[1]).State);
    }

    [Fact]
    public async Task A_send_still_running_when_the_grace_ends_is_abandoned_and_stays_pending()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sender = new ScriptedSender(ChannelTypes.Webhook, async call =>
        {
            entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, call.Token);
            return SendResult.Ok(null);
        });
        await using var h = new EngineHarness(EngineHarness.DefaultOptions(), sender, EngineHarness.Hook("out"));
        var ids = h.Outbox.Add(Lane1, 1, h.NowMs);

        h.Begin();
        await entered.Task.GuardAsync();
        h.RequestStop();
        await Wait.UntilAsync(() => !h.Engine.Running, "the engine in its shutdown grace");
        for (var i = 0; i < 600 && !h.Run.IsCompleted; i++)
        {
            h.Time.Advance(h.Options.ShutdownGrace);
            await Task.WhenAny(h.Run, Task.Delay(50));
        }
        await h.Run.GuardAsync();

        Assert.True(sender.Calls[0].Token.IsCancellationRequested);
        var row = h.Outbox.Get(ids[0]);
        Assert.Equal((InMemoryOutboxStore.DeliveryState.Pending, 0), (row.State, row.Attempts));
        Assert.Empty(h.Outbox.Sent);
        Assert.Empty(h.Outbox.Failed);
        Assert.Empty(h.Outbox.Retries);
    }

    [Fact]
    public void Concurrency_below_one_is_refused()
    {
        var options = EngineHarness.DefaultOptions();
        options.Concurrency = 0;
        Assert.Throws<ArgumentOutOfRangeException>(() => new EngineHarness(options, new ScriptedSender(ChannelTypes.Webhook, AlwaysOk)));
    }
}
