using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tern.Server.Tests.Api;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.WhatsApp;

namespace Tern.Server.Tests.WhatsApp;

/// <summary>
/// WhatsApp channels end to end in the test process: added over the API against the Graph stand-in, Meta's verification
/// handshake, signed webhook POSTs committed to SQLite before the 200 (and nothing for a bad signature), a 1,000-message
/// batch stored once in body order, sibling phone numbers of one app, and the body-size bound.
/// </summary>
public sealed class WhatsAppIngressTests(WhatsAppServer server) : IClassFixture<WhatsAppServer>
{
    private const string Alice = "16505551234";

    private static long _numbers;

    /// <summary>A phone number id of the stand-in that no other test uses.</summary>
    private static string NewPhoneNumberId() =>
        "10654035" + Interlocked.Increment(ref _numbers).ToString("D7", CultureInfo.InvariantCulture);

    private static string NewSecret(string what) => what + Guid.NewGuid().ToString("N");

    private sealed record WaChannel(string Id, WhatsAppPhoneNumber Phone, string AccessToken, string AppSecret, string VerifyToken, Uri HookUrl);

    /// <summary>A phone number on the stand-in and a WhatsApp channel for it, added over the API.</summary>
    private async Task<WaChannel> AddChannelAsync(string? appSecret = null)
    {
        var phoneId = NewPhoneNumberId();
        var token = NewSecret("EAAJBtoken");
        var phone = server.Graph.AddPhoneNumber(phoneId, "+1 555-" + phoneId[^7..], token, verifiedName: "Shop " + phoneId[^4..]);
        var channel = new WaChannel(ApiServer.NewId("wa"), phone, token, appSecret ?? NewSecret("appsecret"), NewSecret("verify-"), null!);
        var created = await server.CallAsync(HttpMethod.Post, "/v1/channels", ChannelBody(channel.Id, new
        {
            phone_number_id = phoneId,
            access_token = token,
            app_secret = channel.AppSecret,
            verify_token = channel.VerifyToken,
            base_url = server.Graph.BaseUrl.ToString(),
        }));
        created.AssertStatus(HttpStatusCode.Created);
        return channel with { HookUrl = new Uri(server.Tern.BaseUrl, $"/hooks/whatsapp/{channel.Id}") };
    }

    private static string ChannelBody(string id, object whatsapp) => ApiCall.Json(new { id, type = "whatsapp", whatsapp });

    private static WhatsAppWebhookSender Sender(WaChannel channel, string? secret = null) =>
        new(channel.HookUrl, secret ?? channel.AppSecret) { RetrySchedule = [] };

    /// <summary>Signs and posts the bytes once; the status and the answer's JSON (when 200).</summary>
    private async Task<(HttpStatusCode Status, JsonElement Answer, string Body)> PostAsync(WaChannel channel, byte[] body, string? secret = null, bool expectContinue = false, bool chunked = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, channel.HookUrl) { Content = chunked ? new ChunkedContent(body) : new ByteArrayContent(body) };
        // With Expect: 100-continue the body is sent only once the server starts reading it: a 413 decided on the
        // Content-Length alone comes back whole instead of racing the upload.
        if (expectContinue) request.Headers.ExpectContinue = true;
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", WhatsAppWebhookSender.Sign(body, secret ?? channel.AppSecret));
        using var response = await server.Tern.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var answer = response.StatusCode == HttpStatusCode.OK ? JsonDocument.Parse(text).RootElement.Clone() : default;
        return (response.StatusCode, answer, text);
    }

    private static void AssertCounts(JsonElement answer, int messages, int duplicates, int statuses, int skipped)
    {
        var seen = (answer.GetProperty("messages").GetInt32(), answer.GetProperty("duplicates").GetInt32(), answer.GetProperty("statuses").GetInt32(), answer.GetProperty("skipped").GetInt32());
        Assert.True((messages, duplicates, statuses, skipped) == seen, $"expected messages {messages}, duplicates {duplicates}, statuses {statuses}, skipped {skipped}: {answer}");
    }

    private long Stored(WaChannel channel) => server.Home.Database.InboxIds(channel.Id).Count;

    /// <summary>The channel's inbound messages as the API lists them (every page).</summary>
    private async Task<List<JsonElement>> ListedAsync(WaChannel channel)
    {
        var all = new List<JsonElement>();
        for (var page = 1; ; page++)
        {
            var answer = (await server.CallAsync(HttpMethod.Get, $"/v1/messages?direction=in&channel={channel.Id}&page_size=50&page={page}")).AssertStatus(HttpStatusCode.OK);
            var items = answer.Json.GetProperty("items").EnumerateArray().ToList();
            all.AddRange(items);
            if (items.Count < 50) return all;
        }
    }

    private static JsonObject Status(string wamid, string status) => new()
    {
        ["id"] = wamid,
        ["status"] = status,
        ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        ["recipient_id"] = Alice,
    };

    // --- Adding a channel -----------------------------------------------------------------------------------------

    [Fact]
    public async Task A_channel_added_over_the_api_shows_the_number_and_name_from_meta_and_never_its_secrets()
    {
        var channel = await AddChannelAsync();

        foreach (var shown in new[] { await server.CallAsync(HttpMethod.Get, $"/v1/channels/{channel.Id}"), await server.CallAsync(HttpMethod.Get, "/v1/channels") })
        {
            shown.AssertStatus(HttpStatusCode.OK);
            Assert.DoesNotContain(channel.AccessToken, shown.Body, StringComparison.Ordinal);
            Assert.DoesNotContain(channel.AppSecret, shown.Body, StringComparison.Ordinal);
            Assert.DoesNotContain(channel.VerifyToken, shown.Body, StringComparison.Ordinal);
        }
        var one = (await server.CallAsync(HttpMethod.Get, $"/v1/channels/{channel.Id}")).Json;
        Assert.Equal("whatsapp", one.GetProperty("type").GetString());
        var whatsapp = one.GetProperty("whatsapp");
        Assert.Equal(channel.Phone.Id, whatsapp.GetProperty("phone_number_id").GetString());
        Assert.Equal(channel.Phone.DisplayPhoneNumber, whatsapp.GetProperty("display_phone_number").GetString());
        Assert.Equal(channel.Phone.VerifiedName, whatsapp.GetProperty("verified_name").GetString());
        Assert.Equal($"/hooks/whatsapp/{channel.Id}", whatsapp.GetProperty("webhook_path").GetString());
        Assert.False(whatsapp.TryGetProperty("access_token", out _));
        Assert.False(whatsapp.TryGetProperty("app_secret", out _));
        Assert.False(whatsapp.TryGetProperty("verify_token", out _));
        // Verified with GET /{version}/{phone-number-id} against the stand-in.
        Assert.Contains(server.Graph.Calls, c => c.Method == "GET" && c.Path.EndsWith("/" + channel.Phone.Id, StringComparison.Ordinal) && c.HttpStatus == 200);
    }

    [Fact]
    public async Task A_wrong_access_token_is_a_400_naming_whatsapp_access_token_and_nothing_is_stored()
    {
        var phoneId = NewPhoneNumberId();
        server.Graph.AddPhoneNumber(phoneId, "+1 555-000-0001", NewSecret("EAAJBright"));
        var id = ApiServer.NewId("wa-bad");
        var wrongToken = NewSecret("EAAJBwrong");
        var answer = await server.CallAsync(HttpMethod.Post, "/v1/channels", ChannelBody(id, new
        {
            phone_number_id = phoneId, access_token = wrongToken, app_secret = NewSecret("appsecret"), verify_token = NewSecret("verify-"), base_url = server.Graph.BaseUrl.ToString(),
        }));
        answer.AssertProblem(HttpStatusCode.BadRequest, "whatsapp.access_token");
        Assert.DoesNotContain(wrongToken, answer.Body, StringComparison.Ordinal);
        (await server.CallAsync(HttpMethod.Get, $"/v1/channels/{id}")).AssertProblem(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task An_unknown_phone_number_id_is_a_400_naming_whatsapp_phone_number_id()
    {
        // The token is good for another number: Meta answers 100 for a number it cannot reach.
        var token = NewSecret("EAAJBother");
        server.Graph.AddPhoneNumber(NewPhoneNumberId(), "+1 555-000-0002", token);
        var id = ApiServer.NewId("wa-bad");
        var answer = await server.CallAsync(HttpMethod.Post, "/v1/channels", ChannelBody(id, new
        {
            phone_number_id = "999999999999999", access_token = token, app_secret = NewSecret("appsecret"), verify_token = NewSecret("verify-"), base_url = server.Graph.BaseUrl.ToString(),
        }));
        answer.AssertProblem(HttpStatusCode.BadRequest, "whatsapp.phone_number_id");
        (await server.CallAsync(HttpMethod.Get, $"/v1/channels/{id}")).AssertProblem(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Missing_fields_are_each_named_and_meta_is_not_asked()
    {
        var callsBefore = server.Graph.Calls.Count;
        var answer = await server.CallAsync(HttpMethod.Post, "/v1/channels", ChannelBody(ApiServer.NewId("wa-bad"), new { base_url = server.Graph.BaseUrl.ToString() }));
        answer.AssertProblem(HttpStatusCode.BadRequest, "whatsapp.phone_number_id");
        answer.AssertProblem(HttpStatusCode.BadRequest, "whatsapp.access_token");
        answer.AssertProblem(HttpStatusCode.BadRequest, "whatsapp.app_secret");
        answer.AssertProblem(HttpStatusCode.BadRequest, "whatsapp.verify_token");
        Assert.Equal(callsBefore, server.Graph.Calls.Count);
    }

    [Fact]
    public async Task Malformed_values_are_named_before_meta_is_asked()
    {
        var callsBefore = server.Graph.Calls.Count;
        var answer = await server.CallAsync(HttpMethod.Post, "/v1/channels", ChannelBody(ApiServer.NewId("wa-bad"), new
        {
            phone_number_id = "+1 555 0100", access_token = "short", app_secret = "has spaces in it!!", verify_token = "a b", base_url = server.Graph.BaseUrl.ToString(), api_version = "27",
        }));
        foreach (var field in new[] { "phone_number_id", "access_token", "app_secret", "verify_token", "api_version" })
        {
            answer.AssertProblem(HttpStatusCode.BadRequest, "whatsapp." + field);
        }
        Assert.Equal(callsBefore, server.Graph.Calls.Count);
    }

    [Fact]
    public async Task An_unknown_field_is_named()
    {
        var token = NewSecret("EAAJBunk");
        var phoneId = NewPhoneNumberId();
        server.Graph.AddPhoneNumber(phoneId, "+1 555-000-0003", token);
        var id = ApiServer.NewId("wa-bad");
        var answer = await server.CallAsync(HttpMethod.Post, "/v1/channels", ChannelBody(id, new
        {
            phone_number_id = phoneId, access_token = token, app_secret = NewSecret("appsecret"), verify_token = NewSecret("verify-"), base_url = server.Graph.BaseUrl.ToString(),
            webhook_secret = "nope",
        }));
        answer.AssertProblem(HttpStatusCode.BadRequest, "whatsapp.webhook_secret");
        (await server.CallAsync(HttpMethod.Get, $"/v1/channels/{id}")).AssertProblem(HttpStatusCode.NotFound);
    }

    // --- The GET handshake ----------------------------------------------------------------------------------------

    [Fact]
    public async Task The_handshake_echoes_the_challenge_for_the_right_token_and_refuses_anything_else()
    {
        var channel = await AddChannelAsync();
        using var sender = Sender(channel);

        using (var response = await server.Tern.Http.GetAsync(new Uri(channel.HookUrl + "?hub.mode=subscribe&hub.verify_token=" + Uri.EscapeDataString(channel.VerifyToken) + "&hub.challenge=1158201444")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("1158201444", await response.Content.ReadAsStringAsync());
        }
        Assert.Equal((200, "challenge-xyz"), await sender.VerifyAsync(channel.VerifyToken, "challenge-xyz"));

        var (wrongToken, wrongTokenBody) = await sender.VerifyAsync(channel.VerifyToken + "x", "challenge-1");
        Assert.Equal(403, wrongToken);
        Assert.DoesNotContain("challenge-1", wrongTokenBody, StringComparison.Ordinal);
        Assert.Equal(403, (await sender.VerifyAsync("", "challenge-2")).Status);
        var (wrongMode, wrongModeBody) = await sender.VerifyAsync(channel.VerifyToken, "challenge-3", mode: "unsubscribe");
        Assert.Equal(403, wrongMode);
        Assert.DoesNotContain("challenge-3", wrongModeBody, StringComparison.Ordinal);
        // Another channel's verify token is not this one's.
        var other = await AddChannelAsync();
        Assert.Equal(403, (await sender.VerifyAsync(other.VerifyToken, "challenge-4")).Status);

        using var nobody = new WhatsAppWebhookSender(new Uri(server.Tern.BaseUrl, "/hooks/whatsapp/" + ApiServer.NewId("nobody")), channel.AppSecret) { RetrySchedule = [] };
        Assert.Equal(404, (await nobody.VerifyAsync(channel.VerifyToken, "challenge-5")).Status);

        // The right token without a challenge: nothing to echo, a 400 naming hub.challenge.
        var missing = await ApiCall.SendAsync(server.Tern.Http, HttpMethod.Get,
            $"/hooks/whatsapp/{channel.Id}?hub.mode=subscribe&hub.verify_token={Uri.EscapeDataString(channel.VerifyToken)}", null);
        missing.AssertProblem(HttpStatusCode.BadRequest, "hub.challenge");
    }

    [Fact]
    public async Task The_whatsapp_hook_of_a_channel_of_another_type_is_404()
    {
        var plain = ApiServer.NewId("plain");
        var secret = TestSecrets.For("wa-plain");
        (await server.CallAsync(HttpMethod.Post, "/v1/channels", ApiCall.Json(new { id = plain, secret }))).AssertStatus(HttpStatusCode.Created);
        using var sender = new WhatsAppWebhookSender(new Uri(server.Tern.BaseUrl, "/hooks/whatsapp/" + plain), secret) { RetrySchedule = [] };
        Assert.Equal(404, (await sender.VerifyAsync("whatever-token", "challenge")).Status);
        var body = new WhatsAppWebhookBody().Entry("1", new WhatsAppChange(NewPhoneNumberId(), "+1 555").Message(WhatsAppInbound.Text(Alice, "to a plain channel"))).ToBytes();
        Assert.Equal(404, (await sender.PostAsync(body)).FinalStatus);
        Assert.Empty(server.Home.Database.InboxIds(plain));
    }

    [Fact]
    public async Task Messages_without_an_id_or_a_sender_are_acknowledged_as_skipped_and_not_stored()
    {
        var channel = await AddChannelAsync();
        var noId = WhatsAppInbound.Text(Alice, "no id");
        noId.Remove("id");
        var noSender = WhatsAppInbound.Text(null, "no sender");
        var good = WhatsAppInbound.Text(Alice, "good");
        var body = new WhatsAppWebhookBody().Entry("1", new WhatsAppChange(channel.Phone).Message(noId).Message(good).Message(noSender).Status(Status("wamid.out-x", "sent"))).ToBytes();

        var (status, answer, text) = await PostAsync(channel, body);
        Assert.True(status == HttpStatusCode.OK, $"{status}: {text}");
        AssertCounts(answer, messages: 1, duplicates: 0, statuses: 1, skipped: 2);
        Assert.Equal(new HashSet<string> { (string)good["id"]! }, server.Home.Database.InboxIds(channel.Id));
        Assert.Equal(0, server.Home.Database.InboxCountWithId(channel.Id, (string)noSender["id"]!));
    }

    // --- Signed POSTs ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task A_rightly_signed_post_is_committed_and_listed_and_bad_signatures_are_401_with_nothing_stored()
    {
        var channel = await AddChannelAsync();
        using var sender = Sender(channel);
        var hello = WhatsAppInbound.Text(Alice, "hello from whatsapp");
        var photo = WhatsAppInbound.Image(Alice, "media-1", caption: "a photo");
        var body = new WhatsAppWebhookBody().Entry("102290129340398", new WhatsAppChange(channel.Phone).Contact(Alice, "Alice").Message(hello).Message(photo));

        var delivery = await sender.PostAsync(body);
        Assert.True(delivery.Delivered, $"answered {delivery.FinalStatus}");
        Assert.Single(delivery.Attempts);
        // Committed before the 200: stored now, no waiting.
        Assert.Equal(new HashSet<string> { (string)hello["id"]!, (string)photo["id"]! }, server.Home.Database.InboxIds(channel.Id));
        var listed = await ListedAsync(channel);
        Assert.Equal(2, listed.Count);
        var text = listed.Single(m => m.GetProperty("platform_id").GetString() == (string)hello["id"]!);
        Assert.Equal("hello from whatsapp", text.GetProperty("text").GetString());
        Assert.Equal(Alice, text.GetProperty("chat").GetString());
        Assert.Equal(Alice, text.GetProperty("sender").GetString());
        var image = listed.Single(m => m.GetProperty("platform_id").GetString() == (string)photo["id"]!);
        Assert.Equal("photo", image.GetProperty("attachments")[0].GetProperty("type").GetString());
        Assert.Equal("media-1", image.GetProperty("attachments")[0].GetProperty("media_id").GetString());

        // Forged: each one is refused, and none of its messages is stored.
        var forged = WhatsAppInbound.Text(Alice, "forged");
        var forgedBody = new WhatsAppWebhookBody().Entry("102290129340398", new WhatsAppChange(channel.Phone).Message(forged));
        var bytes = forgedBody.ToBytes();
        Assert.Equal(401, (await sender.PostWithSignatureAsync(bytes, WhatsAppWebhookSender.Sign(bytes, NewSecret("another-secret")))).FinalStatus);
        Assert.Equal(401, (await sender.PostWithSignatureAsync(bytes, WhatsAppWebhookSender.Sign(bytes, channel.AppSecret) + "0")).FinalStatus);
        Assert.Equal(401, (await sender.PostWithSignatureAsync(bytes, WhatsAppWebhookSender.Sign(bytes, channel.AppSecret).Replace("sha256=", "sha1=", StringComparison.Ordinal))).FinalStatus);
        Assert.Equal(401, (await sender.PostWithSignatureAsync(bytes, "garbage")).FinalStatus);
        Assert.Equal(401, (await sender.PostUnsignedAsync(bytes)).FinalStatus);
        Assert.Equal(401, (await sender.PostSignedOverReserializedAsync(forgedBody.ToJson())).FinalStatus);
        // The right signature over other bytes (one byte changed after signing).
        var tampered = (byte[])bytes.Clone();
        tampered[^3] ^= 0x01;
        Assert.Equal(401, (await sender.PostWithSignatureAsync(tampered, WhatsAppWebhookSender.Sign(bytes, channel.AppSecret))).FinalStatus);

        Assert.Equal(0, server.Home.Database.InboxCountWithId(channel.Id, (string)forged["id"]!));
        Assert.Equal(2, Stored(channel));
        Assert.Equal(2, (await ListedAsync(channel)).Count);

        // Signed by the channel's app secret, the same bytes are taken.
        Assert.True((await sender.PostAsync(bytes)).Delivered);
        Assert.Equal(1, server.Home.Database.InboxCountWithId(channel.Id, (string)forged["id"]!));
    }

    [Fact]
    public async Task A_post_to_an_unknown_channel_is_404_and_a_signed_body_that_is_not_a_webhook_is_400()
    {
        var channel = await AddChannelAsync();
        using var nobody = new WhatsAppWebhookSender(new Uri(server.Tern.BaseUrl, "/hooks/whatsapp/" + ApiServer.NewId("nobody")), channel.AppSecret) { RetrySchedule = [] };
        var body = new WhatsAppWebhookBody().Entry("1", new WhatsAppChange(channel.Phone).Message(WhatsAppInbound.Text(Alice, "lost"))).ToBytes();
        Assert.Equal(404, (await nobody.PostAsync(body)).FinalStatus);

        var (notJson, _, notJsonBody) = await PostAsync(channel, "{\"entry\":["u8.ToArray());
        Assert.Equal(HttpStatusCode.BadRequest, notJson);
        Assert.Contains("not JSON", notJsonBody, StringComparison.Ordinal);
        var (wrongShape, _, _) = await PostAsync(channel, "{\"object\":\"page\"}"u8.ToArray());
        Assert.Equal(HttpStatusCode.BadRequest, wrongShape);
        Assert.Equal(0, Stored(channel));
    }

    // --- A big batch, redelivered -----------------------------------------------------------------------------------

    [Fact]
    public async Task One_post_of_a_thousand_messages_is_stored_once_in_body_order_and_redeliveries_store_nothing()
    {
        var channel = await AddChannelAsync();
        string[] chats = ["16505550001", "16505550002", "16505550003", "447700900123", "4915112345678"];
        var messages = Enumerable.Range(0, 1000).Select(i => WhatsAppInbound.Text(chats[i % chats.Length], $"message {i:D4}")).ToArray();
        var body = new WhatsAppWebhookBody();
        var statuses = 0;
        // 4 entries × 5 changes × 50 messages, with statuses in some changes.
        for (var entry = 0; entry < 4; entry++)
        {
            var changes = new WhatsAppChange[5];
            for (var c = 0; c < 5; c++)
            {
                var change = new WhatsAppChange(channel.Phone);
                foreach (var chat in chats) change.Contact(chat, "User " + chat);
                foreach (var message in messages.Skip(((entry * 5) + c) * 50).Take(50)) change.Message(message);
                if (c % 2 == 0)
                {
                    change.Status(Status($"wamid.out-{entry}-{c}", "delivered")).Status(Status($"wamid.out-{entry}-{c}", "read"));
                    statuses += 2;
                }
                changes[c] = change;
            }
            body.Entry("10229012934039" + entry.ToString(CultureInfo.InvariantCulture), changes);
        }
        var bytes = body.ToBytes();
        Assert.True(bytes.Length < WhatsAppServer.MaxBodyBytes, $"the body is {bytes.Length} bytes");

        var (status, answer, text) = await PostAsync(channel, bytes);
        Assert.True(status == HttpStatusCode.OK, $"{status}: {text}");
        AssertCounts(answer, messages: 1000, duplicates: 0, statuses: statuses, skipped: 0);

        // All stored, once each, and per chat in the order of the body.
        Assert.Equal(messages.Select(m => (string)m["id"]!).ToHashSet(), server.Home.Database.InboxIds(channel.Id));
        Assert.Equal(1000, Stored(channel));
        foreach (var chat in chats)
        {
            var stored = server.Home.Database.Texts($"SELECT text FROM inbox WHERE channel_id = '{channel.Id}' AND chat = '{chat}' ORDER BY seq");
            var expected = messages.Where(m => (string)m["from"]! == chat).Select(m => (string)m["text"]!["body"]!).ToList();
            Assert.Equal(200, expected.Count);
            Assert.Equal(expected, stored);
        }
        var listed = await ListedAsync(channel);
        Assert.Equal(1000, listed.Count);
        Assert.Equal(1000, listed.Select(m => m.GetProperty("platform_id").GetString()).Distinct().Count());

        // Meta sends the same body again: recognised, nothing new.
        var (again, againAnswer, againText) = await PostAsync(channel, bytes);
        Assert.True(again == HttpStatusCode.OK, $"{again}: {againText}");
        AssertCounts(againAnswer, messages: 0, duplicates: 1000, statuses: statuses, skipped: 0);
        using var sender = Sender(channel);
        var (first, second) = await sender.PostTwiceAsync(bytes);
        Assert.True(first.Delivered && second.Delivered, $"{first.FinalStatus} {second.FinalStatus}");
        Assert.Equal(1000, Stored(channel));
        Assert.Equal(1000, (await ListedAsync(channel)).Count);
        foreach (var message in messages.Take(3).Concat(messages.TakeLast(3)))
        {
            Assert.Equal(1, server.Home.Database.InboxCountWithId(channel.Id, (string)message["id"]!));
        }
    }

    [Fact]
    public async Task A_body_mixing_new_and_seen_messages_stores_only_the_new_ones()
    {
        var channel = await AddChannelAsync();
        var seen = WhatsAppInbound.Text(Alice, "seen");
        var (first, firstAnswer, _) = await PostAsync(channel, new WhatsAppWebhookBody().Entry("1", new WhatsAppChange(channel.Phone).Message(seen)).ToBytes());
        Assert.Equal(HttpStatusCode.OK, first);
        AssertCounts(firstAnswer, 1, 0, 0, 0);

        var fresh = WhatsAppInbound.Text(Alice, "fresh");
        var (second, secondAnswer, _) = await PostAsync(channel, new WhatsAppWebhookBody().Entry("1", new WhatsAppChange(channel.Phone).Message(seen.DeepClone().AsObject()).Message(fresh)).ToBytes());
        Assert.Equal(HttpStatusCode.OK, second);
        AssertCounts(secondAnswer, 1, 1, 0, 0);
        Assert.Equal(new HashSet<string> { (string)seen["id"]!, (string)fresh["id"]! }, server.Home.Database.InboxIds(channel.Id));
    }

    // --- Sibling numbers of one app ---------------------------------------------------------------------------------

    [Fact]
    public async Task A_body_for_two_numbers_of_one_app_lands_each_message_on_its_own_channel_and_a_number_without_one_is_skipped()
    {
        var appSecret = NewSecret("sharedapp");
        var a = await AddChannelAsync(appSecret);
        var b = await AddChannelAsync(appSecret);
        // A third number with a channel of another app: the body was not signed with its secret, so it is not its.
        var foreign = await AddChannelAsync();
        var noChannelNumber = NewPhoneNumberId();

        var toA = new[] { WhatsAppInbound.Text(Alice, "for A 1"), WhatsAppInbound.Text(Alice, "for A 2") };
        var toB = new[] { WhatsAppInbound.Text(Alice, "for B 1"), WhatsAppInbound.Reaction(Alice, (string)toA[0]["id"]!, "❤️") };
        var toNobody = WhatsAppInbound.Text(Alice, "for no channel");
        var toForeign = WhatsAppInbound.Text(Alice, "for the other app");
        var body = new WhatsAppWebhookBody()
            .Entry("102290129340398",
                new WhatsAppChange(a.Phone).Message(toA[0]),
                new WhatsAppChange(b.Phone).Message(toB[0]).Status(Status("wamid.out-b", "sent")),
                new WhatsAppChange(noChannelNumber, "+1 555-999-0000").Message(toNobody))
            .Entry("102290129340398",
                new WhatsAppChange(foreign.Phone).Message(toForeign),
                new WhatsAppChange(b.Phone).Message(toB[1]),
                new WhatsAppChange(a.Phone).Message(toA[1]));

        // Posted to A's webhook (Meta sends one app's webhooks to one URL).
        var (status, answer, text) = await PostAsync(a, body.ToBytes());
        Assert.True(status == HttpStatusCode.OK, $"{status}: {text}");
        AssertCounts(answer, messages: 4, duplicates: 0, statuses: 1, skipped: 2);

        Assert.Equal(toA.Select(m => (string)m["id"]!).ToHashSet(), server.Home.Database.InboxIds(a.Id));
        Assert.Equal(toB.Select(m => (string)m["id"]!).ToHashSet(), server.Home.Database.InboxIds(b.Id));
        Assert.Empty(server.Home.Database.InboxIds(foreign.Id));
        Assert.Equal(0, server.Home.Database.InboxCountWithId(a.Id, (string)toNobody["id"]!));
        Assert.Equal(0, server.Home.Database.InboxCountWithId(b.Id, (string)toNobody["id"]!));
        Assert.Equal(["for A 1", "for A 2"], (await ListedAsync(a)).Select(m => m.GetProperty("text").GetString()).Order(StringComparer.Ordinal));
        Assert.Equal(2, (await ListedAsync(b)).Count);

        // Posted again to B's webhook: the same messages, recognised on their own channels.
        var (again, againAnswer, againText) = await PostAsync(b, body.ToBytes());
        Assert.True(again == HttpStatusCode.OK, $"{again}: {againText}");
        AssertCounts(againAnswer, messages: 0, duplicates: 4, statuses: 1, skipped: 2);
        Assert.Equal(2, Stored(a));
        Assert.Equal(2, Stored(b));

        // The foreign channel's own secret does not open A's webhook.
        var (refused, _, _) = await PostAsync(a, body.ToBytes(), foreign.AppSecret);
        Assert.Equal(HttpStatusCode.Unauthorized, refused);
        Assert.Empty(server.Home.Database.InboxIds(foreign.Id));
    }

    // --- The body-size bound ----------------------------------------------------------------------------------------

    [Fact]
    public async Task A_body_over_the_bound_is_413_and_nothing_of_it_is_stored()
    {
        var channel = await AddChannelAsync();
        var filler = new string('x', 4000);
        var change = new WhatsAppChange(channel.Phone);
        var messages = new List<JsonObject>();
        var body = new WhatsAppWebhookBody().Entry("1", change);
        while (body.ToBytes().Length <= WhatsAppServer.MaxBodyBytes)
        {
            for (var i = 0; i < 50; i++)
            {
                var message = WhatsAppInbound.Text(Alice, filler);
                messages.Add(message);
                change.Message(message);
            }
        }
        var bytes = body.ToBytes();
        Assert.InRange(bytes.Length, WhatsAppServer.MaxBodyBytes + 1, WhatsAppServer.MaxBodyBytes + (300 * 1024));

        var (status, _, text) = await PostAsync(channel, bytes, expectContinue: true);
        Assert.True(status == HttpStatusCode.RequestEntityTooLarge, $"{status}: {text}");
        Assert.Contains($"{WhatsAppServer.MaxBodyBytes}", text, StringComparison.Ordinal);
        // As Meta sends it (the whole body at once): a 413, or the connection cut while still sending (the server
        // answers before reading and closes); never a 200, and Meta would retry.
        using var sender = Sender(channel);
        var delivery = await sender.PostAsync(bytes);
        Assert.False(delivery.Delivered);
        Assert.True(delivery.FinalStatus is 413 or null, $"answered {delivery.FinalStatus} {delivery.Attempts[^1].Error}");
        Assert.Single(delivery.Attempts);
        // Chunked (no Content-Length): refused once more than the bound has come.
        try
        {
            var (chunked, _, chunkedText) = await PostAsync(channel, bytes, chunked: true);
            Assert.True(chunked == HttpStatusCode.RequestEntityTooLarge, $"{chunked}: {chunkedText}");
        }
        catch (HttpRequestException)
        {
            // The connection cut while still sending, after the 413 was written: also a refusal.
        }
        Assert.Equal(0, Stored(channel));
        Assert.Equal(0, server.Home.Database.InboxCountWithId(channel.Id, (string)messages[0]["id"]!));

        // Still serving: a small body right after is taken.
        var (small, answer, smallText) = await PostAsync(channel, new WhatsAppWebhookBody().Entry("1", new WhatsAppChange(channel.Phone).Message(WhatsAppInbound.Text(Alice, "small"))).ToBytes());
        Assert.True(small == HttpStatusCode.OK, $"{small}: {smallText}");
        AssertCounts(answer, 1, 0, 0, 0);
        Assert.Equal(1, Stored(channel));
    }

    [Fact]
    public async Task A_body_over_a_megabyte_but_within_the_bound_is_taken()
    {
        // Kestrel's own request limit must not cut the WhatsApp bound (Meta batches bodies of a few MB).
        var channel = await AddChannelAsync();
        var filler = new string('y', 4000);
        var change = new WhatsAppChange(channel.Phone);
        var body = new WhatsAppWebhookBody().Entry("1", change);
        var count = 0;
        while (body.ToBytes().Length < (1 << 20) + (256 * 1024))
        {
            for (var i = 0; i < 25; i++, count++) change.Message(WhatsAppInbound.Text(Alice, filler));
        }
        var bytes = body.ToBytes();
        Assert.InRange(bytes.Length, (1 << 20) + 1, WhatsAppServer.MaxBodyBytes);

        var (status, answer, text) = await PostAsync(channel, bytes);
        Assert.True(status == HttpStatusCode.OK, $"{status}: {text}");
        AssertCounts(answer, messages: count, duplicates: 0, statuses: 0, skipped: 0);
        Assert.Equal(count, Stored(channel));

        // The same size chunked (no Content-Length), with other messages.
        var chunkedChange = new WhatsAppChange(channel.Phone);
        for (var i = 0; i < count; i++) chunkedChange.Message(WhatsAppInbound.Text(Alice, filler));
        var chunkedBytes = new WhatsAppWebhookBody().Entry("1", chunkedChange).ToBytes();
        var (chunked, chunkedAnswer, chunkedText) = await PostAsync(channel, chunkedBytes, chunked: true);
        Assert.True(chunked == HttpStatusCode.OK, $"{chunked}: {chunkedText}");
        AssertCounts(chunkedAnswer, messages: count, duplicates: 0, statuses: 0, skipped: 0);
        Assert.Equal(2 * count, Stored(channel));
    }
}

/// <summary>One in-process Tern for the class with a Graph stand-in, a small WhatsApp body bound, and a tenant of its own.</summary>
public sealed class WhatsAppServer : IAsyncLifetime
{
    /// <summary>Tern:WhatsApp:MaxBodyBytes for this host: smaller than the 4 MB default, larger than Kestrel's 1 MB default.</summary>
    public const int MaxBodyBytes = 2 << 20;

    private const string AdminKey = "config-admin-key-whatsapp-0123456789-abcdef";

    public TernHome Home { get; } = TernHome.Create();

    public InProcessTern Tern { get; private set; } = null!;

    public GraphApiStandIn Graph { get; private set; } = null!;

    public string TenantKey { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Graph = await GraphApiStandIn.StartAsync();
        Tern = await InProcessTern.StartAsync(Home, $"--Tern:Api:AdminKey={AdminKey}", $"--Tern:WhatsApp:MaxBodyBytes={MaxBodyBytes}");
        var tenant = ApiServer.NewId("wa-tenant");
        (await ApiCall.SendAsync(Tern.Http, HttpMethod.Post, "/v1/tenants", AdminKey, ApiCall.Json(new { id = tenant, rate_limit_per_minute = ApiServer.HighRateLimit })))
            .AssertStatus(HttpStatusCode.Created);
        var key = await ApiCall.SendAsync(Tern.Http, HttpMethod.Post, "/v1/keys", AdminKey, ApiCall.Json(new { tenant, name = "whatsapp tests" }));
        TenantKey = key.AssertStatus(HttpStatusCode.Created).Json.GetProperty("key").GetString()!;
    }

    public Task<ApiResponse> CallAsync(HttpMethod method, string path, string? json = null) => ApiCall.SendAsync(Tern.Http, method, path, TenantKey, json);

    public async Task DisposeAsync()
    {
        if (Tern is not null) await Tern.DisposeAsync();
        if (Graph is not null) await Graph.DisposeAsync();
        Home.Dispose();
    }
}
