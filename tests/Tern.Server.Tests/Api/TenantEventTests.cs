using System.Net;
using System.Text.Json;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Http;

namespace Tern.Server.Tests.Api;

/// <summary>
/// Tenant events end to end: signed and timestamped, durable through a receiver that answers 503 and then
/// refuses connections for a while, exactly once per delivery id, in order per subject, only to the
/// tenant's own subscriptions and only the event types subscribed to; a 4xx is not retried.
/// </summary>
[Collection(HeavyTests.Name)]
public sealed class TenantEventTests(ITestOutputHelper output)
{
    private static readonly string DestinationSecret = TestSecrets.For("destination");
    private static readonly string EventSecret = TestSecrets.For("event");
    private static readonly string InboundSecret = TestSecrets.For("inbound");
    private static readonly string[] AllEvents = ["message.received", "message.sent", "message.delivered", "message.read", "message.failed", "channel.status"];
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Events_survive_a_receiver_that_was_down_and_arrive_signed_once_each_in_order_per_subject()
    {
        await using var destination = await RecordingReceiver.StartAsync(SignatureScheme.StandardWebhooks, DestinationSecret);
        await using var events = await RecordingReceiver.StartAsync(SignatureScheme.StandardWebhooks, EventSecret);
        await using var sentOnly = await RecordingReceiver.StartAsync(SignatureScheme.StandardWebhooks, TestSecrets.For("learnt from the api below"));
        await using var wrongSecret = await RecordingReceiver.StartAsync(SignatureScheme.StandardWebhooks, TestSecrets.For("not the secret tern signs with"));
        await using var otherTenant = await RecordingReceiver.StartAsync(SignatureScheme.StandardWebhooks, TestSecrets.For("other tenant"));
        destination.Answer = _ => 503;
        events.Answer = _ => 503;

        using var home = TernHome.Create();
        await home.RunOkAsync("tenants", "add", "--id", "ev", "--rate-limit", "100000");
        await home.RunOkAsync("tenants", "add", "--id", "other", "--rate-limit", "100000");
        var key = (await home.RunOkAsync("keys", "create", "--tenant", "ev")).Stdout.Trim();
        var otherKey = (await home.RunOkAsync("keys", "create", "--tenant", "other")).Stdout.Trim();
        await using var tern = await home.StartInProcessAsync("--Tern:Sender:BackoffBase=50ms", "--Tern:Sender:BackoffMax=400ms", "--Tern:Sender:PollInterval=50ms",
            "--Tern:Sender:ParkAfterFailures=3", "--Tern:Sender:Cooldown=1s");

        Task<ApiResponse> Call(HttpMethod method, string path, string caller, object? body = null) =>
            ApiCall.SendAsync(tern.Http, method, path, caller, body is null ? null : ApiCall.Json(body));

        // Tenant "ev": inbound ev-in routed to ev-out (the destination), and three subscriptions.
        (await Call(HttpMethod.Post, "/v1/channels", key, new { id = "ev-out", url = destination.Url.ToString(), secret = DestinationSecret })).AssertStatus(HttpStatusCode.Created);
        (await Call(HttpMethod.Post, "/v1/channels", key, new { id = "ev-in", secret = InboundSecret })).AssertStatus(HttpStatusCode.Created);
        (await Call(HttpMethod.Post, "/v1/routes", key, new { id = "ev-route", from = "ev-in", to = new[] { "ev-out" } })).AssertStatus(HttpStatusCode.Created);
        var all = (await Call(HttpMethod.Post, "/v1/webhooks", key, new { url = events.Url.ToString(), events = AllEvents, secret = EventSecret })).AssertStatus(HttpStatusCode.Created);
        Assert.False(all.Json.TryGetProperty("secret", out _), $"a secret the caller chose is echoed back: {all}");
        var allId = all.Json.GetProperty("id").GetString()!;
        var generated = (await Call(HttpMethod.Post, "/v1/webhooks", key, new { url = sentOnly.Url.ToString(), events = new[] { "message.sent" } })).AssertStatus(HttpStatusCode.Created);
        sentOnly.Secret = generated.Json.GetProperty("secret").GetString()!; // shown once, in this answer
        Assert.True(sentOnly.Secret.Length >= 32, $"generated secret too short: {generated}");
        Assert.DoesNotContain(sentOnly.Secret, (await Call(HttpMethod.Get, $"/v1/webhooks/{generated.Json.GetProperty("id").GetString()}", key)).AssertStatus(HttpStatusCode.OK).Body, StringComparison.Ordinal);
        Assert.DoesNotContain(sentOnly.Secret, (await Call(HttpMethod.Get, "/v1/webhooks", key)).Body, StringComparison.Ordinal);
        var refusingId = (await Call(HttpMethod.Post, "/v1/webhooks", key, new { url = wrongSecret.Url.ToString(), events = new[] { "message.failed" }, secret = TestSecrets.For("a secret the receiver does not know") }))
            .AssertStatus(HttpStatusCode.Created).Json.GetProperty("id").GetString()!;

        // Tenant "other": its own channel and subscription.
        (await Call(HttpMethod.Post, "/v1/channels", otherKey, new { id = "other-out", url = destination.Url.ToString(), secret = DestinationSecret })).AssertStatus(HttpStatusCode.Created);
        (await Call(HttpMethod.Post, "/v1/webhooks", otherKey, new { url = otherTenant.Url.ToString(), events = AllEvents, secret = otherTenant.Secret })).AssertStatus(HttpStatusCode.Created);

        async Task<JsonElement> LogAsync(string webhook)
        {
            var page = await Call(HttpMethod.Get, $"/v1/webhooks/{webhook}/deliveries?page_size=50", key);
            return page.AssertStatus(HttpStatusCode.OK).Json;
        }

        // 1. The destination is down: the first message fails until ev-out is parked, which is a channel.status event.
        var first = (await Call(HttpMethod.Post, "/v1/messages", key, new { channel = "ev-out", chat = "c0", text = "first" })).AssertStatus(HttpStatusCode.Accepted);
        var firstId = first.Json.GetProperty("id").GetString()!;
        JsonElement log = default;
        await Eventually.UntilAsync(async () => (log = await LogAsync(allId)).GetProperty("items").EnumerateArray().Any(i => i.GetProperty("type").GetString() == "channel.status"),
            Patience, () => $"a channel.status event for the parked destination; log {log}; destination {destination.Describe()}");
        destination.Answer = r => r.Json.ValueKind == JsonValueKind.Object && r.Json.TryGetProperty("chat", out var chat) && chat.GetString() == "reject" ? 400 : 200;

        // 2. Events pile up while their receiver answers 503: inbound messages (received, then sent when routed), API sends, one refused.
        using var poster = new MessagePoster(tern.BaseUrl, "ev-in", InboundSecret, connections: 2);
        var posted = await poster.PostManyAsync("ev", chats: 4, perChat: 2, parallelism: 2);
        Assert.True(posted.Count(HttpStatusCode.Accepted) == 8, $"inbound posts: {posted}");
        for (var i = 0; i < 4; i++) (await Call(HttpMethod.Post, "/v1/messages", key, new { channel = "ev-out", chat = "c1", text = $"api {i}" })).AssertStatus(HttpStatusCode.Accepted);
        var rejectId = (await Call(HttpMethod.Post, "/v1/messages", key, new { channel = "ev-out", chat = "reject", text = "refused" })).AssertStatus(HttpStatusCode.Accepted).Json.GetProperty("id").GetString()!;
        (await Call(HttpMethod.Post, "/v1/messages", otherKey, new { channel = "other-out", chat = "o1", text = "other's" })).AssertStatus(HttpStatusCode.Accepted);
        await Eventually.UntilAsync(() => events.CountAnswered(503) >= 3, Patience, () => $"the event receiver to refuse a few: {events.Describe()}");

        // 3. Then it goes away altogether: connections are refused.
        await events.StopAsync();
        const int expected = 8 + 13 + 1 + 2; // received, sent (first + 8 routed + 4 API), failed, channel down and up
        await Eventually.UntilAsync(async () =>
        {
            log = await LogAsync(allId);
            return log.GetProperty("total").GetInt64() == expected
                && log.GetProperty("items").EnumerateArray().Any(i => i.TryGetProperty("last_error", out var e) && e.GetString()!.StartsWith("network", StringComparison.Ordinal));
        }, Patience, () => $"all {expected} events written and refused connections seen; log {log}; destination {destination.Describe()}");

        // 4. It comes back: everything arrives.
        events.Answer = _ => 200;
        await events.StartAgainAsync();
        await Eventually.UntilAsync(async () =>
        {
            log = await LogAsync(allId);
            return log.GetProperty("items").EnumerateArray().All(i => i.GetProperty("status").GetString() == "sent");
        }, Patience, () => $"every event delivered; log {log}; receiver {events.Describe()}");
        await Eventually.UntilAsync(() => sentOnly.Accepted.Count >= 13 && otherTenant.Accepted.Count >= 1 && wrongSecret.Requests.Count >= 1, Patience,
            () => $"the other subscriptions: sent-only {sentOnly.Describe()}; other tenant {otherTenant.Describe()}; wrong secret {wrongSecret.Describe()}");

        // What the tenant's messages are, from the API.
        var inbound = (await Call(HttpMethod.Get, "/v1/messages?direction=in&page_size=50", key)).AssertStatus(HttpStatusCode.OK).Ids();
        var outbound = (await Call(HttpMethod.Get, "/v1/messages?direction=out&page_size=50", key)).AssertStatus(HttpStatusCode.OK).Json.GetProperty("items").EnumerateArray()
            .Select(m => (Id: m.GetProperty("id").GetString()!, Status: m.GetProperty("status").GetString()!)).ToList();
        Assert.Equal(8, inbound.Count);
        Assert.Equal(14, outbound.Count);
        var sentIds = outbound.Where(m => m.Status == "sent").Select(m => m.Id).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(13, sentIds.Count);
        Assert.Contains(firstId, sentIds);
        Assert.Equal([rejectId], outbound.Where(m => m.Status == "failed").Select(m => m.Id));

        // Exactly once per delivery id, and exactly the expected events.
        output.WriteLine($"events: {events.Describe()}; sent-only: {sentOnly.Describe()}; wrong secret: {wrongSecret.Describe()}; other: {otherTenant.Describe()}");
        Assert.Empty(events.Problems);
        Assert.Empty(events.DuplicateDeliveries);
        var accepted = events.Accepted;
        Assert.Equal(expected, accepted.Count);
        var expectedEvents = inbound.Select(id => $"message.received {id}")
            .Concat(sentIds.Select(id => $"message.sent {id}"))
            .Append($"message.failed {rejectId}")
            .Append("channel.status channel:ev-out").Append("channel.status channel:ev-out")
            .Order(StringComparer.Ordinal);
        Assert.Equal(expectedEvents, accepted.Select(r => $"{r.Type} {r.Subject}").Order(StringComparer.Ordinal));

        // The receiver really was down: it refused with 503, and deliveries took more than one attempt.
        Assert.True(events.CountAnswered(503) >= 3, events.Describe());
        Assert.Contains(accepted, r => r.Attempt > 1);
        Assert.Contains(log.GetProperty("items").EnumerateArray(), i => i.GetProperty("attempts").GetInt32() > 1);

        // In order per subject: the channel went down, then up; and within any subject, first delivered first.
        Assert.Equal(["down", "up"], accepted.Where(r => r.Subject == "channel:ev-out").Select(r => r.Data.GetProperty("status").GetString()));
        foreach (var subject in accepted.GroupBy(r => r.Subject))
        {
            var ids = subject.Select(r => r.DeliveryId).ToList();
            Assert.True(ids.SequenceEqual(ids.Order()), $"{subject.Key}: deliveries {string.Join(", ", ids)} arrived out of order");
        }

        // The payloads say what happened, to whom.
        foreach (var e in accepted)
        {
            Assert.Equal("ev", e.Json.GetProperty("tenant").GetString());
            Assert.True(e.Json.GetProperty("created_at").GetInt64() > 0, e.Body);
        }
        var sent = accepted.Where(r => r.Type == "message.sent").ToList();
        Assert.All(sent, e => Assert.Equal("ev-out", e.Data.GetProperty("channel").GetString()));
        Assert.All(sent, e => Assert.StartsWith("rcv-", e.Data.GetProperty("platform_id").GetString(), StringComparison.Ordinal));
        Assert.All(accepted.Where(r => r.Type == "message.received"), e => Assert.Equal("ev-in", e.Data.GetProperty("channel").GetString()));
        var failed = accepted.Single(r => r.Type == "message.failed");
        Assert.Contains("400", failed.Data.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("parked", accepted.First(r => r.Type == "channel.status").Data.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // The log agrees with what arrived.
        var logged = log.GetProperty("items").EnumerateArray().Select(i => $"{i.GetProperty("type").GetString()} {i.GetProperty("subject").GetString()}").Order(StringComparer.Ordinal);
        Assert.Equal(accepted.Select(r => $"{r.Type} {r.Subject}").Order(StringComparer.Ordinal), logged);
        Assert.Equal(accepted.Select(r => r.DeliveryId).Order(), log.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetInt64()).Order());

        // Only the subscribed type, signed with the generated secret.
        Assert.Empty(sentOnly.Problems);
        Assert.Empty(sentOnly.DuplicateDeliveries);
        Assert.All(sentOnly.Accepted, e => Assert.Equal("message.sent", e.Type));
        Assert.Equal(sentIds, sentOnly.Accepted.Select(e => e.Subject).Order(StringComparer.Ordinal));

        // A receiver that cannot verify the signature answers 400: the event fails at once, without retries.
        Assert.Single(wrongSecret.Requests);
        Assert.Contains(wrongSecret.Problems, p => p.Contains("bad signature", StringComparison.Ordinal));
        await Eventually.UntilAsync(async () => (await LogAsync(refusingId)).GetProperty("items")[0].GetProperty("status").GetString() == "failed", Patience,
            () => "the refused event to be recorded as failed");
        var refusedLog = await LogAsync(refusingId);
        Assert.Equal(1, refusedLog.GetProperty("total").GetInt64());
        Assert.Equal(1, refusedLog.GetProperty("items")[0].GetProperty("attempts").GetInt32());
        Assert.Single(wrongSecret.Requests);

        // The other tenant's subscription saw only the other tenant's events.
        Assert.Empty(otherTenant.Problems);
        Assert.All(otherTenant.Accepted, e => Assert.Equal("other", e.Json.GetProperty("tenant").GetString()));
        Assert.Contains(otherTenant.Accepted, e => e.Type == "message.sent" && e.Data.GetProperty("channel").GetString() == "other-out");
        Assert.Empty(otherTenant.Accepted.Select(e => e.Subject).Intersect(accepted.Select(e => e.Subject)));
        // Nor can "ev" read the other tenant's delivery log.
        var otherHooks = (await Call(HttpMethod.Get, "/v1/webhooks", otherKey)).AssertStatus(HttpStatusCode.OK).Ids();
        (await Call(HttpMethod.Get, $"/v1/webhooks/{otherHooks.Single()}/deliveries", key)).AssertProblem(HttpStatusCode.NotFound);
    }
}
