using System.Net;

namespace Tern.Server.Tests.Api;

/// <summary>GET /v1/messages pages: page and page_size ∈ {10, 20, 25, 50}, the total, and the edges.</summary>
[Collection(ApiGroup.Name)]
public sealed class PaginationTests(ApiServer api)
{
    private const int Sent = 23;

    [Fact]
    public async Task Pages_cover_every_message_once_newest_first_with_the_total()
    {
        var tenant = await api.CreateTenantAsync("pages");
        var channel = await api.CreateChannelAsync(tenant);

        // Empty: no messages at all yet.
        var empty = (await api.GetAsync("/v1/messages", tenant.Key)).AssertStatus(HttpStatusCode.OK).Json;
        Assert.Equal(0, empty.GetProperty("items").GetArrayLength());
        Assert.Equal(0, empty.GetProperty("total").GetInt64());
        Assert.Equal(1, empty.GetProperty("page").GetInt32());
        Assert.Equal(20, empty.GetProperty("page_size").GetInt32());

        var ids = new List<string>();
        for (var i = 0; i < Sent; i++) ids.Add(await api.SendTextAsync(tenant, channel, "pages-chat", $"message {i}"));
        ids.Reverse(); // newest first

        // page_size 10: 10 + 10 + 3, then nothing past the end, always with the total.
        var seen = new List<string>();
        foreach (var (page, expected) in new[] { (1, 10), (2, 10), (3, 3), (4, 0), (99, 0) })
        {
            var answer = (await api.GetAsync($"/v1/messages?page={page}&page_size=10", tenant.Key)).AssertStatus(HttpStatusCode.OK);
            Assert.True(answer.Ids().Count == expected, $"page {page}: expected {expected} items: {answer}");
            Assert.Equal(Sent, answer.Json.GetProperty("total").GetInt64());
            Assert.Equal(page, answer.Json.GetProperty("page").GetInt32());
            Assert.Equal(10, answer.Json.GetProperty("page_size").GetInt32());
            seen.AddRange(answer.Ids());
        }
        Assert.Equal(ids, seen);

        // The default page is 20; 25 and 50 hold them all.
        Assert.Equal(ids.Take(20), (await api.GetAsync("/v1/messages", tenant.Key)).AssertStatus(HttpStatusCode.OK).Ids());
        Assert.Equal(ids.Skip(20), (await api.GetAsync("/v1/messages?page=2", tenant.Key)).AssertStatus(HttpStatusCode.OK).Ids());
        Assert.Equal(ids, (await api.GetAsync("/v1/messages?page_size=25", tenant.Key)).AssertStatus(HttpStatusCode.OK).Ids());
        Assert.Equal(ids, (await api.GetAsync("/v1/messages?page_size=50&direction=out&chat=pages-chat&channel=" + channel, tenant.Key)).AssertStatus(HttpStatusCode.OK).Ids());

        // Filters that match nothing are empty pages with total 0, not errors.
        foreach (var filter in new[] { "chat=nobody", "direction=in", "status=failed", "since=2999-01-01T00:00:00Z", "until=2000-01-01T00:00:00Z", "channel=no-such-channel" })
        {
            var none = (await api.GetAsync($"/v1/messages?{filter}", tenant.Key)).AssertStatus(HttpStatusCode.OK);
            Assert.Empty(none.Ids());
            Assert.Equal(0, none.Json.GetProperty("total").GetInt64());
        }
        var window = (await api.GetAsync($"/v1/messages?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z&page_size=50", tenant.Key)).AssertStatus(HttpStatusCode.OK);
        Assert.Equal(Sent, window.Json.GetProperty("total").GetInt64());
    }

    [Theory]
    [InlineData("page_size=7", "page_size")]
    [InlineData("page_size=0", "page_size")]
    [InlineData("page_size=abc", "page_size")]
    [InlineData("page_size=-10", "page_size")]
    [InlineData("page_size=100", "page_size")]
    [InlineData("page_size=20.0", "page_size")]
    [InlineData("page=0", "page")]
    [InlineData("page=-1", "page")]
    [InlineData("page=abc", "page")]
    [InlineData("page=1.5", "page")]
    [InlineData("direction=sideways", "direction")]
    [InlineData("status=lost", "status")]
    [InlineData("since=yesterday", "since")]
    [InlineData("until=2026-13-45", "until")]
    public async Task Bad_list_parameters_are_400_naming_the_parameter(string query, string field)
    {
        (await api.GetAsync($"/v1/messages?{query}", api.Acme.Key)).AssertProblem(HttpStatusCode.BadRequest, field);
    }

    [Theory]
    [InlineData("page_size=7", "page_size")]
    [InlineData("page_size=0", "page_size")]
    [InlineData("page_size=abc", "page_size")]
    [InlineData("page=0", "page")]
    public async Task The_webhook_delivery_log_pages_the_same_way(string query, string field)
    {
        var webhook = (await api.PostAsync("/v1/webhooks", api.Beta.Key, new { url = "http://127.0.0.1:9/events", events = new[] { "channel.status" } }))
            .AssertStatus(HttpStatusCode.Created).Json.GetProperty("id").GetString()!;
        (await api.GetAsync($"/v1/webhooks/{webhook}/deliveries?{query}", api.Beta.Key)).AssertProblem(HttpStatusCode.BadRequest, field);

        var empty = (await api.GetAsync($"/v1/webhooks/{webhook}/deliveries?page=3&page_size=10", api.Beta.Key)).AssertStatus(HttpStatusCode.OK).Json;
        Assert.Equal(0, empty.GetProperty("items").GetArrayLength());
        Assert.Equal(0, empty.GetProperty("total").GetInt64());
        Assert.Equal(3, empty.GetProperty("page").GetInt32());
        (await api.DeleteAsync($"/v1/webhooks/{webhook}", api.Beta.Key)).AssertStatus(HttpStatusCode.NoContent);
    }
}
