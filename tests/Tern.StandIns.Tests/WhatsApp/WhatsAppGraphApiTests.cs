using System.Security.Cryptography;
using Tern.StandIns.WhatsApp;
using static Tern.StandIns.Tests.WhatsApp.WhatsAppHarness;

namespace Tern.StandIns.Tests.WhatsApp;

public sealed class WhatsAppGraphApiTests
{
    [Fact]
    public async Task The_phone_number_answers_its_documented_fields_to_its_own_bearer_token_only()
    {
        await using var h = await StartAsync();
        var ok = await h.GetAsync($"{GraphVersion}/{PhoneA}", TokenA);
        Assert.Equal(200, ok.Status);
        Assert.Equal(PhoneA, ok.Body.GetProperty("id").GetString());
        Assert.Equal("+1 555-078-3881", ok.Body.GetProperty("display_phone_number").GetString());
        Assert.Equal("Shop A", ok.Body.GetProperty("verified_name").GetString());
        Assert.Equal("GREEN", ok.Body.GetProperty("quality_rating").GetString());

        var missing = await h.GetAsync($"{GraphVersion}/{PhoneA}", null);
        Assert.Equal((401, 190, "OAuthException"), (missing.Status, missing.ErrorCode, missing.Body.GetProperty("error").GetProperty("type").GetString()));
        var wrong = await h.GetAsync($"{GraphVersion}/{PhoneA}", "EAAJB-nobody");
        Assert.Equal((401, 190), (wrong.Status, wrong.ErrorCode));

        // Another number's token cannot see this number: Graph's "object does not exist" (100, subcode 33).
        var other = await h.GetAsync($"{GraphVersion}/{PhoneA}", TokenB);
        Assert.Equal((400, 100, 33), (other.Status, other.ErrorCode, other.Body.GetProperty("error").GetProperty("error_subcode").GetInt32()));
        Assert.Equal(400, (await h.GetAsync($"{GraphVersion}/999999", TokenA)).Status);

        h.Api.ExpireToken(TokenA);
        var expired = await h.GetAsync($"{GraphVersion}/{PhoneA}", TokenA);
        Assert.Equal((401, 190, 463), (expired.Status, expired.ErrorCode, expired.Body.GetProperty("error").GetProperty("error_subcode").GetInt32()));
        var send = await h.SendTextAsync(Alice);
        Assert.Equal((401, 190), (send.Status, send.ErrorCode));
        Assert.Empty(h.Api.Sent);
    }

    [Fact]
    public async Task A_text_is_answered_with_contacts_and_a_wamid_and_recorded_per_recipient_in_order()
    {
        await using var h = await StartAsync(o => o.WindowOpenByDefault = true);
        var first = await h.PostAsync(PhoneA, TokenA, new { messaging_product = "whatsapp", to = "+1 650-555-1234", type = "text", text = new { preview_url = true, body = "see https://example.com" } });
        Assert.Equal(200, first.Status);
        Assert.Equal("whatsapp", first.Body.GetProperty("messaging_product").GetString());
        var contact = first.Body.GetProperty("contacts")[0];
        Assert.Equal(("+1 650-555-1234", Alice), (contact.GetProperty("input").GetString(), contact.GetProperty("wa_id").GetString()));
        Assert.StartsWith("wamid.", first.Wamid, StringComparison.Ordinal);

        var second = await h.SendTextAsync(Alice, "two");
        await h.SendTextAsync(Bob, "to bob");
        Assert.NotEqual(first.Wamid, second.Wamid);
        var toAlice = h.Api.SentTo("+16505551234");
        Assert.Equal(["see https://example.com", "two"], toAlice.Select(m => m.Text));
        Assert.Equal([first.Wamid, second.Wamid], toAlice.Select(m => m.Wamid));
        Assert.True(toAlice[0].PreviewUrl);
        Assert.Equal(Alice, toAlice[0].To);
        Assert.Equal(3, h.Api.Sent.Count);
    }

    [Fact]
    public async Task Every_documented_outbound_type_is_accepted_and_recorded_with_its_fields()
    {
        await using var h = await StartAsync(o => o.WindowOpenByDefault = true);
        h.Api.AddMedia("1037543291543636", [1, 2, 3], "video/mp4");
        var reply = WhatsAppInbound.NewWamid();
        object[] bodies =
        [
            new { messaging_product = "whatsapp", to = Alice, type = "image", image = new { link = "https://example.com/a.jpg", caption = "a" } },
            new { messaging_product = "whatsapp", to = Alice, type = "video", video = new { id = "1037543291543636" } },
            new { messaging_product = "whatsapp", to = Alice, type = "audio", audio = new { link = "https://example.com/a.ogg" } },
            new { messaging_product = "whatsapp", to = Alice, type = "document", document = new { link = "https://example.com/a.pdf", filename = "a.pdf", caption = "doc" } },
            new { messaging_product = "whatsapp", to = Alice, type = "sticker", sticker = new { link = "https://example.com/a.webp" } },
            Template(Alice),
            new { messaging_product = "whatsapp", to = Alice, type = "reaction", reaction = new { message_id = reply, emoji = "👍" } },
            new
            {
                messaging_product = "whatsapp", to = Alice, type = "interactive",
                interactive = new
                {
                    type = "button", body = new { text = "Pick" },
                    action = new { buttons = new[] { new { type = "reply", reply = new { id = "yes", title = "Yes" } }, new { type = "reply", reply = new { id = "no", title = "No" } } } },
                },
            },
            new
            {
                messaging_product = "whatsapp", to = Alice, type = "interactive",
                interactive = new
                {
                    type = "list", body = new { text = "Choose" },
                    action = new { button = "Options", sections = new[] { new { title = "S", rows = new[] { new { id = "r1", title = "Row 1", description = "d" } } } } },
                },
            },
            new { messaging_product = "whatsapp", to = Alice, context = new { message_id = reply }, type = "text", text = new { body = "a reply" } },
        ];
        foreach (var body in bodies)
        {
            var answer = await h.PostAsync(PhoneA, TokenA, body);
            Assert.True(answer.Status == 200, answer.ToString());
        }

        var sent = h.Api.SentTo(Alice);
        Assert.Equal(["image", "video", "audio", "document", "sticker", "template", "reaction", "interactive", "interactive", "text"], sent.Select(m => m.Type));
        Assert.Equal("https://example.com/a.jpg", sent[0].MediaLink);
        Assert.Equal("a", sent[0].Text);
        Assert.Equal("1037543291543636", sent[1].MediaId);
        Assert.Equal("a.pdf", (string?)sent[3].Content["filename"]);
        Assert.Equal(("order_update", "en_US"), (sent[5].TemplateName, sent[5].TemplateLanguage));
        Assert.Equal("42", (string?)sent[5].Content["components"]![0]!["parameters"]![0]!["text"]);
        Assert.Equal("👍", (string?)sent[6].Content["emoji"]);
        Assert.Equal("button", (string?)sent[7].Content["type"]);
        Assert.Equal("list", (string?)sent[8].Content["type"]);
        Assert.Equal(reply, sent[9].ContextMessageId);
    }

    [Fact]
    public async Task A_request_Meta_would_refuse_is_answered_code_100_with_a_message_and_sends_nothing()
    {
        await using var h = await StartAsync(o => o.WindowOpenByDefault = true);
        object[] bad =
        [
            new { messaging_product = "whatsapp", type = "text", text = new { body = "no to" } },
            new { to = Alice, type = "text", text = new { body = "no product" } },
            new { messaging_product = "whatsapp", to = Alice, type = "hologram", hologram = new { } },
            new { messaging_product = "whatsapp", to = Alice, type = "text", text = new { preview_url = false } },
            new { messaging_product = "whatsapp", to = Alice, type = "image", image = new { link = "https://example.com/a.jpg", id = "1" } },
            new { messaging_product = "whatsapp", to = Alice, type = "image", image = new { id = "no-such-media" } },
            new { messaging_product = "whatsapp", to = Alice, type = "template", template = new { name = "t" } },
            new { messaging_product = "whatsapp", to = Alice, type = "text", text = new { body = new string('x', 4097) } },
            new
            {
                messaging_product = "whatsapp", to = Alice, type = "interactive",
                interactive = new { type = "button", body = new { text = "x" }, action = new { buttons = Enumerable.Range(0, 4).Select(i => new { type = "reply", reply = new { id = $"b{i}", title = "t" } }).ToArray() } },
            },
        ];
        foreach (var body in bad)
        {
            var answer = await h.PostAsync(PhoneA, TokenA, body);
            Assert.True(answer is { Status: 400, ErrorCode: 100 }, answer.ToString());
        }

        Assert.Contains("to", (await h.PostAsync(PhoneA, TokenA, bad[0])).ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("hologram", (await h.PostAsync(PhoneA, TokenA, bad[2])).ErrorMessage, StringComparison.Ordinal);
        Assert.Empty(h.Api.Sent);
        Assert.Empty(h.Api.Violations);
    }

    [Fact]
    public async Task A_refused_request_uses_none_of_the_recipients_pair_rate()
    {
        await using var h = await StartAsync(o =>
        {
            o.WindowOpenByDefault = true;
            o.PairBurst = 1;
        });
        Assert.Equal(100, (await h.PostAsync(PhoneA, TokenA, new { messaging_product = "whatsapp", to = Alice, type = "image", image = new { id = "no-such-media" } })).ErrorCode);
        Assert.Equal(100, (await h.PostAsync(PhoneA, TokenA, new { messaging_product = "whatsapp", to = Alice, type = "text", text = new { } })).ErrorCode);
        Assert.Equal(200, (await h.SendTextAsync(Alice)).Status);
        Assert.Equal(131056, (await h.SendTextAsync(Alice)).ErrorCode);
        Assert.Single(h.Api.Violations);
    }

    [Fact]
    public async Task Mark_as_read_answers_success_and_is_recorded()
    {
        await using var h = await StartAsync();
        var inbound = WhatsAppInbound.NewWamid();
        var answer = await h.PostAsync(PhoneA, TokenA, new { messaging_product = "whatsapp", status = "read", message_id = inbound });
        Assert.Equal(200, answer.Status);
        Assert.True(answer.Body.GetProperty("success").GetBoolean());
        Assert.Equal(inbound, Assert.Single(h.Api.ReadMarks).MessageId);
        Assert.Equal(100, (await h.PostAsync(PhoneA, TokenA, new { messaging_product = "whatsapp", status = "read" })).ErrorCode);
        Assert.Empty(h.Api.Sent);
    }

    [Fact]
    public async Task Outside_the_24_hour_window_only_a_template_goes_and_the_rest_is_131047()
    {
        await using var h = await StartAsync();
        Assert.False(new GraphApiOptions().WindowOpenByDefault);
        var closed = await h.SendTextAsync(Alice);
        Assert.Equal((400, 131047), (closed.Status, closed.ErrorCode));
        Assert.Contains("Re-engagement", closed.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(200, (await h.PostAsync(PhoneA, TokenA, Template(Alice))).Status);

        h.Api.OpenWindow(PhoneA, "+1 650 555 1234");
        Assert.Equal(200, (await h.SendTextAsync(Alice)).Status);
        // The window is per business number and recipient.
        Assert.Equal(131047, (await h.SendTextAsync(Alice, phoneId: PhoneB, token: TokenB)).ErrorCode);
        h.Api.CloseWindow(PhoneA, Alice);
        Assert.Equal(131047, (await h.SendTextAsync(Alice)).ErrorCode);
        Assert.Equal(["template", "text"], h.Api.SentTo(Alice).Select(m => m.Type));
        // A refusal by the window is neither a limit violation nor an injected error.
        Assert.Empty(h.Api.Violations);
        Assert.Empty(h.Api.InjectedErrors);
    }

    [Fact]
    public async Task More_than_the_throughput_in_one_second_is_130429_and_counted_as_a_violation()
    {
        Assert.Equal(80, new GraphApiOptions().MessagesPerSecond);
        await using var h = await StartAsync(o =>
        {
            o.WindowOpenByDefault = true;
            o.MessagesPerSecond = 5;
            o.PairBurst = 0;
        });
        for (var i = 0; i < 5; i++) Assert.Equal(200, (await h.SendTextAsync($"1650555{i:D4}")).Status);
        var over = await h.SendTextAsync("16505559999");
        Assert.Equal((400, 130429), (over.Status, over.ErrorCode));
        // Another business number has its own throughput.
        Assert.Equal(200, (await h.SendTextAsync("16505559999", phoneId: PhoneB, token: TokenB)).Status);

        var violation = Assert.Single(h.Api.Violations);
        Assert.Equal((WhatsAppLimitKind.Throughput, PhoneA, "16505559999", true), (violation.Kind, violation.PhoneNumberId, violation.To, violation.Rejected));

        // The window is "any 1 s" on the stand-in's clock: a second later there is room again.
        h.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(200, (await h.SendTextAsync("16505559999")).Status);
        Assert.Equal(7, h.Api.Sent.Count);

        // Counted but not refused.
        h.Api.Options.RejectViolations = false;
        for (var i = 0; i < 5; i++) Assert.Equal(200, (await h.SendTextAsync($"1650556{i:D4}")).Status);
        Assert.Equal(2, h.Api.Violations.Count);
        Assert.False(h.Api.Violations[^1].Rejected);
        Assert.Empty(h.Api.InjectedErrors);
    }

    [Fact]
    public async Task Sends_to_one_recipient_beyond_the_pair_rate_are_131056_and_counted_and_refill_one_per_interval()
    {
        Assert.Equal(TimeSpan.FromSeconds(6), new GraphApiOptions().PairInterval);
        await using var h = await StartAsync(o =>
        {
            o.WindowOpenByDefault = true;
            o.PairBurst = 2;
        });
        Assert.Equal(200, (await h.SendTextAsync(Alice, "1")).Status);
        Assert.Equal(200, (await h.SendTextAsync(Alice, "2")).Status);
        var third = await h.SendTextAsync(Alice, "3");
        Assert.Equal((400, 131056), (third.Status, third.ErrorCode));
        Assert.Contains("pair rate limit", third.ErrorMessage, StringComparison.Ordinal);
        // Only that recipient is held.
        Assert.Equal(200, (await h.SendTextAsync(Bob)).Status);

        h.Clock.Advance(TimeSpan.FromSeconds(5.9));
        Assert.Equal(131056, (await h.SendTextAsync(Alice, "4")).ErrorCode);
        h.Clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(200, (await h.SendTextAsync(Alice, "5")).Status);
        Assert.Equal(131056, (await h.SendTextAsync(Alice, "6")).ErrorCode);

        Assert.Equal(3, h.Api.Violations.Count(v => v.Kind == WhatsAppLimitKind.PairRate && v.To == Alice));
        Assert.Equal(["1", "2", "5"], h.Api.SentTo(Alice).Select(m => m.Text));

        // 0 turns the pair limit off.
        h.Api.Options.PairBurst = 0;
        for (var i = 0; i < 10; i++) Assert.Equal(200, (await h.SendTextAsync(Alice)).Status);
        Assert.Equal(3, h.Api.Violations.Count);
    }

    [Theory]
    [InlineData(131026, 400)]
    [InlineData(131053, 400)]
    [InlineData(100, 400)]
    [InlineData(190, 401)]
    [InlineData(368, 403)]
    [InlineData(4, 429)]
    [InlineData(80007, 400)]
    [InlineData(130429, 400)]
    [InlineData(131056, 400)]
    public async Task A_scripted_error_answers_the_next_sends_to_that_recipient_with_Metas_code(int code, int httpStatus)
    {
        await using var h = await StartAsync(o => o.WindowOpenByDefault = true);
        h.Api.InjectError(Alice, code, count: 2);
        for (var i = 0; i < 2; i++)
        {
            var answer = await h.SendTextAsync("+" + Alice);
            Assert.Equal((httpStatus, code), (answer.Status, answer.ErrorCode));
        }

        Assert.Equal(200, (await h.SendTextAsync(Bob)).Status);
        Assert.Equal(200, (await h.SendTextAsync(Alice)).Status);
        Assert.Equal(2, h.Api.InjectedErrors.Count);
        Assert.All(h.Api.InjectedErrors, e => Assert.Equal((Alice, code), (e.To, e.Code)));
        Assert.Empty(h.Api.Violations);
        Assert.Single(h.Api.SentTo(Alice));
    }

    [Fact]
    public async Task A_scripted_5xx_is_answered_with_that_status_and_counted_as_injected()
    {
        await using var h = await StartAsync(o => o.WindowOpenByDefault = true);
        h.Api.InjectHttpError(Alice, 503);
        h.Api.InjectHttpError(Alice, 500);
        Assert.Equal(503, (await h.SendTextAsync(Alice)).Status);
        Assert.Equal(500, (await h.SendTextAsync(Alice)).Status);
        Assert.Equal(200, (await h.SendTextAsync(Alice)).Status);
        Assert.Equal([503, 500], h.Api.InjectedErrors.Select(e => e.HttpStatus));
        Assert.Throws<ArgumentOutOfRangeException>(() => h.Api.InjectHttpError(Alice, 429));
    }

    [Fact]
    public async Task Held_answers_keep_a_send_in_flight_that_Meta_has_made_until_released()
    {
        await using var h = await StartAsync(o => o.WindowOpenByDefault = true);
        h.Api.HoldAnswers();
        var send = h.SendTextAsync(Alice, "held");
        await UntilAsync(() => h.Api.HeldAnswers == 1, "the send to be held");
        var made = Assert.Single(h.Api.Sent);
        Assert.False(send.IsCompleted);

        h.Api.ReleaseAnswers();
        var answer = await send;
        Assert.Equal(200, answer.Status);
        Assert.Equal(made.Wamid, answer.Wamid);
        Assert.Equal(0, h.Api.HeldAnswers);
        // Released: no more holding.
        Assert.Equal(200, (await h.SendTextAsync(Alice)).Status);
    }

    [Fact]
    public async Task Media_gives_a_url_on_the_stand_in_that_needs_the_token_and_expires()
    {
        Assert.Equal(TimeSpan.FromDays(7), new GraphApiOptions().MediaLifetime);
        await using var h = await StartAsync(o => o.WindowOpenByDefault = true);
        byte[] bytes = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        h.Api.AddMedia("2621233374848975", bytes, "image/jpeg");

        var info = await h.GetAsync($"{GraphVersion}/2621233374848975", TokenA);
        Assert.Equal(200, info.Status);
        Assert.Equal("whatsapp", info.Body.GetProperty("messaging_product").GetString());
        Assert.Equal("2621233374848975", info.Body.GetProperty("id").GetString());
        Assert.Equal("image/jpeg", info.Body.GetProperty("mime_type").GetString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), info.Body.GetProperty("sha256").GetString());
        Assert.Equal(bytes.Length, info.Body.GetProperty("file_size").GetInt32());
        var url = new Uri(info.Body.GetProperty("url").GetString()!);
        Assert.Equal(h.Api.BaseUrl.Authority, url.Authority);
        Assert.Equal(401, (await h.GetAsync($"{GraphVersion}/2621233374848975", null)).Status);

        using (var anonymous = await h.Http.GetAsync(url)) Assert.Equal(401, (int)anonymous.StatusCode);
        using (var request = new HttpRequestMessage(HttpMethod.Get, url))
        {
            request.Headers.Authorization = new("Bearer", TokenB);
            using var download = await h.Http.SendAsync(request);
            Assert.Equal(200, (int)download.StatusCode);
            Assert.Equal("image/jpeg", download.Content.Headers.ContentType?.MediaType);
            Assert.Equal(bytes, await download.Content.ReadAsByteArrayAsync());
        }

        // The URL lives 5 minutes; the id 7 days.
        h.Clock.Advance(TimeSpan.FromMinutes(5));
        using (var request = new HttpRequestMessage(HttpMethod.Get, url))
        {
            request.Headers.Authorization = new("Bearer", TokenA);
            using var stale = await h.Http.SendAsync(request);
            Assert.Equal(404, (int)stale.StatusCode);
        }

        Assert.Equal(200, (await h.GetAsync($"{GraphVersion}/2621233374848975", TokenA)).Status);
        Assert.Equal(200, (await h.PostAsync(PhoneA, TokenA, new { messaging_product = "whatsapp", to = Alice, type = "image", image = new { id = "2621233374848975" } })).Status);
        h.Clock.Advance(TimeSpan.FromDays(7));
        var gone = await h.GetAsync($"{GraphVersion}/2621233374848975", TokenA);
        Assert.Equal((400, 100), (gone.Status, gone.ErrorCode));
        Assert.Equal(100, (await h.PostAsync(PhoneA, TokenA, new { messaging_product = "whatsapp", to = Alice, type = "image", image = new { id = "2621233374848975" } })).ErrorCode);
    }

    [Fact]
    public async Task Statuses_of_a_sent_message_carry_the_documented_fields()
    {
        await using var h = await StartAsync(o => o.WindowOpenByDefault = true);
        var wamid = (await h.SendTextAsync(Alice)).Wamid;

        var sent = h.Api.StatusFor(wamid, "sent");
        Assert.Equal((wamid, "sent", Alice), ((string?)sent["id"], (string?)sent["status"], (string?)sent["recipient_id"]));
        Assert.Equal(h.Clock.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)sent["timestamp"]);
        Assert.NotNull(sent["conversation"]!["id"]);
        Assert.NotNull(sent["conversation"]!["expiration_timestamp"]);
        Assert.Equal("service", (string?)sent["conversation"]!["origin"]!["type"]);
        Assert.NotNull(sent["pricing"]!["billable"]);
        Assert.NotNull(sent["pricing"]!["pricing_model"]);
        Assert.Equal("service", (string?)sent["pricing"]!["category"]);

        Assert.Null(h.Api.StatusFor(wamid, "delivered")["conversation"]!["expiration_timestamp"]);
        Assert.Null(h.Api.StatusFor(wamid, "read")["pricing"]);
        var failed = h.Api.StatusFor(wamid, "failed", errorCode: 131026);
        var error = failed["errors"]![0]!;
        Assert.Equal(131026, (int?)error["code"]);
        Assert.False(string.IsNullOrEmpty((string?)error["title"]));
        Assert.NotNull(error["error_data"]!["details"]);
        Assert.Equal(["sent", "delivered", "read"], h.Api.StatusesFor(wamid).Select(s => (string?)s["status"]));

        Assert.Throws<InvalidOperationException>(() => h.Api.StatusFor("wamid.nope", "sent"));
        Assert.Throws<ArgumentException>(() => h.Api.StatusFor(wamid, "failed"));
    }
}
