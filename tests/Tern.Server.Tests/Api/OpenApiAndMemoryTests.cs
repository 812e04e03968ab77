using System.Net;
using System.Text.Json;
using Tern.Server.Tests.Memory;

namespace Tern.Server.Tests.Api;

/// <summary>The OpenAPI document describes every /v1 endpoint; /memory reports the API key cache with the other bounded structures.</summary>
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
        ("/v1/webhooks/{id}/deliveries", "get"),
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
}
