using System.Diagnostics;
using Tern.StandIns.Telegram;

namespace Tern.StandIns.Tests;

public sealed class LifecycleTests
{
    [Fact]
    public async Task Dispose_is_quick_while_a_long_poll_waits_and_a_webhook_retries()
    {
        await using var receiver = await WebhookReceiver.StartAsync([.. Enumerable.Repeat(500, 1000)]);
        await using var h = await Harness.StartAsync(new StandInOptions { WebhookRetryInitial = TimeSpan.FromMilliseconds(20) });
        h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "never acknowledged");
        Assert.True((await h.CallAsync(h.BotA, "setWebhook", new { url = receiver.Url.ToString() })).Ok);
        using var pollClient = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        using var content = new StringContent("""{"timeout":30}""", System.Text.Encoding.UTF8, "application/json");
        var poll = pollClient.PostAsync(h.At($"bot{Harness.TokenB}/getUpdates"), content);
        await Harness.UntilAsync(() => h.Api.LongPollWaiting(h.BotB), "the long poll to wait");
        Assert.False(poll.IsCompleted);

        var watch = Stopwatch.StartNew();
        await h.Api.DisposeAsync();
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"dispose took {watch.Elapsed}");
        // The waiting poll ends too (answered or cut off), long before its 30 s.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var response = await poll.WaitAsync(TimeSpan.FromSeconds(3));
            throw new InvalidOperationException($"answered {(int)response.StatusCode}");
        });
    }

    [Fact]
    public async Task Test_misuse_throws_instead_of_being_an_API_answer()
    {
        await using var h = await Harness.StartAsync();
        Assert.Throws<ArgumentException>(() => h.Api.AddBot("no-colon", "x_bot"));
        Assert.Throws<ArgumentException>(() => h.Api.AddBot("abc:def", "x_bot"));
        Assert.Throws<InvalidOperationException>(() => h.Api.AddBot(Harness.TokenA, "again_bot"));
        Assert.Throws<ArgumentException>(() => h.Api.AddChat(-5, ChatKind.Private));
        Assert.Throws<ArgumentException>(() => h.Api.AddChat(5, ChatKind.Group));
        Assert.Throws<InvalidOperationException>(() => h.Api.UserMessage(h.BotA, 777, Harness.Alice, "unknown chat"));
        Assert.Throws<InvalidOperationException>(() => h.Api.UserMessage(h.BotA, Harness.Channel, Harness.Alice, "users do not post in channels"));
        Assert.Throws<ArgumentException>(() => h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Bob, "Bob is not in Alice's private chat"));
        Assert.Throws<ArgumentException>(() => h.Api.UserMessage(h.BotA, Harness.Forum, Harness.Alice, "no such topic", threadId: 9));
        Assert.Throws<ArgumentException>(() => h.Api.EditMessage(h.BotA, Harness.Alice, 42, "no such message"));

        var bot = h.Api.AddBot("333:ccc", "gamma_bot");
        Assert.Equal((333, "gamma_bot"), (bot.Id, bot.Username));
        Assert.True((await h.CallAsync(bot, "getMe")).Ok);
    }
}
