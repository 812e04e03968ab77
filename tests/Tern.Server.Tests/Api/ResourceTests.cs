using System.Net;

namespace Tern.Server.Tests.Api;

/// <summary>The life of channels, routes and webhook subscriptions through the API; secrets are write-only.</summary>
[Collection(ApiGroup.Name)]
public sealed class ResourceTests(ApiServer api)
{
    [Fact]
    public async Task Channels_and_routes_are_created_read_updated_and_deleted_and_secrets_never_come_back()
    {
        var tenant = await api.CreateTenantAsync("crud");
        var outbound = ApiServer.NewId("crud-out");
        var inbound = ApiServer.NewId("crud-in");
        var firstSecret = TestSecrets.For("first");
        var secondSecret = TestSecrets.For("second");
        var bodies = new List<string>();

        var created = (await api.PostAsync("/v1/channels", tenant.Key, new { id = outbound, url = api.Destination.Url.ToString(), max_concurrency = 2 })).AssertStatus(HttpStatusCode.Created);
        Assert.False(created.Json.GetProperty("has_secret").GetBoolean());
        Assert.Equal("webhook", created.Json.GetProperty("type").GetString());
        Assert.Equal(2, created.Json.GetProperty("max_concurrency").GetInt32());
        var made = (await api.PostAsync("/v1/channels", tenant.Key, new { id = inbound, secret = firstSecret })).AssertStatus(HttpStatusCode.Created);
        Assert.True(made.Json.GetProperty("has_secret").GetBoolean());
        Assert.Equal($"/hooks/webhook/{inbound}", made.Json.GetProperty("inbound_path").GetString());
        bodies.Add(made.Body);

        // Update: a secret set later, a new URL; what is not sent stays.
        var patched = (await api.PatchAsync($"/v1/channels/{outbound}", tenant.Key, new { secret = secondSecret })).AssertStatus(HttpStatusCode.OK);
        Assert.True(patched.Json.GetProperty("has_secret").GetBoolean());
        Assert.Equal(api.Destination.Url.ToString(), patched.Json.GetProperty("url").GetString());
        Assert.Equal(2, patched.Json.GetProperty("max_concurrency").GetInt32());
        bodies.Add(patched.Body);
        var moved = (await api.PatchAsync($"/v1/channels/{outbound}", tenant.Key, new { url = "https://example.com/elsewhere" })).AssertStatus(HttpStatusCode.OK);
        Assert.Equal("https://example.com/elsewhere", moved.Json.GetProperty("url").GetString());
        Assert.True(moved.Json.GetProperty("has_secret").GetBoolean());
        bodies.Add((await api.GetAsync($"/v1/channels/{outbound}", tenant.Key)).AssertStatus(HttpStatusCode.OK).Body);
        var list = (await api.GetAsync("/v1/channels", tenant.Key)).AssertStatus(HttpStatusCode.OK);
        Assert.Equal(new[] { inbound, outbound }.Order(StringComparer.Ordinal), list.Ids().Order(StringComparer.Ordinal));
        bodies.Add(list.Body);

        var status = (await api.GetAsync($"/v1/channels/{outbound}/status", tenant.Key)).AssertStatus(HttpStatusCode.OK).Json;
        Assert.Equal(outbound, status.GetProperty("channel").GetString());
        Assert.Equal(0, status.GetProperty("pending").GetInt64());

        // Routes: made, read, changed, listed.
        var route = ApiServer.NewId("crud-route");
        var r = (await api.PostAsync("/v1/routes", tenant.Key, new { id = route, from = inbound, chats = new[] { "a", "b" }, to = new[] { outbound, outbound + ":fixed" } }))
            .AssertStatus(HttpStatusCode.Created).Json;
        Assert.Equal(inbound, r.GetProperty("from").GetString());
        Assert.Equal(["a", "b"], r.GetProperty("chats").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal([outbound, outbound + ":fixed"], r.GetProperty("to").EnumerateArray().Select(c => c.GetString()));
        Assert.True(r.GetProperty("enabled").GetBoolean());
        var disabled = (await api.PatchAsync($"/v1/routes/{route}", tenant.Key, new { enabled = false })).AssertStatus(HttpStatusCode.OK).Json;
        Assert.False(disabled.GetProperty("enabled").GetBoolean());
        Assert.Equal(["a", "b"], disabled.GetProperty("chats").EnumerateArray().Select(c => c.GetString()));
        Assert.False((await api.GetAsync($"/v1/routes/{route}", tenant.Key)).AssertStatus(HttpStatusCode.OK).Json.GetProperty("enabled").GetBoolean());
        Assert.Equal([route], (await api.GetAsync("/v1/routes", tenant.Key)).AssertStatus(HttpStatusCode.OK).Ids());

        // A channel a route uses cannot go first.
        (await api.DeleteAsync($"/v1/channels/{outbound}", tenant.Key)).AssertProblem(HttpStatusCode.Conflict, "id");
        (await api.DeleteAsync($"/v1/routes/{route}", tenant.Key)).AssertStatus(HttpStatusCode.NoContent);
        (await api.GetAsync($"/v1/routes/{route}", tenant.Key)).AssertProblem(HttpStatusCode.NotFound);
        (await api.DeleteAsync($"/v1/routes/{route}", tenant.Key)).AssertProblem(HttpStatusCode.NotFound);
        foreach (var id in new[] { outbound, inbound })
        {
            (await api.DeleteAsync($"/v1/channels/{id}", tenant.Key)).AssertStatus(HttpStatusCode.NoContent);
            (await api.GetAsync($"/v1/channels/{id}", tenant.Key)).AssertProblem(HttpStatusCode.NotFound);
        }
        Assert.Empty((await api.GetAsync("/v1/channels", tenant.Key)).AssertStatus(HttpStatusCode.OK).Ids());

        Assert.All(bodies, body =>
        {
            Assert.DoesNotContain(firstSecret, body, StringComparison.Ordinal);
            Assert.DoesNotContain(secondSecret, body, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Webhook_subscriptions_are_created_listed_and_deleted()
    {
        var tenant = await api.CreateTenantAsync("hooks");
        var secret = TestSecrets.For("hook");
        var created = (await api.PostAsync("/v1/webhooks", tenant.Key, new { url = "http://127.0.0.1:9/events", events = new[] { "message.sent", "message.failed", "message.sent" }, secret }))
            .AssertStatus(HttpStatusCode.Created);
        var id = created.Json.GetProperty("id").GetString()!;
        Assert.StartsWith("wh_", id, StringComparison.Ordinal);
        Assert.Equal(["message.sent", "message.failed"], created.Json.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        Assert.DoesNotContain(secret, created.Body, StringComparison.Ordinal);

        var read = (await api.GetAsync($"/v1/webhooks/{id}", tenant.Key)).AssertStatus(HttpStatusCode.OK);
        Assert.Equal("http://127.0.0.1:9/events", read.Json.GetProperty("url").GetString());
        Assert.DoesNotContain(secret, read.Body, StringComparison.Ordinal);
        Assert.Equal([id], (await api.GetAsync("/v1/webhooks", tenant.Key)).AssertStatus(HttpStatusCode.OK).Ids());
        var log = (await api.GetAsync($"/v1/webhooks/{id}/deliveries", tenant.Key)).AssertStatus(HttpStatusCode.OK).Json;
        Assert.Equal(0, log.GetProperty("total").GetInt64());

        // A subscription's lane is not a channel the tenant can see or send to.
        Assert.Empty((await api.GetAsync("/v1/channels", tenant.Key)).AssertStatus(HttpStatusCode.OK).Ids());
        (await api.PostAsync("/v1/messages", tenant.Key, new { channel = "~webhook." + id, chat = "c", text = "x" })).AssertProblem(HttpStatusCode.BadRequest, "channel");

        (await api.DeleteAsync($"/v1/webhooks/{id}", tenant.Key)).AssertStatus(HttpStatusCode.NoContent);
        (await api.GetAsync($"/v1/webhooks/{id}", tenant.Key)).AssertProblem(HttpStatusCode.NotFound);
        (await api.GetAsync($"/v1/webhooks/{id}/deliveries", tenant.Key)).AssertProblem(HttpStatusCode.NotFound);
        Assert.Empty((await api.GetAsync("/v1/webhooks", tenant.Key)).AssertStatus(HttpStatusCode.OK).Ids());
    }
}
