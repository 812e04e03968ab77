using System.Net;
using System.Text.Json;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Http;

namespace Tern.Server.Tests.Api;

/// <summary>
/// No SSRF: a tenant cannot make Tern call loopback, private, link-local, unique-local, multicast, reserved or
/// unspecified addresses — refused with a 400 naming the field when written, and refused again on the address
/// actually connected to when sent. The operator's allow-list (Tern:Security:AllowedPrivateNetworks) lets them through.
/// </summary>
public sealed class DestinationPolicyTests(PublicOnlyServer server) : IClassFixture<PublicOnlyServer>
{
    private readonly TernHome _home = server.Home;
    private readonly InProcessTern _tern = server.Tern;
    private readonly string _key = server.TenantKey;
    private readonly string _operatorsKey = server.OperatorsKey;

    public static TheoryData<string, string> Refused => new()
    {
        { "http://169.254.169.254/latest/meta-data/", "link-local" },
        { "http://127.0.0.1:22/", "loopback" },
        { "http://127.1.2.3/", "loopback" },
        { "http://[::1]:8080/", "loopback" },
        { "http://localhost:8080/hook", "loopback" },
        { "http://10.0.0.5/hook", "private" },
        { "http://172.16.9.9/hook", "private" },
        { "http://192.168.1.1/hook", "private" },
        { "http://100.64.0.1/hook", "private" },
        { "http://[fd00:ec2::254]/latest/meta-data/", "unique-local" },
        { "http://[fe80::1]/hook", "link-local" },
        { "http://224.0.0.251/hook", "multicast" },
        { "http://[ff02::1]/hook", "multicast" },
        { "http://0.0.0.0:8080/hook", "unspecified" },
        { "http://[::]/hook", "unspecified" },
        { "http://[::ffff:127.0.0.1]/hook", "loopback" },
        { "http://[::ffff:169.254.169.254]/hook", "link-local" },
        { "http://[64:ff9b::a9fe:a9fe]/hook", "link-local" },
        { "http://255.255.255.255/hook", "reserved" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_subscription_to_a_non_public_address_is_a_400_naming_url(string url, string kind)
    {
        var response = await PostAsync("/v1/webhooks", new { url, events = new[] { "message.sent" } });
        response.AssertProblem(HttpStatusCode.BadRequest, "url");
        var message = response.Json.GetProperty("errors").GetProperty("url")[0].GetString()!;
        Assert.Contains($"a {kind} address", message, StringComparison.Ordinal);
        Assert.Contains("Tern:Security:AllowedPrivateNetworks", message, StringComparison.Ordinal);
        var list = await SendAsync(HttpMethod.Get, "/v1/webhooks", null);
        Assert.DoesNotContain(list.AssertStatus(HttpStatusCode.OK).Json.EnumerateArray(), w => w.GetProperty("url").GetString() == url);
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_webhook_channel_to_a_non_public_address_is_a_400_naming_url(string url, string kind)
    {
        var id = ApiServer.NewId("ssrf");
        var response = await PostAsync("/v1/channels", new { id, url });
        response.AssertProblem(HttpStatusCode.BadRequest, "url");
        Assert.Contains($"a {kind} address", response.Json.GetProperty("errors").GetProperty("url")[0].GetString()!, StringComparison.Ordinal);
        (await SendAsync(HttpMethod.Get, $"/v1/channels/{id}", null)).AssertProblem(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Moving_a_channel_to_a_non_public_address_is_a_400_and_the_channel_keeps_its_url()
    {
        var id = ApiServer.NewId("move");
        (await PostAsync("/v1/channels", new { id, url = "http://203.0.113.7/hook" })).AssertStatus(HttpStatusCode.Created);
        (await SendAsync(HttpMethod.Patch, $"/v1/channels/{id}", ApiCall.Json(new { url = "http://169.254.169.254/latest/" })))
            .AssertProblem(HttpStatusCode.BadRequest, "url");
        var channel = await SendAsync(HttpMethod.Get, $"/v1/channels/{id}", null);
        Assert.Equal("http://203.0.113.7/hook", channel.AssertStatus(HttpStatusCode.OK).Json.GetProperty("url").GetString());
    }

    [Fact]
    public async Task A_telegram_channel_whose_bot_api_base_url_is_internal_is_a_400_naming_telegram_base_url()
    {
        var response = await PostAsync("/v1/channels", new
        {
            id = ApiServer.NewId("tg"),
            type = "telegram",
            telegram = new { token = "123456:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ", base_url = "http://127.0.0.1:8081/" },
        });
        response.AssertProblem(HttpStatusCode.BadRequest, "telegram.base_url");
        Assert.Contains("a loopback address", response.Json.GetProperty("errors").GetProperty("telegram.base_url")[0].GetString()!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_allow_list_lets_its_networks_through_and_no_others()
    {
        // 203.0.113.0/24 is reserved (documentation) and allowed by this server's Tern:Security:AllowedPrivateNetworks.
        (await PostAsync("/v1/webhooks", new { url = "http://203.0.113.9/events", events = new[] { "message.sent" } })).AssertStatus(HttpStatusCode.Created);
        (await PostAsync("/v1/webhooks", new { url = "http://198.51.100.9/events", events = new[] { "message.sent" } })).AssertProblem(HttpStatusCode.BadRequest, "url");
    }

    [Fact]
    public async Task A_destination_stored_before_is_refused_when_connecting_and_the_receiver_gets_nothing()
    {
        // The channel was written while loopback was allowed (as a DNS answer may change after the check): the server
        // now running with public destinations only refuses the connection itself, and says why.
        await using var receiver = await RecordingReceiver.StartAsync(SignatureScheme.StandardWebhooks, TestSecrets.For("receiver"));
        var channel = ApiServer.NewId("stored");
        await _home.RunOkAsync("channels", "add", "--id", channel, "--url", receiver.Url.ToString(), "--secret", TestSecrets.For("receiver"));

        var sent = await ApiCall.SendAsync(_tern.Http, HttpMethod.Post, "/v1/messages", _operatorsKey, ApiCall.Json(new { channel, chat = "c1", text = "hello" }));
        var id = sent.AssertStatus(HttpStatusCode.Accepted).Json.GetProperty("id").GetString()!;
        JsonElement message = default;
        await Eventually.UntilAsync(async () =>
        {
            message = (await ApiCall.SendAsync(_tern.Http, HttpMethod.Get, $"/v1/messages/{id}", _operatorsKey)).AssertStatus(HttpStatusCode.OK).Json;
            return message.GetProperty("status").GetString() == "failed";
        }, TimeSpan.FromSeconds(30), () => $"the message to fail: {message}");

        var error = message.GetProperty("last_error").GetString()!;
        Assert.Contains("refused", error, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1, a loopback address", error, StringComparison.Ordinal);
        Assert.Equal(1, message.GetProperty("attempts").GetInt32()); // a refusal is final: no retries against it
        Assert.Empty(receiver.Requests);
    }

    private Task<ApiResponse> PostAsync(string path, object body) => SendAsync(HttpMethod.Post, path, ApiCall.Json(body));

    private Task<ApiResponse> SendAsync(HttpMethod method, string path, string? json) => ApiCall.SendAsync(_tern.Http, method, path, _key, json);
}

/// <summary>One server for the class, as a server is by default (public destinations only), with a tenant key.</summary>
public sealed class PublicOnlyServer : IAsyncLifetime
{
    public TernHome Home { get; } = TernHome.Create();

    public InProcessTern Tern { get; private set; } = null!;

    /// <summary>A key of tenant "shop", whose subscriptions start empty.</summary>
    public string TenantKey { get; private set; } = null!;

    /// <summary>A key of the default tenant, which owns the channels the CLI adds.</summary>
    public string OperatorsKey { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Home.RunOkAsync("tenants", "add", "--id", "shop", "--rate-limit", "100000");
        TenantKey = (await Home.RunOkAsync("keys", "create", "--tenant", "shop")).Stdout.Trim();
        OperatorsKey = (await Home.RunOkAsync("keys", "create", "--tenant", "default")).Stdout.Trim();
        // 203.0.113.0/24 (documentation, "reserved") is allowed to show the allow-list at work.
        Tern = await InProcessTern.StartAsync(Home, TernHome.PublicOnly + "203.0.113.0/24");
    }

    public async Task DisposeAsync()
    {
        if (Tern is not null) await Tern.DisposeAsync();
        Home.Dispose();
    }
}
