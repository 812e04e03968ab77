using System.Globalization;
using System.Net;
using System.Text;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Http;
using LoopbackReceiver = Tern.StandIns.Http.LoopbackReceiver;

namespace Tern.Server.Tests.Api;

/// <summary>
/// Standard Webhooks through real HTTP, judged by the two independent verifiers the issue names: the StandardWebhooks NuGet
/// package (in the receivers) and the npm standardwebhooks package (run with node): what Tern sends (tenant events and
/// webhook channel deliveries, across secret rotations), a receiver's 410 Gone, and what a webhook channel accepts.
/// </summary>
[Collection(HeavyTests.Name)]
public sealed class StandardWebhooksTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private sealed class Rig : IAsyncDisposable
    {
        private Rig(TernHome home, InProcessTern tern, string key)
        {
            Home = home;
            Tern = tern;
            Key = key;
        }

        public TernHome Home { get; }
        public InProcessTern Tern { get; }
        public string Key { get; }

        public static async Task<Rig> StartAsync(params string[] args)
        {
            var home = TernHome.Create();
            await home.RunOkAsync("tenants", "add", "--id", "sw", "--rate-limit", "100000");
            var key = (await home.RunOkAsync("keys", "create", "--tenant", "sw")).Stdout.Trim();
            var tern = await home.StartInProcessAsync(["--Tern:Sender:BackoffBase=50ms", "--Tern:Sender:BackoffMax=200ms", "--Tern:Sender:PollInterval=50ms", .. args]);
            return new Rig(home, tern, key);
        }

        public Task<ApiResponse> Call(HttpMethod method, string path, object? body = null) =>
            ApiCall.SendAsync(Tern.Http, method, path, Key, body is null ? null : ApiCall.Json(body));

        public async Task<string> SendAsync(string channel, string chat, string text) =>
            (await Call(HttpMethod.Post, "/v1/messages", new { channel, chat, text })).AssertStatus(HttpStatusCode.Accepted).Json.GetProperty("id").GetString()!;

        public async ValueTask DisposeAsync()
        {
            await Tern.DisposeAsync();
            Home.Dispose();
        }
    }

    private static WebhookToVerify Item(string secret, RecordedRequest request) => new(secret, request.Headers, request.Body);

    private static string Signatures(RecordedRequest request) => request.Header("webhook-signature") ?? "(none)";

    [Fact]
    public async Task During_a_rotation_both_secrets_sign_each_verifier_accepts_either_and_after_the_overlap_only_the_new_one()
    {
        await using var destination = await LoopbackReceiver.StartAsync("/out", "POST");
        await using var events = await LoopbackReceiver.StartAsync("/events", "POST");
        await using var rig = await Rig.StartAsync();
        var channelFirst = TestSecrets.For("channel first");
        var channelSecond = TestSecrets.For("channel second");
        var eventFirst = TestSecrets.For("event first");
        var eventThird = TestSecrets.For("event third");

        (await rig.Call(HttpMethod.Post, "/v1/channels", new { id = "sw-out", url = destination.Url.ToString(), secret = channelFirst })).AssertStatus(HttpStatusCode.Created);
        var hook = (await rig.Call(HttpMethod.Post, "/v1/webhooks", new { url = events.Url.ToString(), events = new[] { "message.sent" }, secret = eventFirst }))
            .AssertStatus(HttpStatusCode.Created);
        var hookId = hook.Json.GetProperty("id").GetString()!;
        Assert.Equal("active", hook.Json.GetProperty("status").GetString());

        async Task DeliveredAsync(int count) =>
            await Eventually.UntilAsync(() => destination.Requests.Count >= count && events.Requests.Count >= count, Patience,
                () => $"{count} deliveries and {count} events: {destination.Requests.Count} and {events.Requests.Count}");

        // 1. One secret each.
        await rig.SendAsync("sw-out", "c1", "before any rotation");
        await DeliveredAsync(1);

        // 2. Both rotated: a generated event secret (shown once) and a channel secret changed with PATCH; the old ones keep signing.
        var rotated = (await rig.Call(HttpMethod.Post, $"/v1/webhooks/{hookId}/rotate-secret")).AssertStatus(HttpStatusCode.OK);
        var eventSecond = rotated.Json.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", eventSecond, StringComparison.Ordinal);
        var overlapEnds = rotated.Json.GetProperty("previous_secret_expires_at").GetDateTimeOffset();
        Assert.InRange(overlapEnds - DateTimeOffset.UtcNow, TimeSpan.FromHours(23), TimeSpan.FromHours(25));
        Assert.DoesNotContain(eventSecond, (await rig.Call(HttpMethod.Get, $"/v1/webhooks/{hookId}")).AssertStatus(HttpStatusCode.OK).Body, StringComparison.Ordinal);
        var patched = (await rig.Call(HttpMethod.Patch, "/v1/channels/sw-out", new { secret = channelSecond })).AssertStatus(HttpStatusCode.OK);
        Assert.True(patched.Json.TryGetProperty("previous_secret_expires_at", out _), $"no overlap shown: {patched}");
        await rig.SendAsync("sw-out", "c1", "during the overlap");
        await DeliveredAsync(2);

        // 3. Rotated again with no overlap: only the newest signs.
        (await rig.Call(HttpMethod.Post, $"/v1/webhooks/{hookId}/rotate-secret", new { secret = eventThird, overlap_seconds = 0 })).AssertStatus(HttpStatusCode.OK);
        await rig.SendAsync("sw-out", "c1", "after the overlap");
        await DeliveredAsync(3);

        var sent = destination.Requests;
        var got = events.Requests;
        Assert.Equal([1, 2, 1], got.Take(3).Select(r => Signatures(r).Split(' ').Length));
        Assert.Equal([1, 2], sent.Take(2).Select(r => Signatures(r).Split(' ').Length));
        var cases = new (string Name, WebhookToVerify Item, bool Accepted)[]
        {
            ("event 1, first secret", Item(eventFirst, got[0]), true),
            ("event 1, second secret", Item(eventSecond, got[0]), false),
            ("event 2, first secret", Item(eventFirst, got[1]), true),
            ("event 2, second secret", Item(eventSecond, got[1]), true),
            ("event 3, third secret", Item(eventThird, got[2]), true),
            ("event 3, second secret", Item(eventSecond, got[2]), false),
            ("delivery 1, first secret", Item(channelFirst, sent[0]), true),
            ("delivery 2, first secret", Item(channelFirst, sent[1]), true),
            ("delivery 2, second secret", Item(channelSecond, sent[1]), true),
            ("delivery 2, an unknown secret", Item(TestSecrets.For("unknown"), sent[1]), false),
        };

        var npm = await NodeWebhookVerifier.VerifyAsync(cases.Select(c => c.Item).ToArray());
        var problems = new List<string>();
        for (var i = 0; i < cases.Length; i++)
        {
            var nuget = LoopbackReceiver.VerifyStandardWebhook(cases[i].Item.Secret, cases[i].Item.Headers, cases[i].Item.Body);
            if ((npm[i] is null) != cases[i].Accepted) problems.Add($"{cases[i].Name}: npm says {npm[i] ?? "verified"}");
            if ((nuget is null) != cases[i].Accepted) problems.Add($"{cases[i].Name}: NuGet says {nuget ?? "verified"}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems) + $"\nsignatures: {string.Join(" | ", got.Select(Signatures))}");
        // Every delivery's id is the same on its retries and is its idempotency key; the timestamp is the attempt's.
        Assert.All(sent.Concat(got), r => Assert.Equal(r.Header("webhook-id"), r.Header("Idempotency-Key")));
        Assert.All(sent.Concat(got), r => Assert.Null(r.Header("X-Tern-Signature")));
    }

    [Fact]
    public async Task A_receiver_answering_410_disables_its_subscription_and_enabling_it_queues_events_again()
    {
        await using var destination = await LoopbackReceiver.StartAsync("/out", "POST");
        var secret = TestSecrets.For("gone");
        await using var events = await LoopbackReceiver.StartAsync("/events", "POST", SignatureScheme.StandardWebhooks, secret);
        events.Respond = _ => Reply.WithStatus(410);
        await using var rig = await Rig.StartAsync();
        (await rig.Call(HttpMethod.Post, "/v1/channels", new { id = "sw-out", url = destination.Url.ToString() })).AssertStatus(HttpStatusCode.Created);
        var hookId = (await rig.Call(HttpMethod.Post, "/v1/webhooks", new { url = events.Url.ToString(), events = new[] { "message.sent" }, secret }))
            .AssertStatus(HttpStatusCode.Created).Json.GetProperty("id").GetString()!;

        await rig.SendAsync("sw-out", "c1", "its event is answered 410");
        ApiResponse shown = default!;
        await Eventually.UntilAsync(async () => (shown = await rig.Call(HttpMethod.Get, $"/v1/webhooks/{hookId}")).Json.GetProperty("status").GetString() == "disabled",
            Patience, () => $"the subscription disabled: {shown}; receiver got {events.Requests.Count}");
        Assert.Contains("410", shown.Json.GetProperty("disabled_reason").GetString(), StringComparison.Ordinal);
        Assert.True(shown.Json.TryGetProperty("disabled_at", out _), $"{shown}");
        var log = (await rig.Call(HttpMethod.Get, $"/v1/webhooks/{hookId}/deliveries")).AssertStatus(HttpStatusCode.OK).Json;
        Assert.Equal(1, log.GetProperty("total").GetInt64());
        Assert.Equal("failed", log.GetProperty("items")[0].GetProperty("status").GetString());
        Assert.Single(events.Requests); // not retried

        // While it is disabled, a sent message queues no event for it: its message.sent would be written with the "sent" status.
        var quiet = await rig.SendAsync("sw-out", "c1", "while disabled");
        await Eventually.UntilAsync(async () => (await rig.Call(HttpMethod.Get, $"/v1/messages/{quiet}")).Json.GetProperty("status").GetString() == "sent",
            Patience, () => "the message sent while the subscription is disabled");
        Assert.Equal(1, (await rig.Call(HttpMethod.Get, $"/v1/webhooks/{hookId}/deliveries")).Json.GetProperty("total").GetInt64());

        events.Respond = _ => Reply.Ok;
        var enabled = (await rig.Call(HttpMethod.Post, $"/v1/webhooks/{hookId}/enable")).AssertStatus(HttpStatusCode.OK);
        Assert.Equal("active", enabled.Json.GetProperty("status").GetString());
        Assert.False(enabled.Json.TryGetProperty("disabled_reason", out _), $"{enabled}");
        var after = await rig.SendAsync("sw-out", "c1", "after enabling");
        await Eventually.UntilAsync(() => events.Accepted.Count == 1, Patience, () => $"the event after enabling: {events.Requests.Count} requests");
        Assert.Contains(after, Encoding.UTF8.GetString(events.Accepted[0].Body), StringComparison.Ordinal);
        Assert.Empty(events.Accepted[0].SignatureProblems);
        Assert.Equal(HttpStatusCode.NotFound, (await rig.Call(HttpMethod.Post, "/v1/webhooks/wh_nope/enable")).Status);
    }

    [Fact]
    public async Task A_webhook_channel_set_to_standard_webhooks_accepts_what_the_package_signs_and_refuses_everything_else()
    {
        await using var rig = await Rig.StartAsync();
        var secret = TestSecrets.For("inbound standard");
        var created = (await rig.Call(HttpMethod.Post, "/v1/channels", new { id = "sw-in", secret, webhook = new { inbound_signature = "standard-webhooks" } }))
            .AssertStatus(HttpStatusCode.Created);
        Assert.Equal("standard-webhooks", created.Json.GetProperty("webhook").GetProperty("inbound_signature").GetString());
        using var http = new HttpClient { BaseAddress = rig.Tern.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };

        async Task<HttpStatusCode> PostAsync(string body, string? signWith, string id = "evt_1", DateTimeOffset? at = null, string? hmac = null)
        {
            var when = at ?? DateTimeOffset.UtcNow;
            using var request = new HttpRequestMessage(HttpMethod.Post, "/hooks/webhook/sw-in") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("webhook-id", id);
            request.Headers.Add("webhook-timestamp", when.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
            if (signWith is not null) request.Headers.Add("webhook-signature", new StandardWebhooks.StandardWebhook(signWith).Sign(id, when, body));
            if (hmac is not null) request.Headers.Add("X-Hub-Signature-256", hmac);
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }

        var body = """{"chat":"c1","text":"signed by the StandardWebhooks package"}""";
        Assert.Equal(HttpStatusCode.Accepted, await PostAsync(body, secret));
        // A retry carries the same webhook-id: with no id in the body, that is what recognises it.
        Assert.Equal(HttpStatusCode.OK, await PostAsync(body, secret));
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(body, TestSecrets.For("someone else")));
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(body, secret, at: DateTimeOffset.UtcNow.AddMinutes(-10)));
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(body, null, hmac: LoopbackReceiver.Sign(secret, Encoding.UTF8.GetBytes(body))));
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(body, null));

        // After a change of secret, a sender still on the old one is accepted for the overlap.
        var next = TestSecrets.For("inbound standard, next");
        (await rig.Call(HttpMethod.Patch, "/v1/channels/sw-in", new { secret = next })).AssertStatus(HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.Accepted, await PostAsync(body, secret, id: "evt_2"));
        Assert.Equal(HttpStatusCode.Accepted, await PostAsync(body, next, id: "evt_3"));
        var inbound = (await rig.Call(HttpMethod.Get, "/v1/messages?direction=in&page_size=50")).AssertStatus(HttpStatusCode.OK).Ids();
        Assert.Equal(3, inbound.Count);

        // Bad settings and secrets name their field.
        var badScheme = await rig.Call(HttpMethod.Post, "/v1/channels", new { id = "sw-bad", webhook = new { inbound_signature = "md5" } });
        badScheme.AssertStatus(HttpStatusCode.BadRequest);
        Assert.Contains("webhook.inbound_signature", badScheme.Body, StringComparison.Ordinal);
        var badSecret = await rig.Call(HttpMethod.Post, "/v1/channels", new { id = "sw-bad", secret = "not-a-standard-webhooks-secret" });
        badSecret.AssertStatus(HttpStatusCode.BadRequest);
        Assert.Contains("whsec_", badSecret.Body, StringComparison.Ordinal);
        var shortSecret = await rig.Call(HttpMethod.Post, "/v1/webhooks", new { url = "https://example.com/h", events = new[] { "message.sent" }, secret = "whsec_" + Convert.ToBase64String(new byte[16]) });
        shortSecret.AssertStatus(HttpStatusCode.BadRequest);
        Assert.Contains("secret", shortSecret.Body, StringComparison.Ordinal);
    }
}
