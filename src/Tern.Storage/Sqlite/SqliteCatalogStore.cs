using Microsoft.Data.Sqlite;
using Tern.Core.Catalog;
using Tern.Storage.Secrets;

namespace Tern.Storage.Sqlite;

/// <summary>
/// Channels and routes. Written rarely (CLI, API), so each change is its own transaction on a pooled
/// connection rather than a trip through the group-commit writer; SQLite's busy timeout orders it
/// with the writer, also when the CLI writes while a server runs.
/// </summary>
public sealed class SqliteCatalogStore(SqliteDatabase database) : ICatalogStore
{
    public async Task<long> GetVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return SqliteDatabase.Scalar(connection, null, "SELECT value FROM meta WHERE key = 'catalog_version'");
    }

    public async Task<CatalogSnapshot> LoadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: true);
        var version = SqliteDatabase.Scalar(connection, transaction, "SELECT value FROM meta WHERE key = 'catalog_version'");

        var sealer = database.Sealer;
        var channels = new List<ChannelDefinition>();
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT id, type, secret, url, max_concurrency, tenant_id, settings, previous_secret, previous_secret_until FROM channels ORDER BY id";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var id = reader.GetString(0);
                channels.Add(new ChannelDefinition(
                    id,
                    reader.GetString(1),
                    sealer.UnsealOrNull(SqliteInboxStore.NullableString(reader, 2), SealedColumns.Place("channels", "secret", id)),
                    reader.IsDBNull(3) ? null : new Uri(reader.GetString(3)),
                    reader.IsDBNull(4) ? null : reader.GetInt32(4),
                    reader.GetString(5),
                    sealer.UnsealOrNull(SqliteInboxStore.NullableString(reader, 6), SealedColumns.Place("channels", "settings", id)),
                    sealer.UnsealOrNull(SqliteInboxStore.NullableString(reader, 7), SealedColumns.Place("channels", "previous_secret", id)),
                    reader.IsDBNull(8) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(8))));
            }
        }

        // Tenant webhook subscriptions are lanes of the outbox like any channel: load them as channels.
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            // A disabled subscription (its receiver said 410 Gone) is not a lane: no events are queued for it.
            command.CommandText = SqliteTenantStore.WebhookSelect + " WHERE disabled_at IS NULL";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var webhook = SqliteTenantStore.ReadWebhook(reader, sealer);
                channels.Add(new ChannelDefinition(
                    ChannelTypes.SubscriptionChannelId(webhook.Id), ChannelTypes.TenantWebhook, webhook.Secret, webhook.Url, null, webhook.TenantId,
                    CatalogJson.WriteStrings(webhook.Events), webhook.PreviousSecret, webhook.PreviousSecretUntil));
            }
        }

        var routes = new List<RouteDefinition>();
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT id, source_channel, source_chats, destinations, enabled, tenant_id, options FROM routes ORDER BY id";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var chats = reader.IsDBNull(2) ? null : CatalogJson.ReadStrings(reader.GetString(2));
                var destinations = CatalogJson.ReadStrings(reader.GetString(3))
                    .Select(d => Destination.TryParse(d, out var parsed) ? parsed : throw new InvalidDataException($"Route '{reader.GetString(0)}' has a bad destination '{d}'"))
                    .ToArray();
                routes.Add(new RouteDefinition(reader.GetString(0), reader.GetString(1), chats, destinations, reader.GetInt64(4) != 0,
                    reader.GetString(5), SqliteInboxStore.NullableString(reader, 6)));
            }
        }
        return new CatalogSnapshot(version, channels, routes);
    }

    public Task<bool> AddChannelAsync(ChannelDefinition channel, CancellationToken cancellationToken) =>
        ChangeAsync(
            "INSERT INTO channels (id, type, secret, url, max_concurrency, tenant_id, settings, previous_secret, previous_secret_until, created_at) " +
            "VALUES ($id, $type, $secret, $url, $max, $tenant, $settings, $previous, $previous_until, $now) ON CONFLICT (id) DO NOTHING",
            command => Bind(command, channel),
            cancellationToken);

    public Task<bool> RemoveChannelAsync(string id, CancellationToken cancellationToken) =>
        ChangeAsync("DELETE FROM channels WHERE id = $id", command => command.Parameters.AddWithValue("$id", id), cancellationToken);

    public Task<bool> UpdateChannelAsync(ChannelDefinition channel, CancellationToken cancellationToken) =>
        ChangeAsync(
            "UPDATE channels SET type = $type, secret = $secret, url = $url, max_concurrency = $max, tenant_id = $tenant, settings = $settings, " +
            "previous_secret = $previous, previous_secret_until = $previous_until WHERE id = $id",
            command => Bind(command, channel),
            cancellationToken);

    internal const string UpdateRouteSql =
        "UPDATE routes SET source_channel = $source, source_chats = $chats, destinations = $destinations, enabled = $enabled, tenant_id = $tenant, options = $options WHERE id = $id";

    public Task<bool> UpdateRouteAsync(RouteDefinition route, CancellationToken cancellationToken) =>
        ChangeAsync(UpdateRouteSql, command => Bind(command, route), cancellationToken);

    public Task<bool> AddRouteAsync(RouteDefinition route, CancellationToken cancellationToken) =>
        ChangeAsync(
            "INSERT INTO routes (id, source_channel, source_chats, destinations, enabled, tenant_id, options, created_at) " +
            "VALUES ($id, $source, $chats, $destinations, $enabled, $tenant, $options, $now) ON CONFLICT (id) DO NOTHING",
            command => Bind(command, route),
            cancellationToken);

    public Task<bool> RemoveRouteAsync(string id, CancellationToken cancellationToken) =>
        ChangeAsync("DELETE FROM routes WHERE id = $id", command => command.Parameters.AddWithValue("$id", id), cancellationToken);

    internal static void Bind(SqliteCommand command, RouteDefinition route)
    {
        command.Parameters.AddWithValue("$id", route.Id);
        command.Parameters.AddWithValue("$source", route.SourceChannel);
        command.Parameters.AddWithValue("$chats", route.SourceChats is { Count: > 0 } chats ? CatalogJson.WriteStrings(chats) : DBNull.Value);
        command.Parameters.AddWithValue("$destinations", CatalogJson.WriteStrings(route.Destinations.Select(d => d.ToString()).ToArray()));
        command.Parameters.AddWithValue("$enabled", route.Enabled ? 1 : 0);
        command.Parameters.AddWithValue("$tenant", route.TenantId);
        command.Parameters.AddWithValue("$options", (object?)route.OptionsJson ?? DBNull.Value);
        command.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    /// <summary>The secret and the settings (a channel type's JSON, with its token) are written sealed.</summary>
    private void Bind(SqliteCommand command, ChannelDefinition channel)
    {
        var sealer = database.Sealer;
        command.Parameters.AddWithValue("$id", channel.Id);
        command.Parameters.AddWithValue("$type", channel.Type);
        command.Parameters.AddWithValue("$secret", (object?)sealer.SealOrNull(channel.Secret, SealedColumns.Place("channels", "secret", channel.Id)) ?? DBNull.Value);
        command.Parameters.AddWithValue("$url", (object?)channel.Url?.ToString() ?? DBNull.Value);
        command.Parameters.AddWithValue("$max", (object?)channel.MaxConcurrency ?? DBNull.Value);
        command.Parameters.AddWithValue("$tenant", channel.TenantId);
        command.Parameters.AddWithValue("$settings", (object?)sealer.SealOrNull(channel.SettingsJson, SealedColumns.Place("channels", "settings", channel.Id)) ?? DBNull.Value);
        command.Parameters.AddWithValue("$previous", (object?)sealer.SealOrNull(channel.PreviousSecret, SealedColumns.Place("channels", "previous_secret", channel.Id)) ?? DBNull.Value);
        command.Parameters.AddWithValue("$previous_until", (object?)channel.PreviousSecretUntil?.ToUnixTimeMilliseconds() ?? DBNull.Value);
        command.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    private Task<bool> ChangeAsync(string sql, Action<SqliteCommand> bind, CancellationToken cancellationToken) =>
        database.ChangeAsync(sql, "catalog_version", bind, cancellationToken);
}
