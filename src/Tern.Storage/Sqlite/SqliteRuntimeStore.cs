using Tern.Core.Memory;
using Tern.Core.Scheduling;

namespace Tern.Storage.Sqlite;

/// <summary>Runtime bookkeeping: restart log, leases, retention and maintenance.</summary>
public sealed class SqliteRuntimeStore(SqliteDatabase database) : IRestartLog, ILeaseStore, IRetentionStore, IDatabaseMaintenance
{
    public async Task RecordAsync(DateTimeOffset at, string reason, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO restarts (at, reason) VALUES ($at, $reason)";
        command.Parameters.AddWithValue("$at", at.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$reason", reason);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<int> CountSinceAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM restarts WHERE at >= $since";
        command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<bool> TryAcquireAsync(string name, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        // One statement: take a free or expired lease, or renew our own.
        command.CommandText =
            "INSERT INTO leases (name, holder, expires_at) VALUES ($name, $holder, $expires) " +
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at " +
            "WHERE leases.holder = excluded.holder OR leases.expires_at < $now";
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$holder", holder);
        command.Parameters.AddWithValue("$expires", now + (long)timeToLive.TotalMilliseconds);
        command.Parameters.AddWithValue("$now", now);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async Task ReleaseAsync(string name, string holder, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM leases WHERE name = $name AND holder = $holder";
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$holder", holder);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task<(int Inbox, int Outbox)> PurgeAsync(DateTimeOffset cutoff, int batch, CancellationToken cancellationToken) =>
        // Through the writer: deletes queue with other writes instead of holding the lock against them.
        database.Writer.ExecuteAsync(writer =>
        {
            var ms = cutoff.ToUnixTimeMilliseconds();
            const string Finished = "SELECT id FROM outbox WHERE state IN (2, 3) AND updated_at < $cutoff ORDER BY id LIMIT $batch";
            var attempts = writer.Command($"DELETE FROM delivery_attempts WHERE delivery_id IN ({Finished})");
            attempts.Parameters.AddWithValue("$cutoff", ms);
            attempts.Parameters.AddWithValue("$batch", batch);
            attempts.ExecuteNonQuery();
            var outbox = writer.Command($"DELETE FROM outbox WHERE id IN ({Finished})");
            outbox.Parameters.AddWithValue("$cutoff", ms);
            outbox.Parameters.AddWithValue("$batch", batch);
            var outboxDeleted = outbox.ExecuteNonQuery();

            // An inbox row goes once it is routed, old, and none of its deliveries is still pending.
            var inbox = writer.Command(
                "DELETE FROM inbox WHERE seq IN (SELECT i.seq FROM inbox i WHERE i.state = 1 AND i.routed_at < $cutoff " +
                "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.inbox_seq = i.seq AND o.state = 0) LIMIT $batch)");
            inbox.Parameters.AddWithValue("$cutoff", ms);
            inbox.Parameters.AddWithValue("$batch", batch);
            return (inbox.ExecuteNonQuery(), outboxDeleted);
        }, cancellationToken);

    public Task<int> PurgeLinksAsync(DateTimeOffset cutoff, int batch, CancellationToken cancellationToken) =>
        database.Writer.ExecuteAsync(writer =>
        {
            var links = writer.Command(
                "DELETE FROM message_links WHERE (source_channel, source_chat, source_message, dest_channel, dest_chat, dest_message) IN " +
                "(SELECT source_channel, source_chat, source_message, dest_channel, dest_chat, dest_message FROM message_links WHERE created_at < $cutoff LIMIT $batch)");
            links.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
            links.Parameters.AddWithValue("$batch", batch);
            return links.ExecuteNonQuery();
        }, cancellationToken);

    public async Task MaintainAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        SqliteDatabase.Execute(connection, null, "PRAGMA optimize; PRAGMA incremental_vacuum(2000); PRAGMA wal_checkpoint(PASSIVE);");
    }
}
