using Npgsql;
using Tern.Core.Catalog;
using Tern.Core.Delivery;

namespace Tern.Storage.Postgres;

/// <summary>What senders look up while they send: copies of source messages, and chats that moved.</summary>
public sealed class PostgresChannelState(PostgresDatabase database) : IMessageLinks, IChatMoveStore
{
    public async Task<IReadOnlyList<string>> FindAsync(
        string sourceChannel, string sourceChat, string sourceMessageId, string destinationChannel, string destinationChat, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            "SELECT dest_message FROM message_links WHERE source_channel = @source_channel AND source_chat = @source_chat " +
            "AND source_message = @source_message AND dest_channel = @dest_channel AND dest_chat = @dest_chat ORDER BY created_at, dest_message LIMIT 100", connection);
        command.Parameters.AddWithValue("source_channel", sourceChannel);
        command.Parameters.AddWithValue("source_chat", sourceChat);
        command.Parameters.AddWithValue("source_message", sourceMessageId);
        command.Parameters.AddWithValue("dest_channel", destinationChannel);
        command.Parameters.AddWithValue("dest_chat", destinationChat);
        var found = new List<string>(1);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) found.Add(reader.GetString(0));
        return found;
    }

    public async Task<string?> FindAsync(string channelId, string chat, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT new_chat FROM chat_migrations WHERE channel_id = @channel AND old_chat = @chat", connection);
        command.Parameters.AddWithValue("channel", channelId);
        command.Parameters.AddWithValue("chat", chat);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    public async Task<bool> RecordAsync(ChatMove move, long catalogVersion, IReadOnlyList<RouteDefinition> movedRoutes, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // FOR UPDATE: the version read and the writes are one step; another change of the catalog waits or is seen.
        if (await PostgresDatabase.ScalarAsync(connection, transaction, "SELECT value FROM meta WHERE key = 'catalog_version' FOR UPDATE", cancellationToken).ConfigureAwait(false) != catalogVersion)
        {
            return false;
        }
        await using (var command = new NpgsqlCommand(
            "INSERT INTO chat_migrations (channel_id, old_chat, new_chat, migrated_at) VALUES (@channel, @old, @new, @now) " +
            "ON CONFLICT (channel_id, old_chat) DO UPDATE SET new_chat = excluded.new_chat, migrated_at = excluded.migrated_at", connection, transaction))
        {
            command.Parameters.AddWithValue("channel", move.ChannelId);
            command.Parameters.AddWithValue("old", move.OldChat);
            command.Parameters.AddWithValue("new", move.NewChat);
            command.Parameters.AddWithValue("now", move.AtMs);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        foreach (var route in movedRoutes)
        {
            await using var command = new NpgsqlCommand(PostgresCatalogStore.UpdateRouteSql, connection, transaction);
            PostgresCatalogStore.Bind(command, route);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        if (movedRoutes.Count > 0)
        {
            // Running instances reload the catalog and route by the new id.
            await PostgresDatabase.ExecuteAsync(connection, transaction, "UPDATE meta SET value = value + 1 WHERE key = 'catalog_version'", cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }
}
