using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Tests.Doubles;

namespace Tern.Core.Tests;

/// <summary>What the engine does with the answers a platform's limits and refusals produce.</summary>
public sealed class DeliveryOutcomeTests
{
    private static readonly Lane Chat1 = new("tg", "-1");
    private static readonly Lane Chat2 = new("tg", "-2");

    [Fact]
    public async Task A_rate_limit_holds_the_lane_without_counting_an_attempt_and_the_send_happens_later()
    {
        var limited = true;
        var sender = new ScriptedSender("telegram", _ => Task.FromResult(limited ? SendResult.Later(TimeSpan.FromSeconds(2)) : SendResult.Ok("m1")));
        await using var h = new EngineHarness(EngineHarness.DefaultOptions(), sender, EngineHarness.Hook("tg", type: "telegram"));
        var id = h.Outbox.Add(Chat1, 1, h.NowMs)[0];

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.LaneDefers.Count == 1, "the lane held by the limit");
        Assert.Equal((Chat1, h.NowMs + 2_000), h.Outbox.LaneDefers[0]);
        Assert.Equal(0, h.Outbox.Get(id).Attempts);
        Assert.Empty(h.Outbox.Retries);
        Assert.Equal(0, h.Counters.Retried);

        limited = false;
        h.Time.Advance(TimeSpan.FromSeconds(2));
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 1, "sent once the limit allows");
        await h.StopAsync();
        Assert.Equal(1, h.Outbox.Get(id).Attempts);
    }

    [Fact]
    public async Task A_bot_wide_limit_holds_every_lane_of_the_channel_and_no_other_channel()
    {
        var botLimited = true;
        var sender = new ScriptedSender("telegram", call =>
            Task.FromResult(call.Channel.Id == "tg" && botLimited ? SendResult.Later(TimeSpan.FromSeconds(30), wholeChannel: true) : SendResult.Ok(null)));
        await using var h = new EngineHarness(EngineHarness.DefaultOptions(), sender,
            EngineHarness.Hook("tg", type: "telegram"), EngineHarness.Hook("other", type: "telegram"));
        h.Outbox.Add(Chat1, 1, h.NowMs);
        h.Outbox.Add(Chat2, 1, h.NowMs);
        h.Outbox.Add(new Lane("other", "-9"), 3, h.NowMs);

        h.Begin();
        // The other channel's sends may finish before the limited send has come back: wait for both, not for one.
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 3, "the other channel's lane");
        await Wait.UntilAsync(() => h.Engine.PausedUntil("tg") is not null, "the bot-wide limit to pause the channel");
        Assert.Null(h.Engine.PausedUntil("other"));
        // Lanes started together may each have met the limit; once paused, the channel is not tried again.
        await Wait.UntilAsync(() => h.Engine.InFlight == 0, "the limited sends returned");
        var callsWhilePaused = sender.CallsTo("tg");
        Assert.InRange(callsWhilePaused, 1, 2);
        await Task.Delay(200);
        Assert.Equal(callsWhilePaused, sender.CallsTo("tg"));

        botLimited = false;
        h.Time.Advance(TimeSpan.FromSeconds(31));
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 5, "both lanes once the pause is over");
        await h.StopAsync();
    }

    [Fact]
    public async Task A_chat_that_refuses_fails_the_delivery_parks_the_chat_and_shows_as_failing_until_it_accepts_again()
    {
        var blocked = true;
        var sender = new ScriptedSender("telegram", call =>
            Task.FromResult(call.Delivery.Chat == "-1" && blocked
                ? SendResult.Rejected("sendMessage: 403 Forbidden: bot was blocked by the user") with { ParkLane = true }
                : SendResult.Ok(null)));
        var options = EngineHarness.DefaultOptions();
        options.Cooldown = TimeSpan.FromSeconds(60);
        await using var h = new EngineHarness(options, sender, EngineHarness.Hook("tg", type: "telegram"));
        var ids = h.Outbox.Add(Chat1, 2, h.NowMs);
        h.Outbox.Add(Chat2, 1, h.NowMs);

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Failed.Count == 1 && h.Outbox.Sent.Count == 1 && h.Outbox.LaneDefers.Count == 1, "chat 1 refused and parked, chat 2 delivered");
        Assert.Contains("403", h.Outbox.Failed[ids[0]], StringComparison.Ordinal);
        Assert.Equal((Chat1, h.NowMs + 60_000), Assert.Single(h.Outbox.LaneDefers));
        var failing = Assert.Single(h.Engine.FailingDestinations("tg"));
        Assert.Equal("-1", failing.Key.Chat);
        Assert.Equal(1, failing.Value.Failures);
        Assert.Equal(h.NowMs + 60_000, failing.Value.ParkedUntilMs);
        Assert.Contains("blocked", failing.Value.LastError, StringComparison.Ordinal);
        // The second delivery to the blocked chat waits out the cooldown; the channel as a whole is not parked.
        Assert.DoesNotContain(sender.Calls, c => c.Delivery.Id == ids[1]);
        Assert.Empty(h.Engine.ParkedChannels);

        blocked = false;
        h.Time.Advance(TimeSpan.FromSeconds(60));
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 2, "the next delivery after the cooldown");
        await h.StopAsync();
        Assert.Empty(h.Engine.FailingDestinations("tg"));
    }

    [Fact]
    public async Task Failing_destination_records_are_forgotten_after_their_memory()
    {
        var sender = new ScriptedSender("telegram", _ => Task.FromResult(SendResult.Transient("502 Bad Gateway")));
        var options = EngineHarness.DefaultOptions();
        options.FailureMemory = TimeSpan.FromHours(24);
        options.ParkAfterFailures = 1000;
        options.GiveUpAfter = TimeSpan.FromSeconds(1);
        await using var h = new EngineHarness(options, sender, EngineHarness.Hook("tg", type: "telegram"));
        h.Outbox.Add(Chat1, 1, h.NowMs);

        h.Begin();
        await Wait.UntilAsync(() => h.Engine.FailingDestinations("tg").Count == 1, "the failure is recorded");
        h.Time.Advance(TimeSpan.FromSeconds(2));
        await Wait.UntilAsync(() => h.Outbox.Failed.Count == 1, "given up");
        await h.StopAsync();

        Assert.Single(h.Engine.FailingDestinations("tg"));
        h.Time.Advance(TimeSpan.FromHours(25));
        h.Engine.ExpireCooldowns();
        Assert.Empty(h.Engine.FailingDestinations("tg"));
        Assert.Equal(0, h.Engine.Failures.Count);
    }

    [Fact]
    public async Task Links_a_send_made_are_written_with_its_mark_sent()
    {
        var link = new MessageLink("tg-in", "-5", "77", "tg", "-1", "901");
        var sender = new ScriptedSender("telegram", _ => Task.FromResult(SendResult.Ok("901", [link])));
        await using var h = new EngineHarness(EngineHarness.DefaultOptions(), sender, EngineHarness.Hook("tg", type: "telegram"));
        h.Outbox.Add(Chat1, 1, h.NowMs);

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 1, "sent");
        await h.StopAsync();
        Assert.Equal(link, Assert.Single(h.Outbox.Links));
    }

    [Fact]
    public async Task A_429_that_names_the_whole_bot_pauses_the_channel_as_well_as_retrying_the_lane()
    {
        var flood = true;
        var sender = new ScriptedSender("telegram", _ => Task.FromResult(flood
            ? SendResult.Transient("429 Too Many Requests: retry after 5", TimeSpan.FromSeconds(5), destinationFault: false) with { PauseChannel = TimeSpan.FromSeconds(5) }
            : SendResult.Ok(null)));
        await using var h = new EngineHarness(EngineHarness.DefaultOptions(), sender, EngineHarness.Hook("tg", type: "telegram"));
        h.Outbox.Add(Chat1, 1, h.NowMs);

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Retries.Count == 1, "the retry");
        Assert.Equal(h.NowMs + 5_000, h.Outbox.Retries[0].DueAtMs);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(h.NowMs + 5_000), h.Engine.PausedUntil("tg"));
        Assert.Empty(h.Engine.ParkedChannels);
        flood = false;
        h.Time.Advance(TimeSpan.FromSeconds(5));
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 1, "sent after the pause");
        await h.StopAsync();
    }

    [Fact]
    public async Task A_change_of_the_channel_lifts_a_pause_and_the_lanes_it_held_go_at_once()
    {
        var refused = true;
        var sender = new ScriptedSender("whatsapp", _ => Task.FromResult(refused
            ? SendResult.Transient("(190) token expired", TimeSpan.FromMinutes(5), destinationFault: false) with { PauseChannel = TimeSpan.FromMinutes(5) }
            : SendResult.Ok(null)));
        var channel = new ChannelDefinition("tg", "whatsapp", null, null, null, SettingsJson: """{"access_token":"old"}""");
        await using var h = new EngineHarness(EngineHarness.DefaultOptions(), sender, channel);
        h.Outbox.Add(Chat1, 1, h.NowMs);

        h.Begin();
        await Wait.UntilAsync(() => h.Outbox.Retries.Count == 1, "the retry");
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(h.NowMs + 300_000), h.Engine.PausedUntil("tg"));
        h.Outbox.Add(Chat2, 1, h.NowMs);

        // A new token: nothing is waited for (the clock stands still), both lanes go now.
        refused = false;
        await h.CatalogStore.UpdateChannelAsync(channel with { SettingsJson = """{"access_token":"new"}""" }, CancellationToken.None);
        await h.Catalog.RefreshAsync(force: true, CancellationToken.None);
        await Wait.UntilAsync(() => h.Outbox.Sent.Count == 2, "both sent after the change");
        await h.StopAsync();
        Assert.Null(h.Engine.PausedUntil("tg"));
    }
}
