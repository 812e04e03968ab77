using System.Globalization;
using System.Net;

namespace Tern.Server.Tests.Api;

/// <summary>Per-key limits: 100 requests a minute by default, a tenant's own limit when it has one; 429 with Retry-After past it.</summary>
[Collection(ApiGroup.Name)]
public sealed class RateLimitTests(ApiServer api)
{
    [Fact]
    public async Task The_101st_request_in_a_minute_of_a_default_tenant_key_is_429_with_Retry_After()
    {
        // "metered" was made by `tern keys create --tenant metered`: no limit of its own, so the default of 100.
        for (var i = 1; i <= 100; i++)
        {
            var ok = await api.GetAsync(i % 2 == 0 ? "/v1/channels" : "/v1/messages?page_size=10", api.MeteredKey);
            Assert.True(ok.Status == HttpStatusCode.OK, $"request {i} of 100: {ok}");
        }

        var refused = await api.GetAsync("/v1/channels", api.MeteredKey);
        refused.AssertProblem(HttpStatusCode.TooManyRequests);
        var retryAfter = refused.Headers.RetryAfter?.Delta?.TotalSeconds
            ?? (refused.Headers.TryGetValues("Retry-After", out var raw) ? double.Parse(raw.Single(), CultureInfo.InvariantCulture) : -1);
        Assert.True(retryAfter is >= 1 and <= 60, $"Retry-After should be 1–60 s: {refused}; header {refused.Headers.RetryAfter}");

        // Still refused (and refusals are not somehow free passes); bad requests count the same.
        (await api.GetAsync("/v1/messages?page_size=7", api.MeteredKey)).AssertProblem(HttpStatusCode.TooManyRequests);

        // The limit is per key: another key of the same tenant, and other tenants, are not affected.
        var secondKey = (await api.PostAsync("/v1/keys", await api.AdminKeyAsync(nameof(RateLimitTests)), new { tenant = "metered" })).AssertStatus(HttpStatusCode.Created)
            .Json.GetProperty("key").GetString();
        (await api.GetAsync("/v1/channels", secondKey)).AssertStatus(HttpStatusCode.OK);
        (await api.GetAsync("/v1/channels", api.Acme.Key)).AssertStatus(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_tenant_limit_overrides_the_default()
    {
        var id = ApiServer.NewId("tight");
        var admin = await api.AdminKeyAsync(nameof(RateLimitTests));
        (await api.PostAsync("/v1/tenants", admin, new { id, rate_limit_per_minute = 5 })).AssertStatus(HttpStatusCode.Created);
        var key = (await api.PostAsync("/v1/keys", admin, new { tenant = id })).AssertStatus(HttpStatusCode.Created).Json.GetProperty("key").GetString();

        for (var i = 1; i <= 5; i++) (await api.GetAsync("/v1/routes", key)).AssertStatus(HttpStatusCode.OK);
        var refused = await api.GetAsync("/v1/routes", key);
        refused.AssertProblem(HttpStatusCode.TooManyRequests);
        Assert.NotNull(refused.Headers.RetryAfter);

        // The high limit of "acme" (tenants add --rate-limit 100000) lets far more than 100 through.
        for (var i = 1; i <= 120; i++)
        {
            var ok = await api.GetAsync("/v1/webhooks", api.Acme.Key);
            Assert.True(ok.Status == HttpStatusCode.OK, $"acme request {i}: {ok}");
        }
    }
}
