using System.Data;
using Npgsql;
using NpgsqlTypes;
using Tern.Core.Catalog;
using Tern.Storage.Secrets;

namespace Tern.Storage.Postgres;

/// <summary>
/// Channels and routes. Written rarely (CLI, API), so each change is its own transaction on a pooled connection
/// rather than a trip through the group-committing writer.
/// </summary>
public sealed class PostgresCatalogStore(PostgresDatabase database) : ICatalogStore
{
    internal const string UpdateRouteSql =
        "UPDATE routes SET source_channel = @source, source_chats = @chats, destinations = @destinations, enabled = @enabled, tenant_id = @tenant, options = @options WHERE id = @id";

    public async Task<long> GetVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await PostgresDatabase.ScalarAsync(connection, null, "SELECT value FROM meta WHERE key = 'catalog_version'", cancellationToken).ConfigureAwait(false);
    }

    public async Task<CatalogSnapshot> LoadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // One snapshot: the version and the rows it names, whatever commits meanwhile.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        var version = await PostgresDatabase.ScalarAsync(connection, transaction, "SELECT value FROM meta WHERE key = 'catalog_version'", cancellationToken).ConfigureAwait(false);

        var sealer = database.Sealer;
        var channels = new List<ChannelDefinition>();
        await using (var command = new NpgsqlCommand(
            "SELECT id, type, secret, url, max_concurrency, tenant_id, settings, previous_secret, previous_secret_until FROM channels ORDER BY id", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var id = reader.GetString(0);
                channels.Add(new ChannelDefinition(
                    id,
                    reader.GetString(1),
                    sealer.UnsealOrNull(PostgresText.Nullable(reader, 2), SealedColumns.Place("channels", "secret", id)),
                    reader.IsDBNull(3) ? null : new Uri(reader.GetString(3)),
                    reader.IsDBNull(4) ? null : reader.GetInt32(4),
                    reader.GetString(5),
                    sealer.UnsealOrNull(PostgresText.Nullable(reader, 6), SealedColumns.Place("channels", "settings", id)),
                    sealer.UnsealOrNull(PostgresText.Nullable(reader, 7), SealedColumns.Place("channels", "previous_secret", id)),
                    reader.IsDBNull(8) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(8))));
            }
        }

        // Tenant webhook subscriptions are lanes of the outbox like any channel: load them as channels. A disabled one
        // (its receiver said 410 Gone) is not a lane: no events are queued for it.
        await using (var command = new NpgsqlCommand(PostgresTenantStore.WebhookSelect + " WHERE disabled_at IS NULL ORDER BY id", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var webhook = PostgresTenantStore.ReadWebhook(reader, sealer);
                channels.Add(new ChannelDefinition(
                    ChannelTypes.SubscriptionChannelId(webhook.Id), ChannelTypes.TenantWebhook, webhook.Secret, webhook.Url, null, webhook.TenantId,
                    CatalogJson.WriteStrings(webhook.Events), webhook.PreviousSecret, webhook.PreviousSecretUntil));
            }
        }

        var routes = new List<RouteDefinition>();
        await using (var command = new NpgsqlCommand("SELECT id, source_channel, source_chats, destinations, enabled, tenant_id, options FROM routes ORDER BY id", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var chats = reader.IsDBNull(2) ? null : CatalogJson.ReadStrings(reader.GetString(2));
                var destinations = CatalogJson.ReadStrings(reader.GetString(3))
                    .Select(d => Destination.TryParse(d, out var parsed) ? parsed : throw new InvalidDataException($"Route '{reader.GetString(0)}' has a bad destination '{d}'"))
                    .ToArray();
                routes.Add(new RouteDefinition(reader.GetString(0), reader.GetString(1), chats, destinations, reader.GetInt32(4) != 0,
                    reader.GetString(5), PostgresText.Nullable(reader, 6)));
            }
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new CatalogSnapshot(version, channels, routes);
    }

    public Task<bool> AddChannelAsync(ChannelDefinition channel, CancellationToken cancellationToken) =>
        ChangeAsync(
            "INSERT INTO channels (id, type, secret, url, max_concurrency, tenant_id, settings, previous_secret, previous_secret_until, created_at) " +
            "VALUES (@id, @type, @secret, @url, @max, @tenant, @settings, @previous, @previous_until, @now) ON CONFLICT (id) DO NOTHING",
            command => Bind(command, channel),
            cancellationToken);

    public Task<bool> RemoveChannelAsync(string id, CancellationToken cancellationToken) =>
        ChangeAsync("DELETE FROM channels WHERE id = @id", command => command.Parameters.AddWithValue("id", id), cancellationToken);

    public Task<bool> UpdateChannelAsync(ChannelDefinition channel, CancellationToken cancellationToken) =>
        ChangeAsync(
            "UPDATE channels SET type = @type, secret = @secret, url = @url, max_concurrency = @max, tenant_id = @tenant, settings = @settings, " +
            "previous_secret = @previous, previous_secret_until = @previous_until WHERE id = @id",
            command => Bind(command, channel),
            cancellationToken);

    public Task<bool> UpdateRouteAsync(RouteDefinition route, CancellationToken cancellationToken) =>
        ChangeAsync(UpdateRouteSql, command => Bind(command, route), cancellationToken);

    public Task<bool> AddRouteAsync(RouteDefinition route, CancellationToken cancellationToken) =>
        ChangeAsync(
            "INSERT INTO routes (id, source_channel, source_chats, destinations, enabled, tenant_id, options, created_at) " +
            "VALUES (@id, @source, @chats, @destinations, @enabled, @tenant, @options, @now) ON CONFLICT (id) DO NOTHING",
            command => Bind(command, route),
            cancellationToken);

    public Task<bool> RemoveRouteAsync(string id, CancellationToken cancellationToken) =>
        ChangeAsync("DELETE FROM routes WHERE id = @id", command => command.Parameters.AddWithValue("id", id), cancellationToken);

    internal static void Bind(NpgsqlCommand command, RouteDefinition route)
    {
        var p = command.Parameters;
        p.AddWithValue("id", route.Id);
        p.AddWithValue("source", route.SourceChannel);
        p.AddWithValue("chats", NpgsqlDbType.Text, route.SourceChats is { Count: > 0 } chats ? CatalogJson.WriteStrings(chats) : DBNull.Value);
        p.AddWithValue("destinations", CatalogJson.WriteStrings(route.Destinations.Select(d => d.ToString()).ToArray()));
        p.AddWithValue("enabled", route.Enabled ? 1 : 0);
        p.AddWithValue("tenant", route.TenantId);
        p.AddWithValue("options", NpgsqlDbType.Text, PostgresText.OrNull(route.OptionsJson));
        p.AddWithValue("now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    /// <summary>The secret and the settings (a channel type's JSON, with its token) are written sealed.</summary>
    private void Bind(NpgsqlCommand command, ChannelDefinition channel)
    {
        var sealer = database.Sealer;
        var p = command.Parameters;
        p.AddWithValue("id", channel.Id);
        p.AddWithValue("type", channel.Type);
        p.AddWithValue("secret", NpgsqlDbType.Text, (object?)sealer.SealOrNull(channel.Secret, SealedColumns.Place("channels", "secret", channel.Id)) ?? DBNull.Value);
        p.AddWithValue("url", NpgsqlDbType.Text, (object?)channel.Url?.ToString() ?? DBNull.Value);
        p.AddWithValue("max", NpgsqlDbType.Integer, (object?)channel.MaxConcurrency ?? DBNull.Value);
        p.AddWithValue("tenant", channel.TenantId);
        p.AddWithValue("settings", NpgsqlDbType.Text, (object?)sealer.SealOrNull(channel.SettingsJson, SealedColumns.Place("channels", "settings", channel.Id)) ?? DBNull.Value);
        p.AddWithValue("previous", NpgsqlDbType.Text, (object?)sealer.SealOrNull(channel.PreviousSecret, SealedColumns.Place("channels", "previous_secret", channel.Id)) ?? DBNull.Value);
        p.AddWithValue("previous_until", NpgsqlDbType.Bigint, (object?)channel.PreviousSecretUntil?.ToUnixTimeMilliseconds() ?? DBNull.Value);
        p.AddWithValue("now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    private Task<bool> ChangeAsync(string sql, Action<NpgsqlCommand> bind, CancellationToken cancellationToken) =>
        database.ChangeAsync(sql, "catalog_version", bind, cancellationToken);
}
