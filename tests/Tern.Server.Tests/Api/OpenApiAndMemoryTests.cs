using System.Net;
using System.Text.Json;
using Tern.Server.Tests.Memory;

namespace Tern.Server.Tests.Api;

/// <summary>The OpenAPI document describes every /v1 endpoint, its responses and the Bearer scheme; /memory reports the API key cache with the other bounded structures.</summary>
[Collection(ApiGroup.Name)]
public sealed class OpenApiAndMemoryTests(ApiServer api)
{
    private static readonly (string Path, string Method)[] Endpoints =
    [
        ("/v1/tenants", "post"), ("/v1/tenants", "get"),
        ("/v1/keys", "post"), ("/v1/keys", "get"), ("/v1/keys/{id}", "delete"),
        ("/v1/channels", "get"), ("/v1/channels", "post"),
        ("/v1/channels/{id}", "get"), ("/v1/channels/{id}", "patch"), ("/v1/channels/{id}", "delete"),
        ("/v1/channels/{id}/status", "get"),
        ("/v1/routes", "get"), ("/v1/routes", "post"),
        ("/v1/routes/{id}", "get"), ("/v1/routes/{id}", "patch"), ("/v1/routes/{id}", "delete"),
        ("/v1/messages", "post"), ("/v1/messages", "get"), ("/v1/messages/{id}", "get"),
        ("/v1/webhooks", "get"), ("/v1/webhooks", "post"),
        ("/v1/webhooks/{id}", "get"), ("/v1/webhooks/{id}", "delete"),
        ("/v1/webhooks/{id}/deliveries", "get"), ("/v1/webhooks/{id}/rotate-secret", "post"), ("/v1/webhooks/{id}/enable", "post"),
    ];

    [Fact]
    public async Task The_OpenAPI_document_is_JSON_with_every_v1_endpoint()
    {
        using var response = await api.Tern.Http.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/openapi/v1.json answered {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);

        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        Assert.StartsWith("3.", root.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        Assert.Equal("Tern API", root.GetProperty("info").GetProperty("title").GetString());
        var paths = root.GetProperty("paths");

        var missing = Endpoints.Where(e => !(paths.TryGetProperty(e.Path, out var item) && item.TryGetProperty(e.Method, out _))).Select(e => $"{e.Method.ToUpperInvariant()} {e.Path}").ToList();
        Assert.True(missing.Count == 0, $"the document lacks {string.Join(", ", missing)}; it has {string.Join(", ", paths.EnumerateObject().Select(p => p.Name))}");

        // And nothing under /v1 that this list (and docs/api.md) does not know about.
        var documented = paths.EnumerateObject().Where(p => p.Name.StartsWith("/v1/", StringComparison.Ordinal))
            .SelectMany(p => p.Value.EnumerateObject().Where(m => m.Name is "get" or "post" or "put" or "patch" or "delete").Select(m => (p.Name, m.Name)));
        Assert.Empty(documented.Except(Endpoints));
    }

    [Fact]
    public async Task Every_v1_operation_declares_its_body_its_success_with_a_schema_its_problems_and_the_bearer_scheme()
    {
        using var document = JsonDocument.Parse(await api.Tern.Http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
        var root = document.RootElement;
        var scheme = root.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        var schemas = root.GetProperty("components").GetProperty("schemas");

        var problems = new List<string>();
        foreach (var (path, method) in Endpoints)
        {
            var operation = root.GetProperty("paths").GetProperty(path).GetProperty(method);
            var name = $"{method.ToUpperInvariant()} {path}";
            var responses = operation.GetProperty("responses");
            var successes = responses.EnumerateObject().Where(r => r.Name.StartsWith('2')).ToList();
            if (successes.Count == 0) problems.Add($"{name}: no 2xx response");
            foreach (var success in successes)
            {
                if (success.Name == "204") continue; // no body
                if (!(success.Value.TryGetProperty("content", out var content) && content.TryGetProperty("application/json", out var json) && json.TryGetProperty("schema", out var schema)
                    && SchemaHasShape(schema, schemas)))
                {
                    problems.Add($"{name}: {success.Name} without an application/json schema");
                }
            }
            // Every /v1 operation needs a key; the problems are application/problem+json.
            foreach (var status in new[] { "401", "429" })
            {
                if (!(responses.TryGetProperty(status, out var problem) && problem.TryGetProperty("content", out var content) && content.TryGetProperty("application/problem+json", out _)))
                {
                    problems.Add($"{name}: no {status} application/problem+json");
                }
            }
            if (!(operation.TryGetProperty("security", out var security) && security.EnumerateArray().Any(r => r.TryGetProperty("bearer", out _))))
            {
                problems.Add($"{name}: no bearer security requirement");
            }
        }
        // What a wrong kind of key gets, and what a missing resource gets.
        foreach (var (path, method) in Endpoints.Where(e => !e.Path.StartsWith("/v1/keys", StringComparison.Ordinal)))
        {
            if (!root.GetProperty("paths").GetProperty(path).GetProperty(method).GetProperty("responses").TryGetProperty("403", out _)) problems.Add($"{method} {path}: no 403");
        }
        foreach (var (path, method) in Endpoints.Where(e => e.Path.EndsWith("{id}", StringComparison.Ordinal)))
        {
            if (!root.GetProperty("paths").GetProperty(path).GetProperty(method).GetProperty("responses").TryGetProperty("404", out _)) problems.Add($"{method} {path}: no 404");
        }
        // What takes a JSON body says which (read by the endpoint itself, so declared for the document); enabling a webhook takes none.
        foreach (var (path, method) in Endpoints.Where(e => e.Method is "post" or "patch" && e.Path != "/v1/webhooks/{id}/enable"))
        {
            var operation = root.GetProperty("paths").GetProperty(path).GetProperty(method);
            if (!(operation.TryGetProperty("requestBody", out var body) && body.TryGetProperty("content", out var content)
                && content.TryGetProperty("application/json", out var json) && json.TryGetProperty("schema", out var schema) && SchemaHasShape(schema, schemas)))
            {
                problems.Add($"{method.ToUpperInvariant()} {path}: no application/json request body schema");
            }
        }
        // And no reference points at nothing.
        foreach (var reference in References(root))
        {
            if (!reference.StartsWith("#/components/", StringComparison.Ordinal)) problems.Add($"a reference outside the document: {reference}");
            else
            {
                var parts = reference["#/components/".Length..].Split('/');
                if (!(root.GetProperty("components").TryGetProperty(parts[0], out var kind) && kind.TryGetProperty(parts[1], out _))) problems.Add($"a dangling reference: {reference}");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));

        // The schemas use the wire's names (snake_case), not the C# ones.
        var channel = schemas.GetProperty("ChannelResponse").GetProperty("properties");
        Assert.True(channel.TryGetProperty("has_secret", out _) && channel.TryGetProperty("inbound_path", out _), $"ChannelResponse: {channel}");
        Assert.True(schemas.GetProperty("MessagePage").GetProperty("properties").TryGetProperty("page_size", out _));
    }

    [Fact]
    public async Task Every_operation_has_a_unique_operationId_a_summary_and_a_tag_and_the_hooks_declare_their_body_and_signature_header()
    {
        using var document = JsonDocument.Parse(await api.Tern.Http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
        var root = document.RootElement;
        var problems = new List<string>();
        var ids = new List<string>();
        foreach (var path in root.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(m => m.Name is "get" or "post" or "put" or "patch" or "delete"))
            {
                var name = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                if (operation.Value.TryGetProperty("operationId", out var id)) ids.Add(id.GetString()!);
                else problems.Add($"{name}: no operationId");
                if (!(operation.Value.TryGetProperty("summary", out var summary) && summary.GetString() is { Length: > 0 })) problems.Add($"{name}: no summary");
                if (!(operation.Value.TryGetProperty("tags", out var tags) && tags.GetArrayLength() == 1)) problems.Add($"{name}: not one tag");
                // Every operation says who may call it: the bearer scheme under /v1, explicitly nobody's key elsewhere.
                if (!operation.Value.TryGetProperty("security", out _)) problems.Add($"{name}: no security");
            }
        }
        problems.AddRange(ids.GroupBy(id => id, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => $"operationId {g.Key} is used {g.Count()} times"));
        Assert.True(problems.Count == 0, string.Join("\n", problems));

        foreach (var (path, header, required) in new[] { ("/hooks/webhook/{channelId}", "X-Hub-Signature-256", false), ("/hooks/webhook/{channelId}", "webhook-signature", false), ("/hooks/telegram/{channelId}", "X-Telegram-Bot-Api-Secret-Token", true) })
        {
            var hook = root.GetProperty("paths").GetProperty(path).GetProperty("post");
            var parameter = hook.GetProperty("parameters").EnumerateArray().SingleOrDefault(p => p.GetProperty("in").GetString() == "header" && p.GetProperty("name").GetString() == header);
            Assert.True(parameter.ValueKind == JsonValueKind.Object, $"{path}: no {header} header: {hook}");
            Assert.Equal(required, parameter.TryGetProperty("required", out var r) && r.GetBoolean());
            Assert.True(hook.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _), $"{path}: no JSON body");
            Assert.True(hook.GetProperty("responses").GetProperty("401").GetProperty("content").TryGetProperty("application/problem+json", out _), $"{path}: no 401 problem");
        }
        // The webhook hook's body: chat is the one field every message needs; its answer is the accepted message.
        var webhook = root.GetProperty("paths").GetProperty("/hooks/webhook/{channelId}").GetProperty("post");
        var body = webhook.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.Equal(["chat"], body.GetProperty("required").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.True(webhook.GetProperty("responses").TryGetProperty("202", out _), $"{webhook}");
    }

    [Fact]
    public async Task A_channel_types_settings_object_is_described_under_its_name_in_the_channel_request_and_answer()
    {
        using var document = JsonDocument.Parse(await api.Tern.Http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
        var root = document.RootElement;
        var schemas = root.GetProperty("components").GetProperty("schemas");
        JsonElement Resolve(JsonElement schema) =>
            schema.TryGetProperty("$ref", out var r) ? schemas.GetProperty(r.GetString()!["#/components/schemas/".Length..]) : schema;
        string[] Names(JsonElement schema) => [.. Resolve(schema).GetProperty("properties").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];

        foreach (var method in new[] { "post", "patch" })
        {
            var path = method == "post" ? "/v1/channels" : "/v1/channels/{id}";
            var request = Resolve(root.GetProperty("paths").GetProperty(path).GetProperty(method).GetProperty("requestBody")
                .GetProperty("content").GetProperty("application/json").GetProperty("schema"));
            // What the telegram type's PrepareAsync takes, and nothing else: any other field is a 400 naming it.
            Assert.Equal(["base_url", "limits", "mode", "token", "webhook_url"], Names(request.GetProperty("properties").GetProperty("telegram")));
            Assert.False(request.GetProperty("additionalProperties").GetBoolean(), $"{method} {path}: {request}");
        }
        var shown = schemas.GetProperty("ChannelResponse").GetProperty("properties").GetProperty("telegram");
        Assert.Equal(["base_url", "bot_id", "bot_username", "limits", "mode", "webhook_url"], Names(shown)); // never the token
        Assert.Equal(["bot_per_second", "chat_burst", "chat_per_second", "group_per_minute"], Names(Resolve(shown).GetProperty("properties").GetProperty("limits")));
    }

    private static IEnumerable<string> References(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().SelectMany(p => p.Name == "$ref" && p.Value.ValueKind == JsonValueKind.String ? [p.Value.GetString()!] : References(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().SelectMany(References),
        _ => [],
    };

    /// <summary>A schema with a type, or a reference to a component schema that exists.</summary>
    private static bool SchemaHasShape(JsonElement schema, JsonElement schemas) =>
        schema.TryGetProperty("$ref", out var reference)
            ? reference.GetString() is { } r && r.StartsWith("#/components/schemas/", StringComparison.Ordinal) && schemas.TryGetProperty(r["#/components/schemas/".Length..], out _)
            : schema.TryGetProperty("type", out _);

    [Fact]
    public async Task Memory_lists_the_api_key_cache_with_its_configured_capacity()
    {
        // At least one key lookup has happened by now.
        (await api.GetAsync("/v1/channels", api.Acme.Key)).AssertStatus(HttpStatusCode.OK);
        var memory = await MemoryJson.GetAsync(api.Tern);
        var keys = MemoryJson.Structure(memory, "api-keys");
        Assert.Equal(ApiServer.KeyCacheCapacity, keys.Capacity);
        Assert.InRange(keys.Count, 1, ApiServer.KeyCacheCapacity);

        var metrics = await MemoryJson.GetMetricsAsync(api.Tern);
        Assert.Contains("tern_bounded_capacity{structure=\"api-keys\"} " + ApiServer.KeyCacheCapacity, metrics, StringComparison.Ordinal);
    }

    [Fact]
    public void The_host_runs_no_Data_Protection_key_ring()
    {
        // AddAuthentication would bring Data Protection, whose hosted service loads an XML key ring (and writes one under
        // ~/.aspnet on a first start): ~12 MB of idle RSS and a file outside the data directory for nothing Tern uses.
        Assert.Null(api.Tern.Services.GetService(typeof(Microsoft.AspNetCore.DataProtection.IDataProtectionProvider)));
        var hosted = ((IEnumerable<Microsoft.Extensions.Hosting.IHostedService>)api.Tern.Services.GetService(typeof(IEnumerable<Microsoft.Extensions.Hosting.IHostedService>))!)
            .Select(service => service.GetType().FullName ?? "").ToList();
        Assert.NotEmpty(hosted);
        Assert.DoesNotContain(hosted, name => name.Contains("DataProtection", StringComparison.Ordinal));
    }
}
