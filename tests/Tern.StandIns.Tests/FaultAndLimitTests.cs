using Tern.StandIns.Telegram;

namespace Tern.StandIns.Tests;

public sealed class FaultAndLimitTests
{
    [Fact]
    public async Task At_rate_one_every_sending_call_is_answered_429_with_retry_after_and_sends_nothing()
    {
        await using var h = await Harness.StartAsync(new StandInOptions { TooManyRequestsRate = 1.0, RetryAfterSeconds = 7 });
        h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "hi");

        var answer = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = "x" });
        Assert.Equal(429, answer.Status);
        Assert.Equal("Too Many Requests: retry after 7", answer.Description);
        Assert.Equal(7, answer.RetryAfter);
        var edit = await h.CallAsync(h.BotA, "editMessageText", new { chat_id = Harness.Alice, message_id = 1, text = "y" });
        Assert.Equal(429, edit.Status);
        Assert.Empty(h.Api.Sent);

        // Never on getMe, getUpdates or getFile.
        Assert.True((await h.CallAsync(h.BotA, "getMe")).Ok);
        Assert.True((await h.GetUpdatesAsync(h.BotA)).Ok);

        // Rates may change while the stand-in runs.
        h.Api.Options.TooManyRequestsRate = 0;
        Assert.True((await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = "x" })).Ok);
        Assert.Equal(7, h.Api.Calls.First(c => c.HttpStatus == 429).RetryAfter);
    }

    [Fact]
    public async Task At_rate_one_every_sending_call_is_answered_502_Bad_Gateway_in_Telegrams_JSON()
    {
        await using var h = await Harness.StartAsync(new StandInOptions { BadGatewayRate = 1.0 });
        var answer = await h.CallAsync(h.BotA, "sendPhoto", new { chat_id = Harness.Alice, photo = "https://example.invalid/a.jpg" });

        Assert.Equal(502, answer.Status);
        Assert.False(answer.Ok);
        Assert.Equal("Bad Gateway", answer.Description);
        Assert.Empty(h.Api.Sent);
        Assert.True((await h.CallAsync(h.BotA, "getMe")).Ok);
    }

    [Fact]
    public async Task Faults_at_a_fractional_rate_are_deterministic_for_a_seed()
    {
        async Task<int[]> StatusesAsync()
        {
            await using var h = await Harness.StartAsync(new StandInOptions { TooManyRequestsRate = 0.3, BadGatewayRate = 0.2, EnforceLimits = false });
            var statuses = new int[40];
            for (var i = 0; i < statuses.Length; i++)
            {
                statuses[i] = (await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = "x" })).Status;
            }

            Assert.Equal(statuses.Count(s => s == 200), h.Api.Sent.Count);
            return statuses;
        }

        var first = await StatusesAsync();
        Assert.Equal(first, await StatusesAsync());
        Assert.Contains(200, first);
        Assert.Contains(429, first);
        Assert.Contains(502, first);
    }

    [Fact]
    public async Task A_fourth_send_to_one_chat_within_its_window_is_a_per_chat_violation_answered_429()
    {
        // Telegram's window is 3 s; an hour here, so the four calls are inside it however slow the machine is.
        Assert.Equal(TimeSpan.FromSeconds(3), new StandInOptions().PerChatWindow);
        await using var h = await Harness.StartAsync(new StandInOptions { PerChatWindow = TimeSpan.FromHours(1) });
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = $"m{i}" })).Ok);
        }

        var fourth = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = "m3" });
        Assert.Equal(429, fourth.Status);
        // Until the first call leaves the window: an hour less the time between the first and the fourth call.
        var spread = System.Diagnostics.Stopwatch.GetElapsedTime(h.Api.Calls[0].ArrivedAt, h.Api.Calls[3].ArrivedAt);
        Assert.InRange(fourth.RetryAfter!.Value, (int)Math.Floor((TimeSpan.FromHours(1) - spread).TotalSeconds), 3600);
        Assert.Equal(1, h.Api.Violations.PerChat);
        Assert.Equal(0, h.Api.Violations.PerBot);
        var violation = Assert.Single(h.Api.Violations.Details);
        Assert.Equal((LimitKind.PerChat, "alpha_bot", Harness.Alice, "sendMessage", true), (violation.Kind, violation.Bot, violation.ChatId, violation.Method, violation.Rejected));
        Assert.Equal(3, h.Api.Sent.Count);

        // Another chat, and another bot in the same chat, have their own windows.
        Assert.True((await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Bob, text = "x" })).Ok);
        Assert.True((await h.CallAsync(h.BotB, "sendMessage", new { chat_id = Harness.Alice, text = "x" })).Ok);
    }

    [Fact]
    public async Task Sends_spaced_beyond_the_per_chat_window_are_not_violations()
    {
        await using var h = await Harness.StartAsync(new StandInOptions { PerChatBurst = 1, PerChatWindow = TimeSpan.FromMilliseconds(150) });
        for (var i = 0; i < 4; i++)
        {
            Assert.True((await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = $"m{i}" })).Ok);
            await Task.Delay(200);
        }

        Assert.Equal(0, h.Api.Violations.Total);
        Assert.Equal(4, h.Api.Sent.Count);
    }

    [Fact]
    public async Task The_twenty_first_call_to_a_group_within_a_minute_is_a_per_group_violation()
    {
        await using var h = await Harness.StartAsync(new StandInOptions { PerChatBurst = 1000 });
        for (var i = 0; i < 20; i++)
        {
            Assert.True((await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Supergroup, text = $"m{i}" })).Ok);
        }

        var answer = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Supergroup, text = "m20" });
        Assert.Equal(429, answer.Status);
        // Until the first call leaves the minute: judged against when the calls really arrived.
        var spread = System.Diagnostics.Stopwatch.GetElapsedTime(h.Api.Calls[0].ArrivedAt, h.Api.Calls[20].ArrivedAt);
        Assert.True(spread < TimeSpan.FromSeconds(60), $"the 21 calls took {spread}");
        Assert.InRange(answer.RetryAfter!.Value, (int)Math.Floor((TimeSpan.FromSeconds(60) - spread).TotalSeconds), 60);
        Assert.Equal(1, h.Api.Violations.PerGroup);
        Assert.Equal(0, h.Api.Violations.PerChat);

        // Private chats have no per-group window.
        for (var i = 0; i < 21; i++)
        {
            Assert.True((await h.CallAsync(h.BotB, "sendMessage", new { chat_id = Harness.Bob, text = $"m{i}" })).Ok);
        }

        Assert.Equal(1, h.Api.Violations.PerGroup);
    }

    [Fact]
    public async Task A_bot_sending_more_than_its_per_second_limit_violates_the_per_bot_window()
    {
        await using var h = await Harness.StartAsync(new StandInOptions { PerBotPerSecond = 5, PerChatBurst = 1000, PerGroupPerMinute = 1000 });
        var chats = new[] { Harness.Alice, Harness.Bob, Harness.Group, Harness.Supergroup };
        var answers = new List<Answer>();
        for (var i = 0; i < 6; i++)
        {
            answers.Add(await h.CallAsync(h.BotA, "sendMessage", new { chat_id = chats[i % chats.Length], text = $"m{i}" }));
        }

        Assert.All(answers.Take(5), a => Assert.True(a.Ok));
        // Six calls normally arrive within a few milliseconds; judge by when they really arrived.
        var calls = h.Api.Calls;
        var spread = System.Diagnostics.Stopwatch.GetElapsedTime(calls[0].ArrivedAt, calls[5].ArrivedAt);
        if (spread < TimeSpan.FromSeconds(1))
        {
            Assert.Equal(429, answers[5].Status);
            Assert.Equal(1, h.Api.Violations.PerBot);
            Assert.Null(Assert.Single(h.Api.Violations.Details).ChatId);
        }
        else
        {
            Assert.True(answers[5].Ok);
        }
    }

    [Fact]
    public void The_per_bot_window_is_any_second_and_retry_after_is_when_the_oldest_call_leaves_it()
    {
        var limiter = new FloodLimiter();
        var options = new StandInOptions { PerBotPerSecond = 3, PerChatBurst = 1000 };
        var second = System.Diagnostics.Stopwatch.Frequency;
        var start = 10 * second;
        Assert.Null(limiter.Check(options, 1, 5, start, countWhenExceeded: false));
        Assert.Null(limiter.Check(options, 1, 6, start + second / 10, countWhenExceeded: false));
        Assert.Null(limiter.Check(options, 1, 7, start + second / 5, countWhenExceeded: false));

        var exceeded = Assert.Single(limiter.Check(options, 1, 8, start + second / 2, countWhenExceeded: false)!);
        Assert.Equal((LimitKind.PerBot, 3, 3, 1), (exceeded.Kind, exceeded.Limit, exceeded.CallsInWindow, exceeded.RetryAfterSeconds));
        // Another bot has its own window; a refused call was not counted, so once the first call is a second old there is room.
        Assert.Null(limiter.Check(options, 2, 8, start + second / 2, countWhenExceeded: false));
        Assert.Null(limiter.Check(options, 1, 8, start + second + 1, countWhenExceeded: false));
        Assert.NotNull(limiter.Check(options, 1, 9, start + second + 2, countWhenExceeded: false));
    }

    [Fact]
    public async Task Without_RejectViolations_a_violation_is_counted_but_the_message_is_sent()
    {
        // A window of an hour: the five calls are inside it however slow the machine is.
        await using var h = await Harness.StartAsync(new StandInOptions { RejectViolations = false, PerChatWindow = TimeSpan.FromHours(1) });
        for (var i = 0; i < 5; i++)
        {
            Assert.True((await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = $"m{i}" })).Ok);
        }

        Assert.Equal(2, h.Api.Violations.PerChat);
        Assert.All(h.Api.Violations.Details, v => Assert.False(v.Rejected));
        Assert.Equal(5, h.Api.Sent.Count);
    }

    [Fact]
    public async Task With_EnforceLimits_off_nothing_is_counted()
    {
        await using var h = await Harness.StartAsync(new StandInOptions { EnforceLimits = false });
        for (var i = 0; i < 10; i++)
        {
            Assert.True((await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Supergroup, text = $"m{i}" })).Ok);
        }

        Assert.Equal(0, h.Api.Violations.Total);
    }

    [Fact]
    public void The_limiter_keeps_only_timestamps_inside_the_windows()
    {
        var limiter = new FloodLimiter();
        var options = new StandInOptions { PerChatWindow = TimeSpan.FromSeconds(3) };
        var second = System.Diagnostics.Stopwatch.Frequency;
        for (long chat = 1; chat <= 1000; chat++)
        {
            // 25 calls a second: under the per-bot limit of 30.
            Assert.Null(limiter.Check(options, 1, chat, chat * second / 25, countWhenExceeded: false));
        }

        // Long after, one call: the sweep drops every key whose window has emptied.
        Assert.Null(limiter.Check(options, 1, 5, 1000 * second, countWhenExceeded: false));
        Assert.Equal(2, limiter.TrackedKeys);
    }
}
