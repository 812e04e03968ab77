using System.Net;
using System.Text.Json;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests.Api;

/// <summary>A tenant never sees another's channels, routes, messages, webhooks or keys: 404 (not 403) by id, absent from every list.</summary>
[Collection(ApiGroup.Name)]
public sealed class IsolationTests(ApiServer api)
{
    private static readonly string InboundSecret = TestSecrets.For("iso inbound");

    /// <summary>What one tenant made: one of everything.</summary>
    private sealed record Estate(
        TenantHandle Tenant, string Channel, string Inbound, string Route, string Webhook, string SentMessage, string ReceivedMessage, IReadOnlyList<string> AllMessages, string SecondKeyId);

    [Fact]
    public async Task Another_tenants_resources_are_not_found_on_every_endpoint_and_absent_from_every_list()
    {
        var a = await MakeEstateAsync("iso-a");
        var b = await MakeEstateAsync("iso-b");
        var bKey = b.Tenant.Key;

        // By id: every endpoint that names a resource answers 404 for the other tenant's.
        var notFound = new List<(HttpMethod Method, string Path, object? Body)>
        {
            (HttpMethod.Get, $"/v1/channels/{a.Channel}", null),
            (HttpMethod.Patch, $"/v1/channels/{a.Channel}", new { url = "http://127.0.0.1:1/stolen" }),
            (HttpMethod.Delete, $"/v1/channels/{a.Channel}", null),
            (HttpMethod.Get, $"/v1/channels/{a.Channel}/status", null),
            (HttpMethod.Get, $"/v1/channels/{a.Inbound}", null),
            (HttpMethod.Get, $"/v1/routes/{a.Route}", null),
            (HttpMethod.Patch, $"/v1/routes/{a.Route}", new { enabled = false }),
            (HttpMethod.Delete, $"/v1/routes/{a.Route}", null),
            (HttpMethod.Get, $"/v1/messages/{a.SentMessage}", null),
            (HttpMethod.Get, $"/v1/messages/{a.ReceivedMessage}", null),
            (HttpMethod.Get, $"/v1/webhooks/{a.Webhook}", null),
            (HttpMethod.Delete, $"/v1/webhooks/{a.Webhook}", null),
            (HttpMethod.Get, $"/v1/webhooks/{a.Webhook}/deliveries", null),
            (HttpMethod.Delete, $"/v1/keys/{a.SecondKeyId}", null),
        };
        foreach (var (method, path, body) in notFound)
        {
            var response = await api.SendAsync(method, path, bKey, body is null ? null : ApiCall.Json(body));
            response.AssertProblem(HttpStatusCode.NotFound);

            // Indistinguishable from an id that exists nowhere.
            var foreignId = path.Split('/')[3];
            var missing = await api.SendAsync(method, path.Replace(foreignId, "zz-" + foreignId, StringComparison.Ordinal), bKey, body is null ? null : ApiCall.Json(body));
            missing.AssertProblem(HttpStatusCode.NotFound);
            Assert.Equal(missing.Json.GetProperty("title").GetString(), response.Json.GetProperty("title").GetString());
            Assert.Equal(missing.Json.GetProperty("detail").GetString()!.Replace("zz-", "", StringComparison.Ordinal), response.Json.GetProperty("detail").GetString());
        }

        // Naming the other tenant's channel inside a body is a validation error on that field, as for a channel that does not exist.
        (await api.PostAsync("/v1/messages", bKey, new { channel = a.Channel, chat = "c", text = "hijack" })).AssertProblem(HttpStatusCode.BadRequest, "channel");
        (await api.PostAsync("/v1/routes", bKey, new { id = ApiServer.NewId("r"), from = a.Inbound, to = new[] { b.Channel } })).AssertProblem(HttpStatusCode.BadRequest, "from");
        (await api.PostAsync("/v1/routes", bKey, new { id = ApiServer.NewId("r"), from = b.Inbound, to = new[] { a.Channel + ":chat" } })).AssertProblem(HttpStatusCode.BadRequest, "to[0]");
        (await api.PatchAsync($"/v1/routes/{b.Route}", bKey, new { to = new[] { a.Channel } })).AssertProblem(HttpStatusCode.BadRequest, "to[0]");

        // Lists show exactly the caller's own.
        Assert.Equal(new[] { b.Channel, b.Inbound }.Order(StringComparer.Ordinal), (await api.GetAsync("/v1/channels", bKey)).AssertStatus(HttpStatusCode.OK).Ids().Order(StringComparer.Ordinal));
        Assert.Equal([b.Route], (await api.GetAsync("/v1/routes", bKey)).AssertStatus(HttpStatusCode.OK).Ids());
        Assert.Equal([b.Webhook], (await api.GetAsync("/v1/webhooks", bKey)).AssertStatus(HttpStatusCode.OK).Ids());
        var keys = (await api.GetAsync("/v1/keys", bKey)).AssertStatus(HttpStatusCode.OK);
        Assert.Equal(new[] { b.Tenant.KeyId, b.SecondKeyId }.Order(StringComparer.Ordinal), keys.Ids().Order(StringComparer.Ordinal));
        Assert.All(keys.Json.EnumerateArray(), key => Assert.Equal(b.Tenant.Id, key.GetProperty("tenant").GetString()));

        var messages = (await api.GetAsync("/v1/messages?page_size=50", bKey)).AssertStatus(HttpStatusCode.OK);
        Assert.Equal(b.AllMessages, messages.Ids().Order(StringComparer.Ordinal));
        Assert.Equal(3, messages.Json.GetProperty("total").GetInt64());
        foreach (var filter in new[] { $"channel={a.Channel}", $"channel={a.Inbound}", "chat=iso-chat", "direction=in", "direction=out", "status=sent" })
        {
            var filtered = (await api.GetAsync($"/v1/messages?{filter}", bKey)).AssertStatus(HttpStatusCode.OK);
            Assert.Empty(filtered.Ids().Intersect(a.AllMessages));
            Assert.DoesNotContain(a.Tenant.Id, filtered.Body, StringComparison.Ordinal);
        }

        // Nothing B tried changed anything of A's.
        var channel = (await api.GetAsync($"/v1/channels/{a.Channel}", a.Tenant.Key)).AssertStatus(HttpStatusCode.OK);
        Assert.Equal(api.Destination.Url.ToString(), channel.Json.GetProperty("url").GetString());
        Assert.True((await api.GetAsync($"/v1/routes/{a.Route}", a.Tenant.Key)).AssertStatus(HttpStatusCode.OK).Json.GetProperty("enabled").GetBoolean());
        (await api.GetAsync($"/v1/webhooks/{a.Webhook}", a.Tenant.Key)).AssertStatus(HttpStatusCode.OK);
        (await api.GetAsync($"/v1/messages/{a.SentMessage}", a.Tenant.Key)).AssertStatus(HttpStatusCode.OK);
        var aKeys = (await api.GetAsync("/v1/keys", a.Tenant.Key)).AssertStatus(HttpStatusCode.OK);
        Assert.All(aKeys.Json.EnumerateArray(), key => Assert.False(key.TryGetProperty("revoked_at", out var at) && at.ValueKind == JsonValueKind.String, $"A's key was revoked: {aKeys}"));
        Assert.Equal(a.AllMessages, (await api.GetAsync("/v1/messages", a.Tenant.Key)).AssertStatus(HttpStatusCode.OK).Ids().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_channel_id_reused_by_another_tenant_does_not_bring_the_old_messages_along()
    {
        var a = await api.CreateTenantAsync("reuse-a");
        var b = await api.CreateTenantAsync("reuse-b");
        var id = await api.CreateChannelAsync(a, "reused");
        var old = await api.SendTextAsync(a, id, "private-chat", "A's private words");
        Assert.Equal("sent", (await api.WaitForFinalAsync(a, old)).GetProperty("status").GetString());
        (await api.DeleteAsync($"/v1/channels/{id}", a.Key)).AssertStatus(HttpStatusCode.NoContent);

        // Channel ids are global, so B may take the freed id…
        (await api.PostAsync("/v1/channels", b.Key, new { id, url = api.Destination.Url.ToString(), secret = ApiServer.DestinationSecret })).AssertStatus(HttpStatusCode.Created);

        // …but not what was sent through A's channel of that name.
        (await api.GetAsync($"/v1/messages/{old}", b.Key)).AssertProblem(HttpStatusCode.NotFound);
        var list = (await api.GetAsync($"/v1/messages?channel={id}", b.Key)).AssertStatus(HttpStatusCode.OK);
        Assert.Empty(list.Ids());
        Assert.Equal(0, list.Json.GetProperty("total").GetInt64());
        Assert.DoesNotContain("private", (await api.GetAsync("/v1/messages", b.Key)).Body, StringComparison.Ordinal);
        var status = (await api.GetAsync($"/v1/channels/{id}/status", b.Key)).AssertStatus(HttpStatusCode.OK).Json;
        Assert.Equal(0, status.GetProperty("sent").GetInt64());
        Assert.Equal(0, status.GetProperty("pending").GetInt64());

        // B's own messages on it are B's.
        var mine = await api.SendTextAsync(b, id, "b-chat", "B's words");
        Assert.Equal([mine], (await api.GetAsync($"/v1/messages?channel={id}", b.Key)).AssertStatus(HttpStatusCode.OK).Ids());
    }

    private async Task<Estate> MakeEstateAsync(string prefix)
    {
        var tenant = await api.CreateTenantAsync(prefix);
        var channel = await api.CreateChannelAsync(tenant, prefix + "-out");
        var inbound = ApiServer.NewId(prefix + "-in");
        (await api.PostAsync("/v1/channels", tenant.Key, new { id = inbound, secret = InboundSecret })).AssertStatus(HttpStatusCode.Created);
        var route = ApiServer.NewId(prefix + "-route");
        (await api.PostAsync("/v1/routes", tenant.Key, new { id = route, from = inbound, to = new[] { channel } })).AssertStatus(HttpStatusCode.Created);
        // Subscribed to an event this test never causes, at an address nobody listens on.
        var webhook = (await api.PostAsync("/v1/webhooks", tenant.Key, new { url = "http://127.0.0.1:9/events", events = new[] { "channel.status" } }))
            .AssertStatus(HttpStatusCode.Created).Json.GetProperty("id").GetString()!;
        var secondKey = (await api.PostAsync("/v1/keys", await api.AdminKeyAsync(nameof(IsolationTests)), new { tenant = tenant.Id })).AssertStatus(HttpStatusCode.Created).Json.GetProperty("id").GetString()!;

        var sent = await api.SendTextAsync(tenant, channel, "iso-chat", $"{tenant.Id} says hello");
        using var poster = new MessagePoster(api.Tern.BaseUrl, inbound, InboundSecret, connections: 1);
        using (var posted = await poster.PostAsync(MessagePoster.Body("p-" + tenant.Id, "iso-chat", $"{tenant.Id} inbound")))
        {
            Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        }
        string? received = null;
        await Eventually.UntilAsync(async () =>
        {
            var inbox = await api.GetAsync($"/v1/messages?direction=in&channel={inbound}", tenant.Key);
            received = inbox.AssertStatus(HttpStatusCode.OK).Ids().SingleOrDefault();
            return received is not null;
        }, TimeSpan.FromSeconds(30), () => $"{tenant.Id}'s inbound message to be listed");
        // The routed copy is an outbound message too; wait for it so the lists are settled.
        await Eventually.UntilAsync(async () => (await api.GetAsync($"/v1/messages?direction=out&channel={channel}", tenant.Key)).Json.GetProperty("total").GetInt64() == 2,
            TimeSpan.FromSeconds(30), () => $"{tenant.Id}'s routed message to be listed");
        var all = (await api.GetAsync("/v1/messages", tenant.Key)).AssertStatus(HttpStatusCode.OK).Ids().Order(StringComparer.Ordinal).ToList();
        Assert.Equal(3, all.Count);
        Assert.Contains(sent, all);
        Assert.Contains(received!, all);
        return new Estate(tenant, channel, inbound, route, webhook, sent, received!, all, secondKey);
    }
}
