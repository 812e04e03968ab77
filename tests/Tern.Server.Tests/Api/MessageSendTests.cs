using System.Net;
using System.Text.Json;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests.Api;

/// <summary>POST /v1/messages: 202 with the id, idempotency keys (same key → the same message, sent once), status history, media.</summary>
[Collection(ApiGroup.Name)]
public sealed class MessageSendTests(ApiServer api)
{
    [Fact]
    public async Task The_same_idempotency_key_returns_the_same_message_and_the_receiver_gets_it_once()
    {
        var tenant = await api.CreateTenantAsync("idem");
        var channel = await api.CreateChannelAsync(tenant);
        var chat = ApiServer.NewId("idem-chat");
        var key = "order-" + Guid.NewGuid().ToString("N");

        var first = await api.PostAsync("/v1/messages", tenant.Key, new { channel, chat, text = "pay 10 EUR", idempotency_key = key });
        first.AssertStatus(HttpStatusCode.Accepted);
        var id = first.Json.GetProperty("id").GetString()!;
        Assert.StartsWith("out_", id, StringComparison.Ordinal);
        Assert.Equal("out", first.Json.GetProperty("direction").GetString());
        Assert.Equal(chat, first.Json.GetProperty("chat").GetString());

        // The same key, in the body or in the Idempotency-Key header, even with another text: the same message, 200.
        var again = await api.PostAsync("/v1/messages", tenant.Key, new { channel, chat, text = "pay 10 EUR", idempotency_key = key });
        var header = await api.SendAsync(HttpMethod.Post, "/v1/messages", tenant.Key, ApiCall.Json(new { channel, chat, text = "pay 10 EUR" }),
            new Dictionary<string, string> { ["Idempotency-Key"] = key });
        var changed = await api.PostAsync("/v1/messages", tenant.Key, new { channel, chat, text = "pay 99 EUR", idempotency_key = key });
        foreach (var replay in new[] { again, header, changed })
        {
            replay.AssertStatus(HttpStatusCode.OK);
            Assert.Equal(id, replay.Json.GetProperty("id").GetString());
            Assert.Equal("pay 10 EUR", replay.Json.GetProperty("text").GetString());
        }

        // Another key is another message; the same key of another tenant is that tenant's own message.
        var other = await api.PostAsync("/v1/messages", tenant.Key, new { channel, chat, text = "pay 20 EUR", idempotency_key = key + "-2" });
        Assert.NotEqual(id, other.AssertStatus(HttpStatusCode.Accepted).Json.GetProperty("id").GetString());
        var stranger = await api.CreateTenantAsync("idem-other");
        var strangerChannel = await api.CreateChannelAsync(stranger);
        var theirs = await api.PostAsync("/v1/messages", stranger.Key, new { channel = strangerChannel, chat, text = "theirs", idempotency_key = key });
        Assert.NotEqual(id, theirs.AssertStatus(HttpStatusCode.Accepted).Json.GetProperty("id").GetString());

        var sent = await api.WaitForFinalAsync(tenant, id);
        Assert.Equal("sent", sent.GetProperty("status").GetString());

        // Replayed after it was sent: still the same message, still 200, and nothing new is sent.
        var late = await api.PostAsync("/v1/messages", tenant.Key, new { channel, chat, text = "pay 10 EUR", idempotency_key = key });
        Assert.Equal(id, late.AssertStatus(HttpStatusCode.OK).Json.GetProperty("id").GetString());
        Assert.Equal("sent", late.Json.GetProperty("status").GetString());

        // A later message to the same chat goes out after anything queued before it (one lane per chat), so once
        // it has arrived, a second send of the keyed message would have arrived too.
        var sentinel = await api.SendTextAsync(tenant, channel, chat, "sentinel");
        Assert.Equal("sent", (await api.WaitForFinalAsync(tenant, sentinel)).GetProperty("status").GetString());
        await api.WaitForFinalAsync(tenant, other.Json.GetProperty("id").GetString()!);

        var keyed = api.Destination.Requests.Where(r => r.Json.ValueKind == JsonValueKind.Object && r.Json.GetProperty("chat").GetString() == chat
            && r.Json.GetProperty("source").GetProperty("api").GetString() == tenant.Id
            && r.Json.GetProperty("source").TryGetProperty("idempotency_key", out var k) && k.GetString() == key).ToList();
        Assert.True(keyed.Count == 1, $"the keyed message reached the receiver {keyed.Count} times: {api.Destination.Describe()}");
        Assert.Equal("pay 10 EUR", keyed[0].Json.GetProperty("text").GetString());
        Assert.Equal(tenant.Id, keyed[0].Json.GetProperty("source").GetProperty("api").GetString());
        Assert.Empty(api.Destination.Problems);

        // The list holds it once.
        var list = (await api.GetAsync($"/v1/messages?chat={chat}&page_size=50", tenant.Key)).AssertStatus(HttpStatusCode.OK);
        Assert.Single(list.Ids(), i => i == id);
        Assert.Equal(3, list.Json.GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task A_sent_message_shows_its_status_history()
    {
        var tenant = await api.CreateTenantAsync("history");
        var channel = await api.CreateChannelAsync(tenant);
        var send = await api.PostAsync("/v1/messages", tenant.Key,
            new { channel, chat = "h-chat", text = "look", media = new { type = "photo", url = "https://example.com/cat.jpg" } });
        send.AssertStatus(HttpStatusCode.Accepted);
        Assert.Equal("queued", send.Json.GetProperty("status").GetString());
        var id = send.Json.GetProperty("id").GetString()!;

        await api.WaitForFinalAsync(tenant, id);
        var message = (await api.GetAsync($"/v1/messages/{id}", tenant.Key)).AssertStatus(HttpStatusCode.OK).Json;
        Assert.Equal("sent", message.GetProperty("status").GetString());
        Assert.Equal(1, message.GetProperty("attempts").GetInt32());
        var history = message.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("status").GetString()).ToList();
        Assert.Equal("queued", history[0]);
        Assert.Equal("sent", history[^1]);
        var attachment = message.GetProperty("attachments")[0];
        Assert.Equal("photo", attachment.GetProperty("type").GetString());
        Assert.Equal("https://example.com/cat.jpg", attachment.GetProperty("url").GetString());
        // The receiver answered {"id": "rcv-<delivery>"}: that is the platform id.
        Assert.StartsWith("rcv-", message.GetProperty("platform_id").GetString(), StringComparison.Ordinal);

        // Lists carry no history; a message id that cannot exist is a 404.
        var listed = (await api.GetAsync("/v1/messages", tenant.Key)).AssertStatus(HttpStatusCode.OK).Json.GetProperty("items")[0];
        Assert.False(listed.TryGetProperty("history", out _));
        foreach (var bad in new[] { "out_999999999", "in_999999999", "out_abc", "nonsense", "out_-1" })
        {
            (await api.GetAsync($"/v1/messages/{bad}", tenant.Key)).AssertProblem(HttpStatusCode.NotFound);
        }
    }

    [Fact]
    public async Task A_receiver_that_refuses_with_4xx_fails_the_message_without_retrying()
    {
        var tenant = await api.CreateTenantAsync("reject");
        var channel = await api.CreateChannelAsync(tenant);
        var chat = ApiServer.NewId("reject-chat");
        var previous = api.Destination.Answer;
        api.Destination.Answer = r => r.Json.ValueKind == JsonValueKind.Object && r.Json.TryGetProperty("chat", out var c) && c.GetString() == chat ? 422 : previous(r);
        try
        {
            var id = await api.SendTextAsync(tenant, channel, chat, "refused");
            var failed = await api.WaitForFinalAsync(tenant, id);
            Assert.Equal("failed", failed.GetProperty("status").GetString());
            Assert.Contains("422", failed.GetProperty("last_error").GetString(), StringComparison.Ordinal);
            Assert.Equal(1, api.Destination.Requests.Count(r => r.Json.ValueKind == JsonValueKind.Object && r.Json.GetProperty("chat").GetString() == chat));
            var history = (await api.GetAsync($"/v1/messages/{id}", tenant.Key)).AssertStatus(HttpStatusCode.OK).Json.GetProperty("history");
            Assert.Equal("failed", history[history.GetArrayLength() - 1].GetProperty("status").GetString());
            Assert.Equal(1, (await api.GetAsync($"/v1/messages?status=failed&chat={chat}", tenant.Key)).Json.GetProperty("total").GetInt64());
        }
        finally
        {
            api.Destination.Answer = previous;
        }
    }
}
