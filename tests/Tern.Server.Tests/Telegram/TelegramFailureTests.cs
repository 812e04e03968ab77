using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Telegram;

namespace Tern.Server.Tests.Telegram;

/// <summary>Telegram refusing: blocked chats, unknown chats, upgraded groups, wrong tokens — and the token never showing anywhere.</summary>
public sealed class TelegramFailureTests(ITestOutputHelper output)
{
    private const long Group = -1001, User = 4242;

    [Fact]
    public async Task A_bot_api_address_tern_may_not_call_fails_the_delivery_at_once_and_nothing_reaches_it()
    {
        // The channel was written while loopback was allowed; the server runs with public destinations only.
        await using var rig = await TelegramRig.StartAsync();
        var bot = rig.AddBot(740021, "dest_bot");
        rig.Telegram.AddChat(778, ChatKind.Private, "Fan");
        await rig.AddChannelAsync("dst", bot);
        var callsBefore = rig.Telegram.Calls.Count;

        await using var tern = await rig.StartTernAsync(output, TernHome.PublicOnly);
        using var api = await rig.ApiAsync(tern);
        using var sent = await api.PostAsync(new Uri("/v1/messages", UriKind.Relative),
            new StringContent("""{"channel":"dst","chat":"778","text":"hello"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
        var id = JsonDocument.Parse(await sent.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();

        JsonElement message = default;
        await Eventually.UntilAsync(async () =>
        {
            message = await api.GetFromJsonAsync<JsonElement>($"/v1/messages/{id}");
            return message.GetProperty("status").GetString() == "failed";
        }, TimeSpan.FromSeconds(60), () => $"the message to fail: {message}");
        Assert.Contains("refused: 127.0.0.1, a loopback address", message.GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, message.GetProperty("attempts").GetInt32());
        Assert.Equal(callsBefore, rig.Telegram.Calls.Count);
        Assert.Empty(rig.TextsIn(778, bot));
    }

    [Fact]
    public async Task Blocked_and_unknown_chats_fail_and_are_parked_an_upgraded_group_is_followed_and_the_rest_flows()
    {
        await using var rig = await TelegramRig.StartAsync();
        var source = rig.AddBot(740001, "source_bot");
        var bot = rig.AddBot(740002, "dest_bot");
        rig.Telegram.AddChat(Group, ChatKind.Supergroup, "Source");
        rig.Telegram.AddChat(777, ChatKind.Private, "Blocker");
        rig.Telegram.AddChat(778, ChatKind.Private, "Fan");
        rig.Telegram.AddChat(-3001, ChatKind.Group, "Old group");
        rig.Telegram.AddChat(-1003001, ChatKind.Supergroup, "Upgraded");
        rig.Telegram.Block(bot, 777);
        rig.Telegram.MigrateGroup(-3001, -1003001);
        await rig.AddChannelAsync("src", source);
        await rig.AddChannelAsync("dst", bot);
        await rig.AddRouteAsync("fan-out", "src", "--to", "dst:777", "--to", "dst:-3999", "--to", "dst:-3001", "--to", "dst:778");

        await using var tern = await rig.StartTernAsync(output, "--Tern:Sender:Cooldown=2s");
        for (var i = 0; i < 3; i++) rig.Telegram.UserMessage(source, Group, User, $"news {i}");

        await Eventually.UntilAsync(() => rig.TextsIn(778, bot).Count == 3 && rig.TextsIn(-1003001, bot).Count == 3, TimeSpan.FromSeconds(60),
            () => $"{rig.Home.Database.Describe()}; calls: {string.Join(" | ", rig.Telegram.Calls.Select(c => $"{c.ChatId} {c.HttpStatus} {c.Description}"))}");
        Assert.Equal(["news 0", "news 1", "news 2"], rig.TextsIn(778, bot).Select(t => t ?? ""));
        Assert.Equal(["news 0", "news 1", "news 2"], rig.TextsIn(-1003001, bot).Select(t => t ?? ""));
        // Each refusing chat fails its deliveries one by one, a cooldown apart: 3 + 3 failed in the end.
        await Eventually.UntilAsync(() => rig.Home.Database.OutboxCount(TernDatabase.OutboxFailed) == 6, TimeSpan.FromSeconds(60), () => rig.Home.Database.Describe());

        // The route follows the supergroup; the old id is not tried again.
        var routes = (await rig.Home.RunOkAsync("routes", "list")).Stdout;
        Assert.Contains("dst:-1003001", routes, StringComparison.Ordinal);
        Assert.DoesNotContain("dst:-3001,", routes, StringComparison.Ordinal);
        Assert.Equal(1, rig.Telegram.Calls.Count(c => c.ChatId == -3001));

        using var api = await rig.ApiAsync(tern);
        var status = await TelegramRig.StatusAsync(api, "dst");
        var failing = status.GetProperty("failing_destinations").EnumerateArray().ToDictionary(f => f.GetProperty("chat").GetString()!, f => f);
        Assert.Contains("Forbidden: bot was blocked by the user", failing["777"].GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.Contains("chat not found", failing["-3999"].GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.String, failing["777"].GetProperty("parked_until").ValueKind);
        Assert.Equal(3, failing["777"].GetProperty("failures").GetInt32());
        Assert.False(failing.ContainsKey("778"));
        Assert.Equal(6, status.GetProperty("failed").GetInt64());

        var failed = await api.GetFromJsonAsync<JsonElement>("/v1/messages?channel=dst&status=failed&page_size=50");
        Assert.Equal(6, failed.GetProperty("total").GetInt64());
        Assert.All(failed.GetProperty("items").EnumerateArray(), m => Assert.Matches("403|400", m.GetProperty("last_error").GetString()!));
    }

    [Fact]
    public async Task A_wrong_token_is_refused_when_the_channel_is_added_and_says_which_setting_is_wrong()
    {
        await using var rig = await TelegramRig.StartAsync();
        var unknown = TelegramRig.TokenFor(749999, "nobody");

        var cli = await rig.Home.RunAsync(["channels", "add", "--id", "tg", "--type", "telegram", "--token", unknown, "--base-url", rig.Telegram.BaseUrl.ToString()]);
        Assert.Equal(2, cli.ExitCode);
        var line = Assert.Single(cli.StderrLines);
        Assert.StartsWith("tern: --token: Telegram does not know this bot token", line, StringComparison.Ordinal);
        Assert.Contains("401", line, StringComparison.Ordinal);
        Assert.DoesNotContain(unknown, cli.Stdout + cli.Stderr, StringComparison.Ordinal);

        var malformed = await rig.Home.RunAsync(["channels", "add", "--id", "tg", "--type", "telegram", "--token", "not-a-token"]);
        Assert.Equal(2, malformed.ExitCode);
        Assert.StartsWith("tern: --token: is not a bot token", Assert.Single(malformed.StderrLines), StringComparison.Ordinal);

        var closed = await rig.Home.RunAsync(["channels", "add", "--id", "tg", "--type", "telegram", "--token", unknown, "--base-url", $"http://127.0.0.1:{FreePort.Next()}"]);
        Assert.Equal(2, closed.ExitCode);
        Assert.StartsWith("tern: --base-url: cannot reach the Bot API", Assert.Single(closed.StderrLines), StringComparison.Ordinal);
        Assert.DoesNotContain(unknown, closed.Stderr, StringComparison.Ordinal);

        var badMode = await rig.Home.RunAsync(["channels", "add", "--id", "tg", "--type", "telegram", "--token", unknown, "--mode", "push"]);
        Assert.Equal(2, badMode.ExitCode);
        Assert.StartsWith("tern: --mode 'push': must be polling or webhook", Assert.Single(badMode.StderrLines), StringComparison.Ordinal);
        Assert.DoesNotContain("tg\t", (await rig.Home.RunOkAsync("channels", "list")).Stdout, StringComparison.Ordinal);

        // A route to a chat Telegram could never name is refused when it is written.
        var known = rig.AddBot(749998, "known_bot");
        await rig.AddChannelAsync("tg", known);
        var badChat = await rig.Home.RunAsync(["routes", "add", "--id", "r", "--from", "tg", "--to", "tg:customer-42"]);
        Assert.Equal(2, badChat.ExitCode);
        Assert.StartsWith("tern: --to 'tg:customer-42': must be a Telegram chat id", Assert.Single(badChat.StderrLines), StringComparison.Ordinal);
        var badSource = await rig.Home.RunAsync(["routes", "add", "--id", "r", "--from", "tg", "--chats", "abc", "--to", "tg:-100"]);
        Assert.StartsWith("tern: --chats 'abc': must be a Telegram chat id", Assert.Single(badSource.StderrLines), StringComparison.Ordinal);
        var badRegex = await rig.Home.RunAsync(["routes", "add", "--id", "r", "--from", "tg", "--to", "tg:-100", "--regex", "(oops"]);
        Assert.Equal(2, badRegex.ExitCode);
        Assert.StartsWith("tern: --regex '(oops': is not a valid regular expression", Assert.Single(badRegex.StderrLines), StringComparison.Ordinal);
        var badTemplate = await rig.Home.RunAsync(["routes", "add", "--id", "r", "--from", "tg", "--to", "tg:-100", "--template", "{txt}"]);
        Assert.StartsWith("tern: --template '{txt}': has an unknown placeholder {txt}", Assert.Single(badTemplate.StderrLines), StringComparison.Ordinal);
        var forwardTransform = await rig.Home.RunAsync(["routes", "add", "--id", "r", "--from", "tg", "--to", "tg:-100", "--mode", "forward", "--footer", "x"]);
        Assert.StartsWith("tern: --mode forward: a forwarded message cannot be changed", Assert.Single(forwardTransform.StderrLines), StringComparison.Ordinal);
        await rig.Home.RunOkAsync("channels", "remove", "--id", "tg");

        // The same through the API: 400 problem+json naming telegram.token, nothing stored.
        await using var tern = await rig.StartTernAsync(output);
        using var api = await rig.ApiAsync(tern);
        using var answer = await api.PostAsJsonAsync("/v1/channels", new { id = "tg", type = "telegram", telegram = new { token = unknown, base_url = rig.Telegram.BaseUrl.ToString() } });
        var body = await answer.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        Assert.Equal("application/problem+json", answer.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Telegram does not know this bot token", JsonDocument.Parse(body).RootElement.GetProperty("errors").GetProperty("telegram.token")[0].GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(unknown, body, StringComparison.Ordinal);
        using var missing = await api.PostAsJsonAsync("/v1/channels", new { id = "tg", type = "telegram" });
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.True(JsonDocument.Parse(await missing.Content.ReadAsStringAsync()).RootElement.GetProperty("errors").TryGetProperty("telegram", out _));
        using var list = await api.GetAsync(new Uri("/v1/channels", UriKind.Relative));
        Assert.Equal("[]", await list.Content.ReadAsStringAsync());

        // Route options and Telegram chats are checked by the API as well, each problem named by its path.
        var good = rig.AddBot(749997, "good_bot");
        using var created = await api.PostAsJsonAsync("/v1/channels", new { id = "tg2", type = "telegram", telegram = new { token = good.Token, base_url = rig.Telegram.BaseUrl.ToString() } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var channel = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("good_bot", channel.GetProperty("telegram").GetProperty("bot_username").GetString());
        Assert.DoesNotContain(good.Token, channel.GetRawText(), StringComparison.Ordinal);
        using var route = await api.PostAsJsonAsync("/v1/routes", new
        {
            id = "r1", from = "tg2", to = new[] { "tg2:-100", "tg2:nope" },
            options = new { filters = new { text = new { regex = new[] { "ok", "(" } } }, transform = new { template = "{who}" } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, route.StatusCode);
        var errors = JsonDocument.Parse(await route.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty("to[1]", out _), errors.GetRawText());
        Assert.True(errors.TryGetProperty("options.filters.text.regex[1]", out _), errors.GetRawText());
        Assert.True(errors.TryGetProperty("options.transform.template", out _), errors.GetRawText());
    }

    [Fact]
    public async Task The_bot_token_never_appears_in_logs_errors_the_api_or_the_delivery_records()
    {
        await using var rig = await TelegramRig.StartAsync();
        var source = rig.AddBot(740011, "source_bot");
        var bot = rig.AddBot(740012, "dest_bot");
        rig.Telegram.AddChat(Group, ChatKind.Supergroup, "Source");
        rig.Telegram.AddChat(888, ChatKind.Private, "Blocker");
        rig.Telegram.Block(bot, 888);
        // A second Bot API that goes away: its bot's sends meet network errors.
        var vanishing = await BotApiStandIn.StartAsync();
        var lost = vanishing.AddBot(TelegramRig.TokenFor(740013, "lost_bot"), "lost_bot");
        await rig.AddChannelAsync("src", source);
        await rig.AddChannelAsync("dst", bot);
        await rig.Home.RunOkAsync("channels", "add", "--id", "lost", "--type", "telegram", "--token", lost.Token, "--base-url", vanishing.BaseUrl.ToString());
        await vanishing.DisposeAsync();
        await rig.AddRouteAsync("out", "src", "--to", "dst:888", "--to", "dst:-5555", "--to", "lost:999");

        await using var tern = await rig.StartTernAsync(output, "--Tern:Sender:BackoffBase=100ms", "--Tern:Sender:BackoffMax=500ms", "--Tern:Sender:ParkAfterFailures=3", "--Tern:Sender:Cooldown=1s");
        for (var i = 0; i < 3; i++) rig.Telegram.UserMessage(source, Group, User, $"m{i}");
        await Eventually.UntilAsync(() => rig.Home.Database.OutboxRetried() >= 1 && rig.Home.Database.OutboxCount(TernDatabase.OutboxFailed) >= 2, TimeSpan.FromSeconds(30),
            () => $"{rig.Home.Database.Describe()}; {string.Join(" | ", DeliveryErrors(rig.Home.DatabasePath))}; {tern.Stdout[^Math.Min(3000, tern.Stdout.Length)..]}");

        using var api = await rig.ApiAsync(tern);
        var seen = new List<string> { tern.Stdout, tern.Stderr, (await rig.Home.RunOkAsync("channels", "list")).Stdout };
        foreach (var path in new[] { "/v1/channels", "/v1/channels/dst", "/v1/channels/lost", "/v1/channels/dst/status", "/v1/channels/lost/status",
                     "/v1/messages?page_size=50", "/metrics", "/memory", "/health/ready" })
        {
            using var response = await api.GetAsync(new Uri(path, UriKind.Relative));
            seen.Add(await response.Content.ReadAsStringAsync());
        }
        seen.AddRange(DeliveryErrors(rig.Home.DatabasePath));
        Assert.Contains(seen, s => s.Contains("Forbidden", StringComparison.Ordinal));
        Assert.Contains(seen, s => s.Contains("network", StringComparison.OrdinalIgnoreCase) || s.Contains("Connection", StringComparison.OrdinalIgnoreCase));
        foreach (var token in new[] { source.Token, bot.Token, lost.Token })
        {
            var secret = token[(token.IndexOf(':', StringComparison.Ordinal) + 1)..];
            Assert.DoesNotContain(seen, s => s.Contains(secret, StringComparison.Ordinal));
        }
    }

    /// <summary>Every error text Tern recorded for deliveries.</summary>
    private static List<string> DeliveryErrors(string databasePath)
    {
        using var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT last_error FROM outbox WHERE last_error IS NOT NULL UNION ALL SELECT detail FROM delivery_attempts WHERE detail IS NOT NULL";
        var errors = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read()) errors.Add(reader.GetString(0));
        return errors;
    }
}
