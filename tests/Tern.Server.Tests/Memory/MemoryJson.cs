using System.Net;
using System.Text.Json;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests.Memory;

/// <summary>One bounded structure as /memory shows it.</summary>
public sealed record StructureSample(string Name, long Count, long Capacity, long Evictions);

/// <summary>Reads <c>GET /memory</c> and <c>GET /metrics</c> of a running tern.</summary>
public static class MemoryJson
{
    public static async Task<JsonElement> GetAsync(ITernServer tern)
    {
        using var response = await tern.Http.GetAsync(new Uri("/memory", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/memory answered {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(body);
        return document.RootElement.Clone();
    }

    public static async Task<string> GetMetricsAsync(ITernServer tern)
    {
        using var response = await tern.Http.GetAsync(new Uri("/metrics", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/metrics answered {(int)response.StatusCode}: {body}");
        return body;
    }

    public static IReadOnlyList<StructureSample> Structures(JsonElement memory) =>
        memory.GetProperty("structures").EnumerateArray().Select(s => new StructureSample(
            s.GetProperty("name").GetString()!,
            s.GetProperty("count").GetInt64(),
            s.GetProperty("capacity").GetInt64(),
            s.GetProperty("evictions").GetInt64())).ToList();

    public static StructureSample Structure(JsonElement memory, string name) =>
        Structures(memory).SingleOrDefault(s => s.Name == name) ?? throw new Xunit.Sdk.XunitException($"/memory has no structure '{name}': {memory.GetProperty("structures")}");
}
