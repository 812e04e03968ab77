using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tern.Server.Tests.Api;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Telegram;
using Tern.StandIns.WhatsApp;

namespace Tern.Server.Tests.WhatsApp;

/// <summary>
/// Routes between Telegram and WhatsApp through one in-process Tern with both stand-ins: texts each way, replies that answer
/// the copy in the other platform's chat, and what WhatsApp cannot show (an edit) failing with the reason.
/// </summary>
public sealed class WhatsAppTelegramRouteTests(WhatsAppTelegramServer server) : IClassFixture<WhatsAppTelegramServer>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static long _next;

    private static long Next() => Interlocked.Increment(ref _next);

    private sealed record Pair(string Tg, StandInBot Bot, long Group, string Wa, WhatsAppPhoneNumber Phone, string AppSecret, string User);

    /// <summary>A Telegram group, a WhatsApp number, a user who wrote to it (window open), and the channels for both.</summary>
    private async Task<Pair> PairAsync()
    {
        var n = Next();
        var bot = server.Telegram.AddBot($"{740000 + n}:route-bot-{n}-S3cret_Part-0123456789abcdef", $"route_{n}_bot");
        var group = -100700 - n;
        server.Telegram.AddChat(group, ChatKind.Supergroup, "Shop " + n);
        var tg = ApiServer.NewId("tg");
        (await server.CallAsync(HttpMethod.Post, "/v1/channels", ApiCall.Json(new { id = tg, type = "telegram", telegram = new { token = bot.Token, base_url = server.Telegram.BaseUrl.ToString() } })))
            .AssertStatus(HttpStatusCode.Created);

        var phoneId = "20754035" + n.ToString("D7", CultureInfo.InvariantCulture);
        var token = "EAAJBroute" + Guid.NewGuid().ToString("N");
        var phone = server.Graph.AddPhoneNumber(phoneId, "+1 555-" + phoneId[^7..], token);
        var wa = ApiServer.NewId("wa");
        var appSecret = "appsecret" + Guid.NewGuid().ToString("N");
        (await server.CallAsync(HttpMethod.Post, "/v1/channels", ApiCall.Json(new
        {
            id = wa,
            type = "whatsapp",
            whatsapp = new { phone_number_id = phoneId, access_token = token, app_secret = appSecret, verify_token = "verify-" + n, base_url = server.Graph.BaseUrl.ToString() },
        }))).AssertStatus(HttpStatusCode.Created);
        var user = "1660" + n.ToString("D7", CultureInfo.InvariantCulture);
        server.Graph.OpenWindow(phoneId, user);
        return new Pair(tg, bot, group, wa, phone, appSecret, user);
    }

    private async Task RouteAsync(string from, string to)
    {
        (await server.CallAsync(HttpMethod.Post, "/v1/routes", ApiCall.Json(new { id = ApiServer.NewId("r"), from, to = new[] { to } }))).AssertStatus(HttpStatusCode.Created);
    }

    /// <summary>The user's message as Meta posts it, signed; must be answered 200.</summary>
    private async Task PostToWhatsAppAsync(Pair pair, JsonObject message)
    {
        var body = new WhatsAppWebhookBody().Entry(pair.Phone.WabaId, new WhatsAppChange(pair.Phone).Contact(pair.User, "Ana").Message(message)).ToBytes();
        using var sender = new WhatsAppWebhookSender(new Uri(server.Tern.BaseUrl, $"/hooks/whatsapp/{pair.Wa}"), pair.AppSecret) { RetrySchedule = [] };
        var delivery = await sender.PostAsync(body);
        Assert.True(delivery.Delivered, $"webhook answered {delivery.FinalStatus}");
    }

    [Fact]
    public async Task A_telegram_text_reaches_the_whatsapp_user_and_a_reply_to_it_answers_the_copy()
    {
        var pair = await PairAsync();
        await RouteAsync(pair.Tg, $"{pair.Wa}:{pair.User}");

        var first = server.Telegram.UserMessage(pair.Bot, pair.Group, 5151, "Your table is ready");
        await Eventually.UntilAsync(() => server.Graph.SentTo(pair.User).Count == 1, Patience,
            () => $"the text at the Graph stand-in; calls {string.Join(", ", server.Graph.Calls.TakeLast(5))}");
        var copy = Assert.Single(server.Graph.SentTo(pair.User));
        Assert.Equal("text", copy.Type);
        Assert.Equal("Your table is ready", copy.Text);
        Assert.Null(copy.ContextMessageId);

        server.Telegram.UserMessage(pair.Bot, pair.Group, 5151, "Table 4, by the window", replyToMessageId: first.MessageId);
        await Eventually.UntilAsync(() => server.Graph.SentTo(pair.User).Count == 2, Patience, () => "the reply at the Graph stand-in");
        var reply = server.Graph.SentTo(pair.User)[1];
        Assert.Equal("Table 4, by the window", reply.Text);
        Assert.Equal(copy.Wamid, reply.ContextMessageId);
    }

    [Fact]
    public async Task A_whatsapp_text_reaches_the_telegram_group_and_a_whatsapp_reply_answers_the_copy()
    {
        var pair = await PairAsync();
        await RouteAsync(pair.Wa, $"{pair.Tg}:{pair.Group.ToString(CultureInfo.InvariantCulture)}");

        var question = WhatsAppInbound.Text(pair.User, "Do you deliver on Sundays?");
        await PostToWhatsAppAsync(pair, question);
        await Eventually.UntilAsync(() => server.Telegram.SentTo(pair.Group).Count == 1, Patience, () => "the text in the Telegram group");
        var copy = Assert.Single(server.Telegram.SentTo(pair.Group));
        Assert.Equal("Do you deliver on Sundays?", copy.Text);

        var followUp = WhatsAppInbound.WithContext(WhatsAppInbound.Text(pair.User, "And on holidays?"), (string)question["id"]!, pair.User);
        await PostToWhatsAppAsync(pair, followUp);
        await Eventually.UntilAsync(() => server.Telegram.SentTo(pair.Group).Count == 2, Patience, () => "the reply in the Telegram group");
        var reply = server.Telegram.SentTo(pair.Group)[1];
        Assert.Equal("And on holidays?", reply.Text);
        Assert.Equal(copy.MessageId, reply.ReplyToMessageId);
    }

    [Fact]
    public async Task A_telegram_edit_routed_to_whatsapp_fails_saying_whatsapp_cannot_edit_and_the_original_stays()
    {
        var pair = await PairAsync();
        await RouteAsync(pair.Tg, $"{pair.Wa}:{pair.User}");

        var original = server.Telegram.UserMessage(pair.Bot, pair.Group, 5252, "Open until 9");
        await Eventually.UntilAsync(() => server.Graph.SentTo(pair.User).Count == 1, Patience, () => "the original at the Graph stand-in");
        server.Telegram.EditMessage(pair.Bot, pair.Group, original.MessageId, "Open until 10");

        JsonElement failed = default;
        await Eventually.UntilAsync(async () =>
        {
            var page = (await server.CallAsync(HttpMethod.Get, $"/v1/messages?direction=out&channel={pair.Wa}&status=failed")).AssertStatus(HttpStatusCode.OK).Json;
            return (failed = page.GetProperty("items")).GetArrayLength() == 1;
        }, Patience, () => $"one failed delivery: {failed}");
        Assert.Contains("cannot edit", failed[0].GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.Single(server.Graph.SentTo(pair.User));
    }
}

/// <summary>One in-process Tern with a Bot API stand-in and a Graph API stand-in, and a tenant of its own.</summary>
public sealed class WhatsAppTelegramServer : IAsyncLifetime
{
    private const string AdminKey = "config-admin-key-wa-telegram-0123456789-abcdef";

    public TernHome Home { get; } = TernHome.Create();

    public InProcessTern Tern { get; private set; } = null!;

    public GraphApiStandIn Graph { get; private set; } = null!;

    public BotApiStandIn Telegram { get; private set; } = null!;

    public string TenantKey { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Graph = await GraphApiStandIn.StartAsync();
        Telegram = await BotApiStandIn.StartAsync();
        Tern = await InProcessTern.StartAsync(Home, $"--Tern:Api:AdminKey={AdminKey}", "--Tern:Telegram:PollTimeout=2s");
        var tenant = ApiServer.NewId("wa-tg-tenant");
        (await ApiCall.SendAsync(Tern.Http, HttpMethod.Post, "/v1/tenants", AdminKey, ApiCall.Json(new { id = tenant, rate_limit_per_minute = ApiServer.HighRateLimit })))
            .AssertStatus(HttpStatusCode.Created);
        var key = await ApiCall.SendAsync(Tern.Http, HttpMethod.Post, "/v1/keys", AdminKey, ApiCall.Json(new { tenant, name = "whatsapp telegram routes" }));
        TenantKey = key.AssertStatus(HttpStatusCode.Created).Json.GetProperty("key").GetString()!;
    }

    public Task<ApiResponse> CallAsync(HttpMethod method, string path, string? json = null) => ApiCall.SendAsync(Tern.Http, method, path, TenantKey, json);

    public async Task DisposeAsync()
    {
        if (Tern is not null) await Tern.DisposeAsync();
        if (Telegram is not null) await Telegram.DisposeAsync();
        if (Graph is not null) await Graph.DisposeAsync();
        Home.Dispose();
    }
}
