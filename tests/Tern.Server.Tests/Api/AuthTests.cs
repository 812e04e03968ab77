using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests.Api;

/// <summary>Bearer keys: who may call what, keys shown once and stored hashed, and revocation that takes effect on the next request.</summary>
[Collection(ApiGroup.Name)]
public sealed class AuthTests(ApiServer api)
{
    /// <summary>Every endpoint that acts for a tenant (method, path with placeholders that need not exist).</summary>
    public static TheoryData<string, string> TenantEndpoints => new()
    {
        { "GET", "/v1/channels" },
        { "POST", "/v1/channels" },
        { "GET", "/v1/channels/some-channel" },
        { "PATCH", "/v1/channels/some-channel" },
        { "DELETE", "/v1/channels/some-channel" },
        { "GET", "/v1/channels/some-channel/status" },
        { "GET", "/v1/routes" },
        { "POST", "/v1/routes" },
        { "GET", "/v1/routes/some-route" },
        { "PATCH", "/v1/routes/some-route" },
        { "DELETE", "/v1/routes/some-route" },
        { "GET", "/v1/messages" },
        { "POST", "/v1/messages" },
        { "GET", "/v1/messages/out_1" },
        { "GET", "/v1/webhooks" },
        { "POST", "/v1/webhooks" },
        { "GET", "/v1/webhooks/wh_0" },
        { "DELETE", "/v1/webhooks/wh_0" },
        { "GET", "/v1/webhooks/wh_0/deliveries" },
    };

    public static TheoryData<string, string> AdminEndpoints => new()
    {
        { "POST", "/v1/tenants" },
        { "GET", "/v1/tenants" },
        { "POST", "/v1/keys" },
    };

    [Theory]
    [MemberData(nameof(TenantEndpoints))]
    public async Task An_admin_key_on_a_tenant_endpoint_is_forbidden(string method, string path)
    {
        // A well-formed body, so the 403 cannot be a validation error in disguise.
        var body = method is "POST" or "PATCH" ? """{"id":"x"}""" : null;
        foreach (var admin in new[] { ApiServer.ConfigAdminKey, api.AdminKey })
        {
            var response = await api.SendAsync(new HttpMethod(method), path, admin, body);
            response.AssertProblem(HttpStatusCode.Forbidden);
        }
    }

    [Theory]
    [MemberData(nameof(AdminEndpoints))]
    public async Task A_tenant_key_on_an_admin_endpoint_is_forbidden(string method, string path)
    {
        var body = method == "POST" ? (path == "/v1/tenants" ? """{"id":"sneaky"}""" : """{"tenant":"acme"}""") : null;
        var response = await api.SendAsync(new HttpMethod(method), path, api.Acme.Key, body);
        response.AssertProblem(HttpStatusCode.Forbidden);

        // Nothing was made on the way.
        var tenants = await api.GetAsync("/v1/tenants", await api.AdminKeyAsync(nameof(AuthTests)));
        Assert.DoesNotContain("sneaky", tenants.AssertStatus(HttpStatusCode.OK).Ids());
    }

    [Fact]
    public async Task Requests_without_a_valid_key_are_401_problems()
    {
        var unknownButWellFormed = "tern_abcdefghijkm_" + new string('A', 43);
        foreach (var key in new[] { null, "", "not-a-key", unknownButWellFormed, api.Acme.Key + "x", api.Acme.Key[..^1] })
        {
            var response = await api.GetAsync("/v1/channels", key);
            response.AssertProblem(HttpStatusCode.Unauthorized);
            Assert.True(response.Headers.WwwAuthenticate.Count > 0, $"no WWW-Authenticate: {response}");
        }

        // Basic instead of Bearer.
        var basic = await ApiCall.SendAsync(api.Tern.Http, HttpMethod.Get, "/v1/channels", null,
            headers: new Dictionary<string, string> { ["Authorization"] = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("acme:" + api.Acme.Key)) });
        basic.AssertProblem(HttpStatusCode.Unauthorized);

        // The right key works (so the 401s above were about the keys).
        (await api.GetAsync("/v1/channels", api.Acme.Key)).AssertStatus(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_key_is_shown_once_and_stored_only_as_its_hash()
    {
        var tenant = await api.CreateTenantAsync("once");
        Assert.Matches(ApiServer.ApiKeyPattern, tenant.Key);
        (await api.GetAsync("/v1/channels", tenant.Key)).AssertStatus(HttpStatusCode.OK);

        // Listed by the tenant and by the admin, never with the key itself.
        var admin = await api.AdminKeyAsync(nameof(AuthTests));
        foreach (var (caller, path) in new[] { (tenant.Key, "/v1/keys"), (admin, $"/v1/keys?tenant={tenant.Id}"), (admin, "/v1/keys") })
        {
            var list = await api.GetAsync(path, caller);
            list.AssertStatus(HttpStatusCode.OK);
            Assert.Contains(tenant.KeyId, list.Ids());
            Assert.DoesNotContain(tenant.Key, list.Body, StringComparison.Ordinal);
            Assert.DoesNotContain(ApiServer.SecretOf(tenant.Key), list.Body, StringComparison.Ordinal);
            Assert.All(list.Json.EnumerateArray(), k => Assert.False(k.TryGetProperty("key", out _), $"a listed key carries its secret: {list}"));
        }

        // In the database: the SHA-256 of the key, and the key nowhere.
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = api.Home.DatabasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, tenant_id, hash, COALESCE(name, '') FROM api_keys WHERE id = $id";
        command.Parameters.AddWithValue("$id", tenant.KeyId);
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read(), "the key's row is missing");
        Assert.Equal(tenant.Id, reader.GetString(1));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(tenant.Key))), reader.GetString(2));
        for (var i = 0; i < reader.FieldCount; i++) Assert.DoesNotContain(ApiServer.SecretOf(tenant.Key), reader.GetString(i), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tenant_lists_only_its_own_keys()
    {
        var tenant = await api.CreateTenantAsync("own");
        var second = await api.PostAsync("/v1/keys", await api.AdminKeyAsync(nameof(AuthTests)), new { tenant = tenant.Id });
        var secondKey = second.AssertStatus(HttpStatusCode.Created).Json.GetProperty("key").GetString()!;

        var mine = await api.GetAsync("/v1/keys", tenant.Key);
        Assert.Equal(
            new[] { tenant.KeyId, ApiServer.KeyIdOf(secondKey) }.Order(StringComparer.Ordinal),
            mine.AssertStatus(HttpStatusCode.OK).Ids().Order(StringComparer.Ordinal));
        Assert.All(mine.Json.EnumerateArray(), k => Assert.Equal(tenant.Id, k.GetProperty("tenant").GetString()));
        // ?tenant= is an admin's filter; a tenant key cannot use it to look elsewhere.
        var elsewhere = await api.GetAsync("/v1/keys?tenant=acme", tenant.Key);
        Assert.DoesNotContain(api.Acme.KeyId, elsewhere.AssertStatus(HttpStatusCode.OK).Ids());
    }

    [Fact]
    public async Task A_key_revoked_through_the_API_fails_on_the_very_next_request()
    {
        var tenant = await api.CreateTenantAsync("revoke");
        var admin = await api.AdminKeyAsync(nameof(AuthTests));
        var other = (await api.PostAsync("/v1/keys", admin, new { tenant = tenant.Id })).AssertStatus(HttpStatusCode.Created).Json.GetProperty("key").GetString()!;
        var third = (await api.PostAsync("/v1/keys", admin, new { tenant = tenant.Id })).AssertStatus(HttpStatusCode.Created).Json.GetProperty("key").GetString()!;
        foreach (var key in new[] { tenant.Key, other, third }) (await api.GetAsync("/v1/channels", key)).AssertStatus(HttpStatusCode.OK); // all cached now

        // The tenant revokes one of its own keys with another of its keys.
        (await api.DeleteAsync($"/v1/keys/{ApiServer.KeyIdOf(other)}", tenant.Key)).AssertStatus(HttpStatusCode.NoContent);
        (await api.GetAsync("/v1/channels", other)).AssertProblem(HttpStatusCode.Unauthorized);

        // The admin revokes another.
        (await api.DeleteAsync($"/v1/keys/{ApiServer.KeyIdOf(third)}", admin)).AssertStatus(HttpStatusCode.NoContent);
        (await api.GetAsync("/v1/channels", third)).AssertProblem(HttpStatusCode.Unauthorized);

        // The tenant's remaining key still works, and the list says which are revoked.
        var keys = await api.GetAsync("/v1/keys", tenant.Key);
        keys.AssertStatus(HttpStatusCode.OK);
        var revoked = keys.Json.EnumerateArray().Where(k => k.TryGetProperty("revoked_at", out var at) && at.ValueKind == System.Text.Json.JsonValueKind.String)
            .Select(k => k.GetProperty("id").GetString()).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { ApiServer.KeyIdOf(other), ApiServer.KeyIdOf(third) }.Order(StringComparer.Ordinal).ToArray(), revoked);
        for (var i = 0; i < 3; i++) (await api.GetAsync("/v1/channels", other)).AssertProblem(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_key_revoked_with_the_CLI_stops_working_while_the_server_runs()
    {
        var key = await api.CreateKeyWithCliAsync("--tenant", "acme", "--name", "cli-revoked");
        (await api.GetAsync("/v1/channels", key)).AssertStatus(HttpStatusCode.OK); // cached by the server now

        var revoke = await api.Home.RunOkAsync("keys", "revoke", "--id", ApiServer.KeyIdOf(key));
        Assert.Contains(ApiServer.KeyIdOf(key), revoke.Stdout, StringComparison.Ordinal);

        // The server notices the keys version moved (within Tern:Catalog:RefreshInterval, 1 s): poll, never sleep.
        ApiResponse? last = null;
        await Eventually.UntilAsync(async () => (last = await api.GetAsync("/v1/channels", key)).Status == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(15), () => $"the revoked key to be refused; last answer {last}");
        for (var i = 0; i < 3; i++) (await api.GetAsync("/v1/channels", key)).AssertProblem(HttpStatusCode.Unauthorized);

        // Other keys of the tenant are unaffected; revoking twice is refused by the CLI.
        (await api.GetAsync("/v1/channels", api.Acme.Key)).AssertStatus(HttpStatusCode.OK);
        var again = await api.Home.RunAsync(["keys", "revoke", "--id", ApiServer.KeyIdOf(key)]);
        Assert.True(again.ExitCode != 0, $"revoking twice succeeded: {again}");
    }

    [Fact]
    public async Task Admin_keys_manage_tenants_and_keys()
    {
        var id = ApiServer.NewId("made");
        var created = await api.PostAsync("/v1/tenants", api.AdminKey, new { id, rate_limit_per_minute = 250 });
        created.AssertStatus(HttpStatusCode.Created);
        Assert.Equal(250, created.Json.GetProperty("rate_limit_per_minute").GetInt32());
        (await api.PostAsync("/v1/tenants", api.AdminKey, new { id })).AssertProblem(HttpStatusCode.Conflict, "id");

        var tenants = await api.GetAsync("/v1/tenants", await api.AdminKeyAsync(nameof(AuthTests)));
        Assert.Contains(id, tenants.AssertStatus(HttpStatusCode.OK).Ids());
        Assert.Contains("acme", tenants.Ids());
        // A tenant made by `keys create --tenant` without a limit of its own shows the default.
        Assert.Equal(100, tenants.Json.EnumerateArray().Single(t => t.GetProperty("id").GetString() == "metered").GetProperty("rate_limit_per_minute").GetInt32());

        var key = await api.PostAsync("/v1/keys", api.AdminKey, new { tenant = id, name = "made by admin" });
        key.AssertStatus(HttpStatusCode.Created);
        Assert.Equal(id, key.Json.GetProperty("tenant").GetString());
        Assert.False(key.Json.GetProperty("admin").GetBoolean());
        (await api.GetAsync("/v1/channels", key.Json.GetProperty("key").GetString())).AssertStatus(HttpStatusCode.OK);

        var admin = await api.PostAsync("/v1/keys", api.AdminKey, new { admin = true });
        admin.AssertStatus(HttpStatusCode.Created);
        Assert.True(admin.Json.GetProperty("admin").GetBoolean());
        (await api.GetAsync("/v1/tenants", admin.Json.GetProperty("key").GetString())).AssertStatus(HttpStatusCode.OK);
    }
}
