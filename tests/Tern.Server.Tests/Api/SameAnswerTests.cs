using System.Net;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Telegram;

namespace Tern.Server.Tests.Api;

/// <summary>
/// One server, a Bot API stand-in and a few channels and a route made with the CLI (tenant <c>default</c>),
/// shared by every row of <see cref="SameAnswerTests"/>: the CLI and the API work on the same database.
/// </summary>
public sealed class SameAnswerRig : IAsyncLifetime
{
    public const string AdminKey = "same-answer-admin-key-0123456789-abcdefgh";

    public TernHome Home { get; } = TernHome.Create();

    public BotApiStandIn Telegram { get; private set; } = null!;

    public TernProcess Tern { get; private set; } = null!;

    /// <summary>A key of tenant <c>default</c>, which owns what the CLI makes.</summary>
    public string Key { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Telegram = await BotApiStandIn.StartAsync();
        var bot = Telegram.AddBot("4242:same-answer-S3cret_Part-0123456789abcdef", "same_answer_bot");
        await Home.RunOkAsync("channels", "add", "--id", "src", "--secret", TestSecrets.For("src"));
        await Home.RunOkAsync("channels", "add", "--id", "dst", "--url", "http://127.0.0.1:9/hook");
        await Home.RunOkAsync("channels", "add", "--id", "tg", "--type", "telegram", "--token", bot.Token, "--base-url", Telegram.BaseUrl.ToString());
        await Home.RunOkAsync("routes", "add", "--id", "used", "--from", "src", "--to", "dst");
        Key = (await Home.RunOkAsync("keys", "create", "--tenant", "default")).Stdout.Trim();
        Tern = await Home.StartAsync(null, $"--Tern:Api:AdminKey={AdminKey}", "--Tern:Api:RateLimitPerMinute=100000");
    }

    public async Task DisposeAsync()
    {
        if (Tern is not null) await Tern.DisposeAsync();
        if (Telegram is not null) await Telegram.DisposeAsync();
        Home.Dispose();
    }
}

/// <summary>
/// The same bad input through the CLI and the REST API gets the same answer: the API names the field in
/// its problem, the CLI names the flag for that field in its one line, and the message is the same text.
/// </summary>
public sealed class SameAnswerTests(SameAnswerRig rig) : IClassFixture<SameAnswerRig>
{
    private const string Tenant = "tenant";
    private const string Admin = "admin";

    /// <summary>
    /// case, CLI arguments, the value the CLI line repeats (null: none, e.g. a secret), API caller, method, path, body,
    /// status, the field the API names, the flag the CLI names.
    /// </summary>
    public static TheoryData<string, string[], string?, string, string, string, string?, int, string, string> BadInputs => new()
    {
        { "bad id", ["channels", "add", "--id", "has space", "--url", "http://127.0.0.1:9/x"], "has space",
            Tenant, "POST", "/v1/channels", """{"id":"has space","url":"http://127.0.0.1:9/x"}""", 400, "id", "--id" },
        { "unknown type", ["channels", "add", "--id", "sa-type", "--type", "carrier-pigeon"], "carrier-pigeon",
            Tenant, "POST", "/v1/channels", """{"id":"sa-type","type":"carrier-pigeon"}""", 400, "type", "--type" },
        { "bad url", ["channels", "add", "--id", "sa-url", "--url", "ftp://example.com/hook"], "ftp://example.com/hook",
            Tenant, "POST", "/v1/channels", """{"id":"sa-url","url":"ftp://example.com/hook"}""", 400, "url", "--url" },
        { "short secret", ["channels", "add", "--id", "sa-secret", "--secret", "short"], null,
            Tenant, "POST", "/v1/channels", """{"id":"sa-secret","secret":"short"}""", 400, "secret", "--secret" },
        { "max_concurrency 0", ["channels", "add", "--id", "sa-max", "--max-concurrency", "0"], "0",
            Tenant, "POST", "/v1/channels", """{"id":"sa-max","max_concurrency":0}""", 400, "max_concurrency", "--max-concurrency" },
        { "max_concurrency 2000", ["channels", "add", "--id", "sa-max", "--max-concurrency", "2000"], "2000",
            Tenant, "POST", "/v1/channels", """{"id":"sa-max","max_concurrency":2000}""", 400, "max_concurrency", "--max-concurrency" },
        { "malformed bot token", ["channels", "add", "--id", "sa-tg", "--type", "telegram", "--token", "not-a-token"], null,
            Tenant, "POST", "/v1/channels", """{"id":"sa-tg","type":"telegram","telegram":{"token":"not-a-token"}}""", 400, "telegram.token", "--token" },
        { "bad Telegram mode", ["channels", "add", "--id", "sa-tg", "--type", "telegram", "--token", "1:abc", "--mode", "push"], "push",
            Tenant, "POST", "/v1/channels", """{"id":"sa-tg","type":"telegram","telegram":{"token":"1:abc","mode":"push"}}""", 400, "telegram.mode", "--mode" },
        { "a URL on a Telegram channel", ["channels", "add", "--id", "sa-tg", "--type", "telegram", "--token", "1:abc", "--url", "http://127.0.0.1:9/x"], "http://127.0.0.1:9/x",
            Tenant, "POST", "/v1/channels", """{"id":"sa-tg","type":"telegram","url":"http://127.0.0.1:9/x","telegram":{"token":"1:abc"}}""", 400, "url", "--url" },
        { "duplicate channel id", ["channels", "add", "--id", "src", "--url", "http://127.0.0.1:9/x"], "src",
            Tenant, "POST", "/v1/channels", """{"id":"src","url":"http://127.0.0.1:9/x"}""", 409, "id", "--id" },
        { "removing a channel a route uses", ["channels", "remove", "--id", "dst"], "dst",
            Tenant, "DELETE", "/v1/channels/dst", null, 409, "id", "--id" },
        { "route from an unknown channel", ["routes", "add", "--id", "sa-r", "--from", "nope", "--to", "dst"], "nope",
            Tenant, "POST", "/v1/routes", """{"id":"sa-r","from":"nope","to":["dst"]}""", 400, "from", "--from" },
        { "route to an unknown channel", ["routes", "add", "--id", "sa-r", "--from", "src", "--to", "nowhere"], "nowhere",
            Tenant, "POST", "/v1/routes", """{"id":"sa-r","from":"src","to":["nowhere"]}""", 400, "to[0]", "--to" },
        { "bad regex", ["routes", "add", "--id", "sa-r", "--from", "src", "--to", "dst", "--regex", "(oops"], "(oops",
            Tenant, "POST", "/v1/routes", """{"id":"sa-r","from":"src","to":["dst"],"options":{"filters":{"text":{"regex":["(oops"]}}}}""", 400, "options.filters.text.regex[0]", "--regex" },
        { "bad template", ["routes", "add", "--id", "sa-r", "--from", "src", "--to", "dst", "--template", "{txt}"], "{txt}",
            Tenant, "POST", "/v1/routes", """{"id":"sa-r","from":"src","to":["dst"],"options":{"transform":{"template":"{txt}"}}}""", 400, "options.transform.template", "--template" },
        { "bad media type", ["routes", "add", "--id", "sa-r", "--from", "src", "--to", "dst", "--media", "photo,hologram"], "hologram",
            Tenant, "POST", "/v1/routes", """{"id":"sa-r","from":"src","to":["dst"],"options":{"filters":{"media":["photo","hologram"]}}}""", 400, "options.filters.media[1]", "--media" },
        { "bad Telegram chat id in a destination", ["routes", "add", "--id", "sa-r", "--from", "src", "--to", "tg:customer-42"], "tg:customer-42",
            Tenant, "POST", "/v1/routes", """{"id":"sa-r","from":"src","to":["tg:customer-42"]}""", 400, "to[0]", "--to" },
        { "bad Telegram source chat", ["routes", "add", "--id", "sa-r", "--from", "tg", "--chats", "-100,abc", "--to", "dst"], "abc",
            Tenant, "POST", "/v1/routes", """{"id":"sa-r","from":"tg","chats":["-100","abc"],"to":["dst"]}""", 400, "chats[1]", "--chats" },
        { "duplicate route id", ["routes", "add", "--id", "used", "--from", "src", "--to", "dst"], "used",
            Tenant, "POST", "/v1/routes", """{"id":"used","from":"src","to":["dst"]}""", 409, "id", "--id" },
        { "tenant rate limit 0", ["tenants", "add", "--id", "sa-tenant", "--rate-limit", "0"], "0",
            Admin, "POST", "/v1/tenants", """{"id":"sa-tenant","rate_limit_per_minute":0}""", 400, "rate_limit_per_minute", "--rate-limit" },
        { "duplicate tenant", ["tenants", "add", "--id", "default"], "default",
            Admin, "POST", "/v1/tenants", """{"id":"default"}""", 409, "id", "--id" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task The_CLI_and_the_API_name_the_same_field_with_the_same_message(
        string name, string[] cli, string? shownValue, string caller, string method, string path, string? body, int status, string field, string flag)
    {
        var api = await ApiCall.SendAsync(rig.Tern.Http, new HttpMethod(method), path, caller == Admin ? SameAnswerRig.AdminKey : rig.Key, body);
        api.AssertProblem((HttpStatusCode)status, field);
        var message = api.Json.GetProperty("errors").GetProperty(field)[0].GetString()!;

        var result = await rig.Home.RunAsync(cli);
        Assert.True(result.ExitCode == 2, $"{name}: expected exit code 2; got {result}");
        var line = Assert.Single(result.StderrLines);
        var expected = shownValue is null ? $"tern: {flag}: {message}" : $"tern: {flag} '{shownValue}': {message}";
        Assert.True(line == expected, $"{name}: the CLI said\n  {line}\nthe API said {field}: {message}, so the CLI should say\n  {expected}");
        Assert.True(result.Stdout.Trim().Length == 0, $"{name}: nothing should be printed on stdout: {result.Stdout}");
    }

    [Fact]
    public async Task Nothing_the_table_tried_was_stored()
    {
        var channels = await ApiCall.SendAsync(rig.Tern.Http, HttpMethod.Get, "/v1/channels", rig.Key);
        Assert.Equal(["dst", "src", "tg"], channels.AssertStatus(HttpStatusCode.OK).Json.EnumerateArray().Select(c => c.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));
        // The Telegram channel shows its type's settings object under the type's name, without the token.
        var telegram = channels.Json.EnumerateArray().Single(c => c.GetProperty("id").GetString() == "tg").GetProperty("telegram");
        Assert.Equal("same_answer_bot", telegram.GetProperty("bot_username").GetString());
        Assert.False(telegram.TryGetProperty("token", out _), telegram.ToString());
        var routes = await ApiCall.SendAsync(rig.Tern.Http, HttpMethod.Get, "/v1/routes", rig.Key);
        Assert.Equal(["used"], routes.AssertStatus(HttpStatusCode.OK).Json.EnumerateArray().Select(r => r.GetProperty("id").GetString()!));
    }
}
