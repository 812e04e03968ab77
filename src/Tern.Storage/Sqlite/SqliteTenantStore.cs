using Microsoft.Data.Sqlite;
using Tern.Core.Tenancy;
using Tern.Storage.Secrets;

namespace Tern.Storage.Sqlite;

/// <summary>Tenants, keys and webhook subscriptions: written rarely, each change its own transaction.</summary>
public sealed class SqliteTenantStore(SqliteDatabase database) : ITenantStore
{
    public Task<bool> AddTenantAsync(Tenant tenant, CancellationToken cancellationToken) =>
        ChangeAsync("INSERT INTO tenants (id, rate_limit_per_minute, created_at) VALUES ($id, $limit, $at) ON CONFLICT (id) DO NOTHING", null, c =>
        {
            c.Parameters.AddWithValue("$id", tenant.Id);
            c.Parameters.AddWithValue("$limit", (object?)tenant.RateLimitPerMinute ?? DBNull.Value);
            c.Parameters.AddWithValue("$at", tenant.CreatedAt.ToUnixTimeMilliseconds());
        }, cancellationToken);

    public async Task<Tenant?> GetTenantAsync(string id, CancellationToken cancellationToken) =>
        (await QueryAsync("SELECT id, rate_limit_per_minute, created_at FROM tenants WHERE id = $id", c => c.Parameters.AddWithValue("$id", id), ReadTenant, cancellationToken).ConfigureAwait(false)) is [var first, ..] ? first : null;

    public Task<IReadOnlyList<Tenant>> ListTenantsAsync(CancellationToken cancellationToken) =>
        QueryAsync("SELECT id, rate_limit_per_minute, created_at FROM tenants ORDER BY id", _ => { }, ReadTenant, cancellationToken);

    private static Tenant ReadTenant(SqliteDataReader r) =>
        new(r.GetString(0), r.IsDBNull(1) ? null : r.GetInt32(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)));

    public async Task AddKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken)
    {
        var added = await ChangeAsync("INSERT INTO api_keys (id, tenant_id, hash, name, created_at) VALUES ($id, $tenant, $hash, $name, $at) ON CONFLICT (id) DO NOTHING", "keys_version", c =>
        {
            c.Parameters.AddWithValue("$id", key.Id);
            c.Parameters.AddWithValue("$tenant", (object?)key.TenantId ?? DBNull.Value);
            c.Parameters.AddWithValue("$hash", key.Hash);
            c.Parameters.AddWithValue("$name", (object?)key.Name ?? DBNull.Value);
            c.Parameters.AddWithValue("$at", key.CreatedAt.ToUnixTimeMilliseconds());
        }, cancellationToken).ConfigureAwait(false);
        if (!added) throw new InvalidOperationException($"API key id '{key.Id}' exists");
    }

    public async Task<ApiKeyRecord?> GetKeyAsync(string id, CancellationToken cancellationToken) =>
        (await QueryAsync(KeySelect + " WHERE id = $id", c => c.Parameters.AddWithValue("$id", id), ReadKey, cancellationToken).ConfigureAwait(false)) is [var first, ..] ? first : null;

    public Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(string? tenantId, CancellationToken cancellationToken) =>
        tenantId is null
            ? QueryAsync(KeySelect + " ORDER BY created_at, id", _ => { }, ReadKey, cancellationToken)
            : QueryAsync(KeySelect + " WHERE tenant_id = $tenant ORDER BY created_at, id", c => c.Parameters.AddWithValue("$tenant", tenantId), ReadKey, cancellationToken);

    private const string KeySelect = "SELECT id, tenant_id, hash, name, created_at, revoked_at FROM api_keys";

    private static ApiKeyRecord ReadKey(SqliteDataReader r) =>
        new(r.GetString(0), SqliteInboxStore.NullableString(r, 1), r.GetString(2), SqliteInboxStore.NullableString(r, 3),
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)), r.IsDBNull(5) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)));

    public Task<bool> RevokeKeyAsync(string id, DateTimeOffset at, CancellationToken cancellationToken) =>
        ChangeAsync("UPDATE api_keys SET revoked_at = $at WHERE id = $id AND revoked_at IS NULL", "keys_version", c =>
        {
            c.Parameters.AddWithValue("$id", id);
            c.Parameters.AddWithValue("$at", at.ToUnixTimeMilliseconds());
        }, cancellationToken);

    public async Task<long> GetKeysVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return SqliteDatabase.Scalar(connection, null, "SELECT value FROM meta WHERE key = 'keys_version'");
    }

    public Task<bool> AddWebhookAsync(WebhookSubscription webhook, CancellationToken cancellationToken) =>
        ChangeAsync("INSERT INTO webhooks (id, tenant_id, url, secret, events, created_at) VALUES ($id, $tenant, $url, $secret, $events, $at) ON CONFLICT (id) DO NOTHING",
            "catalog_version", c =>
            {
                c.Parameters.AddWithValue("$id", webhook.Id);
                c.Parameters.AddWithValue("$tenant", webhook.TenantId);
                c.Parameters.AddWithValue("$url", webhook.Url.ToString());
                c.Parameters.AddWithValue("$secret", database.Sealer.Seal(webhook.Secret, SealedColumns.Place("webhooks", "secret", webhook.Id)));
                c.Parameters.AddWithValue("$events", CatalogJson.WriteStrings(webhook.Events));
                c.Parameters.AddWithValue("$at", webhook.CreatedAt.ToUnixTimeMilliseconds());
            }, cancellationToken);

    public Task<IReadOnlyList<WebhookSubscription>> ListWebhooksAsync(string tenantId, CancellationToken cancellationToken) =>
        QueryAsync(WebhookSelect + " WHERE tenant_id = $tenant ORDER BY created_at, id", c => c.Parameters.AddWithValue("$tenant", tenantId), r => ReadWebhook(r, database.Sealer), cancellationToken);

    public async Task<WebhookSubscription?> GetWebhookAsync(string tenantId, string id, CancellationToken cancellationToken) =>
        (await QueryAsync(WebhookSelect + " WHERE tenant_id = $tenant AND id = $id", c =>
        {
            c.Parameters.AddWithValue("$tenant", tenantId);
            c.Parameters.AddWithValue("$id", id);
        }, r => ReadWebhook(r, database.Sealer), cancellationToken).ConfigureAwait(false)) is [var first, ..] ? first : null;

    public Task<bool> RemoveWebhookAsync(string tenantId, string id, CancellationToken cancellationToken) =>
        ChangeAsync("DELETE FROM webhooks WHERE tenant_id = $tenant AND id = $id", "catalog_version", c =>
        {
            c.Parameters.AddWithValue("$tenant", tenantId);
            c.Parameters.AddWithValue("$id", id);
        }, cancellationToken);

    public Task<bool> RotateWebhookSecretAsync(string tenantId, string id, string secret, string previousSecret, DateTimeOffset previousUntil, CancellationToken cancellationToken) =>
        database.ChangeAsync(
            "UPDATE webhooks SET secret = $secret, previous_secret = $previous, previous_secret_until = $until WHERE tenant_id = $tenant AND id = $id",
            "catalog_version", c =>
            {
                c.Parameters.AddWithValue("$tenant", tenantId);
                c.Parameters.AddWithValue("$id", id);
                c.Parameters.AddWithValue("$secret", database.Sealer.Seal(secret, SealedColumns.Place("webhooks", "secret", id)));
                c.Parameters.AddWithValue("$previous", database.Sealer.Seal(previousSecret, SealedColumns.Place("webhooks", "previous_secret", id)));
                c.Parameters.AddWithValue("$until", previousUntil.ToUnixTimeMilliseconds());
            }, cancellationToken);

    public Task<bool> EnableWebhookAsync(string tenantId, string id, CancellationToken cancellationToken) =>
        ChangeAsync("UPDATE webhooks SET disabled_at = NULL, disabled_reason = NULL WHERE tenant_id = $tenant AND id = $id", "catalog_version", c =>
        {
            c.Parameters.AddWithValue("$tenant", tenantId);
            c.Parameters.AddWithValue("$id", id);
        }, cancellationToken);

    internal const string WebhookSelect =
        "SELECT id, tenant_id, url, secret, events, created_at, previous_secret, previous_secret_until, disabled_at, disabled_reason FROM webhooks";

    /// <summary>A subscription as stored; its secrets are unsealed (they are written sealed).</summary>
    internal static WebhookSubscription ReadWebhook(SqliteDataReader r, Tern.Storage.Secrets.SecretSealer sealer) =>
        new(r.GetString(0), r.GetString(1), new Uri(r.GetString(2)), sealer.Unseal(r.GetString(3), SealedColumns.Place("webhooks", "secret", r.GetString(0))),
            CatalogJson.ReadStrings(r.GetString(4)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)),
            sealer.UnsealOrNull(SqliteInboxStore.NullableString(r, 6), SealedColumns.Place("webhooks", "previous_secret", r.GetString(0))),
            r.IsDBNull(7) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7)),
            r.IsDBNull(8) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(8)),
            SqliteInboxStore.NullableString(r, 9));

    private Task<bool> ChangeAsync(string sql, string? versionKey, Action<SqliteCommand> bind, CancellationToken cancellationToken) =>
        database.ChangeAsync(sql, versionKey, bind, cancellationToken);

    private async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, Action<SqliteCommand> bind, Func<SqliteDataReader, T> read, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
#pragma warning disable CA2100 // Constants from this class.
        command.CommandText = sql;
#pragma warning restore CA2100
        bind(command);
        var list = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) list.Add(read(reader));
        return list;
    }
}
