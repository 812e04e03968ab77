using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tern.StandIns.Http;
using Tern.StandIns.WhatsApp;

namespace Tern.StandIns.Tests.WhatsApp;

public sealed class WhatsAppWebhookSenderTests
{
    private const string AppSecret = "app-secret-0123456789abcdef";
    private const string WabaId = "102290129340398";
    private const string PhoneId = "106540352242922";
    private const string Display = "15550783881";
    private const string Alice = "16505551234";

    private static WhatsAppChange Change() => new(PhoneId, Display);

    private static StringContent TextBody(string text) =>
        new(JsonSerializer.Serialize(new { messaging_product = "whatsapp", to = Alice, type = "text", text = new { body = text } }), Encoding.UTF8, "application/json");

    /// <summary>The signature computed here with a plain HMAC, independently of the sender.</summary>
    private static string PlainHmac(byte[] body, string secret)
    {
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
        return "sha256=" + string.Concat(hmac.ComputeHash(body).Select(b => b.ToString("x2")));
    }

    [Fact]
    public async Task A_post_is_signed_with_a_plain_HMAC_SHA256_of_the_raw_body_and_the_app_secret()
    {
        await using var receiver = await LoopbackReceiver.StartAsync("/hooks/whatsapp/main");
        using var sender = new WhatsAppWebhookSender(receiver.Url, AppSecret);
        var body = new WhatsAppWebhookBody().Entry(WabaId, Change().Contact(Alice, "Sheena Nelson").Message(WhatsAppInbound.Text(Alice, "Does it come in another colour? ✓")));

        var delivery = await sender.PostAsync(body);

        Assert.True(delivery.Delivered);
        var request = Assert.Single(receiver.Requests);
        Assert.Equal("POST", request.Method);
        Assert.StartsWith("application/json", request.Header("Content-Type"), StringComparison.Ordinal);
        Assert.Equal(PlainHmac(request.Body, AppSecret), request.Header("X-Hub-Signature-256"));
        Assert.NotEqual(PlainHmac(request.Body, "another secret"), request.Header("X-Hub-Signature-256"));
        Assert.Equal(body.ToBytes(), request.Body);
        Assert.Contains("✓", request.BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_inbound_type_is_shaped_with_the_documented_field_names()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var sender = new WhatsAppWebhookSender(receiver.Url, AppSecret);
        var ours = WhatsAppInbound.NewWamid();
        var change = Change()
            .Contact(Alice, "Sheena Nelson")
            .Contact(null, "Username User", userId: "US.13491208655302741918")
            .Message(WhatsAppInbound.Text(Alice, "hi"))
            .Message(WhatsAppInbound.Image(Alice, "m-image", caption: "look"))
            .Message(WhatsAppInbound.Video(Alice, "m-video"))
            .Message(WhatsAppInbound.Audio(Alice, "m-voice", voice: true))
            .Message(WhatsAppInbound.Document(Alice, "m-doc", "invoice.pdf"))
            .Message(WhatsAppInbound.Sticker(Alice, "m-sticker", animated: true))
            .Message(WhatsAppInbound.Location(Alice, 37.48, -122.15, "Office", "1 Hacker Way"))
            .Message(WhatsAppInbound.Contacts(Alice, "Barbara Johnson", "+1 650-555-0000", "16505550000"))
            .Message(WhatsAppInbound.ButtonReply(Alice, "yes", "Yes", ours, Display))
            .Message(WhatsAppInbound.ListReply(Alice, "r1", "Row 1", "first", ours, Display))
            .Message(WhatsAppInbound.Button(Alice, "STOP", "Stop promotions", ours, Display))
            .Message(WhatsAppInbound.Reaction(Alice, ours, "❤️"))
            .Message(WhatsAppInbound.Unsupported(Alice, "poll_creation"))
            .Message(WhatsAppInbound.Unknown(Alice))
            .Message(WhatsAppInbound.WithContext(WhatsAppInbound.Text(Alice, "a reply"), ours, Display))
            .Message(WhatsAppInbound.Forwarded(WhatsAppInbound.Text(Alice, "fwd"), frequently: true))
            .Message(WhatsAppInbound.WithUserId(WhatsAppInbound.Text(null, "no phone"), "US.13491208655302741918"));
        await sender.PostAsync(new WhatsAppWebhookBody().Entry(WabaId, change));

        using var document = JsonDocument.Parse(Assert.Single(receiver.Requests).Body);
        var root = document.RootElement;
        Assert.Equal("whatsapp_business_account", root.GetProperty("object").GetString());
        var entry = root.GetProperty("entry")[0];
        Assert.Equal(WabaId, entry.GetProperty("id").GetString());
        var c = entry.GetProperty("changes")[0];
        Assert.Equal("messages", c.GetProperty("field").GetString());
        var value = c.GetProperty("value");
        Assert.Equal("whatsapp", value.GetProperty("messaging_product").GetString());
        Assert.Equal(Display, value.GetProperty("metadata").GetProperty("display_phone_number").GetString());
        Assert.Equal(PhoneId, value.GetProperty("metadata").GetProperty("phone_number_id").GetString());
        var contacts = value.GetProperty("contacts");
        Assert.Equal("Sheena Nelson", contacts[0].GetProperty("profile").GetProperty("name").GetString());
        Assert.Equal(Alice, contacts[0].GetProperty("wa_id").GetString());
        Assert.False(contacts[1].TryGetProperty("wa_id", out _));
        Assert.Equal("US.13491208655302741918", contacts[1].GetProperty("user_id").GetString());

        var m = value.GetProperty("messages").EnumerateArray().ToArray();
        foreach (var message in m)
        {
            Assert.StartsWith("wamid.", message.GetProperty("id").GetString(), StringComparison.Ordinal);
            Assert.True(long.TryParse(message.GetProperty("timestamp").GetString(), out _));
            var type = message.GetProperty("type").GetString()!;
            if (type != "unknown") Assert.True(message.TryGetProperty(type, out _), type);
        }

        Assert.Equal(["text", "image", "video", "audio", "document", "sticker", "location", "contacts", "interactive", "interactive", "button", "reaction", "unsupported", "unknown", "text", "text", "text"],
            m.Select(x => x.GetProperty("type").GetString()));
        Assert.Equal(Alice, m[0].GetProperty("from").GetString());
        Assert.Equal("hi", m[0].GetProperty("text").GetProperty("body").GetString());
        foreach (var (i, type) in new[] { (1, "image"), (2, "video"), (3, "audio"), (4, "document"), (5, "sticker") })
        {
            var media = m[i].GetProperty(type);
            Assert.All(new[] { "id", "mime_type", "sha256" }, f => Assert.True(media.TryGetProperty(f, out _), type + "." + f));
        }

        Assert.Equal("look", m[1].GetProperty("image").GetProperty("caption").GetString());
        Assert.True(m[3].GetProperty("audio").GetProperty("voice").GetBoolean());
        Assert.Equal("invoice.pdf", m[4].GetProperty("document").GetProperty("filename").GetString());
        Assert.True(m[5].GetProperty("sticker").GetProperty("animated").GetBoolean());
        Assert.Equal(37.48, m[6].GetProperty("location").GetProperty("latitude").GetDouble());
        Assert.Equal("1 Hacker Way", m[6].GetProperty("location").GetProperty("address").GetString());
        Assert.Equal("16505550000", m[7].GetProperty("contacts")[0].GetProperty("phones")[0].GetProperty("wa_id").GetString());
        Assert.Equal("Barbara Johnson", m[7].GetProperty("contacts")[0].GetProperty("name").GetProperty("formatted_name").GetString());
        Assert.Equal("button_reply", m[8].GetProperty("interactive").GetProperty("type").GetString());
        Assert.Equal("yes", m[8].GetProperty("interactive").GetProperty("button_reply").GetProperty("id").GetString());
        Assert.Equal("r1", m[9].GetProperty("interactive").GetProperty("list_reply").GetProperty("id").GetString());
        Assert.Equal(("STOP", "Stop promotions"), (m[10].GetProperty("button").GetProperty("payload").GetString(), m[10].GetProperty("button").GetProperty("text").GetString()));
        Assert.Equal(ours, m[10].GetProperty("context").GetProperty("id").GetString());
        Assert.Equal(Display, m[10].GetProperty("context").GetProperty("from").GetString());
        Assert.Equal((ours, "❤️"), (m[11].GetProperty("reaction").GetProperty("message_id").GetString(), m[11].GetProperty("reaction").GetProperty("emoji").GetString()));
        Assert.Equal(131051, m[12].GetProperty("errors")[0].GetProperty("code").GetInt32());
        Assert.Equal("poll_creation", m[12].GetProperty("unsupported").GetProperty("type").GetString());
        Assert.Equal(131051, m[13].GetProperty("errors")[0].GetProperty("code").GetInt32());
        Assert.Equal(ours, m[14].GetProperty("context").GetProperty("id").GetString());
        Assert.True(m[15].GetProperty("context").GetProperty("frequently_forwarded").GetBoolean());
        Assert.False(m[16].TryGetProperty("from", out _));
        Assert.Equal("US.13491208655302741918", m[16].GetProperty("from_user_id").GetString());
    }

    [Fact]
    public async Task Anything_but_200_is_retried_with_the_same_bytes_and_signature_until_200()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var sender = new WhatsAppWebhookSender(receiver.Url, AppSecret) { RetrySchedule = [TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(4), TimeSpan.FromMilliseconds(8)] };
        // Meta wants 200 itself: a 204 is retried too.
        receiver.Enqueue(Reply.WithStatus(500), Reply.WithStatus(503), Reply.WithStatus(204));
        var body = new WhatsAppWebhookBody().Entry(WabaId, Change().Contact(Alice, "A").Message(WhatsAppInbound.Text(Alice, "retry me")));

        var delivery = await sender.PostAsync(body);

        Assert.True(delivery.Delivered);
        Assert.Equal([500, 503, 204, 200], delivery.Attempts.Select(a => a.Status));
        Assert.Equal([1, 2, 3, 4], delivery.Attempts.Select(a => a.Number));
        var requests = receiver.Requests;
        Assert.Equal(4, requests.Count);
        Assert.All(requests, r => Assert.Equal(requests[0].Body, r.Body));
        Assert.All(requests, r => Assert.Equal(PlainHmac(requests[0].Body, AppSecret), r.Header("X-Hub-Signature-256")));
        Assert.Equal(4, sender.Attempts.Count);
    }

    [Fact]
    public async Task Retries_stop_when_the_schedule_runs_out_and_the_delivery_is_not_done()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var sender = new WhatsAppWebhookSender(receiver.Url, AppSecret) { RetrySchedule = [TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1)] };
        receiver.FailNext(10, 500);
        var delivery = await sender.PostAsync(new WhatsAppWebhookBody().Entry(WabaId, Change().Message(WhatsAppInbound.Text(Alice, "x"))));
        Assert.False(delivery.Delivered);
        Assert.Equal(3, delivery.Attempts.Count);
        Assert.Equal(500, delivery.FinalStatus);

        // A receiver that is not there: network errors are retried too.
        var stopped = await LoopbackReceiver.StartAsync();
        var gone = stopped.BaseUrl;
        await stopped.DisposeAsync();
        using var toNowhere = new WhatsAppWebhookSender(gone, AppSecret) { RetrySchedule = [TimeSpan.FromMilliseconds(1)] };
        var lost = await toNowhere.PostAsync(new WhatsAppWebhookBody().Entry(WabaId, Change()));
        Assert.Equal(2, lost.Attempts.Count);
        Assert.All(lost.Attempts, a => Assert.Null(a.Status));
        Assert.All(lost.Attempts, a => Assert.NotNull(a.Error));
    }

    [Fact]
    public async Task A_duplicate_delivery_sends_the_very_same_bytes_twice()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var sender = new WhatsAppWebhookSender(receiver.Url, AppSecret);
        var bytes = new WhatsAppWebhookBody().Entry(WabaId, Change().Contact(Alice, "A").Message(WhatsAppInbound.Text(Alice, "once"))).ToBytes();
        var (first, second) = await sender.PostTwiceAsync(bytes);
        Assert.True(first.Delivered && second.Delivered);
        var requests = receiver.Requests;
        Assert.Equal(2, requests.Count);
        Assert.Equal(requests[0].Body, requests[1].Body);
        Assert.Equal(requests[0].Header("X-Hub-Signature-256"), requests[1].Header("X-Hub-Signature-256"));
    }

    [Fact]
    public async Task One_post_can_batch_many_entries_changes_messages_and_statuses()
    {
        await using var graph = await GraphApiStandIn.StartAsync(new GraphApiOptions { WindowOpenByDefault = true, EnforceLimits = false });
        var phone = graph.AddPhoneNumber(PhoneId, Display, "token");
        using var http = new HttpClient { BaseAddress = graph.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new("Bearer", "token");
        List<string> wamids = [];
        for (var i = 0; i < 10; i++)
        {
            using var answer = await http.PostAsync($"v23.0/{PhoneId}/messages",
                TextBody($"m{i}"));
            using var json = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
            wamids.Add(json.RootElement.GetProperty("messages")[0].GetProperty("id").GetString()!);
        }

        var body = new WhatsAppWebhookBody();
        for (var e = 0; e < 2; e++)
        {
            var changes = new WhatsAppChange[2];
            for (var c = 0; c < 2; c++)
            {
                changes[c] = new WhatsAppChange(phone).Contact(Alice, "A");
                for (var i = 0; i < 250; i++) changes[c].Message(WhatsAppInbound.Text(Alice, $"{e}.{c}.{i}"));
                foreach (var wamid in wamids) changes[c].Status(graph.StatusFor(wamid, "delivered"));
            }

            body.Entry(WabaId, changes);
        }

        await using var receiver = await LoopbackReceiver.StartAsync();
        using var sender = new WhatsAppWebhookSender(receiver.Url, AppSecret);
        Assert.True((await sender.PostAsync(body)).Delivered);

        using var document = JsonDocument.Parse(Assert.Single(receiver.Requests).Body);
        var values = document.RootElement.GetProperty("entry").EnumerateArray().SelectMany(x => x.GetProperty("changes").EnumerateArray()).Select(x => x.GetProperty("value")).ToArray();
        Assert.Equal(4, values.Length);
        Assert.Equal(1000, values.Sum(v => v.GetProperty("messages").GetArrayLength()));
        Assert.Equal(40, values.Sum(v => v.GetProperty("statuses").GetArrayLength()));
        Assert.Equal(1000, values.SelectMany(v => v.GetProperty("messages").EnumerateArray()).Select(x => x.GetProperty("id").GetString()).Distinct().Count());
    }

    [Fact]
    public async Task Statuses_can_be_posted_out_of_order_and_read_without_delivered()
    {
        await using var graph = await GraphApiStandIn.StartAsync(new GraphApiOptions { WindowOpenByDefault = true });
        var phone = graph.AddPhoneNumber(PhoneId, Display, "token");
        using var http = new HttpClient { BaseAddress = graph.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new("Bearer", "token");
        using var answer = await http.PostAsync($"v23.0/{PhoneId}/messages",
            TextBody("x"));
        using var json = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        var wamid = json.RootElement.GetProperty("messages")[0].GetProperty("id").GetString()!;

        await using var receiver = await LoopbackReceiver.StartAsync();
        using var sender = new WhatsAppWebhookSender(receiver.Url, AppSecret);
        await sender.PostAsync(new WhatsAppWebhookBody().Entry(WabaId, new WhatsAppChange(phone).Status(graph.StatusFor(wamid, "read"))));
        await sender.PostAsync(new WhatsAppWebhookBody().Entry(WabaId, new WhatsAppChange(phone).Status(graph.StatusFor(wamid, "sent"))));
        await sender.PostAsync(new WhatsAppWebhookBody().Entry(WabaId, graph.StatusChange(wamid, "failed", 131026)));

        var statuses = receiver.Requests.Select(r => JsonNode.Parse(r.Body)!["entry"]![0]!["changes"]![0]!["value"]!["statuses"]![0]!).ToArray();
        Assert.Equal(["read", "sent", "failed"], statuses.Select(s => (string?)s["status"]));
        Assert.All(statuses, s => Assert.Equal(wamid, (string?)s["id"]));
        Assert.Equal(131026, (int?)statuses[2]["errors"]![0]!["code"]);
        var metadata = JsonNode.Parse(receiver.Requests[2].Body)!["entry"]![0]!["changes"]![0]!["value"]!["metadata"]!;
        Assert.Equal((PhoneId, Display), ((string?)metadata["phone_number_id"], (string?)metadata["display_phone_number"]));
    }

    [Fact]
    public async Task Negative_signatures_missing_wrong_secret_and_over_re_serialized_bytes()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var sender = new WhatsAppWebhookSender(receiver.Url, AppSecret) { RetrySchedule = [TimeSpan.FromMilliseconds(1)] };
        receiver.Respond = r => r.Header("X-Hub-Signature-256") == PlainHmac(r.Body, AppSecret) ? Reply.Ok : Reply.WithStatus(401);
        var json = new WhatsAppWebhookBody().Entry(WabaId, Change().Contact(Alice, "A").Message(WhatsAppInbound.Text(Alice, "é"))).ToJson();
        var bytes = WhatsAppWebhookSender.Serialize(json);

        var unsigned = await sender.PostUnsignedAsync(bytes);
        Assert.Equal((401, 1), (unsigned.FinalStatus, unsigned.Attempts.Count));
        Assert.Null(receiver.Requests[^1].Header("X-Hub-Signature-256"));

        var wrongSecret = await sender.PostWithSignatureAsync(bytes, WhatsAppWebhookSender.Sign(bytes, "not the app secret"));
        Assert.Equal(401, wrongSecret.FinalStatus);

        var reserialized = await sender.PostSignedOverReserializedAsync(json);
        Assert.Equal((401, 1), (reserialized.FinalStatus, reserialized.Attempts.Count));
        var request = receiver.Requests[^1];
        Assert.Equal(bytes, request.Body);
        Assert.NotEqual(PlainHmac(request.Body, AppSecret), request.Header("X-Hub-Signature-256"));
        // The same JSON, other bytes: a receiver that re-serializes before checking would wrongly accept it.
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(request.Body), json));

        Assert.True((await sender.PostAsync(bytes)).Delivered);
        Assert.Equal(WhatsAppWebhookSender.Sign(bytes, AppSecret), PlainHmac(bytes, AppSecret));
    }

    [Fact]
    public async Task The_verification_handshake_sends_mode_token_and_challenge_and_returns_status_and_body()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        receiver.Respond = r =>
        {
            var query = System.Web.HttpUtility.ParseQueryString(r.Query);
            return query["hub.mode"] == "subscribe" && query["hub.verify_token"] == "right token"
                ? Reply.Text(200, query["hub.challenge"]!)
                : Reply.WithStatus(403);
        };
        using var sender = new WhatsAppWebhookSender(new Uri(receiver.BaseUrl, "hooks/whatsapp/main"), AppSecret);

        var ok = await sender.VerifyAsync("right token", "1158201444");
        Assert.Equal((200, "1158201444"), ok);
        var request = Assert.Single(receiver.Requests);
        Assert.Equal(("GET", "/hooks/whatsapp/main"), (request.Method, request.Path));
        Assert.Contains("hub.mode=subscribe", request.Query, StringComparison.Ordinal);
        Assert.Contains("hub.verify_token=right%20token", request.Query, StringComparison.Ordinal);
        Assert.Contains("hub.challenge=1158201444", request.Query, StringComparison.Ordinal);

        Assert.Equal(403, (await sender.VerifyAsync("wrong token", "1")).Status);
        Assert.Equal(403, (await sender.VerifyAsync("right token", "1", mode: "unsubscribe")).Status);
    }
}
