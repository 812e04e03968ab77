using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Tern.Server.Tests.Api;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Http;
using Tern.StandIns.WhatsApp;

namespace Tern.Server.Tests.WhatsApp;

/// <summary>
/// WhatsApp's send error paths end to end in the test process (issue 11), against the Graph stand-in's scripted errors:
/// an expired token or a blocked account pause the channel (shown in its status, no further calls) until its settings
/// change; the pair rate holds one user; throughput and API call limits back off; refusals fail with Meta's message;
/// 5xx retry. Also media by Meta's id through the API, and routes between a webhook channel and WhatsApp both ways.
/// Nothing waits on time to reach a precondition: the stand-in's held answers and what the API shows are the barriers.
/// </summary>
public sealed class WhatsAppErrorTests(WhatsAppServer server) : IClassFixture<WhatsAppServer>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static long _numbers;
    private static long _recipients;

    private static string NewPhoneNumberId() =>
        "10854035" + Interlocked.Increment(ref _numbers).ToString("D7", CultureInfo.InvariantCulture);

    /// <summary>A recipient (wa_id) no other test writes to.</summary>
    private static string NewRecipient() => "1651" + Interlocked.Increment(ref _recipients).ToString("D7", CultureInfo.InvariantCulture);

    private static string NewSecret(string what) => what + Guid.NewGuid().ToString("N");

    private sealed record WaChannel(string Id, WhatsAppPhoneNumber Phone, string AppSecret, Uri HookUrl);

    private async Task<WaChannel> AddChannelAsync(object? limits = null)
    {
        var phoneId = NewPhoneNumberId();
        var token = NewSecret("EAAJBtoken");
        var phone = server.Graph.AddPhoneNumber(phoneId, "+1 555-" + phoneId[^7..], token);
        var id = ApiServer.NewId("wa-err");
        var appSecret = NewSecret("appsecret");
        var created = await server.CallAsync(HttpMethod.Post, "/v1/channels", ApiCall.Json(new
        {
            id,
            type = "whatsapp",
            whatsapp = new { phone_number_id = phoneId, access_token = token, app_secret = appSecret, verify_token = NewSecret("verify-"), base_url = server.Graph.BaseUrl.ToString(), limits },
        }));
        created.AssertStatus(HttpStatusCode.Created);
        return new WaChannel(id, phone, appSecret, new Uri(server.Tern.BaseUrl, $"/hooks/whatsapp/{id}"));
    }

    /// <summary>A fresh recipient whose 24-hour window on the channel is open.</summary>
    private string OpenRecipient(WaChannel channel)
    {
        var recipient = NewRecipient();
        server.Graph.OpenWindow(channel.Phone.Id, recipient);
        return recipient;
    }

    /// <summary>POST /v1/messages; the message id.</summary>
    private async Task<string> SendAsync(WaChannel channel, string chat, object body)
    {
        var node = JsonSerializer.SerializeToNode(body)!.AsObject();
        node["channel"] = channel.Id;
        node["chat"] = chat;
        var sent = await server.CallAsync(HttpMethod.Post, "/v1/messages", node.ToJsonString());
        sent.AssertStatus(HttpStatusCode.Accepted);
        return sent.Json.GetProperty("id").GetString()!;
    }

    private async Task<JsonElement> GetAsync(string id) =>
        (await server.CallAsync(HttpMethod.Get, $"/v1/messages/{id}")).AssertStatus(HttpStatusCode.OK).Json;

    private async Task<JsonElement> ChannelStatusAsync(WaChannel channel) =>
        (await server.CallAsync(HttpMethod.Get, $"/v1/channels/{channel.Id}/status")).AssertStatus(HttpStatusCode.OK).Json;

    private async Task<JsonElement> WaitForAsync(string id, Func<JsonElement, bool> condition, string what)
    {
        JsonElement message = default;
        await Eventually.UntilAsync(async () => condition(message = await GetAsync(id)), Patience,
            () => $"message {id} {what}: {message}; stand-in calls {string.Join(", ", server.Graph.Calls.TakeLast(5))}");
        return message;
    }

    private Task<JsonElement> WaitForStatusAsync(string id, string status) =>
        WaitForAsync(id, m => StatusOf(m) == status, "to be " + status);

    private static string? StatusOf(JsonElement message) => message.GetProperty("status").GetString();

    private static List<string?> History(JsonElement message) =>
        message.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("status").GetString()).ToList();

    private static string Details(JsonElement message, string status) =>
        string.Join(" | ", message.GetProperty("history").EnumerateArray()
            .Where(h => h.GetProperty("status").GetString() == status && h.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String)
            .Select(h => h.GetProperty("detail").GetString()));

    /// <summary>POST /{phone-number-id}/messages calls the stand-in got for the channel's number, answered or not.</summary>
    private int SendCalls(WaChannel channel) =>
        server.Graph.Calls.Count(c => c.Method == "POST" && c.Path.EndsWith($"/{channel.Phone.Id}/messages", StringComparison.Ordinal));

    private static DateTimeOffset? PausedUntil(JsonElement status) =>
        status.TryGetProperty("paused_until", out var p) && p.ValueKind == JsonValueKind.String ? p.GetDateTimeOffset() : null;

    private static string? LastError(JsonElement status) =>
        status.TryGetProperty("last_error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;

    private static JsonElement? FailingDestination(JsonElement status, string chat) =>
        status.TryGetProperty("failing_destinations", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Where(f => f.GetProperty("chat").GetString() == chat).Select(f => (JsonElement?)f).FirstOrDefault()
            : null;

    /// <summary>
    /// A barrier: a message on a channel of its own, queued after everything before it and waited for until sent. The engine
    /// claims due lanes oldest first, so once this one went, every lane queued before it was looked at (and skipped if held).
    /// </summary>
    private async Task EngineLookedAsync()
    {
        var control = await AddChannelAsync();
        var recipient = OpenRecipient(control);
        var id = await SendAsync(control, recipient, new { text = "barrier" });
        await WaitForStatusAsync(id, "sent");
    }

    /// <summary>Paused for about <see cref="WhatsAppSenderPause"/> from the failed attempt, shown with the reason in the channel's status.</summary>
    private static void AssertPaused(JsonElement status, TimeSpan pause, DateTimeOffset before, string reasonPart)
    {
        var until = PausedUntil(status);
        Assert.True(until is { } u && u >= before + pause - TimeSpan.FromSeconds(1) && u <= DateTimeOffset.UtcNow + pause + TimeSpan.FromSeconds(1),
            $"paused_until about now + {pause}: {status}");
        Assert.Contains(reasonPart, LastError(status) ?? "", StringComparison.Ordinal);
        Assert.Equal(0, status.GetProperty("failed").GetInt64());
    }

    private static readonly TimeSpan WhatsAppSenderPause = TimeSpan.FromMinutes(5);

    // --- 190 and 368: the channel pauses -----------------------------------------------------------------------------

    [Fact]
    public async Task An_expired_token_pauses_the_channel_without_more_calls_until_a_new_access_token_is_set()
    {
        var channel = await AddChannelAsync();
        var a = OpenRecipient(channel);
        var b = OpenRecipient(channel);
        server.Graph.ExpireToken(channel.Phone.AccessToken);

        var before = DateTimeOffset.UtcNow;
        var first = await SendAsync(channel, a, new { text = "your order shipped" });
        var retrying = await WaitForStatusAsync(first, "retrying");
        Assert.Contains("190", Details(retrying, "retrying"), StringComparison.Ordinal);
        AssertPaused(await ChannelStatusAsync(channel), WhatsAppSenderPause, before, "whatsapp.access_token");
        var calls = SendCalls(channel);
        Assert.Equal(1, calls);

        // A second message, to another user: the channel takes none while paused.
        var second = await SendAsync(channel, b, new { text = "and so did this one" });
        await EngineLookedAsync();
        Assert.Equal(calls, SendCalls(channel));
        Assert.Equal("queued", StatusOf(await GetAsync(second)));
        Assert.Equal("retrying", StatusOf(await GetAsync(first)));

        // The operator sets a new token: the pause is lifted and both go, each once.
        var token = NewSecret("EAAJBtoken-new");
        server.Graph.ReplaceToken(channel.Phone.Id, token);
        (await server.CallAsync(HttpMethod.Patch, $"/v1/channels/{channel.Id}", ApiCall.Json(new { whatsapp = new { access_token = token } })))
            .AssertStatus(HttpStatusCode.OK);
        await WaitForStatusAsync(first, "sent");
        await WaitForStatusAsync(second, "sent");
        Assert.Single(server.Graph.SentTo(a));
        Assert.Single(server.Graph.SentTo(b));
        Assert.Null(PausedUntil(await ChannelStatusAsync(channel)));
    }

    [Fact]
    public async Task A_blocked_account_pauses_the_channel_and_its_status_says_so()
    {
        var channel = await AddChannelAsync();
        var a = OpenRecipient(channel);
        server.Graph.InjectError(a, 368);

        var before = DateTimeOffset.UtcNow;
        var id = await SendAsync(channel, a, new { text = "hello" });
        var message = await WaitForStatusAsync(id, "retrying");
        Assert.Contains("368", Details(message, "retrying"), StringComparison.Ordinal);
        var status = await ChannelStatusAsync(channel);
        AssertPaused(status, WhatsAppSenderPause, before, "blocked");
        Assert.Contains("368", LastError(status), StringComparison.Ordinal);
        Assert.Empty(server.Graph.SentTo(a));
    }

    // --- 131056: only that user waits --------------------------------------------------------------------------------

    [Fact]
    public async Task The_pair_rate_holds_only_that_user_while_another_user_of_the_channel_is_sent_to()
    {
        // A long pair interval: A's retry comes well after B is sent, however slow the machine.
        var channel = await AddChannelAsync(new { pair_interval_seconds = 15 });
        var a = OpenRecipient(channel);
        var b = OpenRecipient(channel);
        server.Graph.InjectError(a, 131056);

        var forA = await SendAsync(channel, a, new { text = "for A" });
        var waiting = await WaitForStatusAsync(forA, "retrying");
        Assert.Contains("131056", Details(waiting, "retrying"), StringComparison.Ordinal);
        var status = await ChannelStatusAsync(channel);
        Assert.Null(PausedUntil(status));
        Assert.Contains("131056", FailingDestination(status, a)?.GetProperty("last_error").GetString() ?? "", StringComparison.Ordinal);

        var forB = await SendAsync(channel, b, new { text = "for B" });
        await WaitForStatusAsync(forB, "sent");
        Assert.Single(server.Graph.SentTo(b));
        Assert.Empty(server.Graph.SentTo(a));
        Assert.Equal("retrying", StatusOf(await GetAsync(forA)));

        await Eventually.UntilAsync(async () => StatusOf(await GetAsync(forA)) == "sent", TimeSpan.FromSeconds(90), () => $"A's message to be sent after the pair interval");
        var sent = Assert.Single(server.Graph.SentTo(a));
        Assert.Equal("for A", sent.Text);
        Assert.True(server.Graph.SentTo(b)[0].At <= sent.At, "B went before A's retry");
    }

    // --- 5xx: retried ------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    public async Task A_5xx_once_is_retried_and_the_message_is_sent_exactly_once(int httpStatus)
    {
        var channel = await AddChannelAsync();
        var a = OpenRecipient(channel);
        server.Graph.InjectHttpError(a, httpStatus);

        var id = await SendAsync(channel, a, new { text = "after a hiccup" });
        var message = await WaitForStatusAsync(id, "sent");
        Assert.Single(server.Graph.SentTo(a));
        Assert.Single(server.Graph.InjectedErrors, e => e.To == a && e.HttpStatus == httpStatus);
        var history = History(message);
        Assert.True(history.IndexOf("retrying") >= 0 && history.IndexOf("retrying") < history.LastIndexOf("sent"), $"retrying then sent: {string.Join(", ", history)}");
        Assert.Equal(2, SendCalls(channel));
    }

    // --- Refusals fail with Meta's message ---------------------------------------------------------------------------

    [Theory]
    [InlineData(131026, "Message Undeliverable")]
    [InlineData(131053, "Media upload error")]
    [InlineData(100, "Invalid parameter")]
    public async Task A_refused_message_fails_at_once_with_meta_s_code_and_message_in_the_history(int code, string metaMessage)
    {
        var channel = await AddChannelAsync();
        var a = OpenRecipient(channel);
        server.Graph.InjectError(a, code);

        var id = await SendAsync(channel, a, new { text = "this one is refused" });
        var message = await WaitForStatusAsync(id, "failed");
        var detail = Details(message, "failed");
        Assert.Contains($"({code.ToString(CultureInfo.InvariantCulture)})", detail, StringComparison.Ordinal);
        Assert.Contains(metaMessage, detail, StringComparison.Ordinal);
        Assert.Contains(metaMessage, message.GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("retrying", History(message));
        Assert.Equal(1, SendCalls(channel));
        Assert.Empty(server.Graph.SentTo(a));
    }

    // --- 130429, 4 and 80007: the channel backs off ------------------------------------------------------------------

    [Fact]
    public async Task Throughput_130429_is_retried_and_sent_once_and_the_channel_status_shows_the_back_off_meanwhile()
    {
        var channel = await AddChannelAsync();
        var a = OpenRecipient(channel);
        server.Graph.InjectError(a, 130429);
        string id;
        // The first attempt is refused (not held); the retry is made and held unanswered: the back-off can be looked at.
        server.Graph.HoldAnswers();
        try
        {
            id = await SendAsync(channel, a, new { text = "busy number" });
            await Eventually.UntilAsync(() => server.Graph.HeldAnswers == 1 && server.Graph.SentTo(a).Count == 1, Patience,
                () => $"the retry to be held: held {server.Graph.HeldAnswers}, calls {string.Join(", ", server.Graph.Calls.TakeLast(5))}");
            var meanwhile = await GetAsync(id);
            Assert.Equal("retrying", StatusOf(meanwhile));
            Assert.Contains("130429", Details(meanwhile, "retrying"), StringComparison.Ordinal);
            var status = await ChannelStatusAsync(channel);
            Assert.Contains("130429", FailingDestination(status, a)?.GetProperty("last_error").GetString() ?? "", StringComparison.Ordinal);
            Assert.Contains("130429", LastError(status), StringComparison.Ordinal);
        }
        finally
        {
            server.Graph.ReleaseAnswers();
        }

        await WaitForStatusAsync(id, "sent");
        Assert.Single(server.Graph.SentTo(a));
        Assert.Null(FailingDestination(await ChannelStatusAsync(channel), a));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(80007)]
    public async Task An_api_call_limit_pauses_the_channel_for_a_minute_and_the_message_waits(int code)
    {
        var channel = await AddChannelAsync();
        var a = OpenRecipient(channel);
        server.Graph.InjectError(a, code);

        var before = DateTimeOffset.UtcNow;
        var id = await SendAsync(channel, a, new { text = "rate limited" });
        var message = await WaitForStatusAsync(id, "retrying");
        Assert.Contains($"({code.ToString(CultureInfo.InvariantCulture)})", Details(message, "retrying"), StringComparison.Ordinal);
        AssertPaused(await ChannelStatusAsync(channel), TimeSpan.FromMinutes(1), before, $"({code.ToString(CultureInfo.InvariantCulture)})");
        Assert.Empty(server.Graph.SentTo(a));
    }

    // --- Media by Meta's id through the API --------------------------------------------------------------------------

    [Fact]
    public async Task A_photo_by_meta_s_media_id_goes_as_image_id_with_the_caption()
    {
        var channel = await AddChannelAsync();
        var a = OpenRecipient(channel);
        var mediaId = "1037" + Interlocked.Increment(ref _numbers).ToString("D12", CultureInfo.InvariantCulture);
        server.Graph.AddMedia(mediaId, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3], "image/jpeg");

        var id = await SendAsync(channel, a, new { text = "your receipt", media = new { type = "photo", file_id = mediaId } });
        var message = await WaitForStatusAsync(id, "sent");
        var sent = Assert.Single(server.Graph.SentTo(a));
        Assert.Equal("image", sent.Type);
        Assert.Equal(mediaId, sent.MediaId);
        Assert.Null(sent.MediaLink);
        Assert.Equal("your receipt", sent.Text);
        Assert.Equal(sent.Wamid, message.GetProperty("platform_id").GetString());
    }

    [Fact]
    public async Task A_media_id_meta_does_not_hold_fails_with_meta_s_invalid_parameter()
    {
        var channel = await AddChannelAsync();
        var a = OpenRecipient(channel);

        var id = await SendAsync(channel, a, new { media = new { type = "photo", file_id = "999000111222333" } });
        var message = await WaitForStatusAsync(id, "failed");
        Assert.Contains("Invalid media id", message.GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.Empty(server.Graph.SentTo(a));
    }

    // --- Routes between a webhook channel and WhatsApp ---------------------------------------------------------------

    [Fact]
    public async Task A_signed_post_to_a_webhook_channel_is_routed_to_a_whatsapp_user()
    {
        var wa = await AddChannelAsync();
        var a = OpenRecipient(wa);
        var hook = ApiServer.NewId("wh-in");
        var secret = TestSecrets.For(hook);
        (await server.CallAsync(HttpMethod.Post, "/v1/channels", ApiCall.Json(new { id = hook, secret }))).AssertStatus(HttpStatusCode.Created);
        (await server.CallAsync(HttpMethod.Post, "/v1/routes", ApiCall.Json(new { id = ApiServer.NewId("wh-to-wa"), from = hook, to = new[] { wa.Id } })))
            .AssertStatus(HttpStatusCode.Created);

        var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { id = "order-7", chat = a, text = "Order 7 is ready for pickup" }));
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Tern.BaseUrl, $"/hooks/webhook/{hook}")) { Content = new ByteArrayContent(body) })
        {
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", WhatsAppWebhookSender.Sign(body, secret));
            using var response = await server.Tern.Http.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        await Eventually.UntilAsync(() => server.Graph.SentTo(a).Count > 0, Patience,
            () => $"the stand-in to get the routed message; calls {string.Join(", ", server.Graph.Calls.TakeLast(5))}; {server.Home.Database.Describe()}");
        var sent = Assert.Single(server.Graph.SentTo(a));
        Assert.Equal(("text", "Order 7 is ready for pickup", wa.Phone.Id), (sent.Type, sent.Text, sent.PhoneNumberId));
    }

    [Fact]
    public async Task A_signed_meta_webhook_is_routed_to_a_webhook_destination()
    {
        var wa = await AddChannelAsync();
        var hookSecret = TestSecrets.For("wa-to-backend");
        await using var backend = await Tern.StandIns.Http.LoopbackReceiver.StartAsync("/backend", "POST", SignatureScheme.StandardWebhooks, hookSecret);
        var destination = ApiServer.NewId("wh-out");
        (await server.CallAsync(HttpMethod.Post, "/v1/channels", ApiCall.Json(new { id = destination, url = backend.Url.ToString(), secret = hookSecret })))
            .AssertStatus(HttpStatusCode.Created);
        (await server.CallAsync(HttpMethod.Post, "/v1/routes", ApiCall.Json(new { id = ApiServer.NewId("wa-to-wh"), from = wa.Id, to = new[] { destination } })))
            .AssertStatus(HttpStatusCode.Created);

        var user = NewRecipient();
        var inbound = WhatsAppInbound.Text(user, "Where is my order?");
        using (var sender = new WhatsAppWebhookSender(wa.HookUrl, wa.AppSecret) { RetrySchedule = [] })
        {
            var delivery = await sender.PostAsync(new WhatsAppWebhookBody().Entry(wa.Phone.WabaId, new WhatsAppChange(wa.Phone).Message(inbound)).ToBytes());
            Assert.True(delivery.Delivered, $"webhook answered {delivery.FinalStatus} {delivery.Attempts[^1].Error}");
        }

        await Eventually.UntilAsync(() => backend.Accepted.Count > 0, Patience, () => $"the backend to get the message; {server.Home.Database.Describe()}");
        var received = Assert.Single(backend.Accepted);
        Assert.Empty(received.SignatureProblems);
        using var json = JsonDocument.Parse(received.Body);
        var root = json.RootElement;
        Assert.Equal(user, root.GetProperty("chat").GetString());
        Assert.Equal("Where is my order?", root.GetProperty("text").GetString());
        Assert.Equal(wa.Id, root.GetProperty("source").GetProperty("channel").GetString());
        Assert.Equal((string?)inbound["id"], root.GetProperty("message_id").GetString());
    }
}
