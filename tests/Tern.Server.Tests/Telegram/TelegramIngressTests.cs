using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Telegram;

namespace Tern.Server.Tests.Telegram;

/// <summary>How updates come in: webhook pushes with Tern's secret token, and polling that meets a 409.</summary>
public sealed class TelegramIngressTests(ITestOutputHelper output)
{
    private const long Group = -1001, User = 4242;

    [Fact]
    public async Task Webhook_mode_registers_a_secret_token_and_only_updates_carrying_it_are_committed()
    {
        await using var rig = await TelegramRig.StartAsync();
        var bot = rig.AddBot(730001, "hook_bot");
        rig.Telegram.AddChat(Group, ChatKind.Supergroup, "Source");
        rig.Telegram.AddChat(-2001, ChatKind.Supergroup, "Dest");
        await rig.AddChannelAsync("hooked", bot, "--mode", "webhook");
        await rig.AddRouteAsync("copy", "hooked", "--to", "hooked:-2001");

        await using var tern = await rig.StartTernAsync(output, "--Tern:Http:PublicUrl={url}");
        await Eventually.UntilAsync(() => rig.Telegram.Webhook(bot) is not null, TimeSpan.FromSeconds(30), () => "setWebhook");
        var webhook = rig.Telegram.Webhook(bot)!;
        Assert.Equal(new Uri(tern.BaseUrl, "/hooks/telegram/hooked"), webhook.Url);
        Assert.Matches("^[A-Za-z0-9_-]{32,256}$", webhook.SecretToken);
        Assert.Equal(["callback_query", "channel_post", "edited_channel_post", "edited_message", "message"], webhook.AllowedUpdates!.Order(StringComparer.Ordinal));
        Assert.DoesNotContain(webhook.SecretToken!, (await rig.Home.RunOkAsync("channels", "list")).Stdout, StringComparison.Ordinal);

        // Telegram pushes; Tern commits, then answers 200, and the update is routed.
        rig.Telegram.UserMessage(bot, Group, User, "pushed to tern");
        await Eventually.UntilAsync(() => rig.Telegram.SentTo(-2001).Count == 1, TimeSpan.FromSeconds(30), () => $"{rig.Telegram.Webhook(bot)}; {rig.Home.Database.Describe()}");
        Assert.Equal("pushed to tern", rig.Telegram.SentTo(-2001)[0].Text);
        Assert.All(rig.Telegram.Webhook(bot)!.Attempts, a => Assert.Equal(200, a.StatusCode));

        // Anyone else: no secret, a wrong one, a malformed body, another channel — refused, nothing stored.
        var update = """{"update_id":1,"message":{"message_id":99,"date":1,"chat":{"id":-1001,"type":"supergroup"},"text":"forged"}}""";
        var stored = rig.Home.Database.InboxCount();
        Assert.Equal(HttpStatusCode.Unauthorized, await PushAsync(tern, "hooked", update, null));
        Assert.Equal(HttpStatusCode.Unauthorized, await PushAsync(tern, "hooked", update, "not-the-secret"));
        Assert.Equal(HttpStatusCode.Unauthorized, await PushAsync(tern, "hooked", update, webhook.SecretToken + "x"));
        Assert.Equal(HttpStatusCode.BadRequest, await PushAsync(tern, "hooked", "{\"update_id\":", webhook.SecretToken));
        Assert.Equal(HttpStatusCode.NotFound, await PushAsync(tern, "nobody", update, webhook.SecretToken));
        Assert.Equal(stored, rig.Home.Database.InboxCount());

        // The same update twice (Telegram retrying after a lost answer) is stored once.
        Assert.Equal(HttpStatusCode.OK, await PushAsync(tern, "hooked", update, webhook.SecretToken));
        Assert.Equal(HttpStatusCode.OK, await PushAsync(tern, "hooked", update, webhook.SecretToken));
        Assert.Equal(stored + 1, rig.Home.Database.InboxCount());
        Assert.Equal(1, rig.Home.Database.InboxCountWithId("hooked", "-1001:99"));

        // Back to polling through the API: the webhook is deleted and updates come by getUpdates.
        using var api = await rig.ApiAsync(tern);
        using var patch = await api.PatchAsJsonAsync("/v1/channels/hooked", new { telegram = new { mode = "polling" } });
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        await Eventually.UntilAsync(() => rig.Telegram.Webhook(bot) is null, TimeSpan.FromSeconds(30), () => "deleteWebhook");
        rig.Telegram.UserMessage(bot, Group, User, "polled now");
        await Eventually.UntilAsync(() => rig.Telegram.SentTo(-2001).Any(m => m.Text == "polled now"), TimeSpan.FromSeconds(30), () => rig.Home.Database.Describe());
        var status = await TelegramRig.StatusAsync(api, "hooked");
        Assert.Equal(("polling", "ok"), (status.GetProperty("ingress").GetProperty("mode").GetString(), status.GetProperty("ingress").GetProperty("state").GetString()));
    }

    private static async Task<HttpStatusCode> PushAsync(TernProcess tern, string channel, string body, string? secret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/hooks/telegram/{channel}", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (secret is not null) request.Headers.Add("X-Telegram-Bot-Api-Secret-Token", secret);
        using var response = await tern.Http.SendAsync(request);
        if (!response.IsSuccessStatusCode) Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return response.StatusCode;
    }

    [Fact]
    public async Task A_409_while_polling_shows_in_the_status_is_retried_slowly_and_clears_when_the_webhook_goes()
    {
        await using var rig = await TelegramRig.StartAsync();
        var bot = rig.AddBot(730011, "busy_bot");
        rig.Telegram.AddChat(Group, ChatKind.Supergroup, "Source");
        rig.Telegram.AddChat(-2001, ChatKind.Supergroup, "Dest");
        await rig.AddChannelAsync("poller", bot);
        await rig.AddRouteAsync("copy", "poller", "--to", "poller:-2001");
        // Someone else set a webhook for this bot.
        using var http = new HttpClient();
        using (var set = await http.PostAsJsonAsync(new Uri(rig.Telegram.BaseUrl, $"./bot{bot.Token}/setWebhook"), new { url = "http://127.0.0.1:9/elsewhere" }))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        }

        await using var tern = await rig.StartTernAsync(output, "--Tern:Telegram:ConflictRetry=2s");
        using var api = await rig.ApiAsync(tern);
        await Eventually.UntilAsync(async () => (await TelegramRig.StatusAsync(api, "poller")).GetProperty("ingress").GetProperty("state").GetString() == "conflict",
            TimeSpan.FromSeconds(30), () => "conflict state");
        var status = (await TelegramRig.StatusAsync(api, "poller")).GetProperty("ingress");
        Assert.Contains("409", status.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("webhook", status.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Slowly: 2 s, then 4 s, then 8 s between tries, not a hot loop. Measured between the calls' arrivals (a busy
        // machine only spreads them), once three calls have come, however long they take to come.
        await Eventually.UntilAsync(() => rig.Telegram.Calls.Count(c => c.Method == "getUpdates") >= 3, TimeSpan.FromSeconds(60),
            () => $"{rig.Telegram.Calls.Count(c => c.Method == "getUpdates")} getUpdates calls");
        var polls = rig.Telegram.Calls.Where(c => c.Method == "getUpdates").Select(c => c.ArrivedAt).Order().Take(3).ToArray();
        var gaps = polls.Zip(polls.Skip(1), (a, b) => System.Diagnostics.Stopwatch.GetElapsedTime(a, b)).ToArray();
        output.WriteLine($"getUpdates retries during the conflict after {string.Join(" s, ", gaps.Select(g => g.TotalSeconds.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)))} s");
        Assert.True(gaps[0] >= TimeSpan.FromSeconds(1.95), $"the first retry came after {gaps[0]}, not 2 s");
        Assert.True(gaps[1] >= TimeSpan.FromSeconds(3.95), $"the second retry came after {gaps[1]}, not 4 s");

        using (var delete = await http.PostAsJsonAsync(new Uri(rig.Telegram.BaseUrl, $"./bot{bot.Token}/deleteWebhook"), new { }))
        {
            Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        }
        rig.Telegram.UserMessage(bot, Group, User, "after the conflict");
        await Eventually.UntilAsync(() => rig.Telegram.SentTo(-2001).Count == 1, TimeSpan.FromSeconds(40), () => rig.Home.Database.Describe());
        Assert.Equal("ok", (await TelegramRig.StatusAsync(api, "poller")).GetProperty("ingress").GetProperty("state").GetString());
        using var ready = await tern.Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal("polling: ok", JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("channels").GetProperty("poller").GetString());
    }
}
