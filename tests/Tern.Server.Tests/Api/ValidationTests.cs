using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Tern.Server.Tests.Api;

/// <summary>Bad input to every endpoint that takes a body: application/problem+json naming the field, and nothing changed.</summary>
[Collection(ApiGroup.Name)]
public sealed class ValidationTests(ApiServer api)
{
    private sealed record Setup(TenantHandle Tenant, string Channel, string Route, string Webhook);

    private const string Admin = "admin";
    private const string Tenant = "tenant";
    private static readonly string TooLong = new('x', 4097);

    /// <summary>case name, caller, method, path, body, expected status, field the problem must name.</summary>
    public static TheoryData<string, string, string, string, string, int, string> BadBodies => new()
    {
        // Tenants (admin).
        { "tenant: unknown field", Admin, "POST", "/v1/tenants", """{"id":"t-unknown","colour":"red"}""", 400, "colour" },
        { "tenant: id of the wrong type", Admin, "POST", "/v1/tenants", """{"id":5}""", 400, "id" },
        { "tenant: id missing", Admin, "POST", "/v1/tenants", """{"rate_limit_per_minute":10}""", 400, "id" },
        { "tenant: id with a space", Admin, "POST", "/v1/tenants", """{"id":"bad id"}""", 400, "id" },
        { "tenant: rate limit 0", Admin, "POST", "/v1/tenants", """{"id":"t-zero","rate_limit_per_minute":0}""", 400, "rate_limit_per_minute" },
        { "tenant: rate limit a string", Admin, "POST", "/v1/tenants", """{"id":"t-str","rate_limit_per_minute":"fast"}""", 400, "rate_limit_per_minute" },
        // Keys (admin).
        { "key: tenant missing", Admin, "POST", "/v1/keys", """{"name":"k"}""", 400, "tenant" },
        { "key: no such tenant", Admin, "POST", "/v1/keys", """{"tenant":"no-such-tenant"}""", 400, "tenant" },
        { "key: admin and tenant", Admin, "POST", "/v1/keys", """{"tenant":"acme","admin":true}""", 400, "tenant" },
        { "key: admin not a boolean", Admin, "POST", "/v1/keys", """{"admin":"yes"}""", 400, "admin" },
        { "key: name too long", Admin, "POST", "/v1/keys", "{\"tenant\":\"acme\",\"name\":\"" + new string('n', 101) + "\"}", 400, "name" },
        { "key: unknown field", Admin, "POST", "/v1/keys", """{"tenant":"acme","expires":"never"}""", 400, "expires" },
        // Channels.
        { "channel: id missing", Tenant, "POST", "/v1/channels", """{"url":"http://127.0.0.1:1/x"}""", 400, "id" },
        { "channel: id of the wrong type", Tenant, "POST", "/v1/channels", """{"id":["a"]}""", 400, "id" },
        { "channel: bad id", Tenant, "POST", "/v1/channels", """{"id":"no/slashes"}""", 400, "id" },
        { "channel: url not absolute", Tenant, "POST", "/v1/channels", """{"id":"v-url1","url":"example.com/hook"}""", 400, "url" },
        { "channel: url not http", Tenant, "POST", "/v1/channels", """{"id":"v-url2","url":"ftp://example.com/hook"}""", 400, "url" },
        { "channel: short secret", Tenant, "POST", "/v1/channels", """{"id":"v-sec","secret":"short"}""", 400, "secret" },
        { "channel: unknown type", Tenant, "POST", "/v1/channels", """{"id":"v-type","type":"carrier-pigeon"}""", 400, "type" },
        { "channel: max_concurrency 0", Tenant, "POST", "/v1/channels", """{"id":"v-max","max_concurrency":0}""", 400, "max_concurrency" },
        { "channel: max_concurrency a string", Tenant, "POST", "/v1/channels", """{"id":"v-max2","max_concurrency":"many"}""", 400, "max_concurrency" },
        { "channel: unknown field", Tenant, "POST", "/v1/channels", """{"id":"v-unk","token":"abc"}""", 400, "token" },
        { "channel: settings of no channel type", Tenant, "POST", "/v1/channels", """{"id":"v-unk2","carrier_pigeon":{"name":"x"}}""", 400, "carrier_pigeon" },
        { "channel: a type's settings not an object", Tenant, "POST", "/v1/channels", """{"id":"v-tg1","type":"telegram","telegram":"123:abc"}""", 400, "telegram" },
        { "channel: an unknown field in a type's settings", Tenant, "POST", "/v1/channels", """{"id":"v-tg2","type":"telegram","telegram":{"token":"123:abc","colour":"red"}}""", 400, "telegram.colour" },
        { "channel: taken id", Tenant, "POST", "/v1/channels", """{"id":"{channel}"}""", 409, "id" },
        { "channel update: bad url", Tenant, "PATCH", "/v1/channels/{channel}", """{"url":"not a url"}""", 400, "url" },
        { "channel update: short secret", Tenant, "PATCH", "/v1/channels/{channel}", """{"secret":"0123456789"}""", 400, "secret" },
        { "channel update: id change", Tenant, "PATCH", "/v1/channels/{channel}", """{"id":"renamed"}""", 400, "id" },
        { "channel update: type change", Tenant, "PATCH", "/v1/channels/{channel}", """{"type":"telegram"}""", 400, "type" },
        { "channel update: unknown field", Tenant, "PATCH", "/v1/channels/{channel}", """{"urls":["http://127.0.0.1:1/x"]}""", 400, "urls" },
        { "channel update: wrong type", Tenant, "PATCH", "/v1/channels/{channel}", """{"max_concurrency":true}""", 400, "max_concurrency" },
        // Routes.
        { "route: id missing", Tenant, "POST", "/v1/routes", """{"from":"{channel}","to":["{channel}"]}""", 400, "id" },
        { "route: from missing", Tenant, "POST", "/v1/routes", """{"id":"v-r1","to":["{channel}"]}""", 400, "from" },
        { "route: from unknown", Tenant, "POST", "/v1/routes", """{"id":"v-r2","from":"no-such-channel","to":["{channel}"]}""", 400, "from" },
        { "route: to missing", Tenant, "POST", "/v1/routes", """{"id":"v-r3","from":"{channel}"}""", 400, "to" },
        { "route: to empty", Tenant, "POST", "/v1/routes", """{"id":"v-r4","from":"{channel}","to":[]}""", 400, "to" },
        { "route: to a string", Tenant, "POST", "/v1/routes", """{"id":"v-r5","from":"{channel}","to":"{channel}"}""", 400, "to" },
        { "route: to unknown", Tenant, "POST", "/v1/routes", """{"id":"v-r6","from":"{channel}","to":["{channel}","nowhere"]}""", 400, "to[1]" },
        { "route: bad destination", Tenant, "POST", "/v1/routes", """{"id":"v-r7","from":"{channel}","to":[":chat"]}""", 400, "to[0]" },
        { "route: empty chat", Tenant, "POST", "/v1/routes", """{"id":"v-r8","from":"{channel}","chats":["a",""],"to":["{channel}"]}""", 400, "chats[1]" },
        { "route: enabled a string", Tenant, "POST", "/v1/routes", """{"id":"v-r9","from":"{channel}","to":["{channel}"],"enabled":"yes"}""", 400, "enabled" },
        { "route: unknown field", Tenant, "POST", "/v1/routes", """{"id":"v-r10","from":"{channel}","to":["{channel}"],"filter":"x"}""", 400, "filter" },
        { "route: taken id", Tenant, "POST", "/v1/routes", """{"id":"{route}","from":"{channel}","to":["{channel}"]}""", 409, "id" },
        { "route update: to empty", Tenant, "PATCH", "/v1/routes/{route}", """{"to":[]}""", 400, "to" },
        { "route update: from unknown", Tenant, "PATCH", "/v1/routes/{route}", """{"from":"no-such-channel"}""", 400, "from" },
        { "route update: id change", Tenant, "PATCH", "/v1/routes/{route}", """{"id":"other"}""", 400, "id" },
        { "route update: enabled a number", Tenant, "PATCH", "/v1/routes/{route}", """{"enabled":1}""", 400, "enabled" },
        { "route update: unknown field", Tenant, "PATCH", "/v1/routes/{route}", """{"priority":1}""", 400, "priority" },
        // Messages.
        { "message: channel missing", Tenant, "POST", "/v1/messages", """{"chat":"c","text":"x"}""", 400, "channel" },
        { "message: unknown channel", Tenant, "POST", "/v1/messages", """{"channel":"no-such-channel","chat":"c","text":"x"}""", 400, "channel" },
        { "message: chat missing", Tenant, "POST", "/v1/messages", """{"channel":"{channel}","text":"x"}""", 400, "chat" },
        { "message: chat a number", Tenant, "POST", "/v1/messages", """{"channel":"{channel}","chat":42,"text":"x"}""", 400, "chat" },
        { "message: neither text nor media", Tenant, "POST", "/v1/messages", """{"channel":"{channel}","chat":"c"}""", 400, "text" },
        { "message: text an object", Tenant, "POST", "/v1/messages", """{"channel":"{channel}","chat":"c","text":{"body":"x"}}""", 400, "text" },
        { "message: text too long", Tenant, "POST", "/v1/messages", "{\"channel\":\"{channel}\",\"chat\":\"c\",\"text\":\"" + TooLong + "\"}", 400, "text" },
        { "message: unknown media type", Tenant, "POST", "/v1/messages", """{"channel":"{channel}","chat":"c","media":{"type":"hologram","url":"https://example.com/x"}}""", 400, "media.type" },
        { "message: media without type", Tenant, "POST", "/v1/messages", """{"channel":"{channel}","chat":"c","media":{"url":"https://example.com/x"}}""", 400, "media.type" },
        { "message: media with url and file_id", Tenant, "POST", "/v1/messages", """{"channel":"{channel}","chat":"c","media":{"type":"photo","url":"https://example.com/x","file_id":"f1"}}""", 400, "media" },
        { "message: media with neither", Tenant, "POST", "/v1/messages", """{"channel":"{channel}","chat":"c","media":{"type":"photo"}}""", 400, "media" },
        { "message: media url not http", Tenant, "POST", "/v1/messages", """{"channel":"{channel}","chat":"c","media":{"type":"photo","url":"file:///etc/passwd"}}""", 400, "media.url" },
        { "message: media a string", Tenant, "POST", "/v1/messages", """{"channel":"{channel}","chat":"c","media":"https://example.com/x"}""", 400, "media" },
        { "message: unknown media field", Tenant, "POST", "/v1/messages", """{"channel":"{channel}","chat":"c","media":{"type":"photo","url":"https://example.com/x","caption":"hi"}}""", 400, "media.caption" },
        { "message: idempotency key too long", Tenant, "POST", "/v1/messages", "{\"channel\":\"{channel}\",\"chat\":\"c\",\"text\":\"x\",\"idempotency_key\":\"" + new string('k', 201) + "\"}", 400, "idempotency_key" },
        { "message: unknown field", Tenant, "POST", "/v1/messages", """{"channel":"{channel}","chat":"c","text":"x","priority":"high"}""", 400, "priority" },
        // Webhooks.
        { "webhook: url missing", Tenant, "POST", "/v1/webhooks", """{"events":["message.sent"]}""", 400, "url" },
        { "webhook: bad url", Tenant, "POST", "/v1/webhooks", """{"url":"not a url","events":["message.sent"]}""", 400, "url" },
        { "webhook: url not http", Tenant, "POST", "/v1/webhooks", """{"url":"mailto:ops@example.com","events":["message.sent"]}""", 400, "url" },
        { "webhook: short secret", Tenant, "POST", "/v1/webhooks", """{"url":"http://127.0.0.1:9/e","events":["message.sent"],"secret":"short"}""", 400, "secret" },
        { "webhook: events missing", Tenant, "POST", "/v1/webhooks", """{"url":"http://127.0.0.1:9/e"}""", 400, "events" },
        { "webhook: events empty", Tenant, "POST", "/v1/webhooks", """{"url":"http://127.0.0.1:9/e","events":[]}""", 400, "events" },
        { "webhook: bad event type", Tenant, "POST", "/v1/webhooks", """{"url":"http://127.0.0.1:9/e","events":["message.sent","message.exploded"]}""", 400, "events[1]" },
        { "webhook: events a string", Tenant, "POST", "/v1/webhooks", """{"url":"http://127.0.0.1:9/e","events":"message.sent"}""", 400, "events" },
        { "webhook: unknown field", Tenant, "POST", "/v1/webhooks", """{"url":"http://127.0.0.1:9/e","events":["message.sent"],"active":true}""", 400, "active" },
    };

    /// <summary>Endpoints that read a JSON body: caller, method, path.</summary>
    public static TheoryData<string, string, string> BodyEndpoints => new()
    {
        { Admin, "POST", "/v1/tenants" },
        { Admin, "POST", "/v1/keys" },
        { Tenant, "POST", "/v1/channels" },
        { Tenant, "PATCH", "/v1/channels/{channel}" },
        { Tenant, "POST", "/v1/routes" },
        { Tenant, "PATCH", "/v1/routes/{route}" },
        { Tenant, "POST", "/v1/messages" },
        { Tenant, "POST", "/v1/webhooks" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_bad_body_is_a_problem_naming_the_field(string name, string caller, string method, string path, string body, int status, string field)
    {
        var setup = await SetupAsync();
        var response = await api.SendAsync(new HttpMethod(method), Fill(path, setup), await KeyOfAsync(caller, setup), Fill(body, setup));
        response.AssertProblem((HttpStatusCode)status, field);
        Assert.False(string.IsNullOrEmpty(name));
        await AssertUnchangedAsync(setup, caller == Admin);
    }

    [Theory]
    [MemberData(nameof(BodyEndpoints))]
    public async Task Every_body_endpoint_refuses_malformed_oversized_and_non_JSON_bodies(string caller, string method, string path)
    {
        var setup = await SetupAsync();
        var key = await KeyOfAsync(caller, setup);
        var target = Fill(path, setup);
        var http = new HttpMethod(method);

        // Not an object at all: the problem names "body".
        foreach (var body in new[] { "not json", "", "[]", "null", "\"text\"", "42" })
        {
            (await api.SendAsync(http, target, key, body)).AssertProblem(HttpStatusCode.BadRequest, "body");
        }
        // Broken JSON: a 400 that names where it broke.
        foreach (var body in new[] { """{"id": """, "{} {}", """{"id":"x",}""", "{'id':'x'}" })
        {
            var response = await api.SendAsync(http, target, key, body);
            response.AssertProblem(HttpStatusCode.BadRequest);
            Assert.True(response.Json.GetProperty("errors").EnumerateObject().Any(), $"no field named: {response}");
        }

        // Oversized: with a Content-Length, and chunked (the size is only learnt by reading).
        var oversized = "{\"id\":\"" + new string('a', ApiServer.MaxBodyBytes) + "\"}";
        (await api.SendAsync(http, target, key, oversized)).AssertProblem(HttpStatusCode.RequestEntityTooLarge);
        var chunked = new Infrastructure.ChunkedContent(Encoding.UTF8.GetBytes(oversized));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        (await ApiCall.SendAsync(api.Tern.Http, http, target, key, content: chunked)).AssertProblem(HttpStatusCode.RequestEntityTooLarge);

        // Not JSON by its content type.
        (await ApiCall.SendAsync(api.Tern.Http, http, target, key, """{"id":"x"}""", contentType: "text/plain")).AssertProblem(HttpStatusCode.UnsupportedMediaType);

        await AssertUnchangedAsync(setup, caller == Admin);
        // The server is fine afterwards.
        (await api.GetAsync("/v1/channels", setup.Tenant.Key)).AssertStatus(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_body_just_under_the_limit_is_read()
    {
        var setup = await SetupAsync();
        var text = new string('t', 4000);
        var body = ApiCall.Json(new { channel = setup.Channel, chat = "under-limit", text });
        Assert.True(Encoding.UTF8.GetByteCount(body) < ApiServer.MaxBodyBytes);
        (await api.SendAsync(HttpMethod.Post, "/v1/messages", setup.Tenant.Key, body)).AssertStatus(HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Several_bad_fields_are_all_named_at_once()
    {
        var setup = await SetupAsync();
        var response = await api.PostAsync("/v1/channels", setup.Tenant.Key, new { id = "bad id", url = "nope", secret = "short", max_concurrency = 0 });
        response.AssertProblem(HttpStatusCode.BadRequest, "id");
        foreach (var field in new[] { "url", "secret", "max_concurrency" }) response.AssertProblem(HttpStatusCode.BadRequest, field);
    }

    private Task<Setup> SetupAsync() => api.OnceAsync("validation", async () =>
    {
        var tenant = await api.CreateTenantAsync("valid");
        var channel = await api.CreateChannelAsync(tenant);
        var route = ApiServer.NewId("v-route");
        (await api.PostAsync("/v1/routes", tenant.Key, new { id = route, from = channel, to = new[] { channel + ":elsewhere" } })).AssertStatus(HttpStatusCode.Created);
        var webhook = (await api.PostAsync("/v1/webhooks", tenant.Key, new { url = "http://127.0.0.1:9/events", events = new[] { "channel.status" } }))
            .AssertStatus(HttpStatusCode.Created).Json.GetProperty("id").GetString()!;
        return new Setup(tenant, channel, route, webhook);
    });

    /// <summary>Nothing a refused request carried was stored.</summary>
    private async Task AssertUnchangedAsync(Setup setup, bool tenantsToo)
    {
        var channels = (await api.GetAsync("/v1/channels", setup.Tenant.Key)).AssertStatus(HttpStatusCode.OK);
        Assert.Equal([setup.Channel], channels.Ids());
        Assert.True(channels.Json[0].GetProperty("has_secret").GetBoolean());
        Assert.Equal(api.Destination.Url.ToString(), channels.Json[0].GetProperty("url").GetString());
        var routes = (await api.GetAsync("/v1/routes", setup.Tenant.Key)).AssertStatus(HttpStatusCode.OK);
        Assert.Equal([setup.Route], routes.Ids());
        Assert.Equal([setup.Channel + ":elsewhere"], routes.Json[0].GetProperty("to").EnumerateArray().Select(t => t.GetString()));
        Assert.True(routes.Json[0].GetProperty("enabled").GetBoolean());
        Assert.Equal([setup.Webhook], (await api.GetAsync("/v1/webhooks", setup.Tenant.Key)).AssertStatus(HttpStatusCode.OK).Ids());
        var messages = (await api.GetAsync("/v1/messages?chat=c", setup.Tenant.Key)).AssertStatus(HttpStatusCode.OK);
        Assert.Equal(0, messages.Json.GetProperty("total").GetInt64());
        if (!tenantsToo) return;
        var tenants = (await api.GetAsync("/v1/tenants", await api.AdminKeyAsync(nameof(ValidationTests)))).AssertStatus(HttpStatusCode.OK).Ids();
        Assert.DoesNotContain(tenants, t => t.StartsWith("t-", StringComparison.Ordinal));
    }

    private async Task<string> KeyOfAsync(string caller, Setup setup) => caller == Admin ? await api.AdminKeyAsync(nameof(ValidationTests)) : setup.Tenant.Key;

    private static string Fill(string text, Setup setup) =>
        text.Replace("{channel}", setup.Channel, StringComparison.Ordinal).Replace("{route}", setup.Route, StringComparison.Ordinal);
}
