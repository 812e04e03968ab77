using Tern.StandIns.Telegram;

namespace Tern.StandIns.Tests;

public sealed class WebhookTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    private static StandInOptions FastRetries() => new()
    {
        WebhookRetryInitial = TimeSpan.FromMilliseconds(50),
        WebhookRetryMax = TimeSpan.FromMilliseconds(200),
    };

    [Fact]
    public async Task Updates_are_pushed_in_order_with_the_secret_header_and_retried_after_errors_until_a_2xx()
    {
        await using var receiver = await WebhookReceiver.StartAsync(500, 500, 200);
        await using var h = await Harness.StartAsync(FastRetries());
        var set = await h.CallAsync(h.BotA, "setWebhook", new { url = receiver.Url.ToString(), secret_token = "s3cr3t_-Token" });
        Assert.True(set.Ok);
        Assert.True(set.Result.GetBoolean());
        Assert.Equal("Webhook was set", set.Body.GetProperty("description").GetString());

        var first = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "one");
        var second = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "two");
        await receiver.WhenAcknowledgedAsync(2, Generous);

        var received = receiver.Received;
        // Two 500s, then the first update is acknowledged; only then does the second one go.
        Assert.Equal([first.UpdateId!.Value, first.UpdateId.Value, first.UpdateId.Value, second.UpdateId!.Value], received.Select(r => r.UpdateId));
        Assert.Equal([500, 500, 200, 200], received.Select(r => r.AnsweredStatus));
        Assert.All(received, r => Assert.Equal("s3cr3t_-Token", r.Secret));
        Assert.All(received, r => Assert.StartsWith("application/json", r.ContentType, StringComparison.Ordinal));
        Assert.Equal("two", received[3].Body.GetProperty("message").GetProperty("text").GetString());

        await WaitUntilAsync(() => h.Api.PendingUpdates(h.BotA) == 0);
        var state = h.Api.Webhook(h.BotA)!;
        Assert.Equal(receiver.Url, state.Url);
        Assert.Equal(4, state.PushesAttempted);
        Assert.Equal(2, state.PushesAcknowledged);
        Assert.Equal([1, 2, 3, 1], state.Attempts.Select(a => a.Attempt));
        Assert.Equal("Wrong response from the webhook: 500 Internal Server Error", state.LastErrorMessage);

        var info = await h.CallAsync(h.BotA, "getWebhookInfo");
        Assert.Equal(receiver.Url.ToString(), info.Result.GetProperty("url").GetString());
        Assert.False(info.Result.GetProperty("has_custom_certificate").GetBoolean());
        Assert.Equal(0, info.Result.GetProperty("pending_update_count").GetInt32());
        Assert.Equal("Wrong response from the webhook: 500 Internal Server Error", info.Result.GetProperty("last_error_message").GetString());
        Assert.True(info.Result.GetProperty("last_error_date").GetInt64() > 1_700_000_000);
    }

    [Fact]
    public async Task Retries_back_off_exponentially()
    {
        await using var receiver = await WebhookReceiver.StartAsync(500, 500, 500, 500, 200);
        await using var h = await Harness.StartAsync(new StandInOptions
        {
            WebhookRetryInitial = TimeSpan.FromMilliseconds(100),
            WebhookRetryMax = TimeSpan.FromMilliseconds(400),
        });
        Assert.True((await h.CallAsync(h.BotA, "setWebhook", new { url = receiver.Url.ToString() })).Ok);
        h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "retry me");
        await receiver.WhenAcknowledgedAsync(1, Generous);
        // The receiver sees the last push just before the stand-in records its answer (with the confirmation).
        await WaitUntilAsync(() => h.Api.PendingUpdates(h.BotA) == 0);

        var attempts = h.Api.Webhook(h.BotA)!.Attempts;
        Assert.Equal(5, attempts.Count);
        var gaps = attempts.Zip(attempts.Skip(1), (a, b) => TimeSpan.FromSeconds((b.AttemptedAt - a.AttemptedAt) / (double)System.Diagnostics.Stopwatch.Frequency)).ToArray();
        // The delay doubles from 100 ms and stops at the 400 ms cap.
        Assert.Equal(
            [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(400), null],
            attempts.Select(a => a.RetryIn));
        // And the pusher really waited that long between attempts (when the machine is busy, longer).
        for (var i = 0; i < gaps.Length; i++)
        {
            Assert.True(gaps[i] >= attempts[i].RetryIn!.Value - TimeSpan.FromMilliseconds(10), $"gap {i}: {gaps[i]}");
        }

        Assert.Null(receiver.Received[0].Secret);
    }

    [Fact]
    public async Task While_a_webhook_is_set_getUpdates_is_refused_and_deleteWebhook_ends_that()
    {
        await using var receiver = await WebhookReceiver.StartAsync(500, 500, 500, 500, 500, 500, 500, 500);
        await using var h = await Harness.StartAsync(FastRetries());
        h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "pending");
        Assert.True((await h.CallAsync(h.BotA, "setWebhook", new { url = receiver.Url.ToString() })).Ok);

        var refused = await h.GetUpdatesAsync(h.BotA);
        Assert.Equal(409, refused.Status);
        Assert.Equal("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first", refused.Description);

        var deleted = await h.CallAsync(h.BotA, "deleteWebhook");
        Assert.Equal("Webhook was deleted", deleted.Body.GetProperty("description").GetString());
        Assert.Null(h.Api.Webhook(h.BotA));
        Assert.Equal("Webhook is already deleted", (await h.CallAsync(h.BotA, "deleteWebhook")).Body.GetProperty("description").GetString());

        // The update the webhook never got acknowledged is still there for getUpdates.
        var updates = await h.GetUpdatesAsync(h.BotA);
        Assert.Equal("pending", Assert.Single(updates.Result.EnumerateArray()).GetProperty("message").GetProperty("text").GetString());
        Assert.Equal("", (await h.CallAsync(h.BotA, "getWebhookInfo")).Result.GetProperty("url").GetString());
    }

    [Fact]
    public async Task SetWebhook_ends_a_waiting_long_poll_and_can_drop_pending_updates()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var h = await Harness.StartAsync(FastRetries());
        var poll = h.GetUpdatesAsync(h.BotA, timeout: 25);
        await WaitUntilAsync(() => h.Api.LongPollWaiting(h.BotA));
        h.Api.EnqueueMany(h.BotB, Harness.Bob, Harness.Bob, 3, i => "x");
        Assert.True((await h.CallAsync(h.BotA, "setWebhook", new { url = receiver.Url.ToString(), drop_pending_updates = true })).Ok);

        var ended = await poll.WaitAsync(Generous);
        Assert.Equal(409, ended.Status);
        Assert.Equal("Conflict: terminated by setWebhook request", ended.Description);

        // drop_pending_updates on the other bot's webhook.
        Assert.True((await h.CallAsync(h.BotB, "setWebhook", new { url = receiver.Url.ToString(), drop_pending_updates = true })).Ok);
        Assert.Equal(0, h.Api.PendingUpdates(h.BotB));
    }

    [Fact]
    public async Task An_unreachable_webhook_reports_the_connection_error()
    {
        // A loopback port nobody listens on.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var h = await Harness.StartAsync(FastRetries());
        h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "nobody home");
        Assert.True((await h.CallAsync(h.BotA, "setWebhook", new { url = $"http://127.0.0.1:{port}/hook" })).Ok);

        await WaitUntilAsync(() => h.Api.Webhook(h.BotA)!.PushesAttempted >= 2);
        var state = h.Api.Webhook(h.BotA)!;
        Assert.Equal(0, state.PushesAcknowledged);
        Assert.Equal(1, state.PendingUpdateCount);
        Assert.All(state.Attempts, a => Assert.Null(a.StatusCode));
        Assert.Contains("refused", state.LastErrorMessage, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task DeleteWebhook_stops_the_pushes()
    {
        await using var receiver = await WebhookReceiver.StartAsync([.. Enumerable.Repeat(500, 100)]);
        await using var h = await Harness.StartAsync(FastRetries());
        h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "retried");
        Assert.True((await h.CallAsync(h.BotA, "setWebhook", new { url = receiver.Url.ToString() })).Ok);
        await WaitUntilAsync(() => receiver.Received.Count >= 2);

        Assert.True((await h.CallAsync(h.BotA, "deleteWebhook")).Ok);
        // A push in flight when the webhook was deleted may still land; once the pusher has stopped, none.
        await h.Api.WebhookPusherStopped(h.BotA).WaitAsync(Generous);
        var afterDelete = receiver.Received.Count;
        await Task.Delay(600);
        Assert.Equal(afterDelete, receiver.Received.Count);
        Assert.Equal(1, h.Api.PendingUpdates(h.BotA));
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("base64+/=")]
    [InlineData("ünïcode")]
    public async Task A_secret_token_outside_A_Z_a_z_0_9_underscore_and_dash_is_refused(string secret)
    {
        await using var h = await Harness.StartAsync();
        var answer = await h.CallAsync(h.BotA, "setWebhook", new { url = "https://example.invalid/hook", secret_token = secret });

        Assert.Equal(400, answer.Status);
        Assert.Equal("Bad Request: secret token contains unallowed characters", answer.Description);
        Assert.Null(h.Api.Webhook(h.BotA));
    }

    [Fact]
    public async Task A_secret_token_over_256_characters_or_a_bad_url_is_refused()
    {
        await using var h = await Harness.StartAsync();
        var tooLong = await h.CallAsync(h.BotA, "setWebhook", new { url = "https://example.invalid/hook", secret_token = new string('a', 257) });
        Assert.Equal("Bad Request: secret token is too long", tooLong.Description);

        var badUrl = await h.CallAsync(h.BotA, "setWebhook", new { url = "not a url" });
        Assert.Equal("Bad Request: invalid webhook URL specified", badUrl.Description);
    }

    [Fact]
    public async Task Allowed_updates_of_setWebhook_are_reported_by_getWebhookInfo()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var h = await Harness.StartAsync();
        Assert.True((await h.FormAsync(h.BotA, "setWebhook", [
            new("url", receiver.Url.ToString()),
            new("allowed_updates", """["message","callback_query"]"""),
            new("max_connections", "5"),
        ])).Ok);

        var info = (await h.CallAsync(h.BotA, "getWebhookInfo")).Result;
        Assert.Equal(["callback_query", "message"], info.GetProperty("allowed_updates").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(5, info.GetProperty("max_connections").GetInt32());
        Assert.Equal(["callback_query", "message"], h.Api.Webhook(h.BotA)!.AllowedUpdates);
        Assert.Null(h.Api.ChannelPost(h.BotA, Harness.Channel, "not subscribed").UpdateId);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException();
            await Task.Delay(20);
        }
    }
}
