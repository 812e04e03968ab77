using System.Globalization;
using System.Net;
using System.Text.Json;
using Tern.Server.Tests.Api;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Http;
using Tern.StandIns.WhatsApp;

namespace Tern.Server.Tests.WhatsApp;

/// <summary>
/// WhatsApp sends end to end in the test process: POST /v1/messages to a WhatsApp channel reaches the Graph stand-in as
/// Meta's request, and the signed <c>statuses[]</c> Meta posts back become the message's status and history — out of
/// order, repeated, before the send's answer, failed — and tenant events.
/// </summary>
public sealed class WhatsAppSendTests(WhatsAppServer server) : IClassFixture<WhatsAppServer>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static long _numbers;
    private static long _recipients;

    private static string NewPhoneNumberId() =>
        "10754035" + Interlocked.Increment(ref _numbers).ToString("D7", CultureInfo.InvariantCulture);

    /// <summary>A recipient (wa_id) no other test writes to.</summary>
    private static string NewRecipient() => "1650" + Interlocked.Increment(ref _recipients).ToString("D7", CultureInfo.InvariantCulture);

    private static string NewSecret(string what) => what + Guid.NewGuid().ToString("N");

    private sealed record WaChannel(string Id, WhatsAppPhoneNumber Phone, string AppSecret, Uri HookUrl);

    private async Task<WaChannel> AddChannelAsync()
    {
        var phoneId = NewPhoneNumberId();
        var token = NewSecret("EAAJBtoken");
        var phone = server.Graph.AddPhoneNumber(phoneId, "+1 555-" + phoneId[^7..], token);
        var id = ApiServer.NewId("wa-send");
        var appSecret = NewSecret("appsecret");
        var created = await server.CallAsync(HttpMethod.Post, "/v1/channels", ApiCall.Json(new
        {
            id,
            type = "whatsapp",
            whatsapp = new { phone_number_id = phoneId, access_token = token, app_secret = appSecret, verify_token = NewSecret("verify-"), base_url = server.Graph.BaseUrl.ToString() },
        }));
        created.AssertStatus(HttpStatusCode.Created);
        return new WaChannel(id, phone, appSecret, new Uri(server.Tern.BaseUrl, $"/hooks/whatsapp/{id}"));
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

    /// <summary>Polls GET /v1/messages/{id} until <paramref name="condition"/> holds; the last answer.</summary>
    private async Task<JsonElement> WaitForAsync(string id, Func<JsonElement, bool> condition, string what)
    {
        JsonElement message = default;
        await Eventually.UntilAsync(async () => condition(message = await GetAsync(id)), Patience,
            () => $"message {id} {what}: {message}; stand-in calls {string.Join(", ", server.Graph.Calls.TakeLast(5))}");
        return message;
    }

    private Task<JsonElement> WaitForStatusAsync(string id, string status) =>
        WaitForAsync(id, m => m.GetProperty("status").GetString() == status, "to be " + status);

    private static string? StatusOf(JsonElement message) => message.GetProperty("status").GetString();

    private static List<string?> History(JsonElement message) =>
        message.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("status").GetString()).ToList();

    /// <summary>Signs the change's webhook body with the channel's app secret and posts it once; must be 200.</summary>
    private static Task PostStatusAsync(WaChannel channel, WhatsAppChange change) =>
        PostBytesAsync(channel, new WhatsAppWebhookBody().Entry(channel.Phone.WabaId, change).ToBytes());

    private static async Task PostBytesAsync(WaChannel channel, byte[] bytes)
    {
        using var sender = new WhatsAppWebhookSender(channel.HookUrl, channel.AppSecret) { RetrySchedule = [] };
        var delivery = await sender.PostAsync(bytes);
        Assert.True(delivery.Delivered, $"webhook answered {delivery.FinalStatus} {delivery.Attempts[^1].Error}");
    }

    /// <summary>The one message the stand-in accepted for the recipient, waited for.</summary>
    private async Task<WhatsAppSentMessage> SentOnceAsync(string recipient)
    {
        await Eventually.UntilAsync(() => server.Graph.SentTo(recipient).Count > 0, Patience,
            () => $"the stand-in to get a message to {recipient}; calls {string.Join(", ", server.Graph.Calls.TakeLast(5))}");
        return Assert.Single(server.Graph.SentTo(recipient));
    }

    /// <summary>A channel, an open window to a fresh recipient, a text sent and answered: the message id and what Meta got.</summary>
    private async Task<(WaChannel Channel, string Recipient, string Id, WhatsAppSentMessage Sent)> SentTextAsync(string text = "hello")
    {
        var channel = await AddChannelAsync();
        var recipient = NewRecipient();
        server.Graph.OpenWindow(channel.Phone.Id, recipient);
        var id = await SendAsync(channel, recipient, new { text });
        var message = await WaitForStatusAsync(id, "sent");
        var sent = await SentOnceAsync(recipient);
        Assert.Equal(sent.Wamid, message.GetProperty("platform_id").GetString());
        return (channel, recipient, id, sent);
    }

    // --- 1. A text ------------------------------------------------------------------------------------------------

    [Fact]
    public async Task A_text_sent_over_the_api_reaches_meta_as_a_text_and_the_message_is_sent_with_the_wamid()
    {
        var (channel, recipient, id, sent) = await SentTextAsync("Your order 1042 has shipped");

        Assert.Equal("text", sent.Type);
        Assert.Equal("Your order 1042 has shipped", (string?)sent.Content["body"]);
        Assert.Equal(channel.Phone.Id, sent.PhoneNumberId);
        Assert.Equal(recipient, (string?)sent.Request["to"]);
        Assert.Equal("whatsapp", (string?)sent.Request["messaging_product"]);
        Assert.StartsWith("wamid.", sent.Wamid, StringComparison.Ordinal);

        var message = await GetAsync(id);
        Assert.Equal("sent", StatusOf(message));
        Assert.Equal(sent.Wamid, message.GetProperty("platform_id").GetString());
        Assert.Equal(channel.Id, message.GetProperty("channel").GetString());
        Assert.Equal(recipient, message.GetProperty("chat").GetString());
        Assert.Equal("sent", History(message)[^1]);
    }

    // --- 2. Out of order and repeated ------------------------------------------------------------------------------

    [Fact]
    public async Task Read_then_delivered_keeps_both_in_the_history_and_the_status_read_and_a_repeat_adds_nothing()
    {
        var (channel, _, id, sent) = await SentTextAsync();

        var readBody = new WhatsAppWebhookBody().Entry(channel.Phone.WabaId, new WhatsAppChange(channel.Phone).Status(server.Graph.StatusFor(sent.Wamid, "read"))).ToBytes();
        await PostBytesAsync(channel, readBody);
        await WaitForStatusAsync(id, "read");

        var deliveredBody = new WhatsAppWebhookBody().Entry(channel.Phone.WabaId, new WhatsAppChange(channel.Phone).Status(server.Graph.StatusFor(sent.Wamid, "delivered"))).ToBytes();
        await PostBytesAsync(channel, deliveredBody);
        var message = await WaitForAsync(id, m => History(m).Contains("delivered"), "to have delivered in its history");
        Assert.Equal("read", StatusOf(message));
        var history = History(message);
        Assert.Equal(1, history.Count(s => s == "read"));
        Assert.Equal(1, history.Count(s => s == "delivered"));
        Assert.True(history.IndexOf("read") < history.IndexOf("delivered"), $"history in arrival order: {string.Join(", ", history)}");

        // Meta redelivers the same bytes: the webhook is committed before its 200, so once answered nothing may change.
        await PostBytesAsync(channel, readBody);
        await PostBytesAsync(channel, deliveredBody);
        var again = await GetAsync(id);
        Assert.Equal(history, History(again));
        Assert.Equal("read", StatusOf(again));
    }

    // --- 3. A status before the send's answer -----------------------------------------------------------------------

    [Fact]
    public async Task A_delivered_status_that_arrives_before_the_send_is_answered_lands_once_the_answer_is_recorded()
    {
        var channel = await AddChannelAsync();
        var recipient = NewRecipient();
        server.Graph.OpenWindow(channel.Phone.Id, recipient);
        string id;
        server.Graph.HoldAnswers();
        try
        {
            id = await SendAsync(channel, recipient, new { text = "early bird" });
            await Eventually.UntilAsync(() => server.Graph.HeldAnswers == 1 && server.Graph.SentTo(recipient).Count == 1, Patience,
                () => $"the stand-in to hold the send: held {server.Graph.HeldAnswers}, sent {server.Graph.SentTo(recipient).Count}");
            var wamid = server.Graph.SentTo(recipient)[0].Wamid;

            await PostStatusAsync(channel, server.Graph.StatusChange(wamid, "delivered"));
            var meanwhile = await GetAsync(id);
            Assert.NotEqual("delivered", StatusOf(meanwhile));
        }
        finally
        {
            server.Graph.ReleaseAnswers();
        }

        var message = await WaitForStatusAsync(id, "delivered");
        Assert.Equal(server.Graph.SentTo(recipient)[0].Wamid, message.GetProperty("platform_id").GetString());
        var history = History(message);
        var sentAt = history.IndexOf("sent");
        Assert.True(sentAt >= 0 && history.IndexOf("delivered") > sentAt, $"sent then delivered: {string.Join(", ", history)}");
        Assert.Equal(1, history.Count(s => s == "delivered"));
    }

    // --- 4. failed ---------------------------------------------------------------------------------------------------

    [Fact]
    public async Task A_failed_status_fails_the_message_with_meta_s_error_in_the_history()
    {
        var (channel, _, id, sent) = await SentTextAsync();

        await PostStatusAsync(channel, server.Graph.StatusChange(sent.Wamid, "failed", 131026));
        var message = await WaitForStatusAsync(id, "failed");
        var failed = message.GetProperty("history").EnumerateArray().Last(h => h.GetProperty("status").GetString() == "failed");
        Assert.True(failed.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String, $"a detail on the failed entry: {failed}");
        Assert.Contains("131026", detail.GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_status_after_read_is_kept_in_the_history_but_the_message_stays_read()
    {
        var (channel, _, id, sent) = await SentTextAsync();

        await PostStatusAsync(channel, server.Graph.StatusChange(sent.Wamid, "read"));
        await WaitForStatusAsync(id, "read");
        await PostStatusAsync(channel, server.Graph.StatusChange(sent.Wamid, "failed", 131026));
        var message = await WaitForAsync(id, m => History(m).Contains("failed"), "to have failed in its history");
        Assert.Equal("read", StatusOf(message));
    }

    // --- 5. Tenant events -------------------------------------------------------------------------------------------

    [Fact]
    public async Task Delivered_and_read_statuses_raise_one_tenant_event_each()
    {
        var secret = TestSecrets.For("wa-send-events");
        await using var events = await RecordingReceiver.StartAsync(SignatureScheme.StandardWebhooks, secret);
        (await server.CallAsync(HttpMethod.Post, "/v1/webhooks", ApiCall.Json(new { url = events.Url.ToString(), events = new[] { "message.delivered", "message.read" }, secret })))
            .AssertStatus(HttpStatusCode.Created);

        var (channel, _, id, sent) = await SentTextAsync();
        Assert.StartsWith("out_", id, StringComparison.Ordinal);
        await PostStatusAsync(channel, server.Graph.StatusChange(sent.Wamid, "delivered"));
        await WaitForStatusAsync(id, "delivered");
        await PostStatusAsync(channel, server.Graph.StatusChange(sent.Wamid, "read"));
        await WaitForStatusAsync(id, "read");
        // A repeat of delivered after read raises nothing.
        await PostStatusAsync(channel, server.Graph.StatusChange(sent.Wamid, "delivered"));

        List<string> Seen() => events.Accepted.Where(r => r.Subject == id).Select(r => r.Type).ToList();
        await Eventually.UntilAsync(() => Seen().Contains("message.delivered") && Seen().Contains("message.read"), Patience,
            () => $"message.delivered and message.read for {id}: {events.Describe()}");
        Assert.Empty(events.Problems);
        Assert.Equal(["message.delivered", "message.read"], Seen().Order(StringComparer.Ordinal));
    }

    // --- 6. The customer service window --------------------------------------------------------------------------------

    [Fact]
    public async Task A_text_outside_the_24_hour_window_fails_and_says_to_send_a_template()
    {
        Assert.False(server.Graph.Options.WindowOpenByDefault);
        var channel = await AddChannelAsync();
        var recipient = NewRecipient(); // never wrote: the window is closed
        var id = await SendAsync(channel, recipient, new { text = "are you there?" });

        var message = await WaitForStatusAsync(id, "failed");
        Assert.Contains("template", message.GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.Empty(server.Graph.SentTo(recipient));
        Assert.Contains(server.Graph.Calls, c => c.ErrorCode == 131047);
    }

    // --- 7. Media and user ids ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task A_photo_by_url_goes_as_an_image_link_with_the_text_as_caption()
    {
        var channel = await AddChannelAsync();
        var recipient = NewRecipient();
        server.Graph.OpenWindow(channel.Phone.Id, recipient);
        var id = await SendAsync(channel, recipient, new { text = "the blue one", media = new { type = "photo", url = "https://example.com/cat.jpg" } });

        await WaitForStatusAsync(id, "sent");
        var sent = await SentOnceAsync(recipient);
        Assert.Equal("image", sent.Type);
        Assert.Equal("https://example.com/cat.jpg", sent.MediaLink);
        Assert.Equal("the blue one", sent.Text);
    }

    [Fact]
    public async Task A_business_scoped_user_id_chat_is_sent_in_recipient_not_to()
    {
        const string userId = "US.13491208655302741918";
        var channel = await AddChannelAsync();
        server.Graph.OpenWindow(channel.Phone.Id, userId);
        var id = await SendAsync(channel, userId, new { text = "hi there" });

        var message = await WaitForStatusAsync(id, "sent");
        var sent = server.Graph.Sent.Single(s => s.PhoneNumberId == channel.Phone.Id);
        Assert.Equal(userId, (string?)sent.Request["recipient"]);
        Assert.False(sent.Request.ContainsKey("to"), $"no `to` with a user id: {sent.Request.ToJsonString()}");
        Assert.Equal(sent.Wamid, message.GetProperty("platform_id").GetString());
    }

    // --- 8. Templates, read marks and the link preview through POST /v1/messages -------------------------------------------

    [Fact]
    public async Task A_template_goes_outside_the_24_hour_window_with_its_language_and_components_and_gets_statuses()
    {
        var channel = await AddChannelAsync();
        var recipient = NewRecipient(); // never wrote: only a template goes
        var components = new[] { new { type = "body", parameters = new[] { new { type = "text", text = "order 4711" } } } };
        var id = await SendAsync(channel, recipient, new { whatsapp = new { template = new { name = "order_update", language = "en_US", components } } });

        var message = await WaitForStatusAsync(id, "sent");
        var sent = await SentOnceAsync(recipient);
        Assert.Equal("template", sent.Type);
        Assert.Equal("order_update", sent.TemplateName);
        Assert.Equal("en_US", sent.TemplateLanguage);
        Assert.Equal("order 4711", (string?)sent.Content["components"]![0]!["parameters"]![0]!["text"]);
        Assert.Equal(sent.Wamid, message.GetProperty("platform_id").GetString());

        await PostStatusAsync(channel, server.Graph.StatusChange(sent.Wamid, "delivered"));
        await WaitForStatusAsync(id, "delivered");
    }

    [Fact]
    public async Task Meta_s_own_language_object_is_taken_as_well()
    {
        var channel = await AddChannelAsync();
        var recipient = NewRecipient();
        var id = await SendAsync(channel, recipient, new { whatsapp = new { template = new { name = "hello_world", language = new { code = "en_US" } } } });

        await WaitForStatusAsync(id, "sent");
        var sent = await SentOnceAsync(recipient);
        Assert.Equal("hello_world", sent.TemplateName);
        Assert.Equal("en_US", sent.TemplateLanguage);
        Assert.False(sent.Content.ContainsKey("components"));
    }

    [Fact]
    public async Task A_read_mark_marks_the_user_s_message_read_with_a_typing_indicator()
    {
        var channel = await AddChannelAsync();
        var user = NewRecipient();
        var inbound = WhatsAppInbound.Text(user, "is my order on its way?");
        await PostBytesAsync(channel, new WhatsAppWebhookBody().Entry(channel.Phone.WabaId, new WhatsAppChange(channel.Phone).Contact(user, "Ana").Message(inbound)).ToBytes());
        var wamid = (string)inbound["id"]!;

        var id = await SendAsync(channel, user, new { whatsapp = new { mark_read = wamid, typing_indicator = true } });
        await WaitForStatusAsync(id, "sent");
        var mark = Assert.Single(server.Graph.ReadMarks, r => r.PhoneNumberId == channel.Phone.Id);
        Assert.Equal(wamid, mark.MessageId);
        Assert.True(mark.TypingIndicator);
        Assert.Empty(server.Graph.SentTo(user)); // a read mark is not a message
    }

    [Fact]
    public async Task Preview_url_false_sends_a_text_with_a_link_and_no_preview()
    {
        var channel = await AddChannelAsync();
        var recipient = NewRecipient();
        server.Graph.OpenWindow(channel.Phone.Id, recipient);
        var id = await SendAsync(channel, recipient, new { text = "track it at https://example.com/t/1", whatsapp = new { preview_url = false } });

        await WaitForStatusAsync(id, "sent");
        var sent = await SentOnceAsync(recipient);
        Assert.NotEqual(true, sent.PreviewUrl);
    }

    [Theory]
    [InlineData("""{"text":"hi","whatsapp":{"template":{"name":"order_update","language":"en_US"}}}""", "whatsapp.template")]
    [InlineData("""{"whatsapp":{"template":{"name":"Order Update","language":"en_US"}}}""", "whatsapp.template.name")]
    [InlineData("""{"whatsapp":{"template":{"name":"order_update","language":"english"}}}""", "whatsapp.template.language")]
    [InlineData("""{"whatsapp":{"template":{"name":"order_update","language":"en","components":[1]}}}""", "whatsapp.template.components")]
    [InlineData("""{"whatsapp":{"template":{"name":"order_update","language":"en","colour":"red"}}}""", "whatsapp.template.colour")]
    [InlineData("""{"whatsapp":{"mark_read":"wamid.X","template":{"name":"a","language":"en"}}}""", "whatsapp.mark_read")]
    [InlineData("""{"whatsapp":{"mark_read":42}}""", "whatsapp.mark_read")]
    [InlineData("""{"text":"hi","whatsapp":{"typing_indicator":true}}""", "whatsapp.typing_indicator")]
    [InlineData("""{"whatsapp":{}}""", "whatsapp")]
    [InlineData("""{"whatsapp":"order_update"}""", "whatsapp")]
    [InlineData("""{"text":"hi","telegram":{"template":{}}}""", "telegram")]
    public async Task A_bad_whatsapp_object_is_a_400_naming_the_field(string body, string field)
    {
        var channel = await AddChannelAsync();
        var node = System.Text.Json.Nodes.JsonNode.Parse(body)!.AsObject();
        node["channel"] = channel.Id;
        node["chat"] = NewRecipient();
        var response = await server.CallAsync(HttpMethod.Post, "/v1/messages", node.ToJsonString());
        response.AssertProblem(HttpStatusCode.BadRequest, field);
    }

    [Fact]
    public async Task A_whatsapp_object_on_a_webhook_channel_is_a_400_naming_it()
    {
        var id = ApiServer.NewId("wh-opts");
        (await server.CallAsync(HttpMethod.Post, "/v1/channels", ApiCall.Json(new { id, type = "webhook", url = "https://example.com/hook" }))).AssertStatus(HttpStatusCode.Created);
        var response = await server.CallAsync(HttpMethod.Post, "/v1/messages",
            ApiCall.Json(new { channel = id, chat = "c1", whatsapp = new { template = new { name = "order_update", language = "en_US" } } }));
        response.AssertProblem(HttpStatusCode.BadRequest, "whatsapp");
        Assert.Contains("webhook", response.Json.GetProperty("errors").GetProperty("whatsapp")[0].GetString(), StringComparison.Ordinal);
    }
}
