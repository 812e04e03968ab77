using System.Globalization;
using Npgsql;
using Tern.Core.Memory;
using Tern.Core.Scheduling;

namespace Tern.Storage.Postgres;

/// <summary>Runtime bookkeeping: restart log, leases, retention and maintenance.</summary>
public sealed class PostgresRuntimeStore(PostgresDatabase database) : IRestartLog, ILeaseStore, IRetentionStore, IDatabaseMaintenance
{
    private const string FinishedDeliveries = "SELECT id FROM outbox WHERE state IN (2, 3) AND updated_at < @cutoff ORDER BY id LIMIT @batch";

    public async Task RecordAsync(DateTimeOffset at, string reason, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("INSERT INTO restarts (at, reason) VALUES (@at, @reason)", connection);
        command.Parameters.AddWithValue("at", at.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("reason", PostgresText.Clean(reason));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<int> CountSinceAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM restarts WHERE at >= @since", connection);
        command.Parameters.AddWithValue("since", since.ToUnixTimeMilliseconds());
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    public async Task<bool> TryAcquireAsync(string name, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // One statement: take a free or expired lease, or renew our own. The clock is the database's, so instances
        // whose clocks disagree still agree on when a lease expires.
        await using var command = new NpgsqlCommand(
            "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms) " +
            "INSERT INTO leases (name, holder, expires_at) SELECT @name, @holder, ms + @ttl FROM now " +
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at " +
            "WHERE leases.holder = excluded.holder OR leases.expires_at < (SELECT ms FROM now)", connection);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("holder", holder);
        command.Parameters.AddWithValue("ttl", (long)timeToLive.TotalMilliseconds);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async Task ReleaseAsync(string name, string holder, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("DELETE FROM leases WHERE name = @name AND holder = @holder", connection);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("holder", holder);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task<(int Inbox, int Outbox)> PurgeAsync(DateTimeOffset cutoff, int batch, CancellationToken cancellationToken) =>
        // Through the writer: deletes queue with other writes. Three statements of one request, in this order: the
        // attempts of the deliveries that go, the deliveries, then the inbox rows no pending delivery needs.
        database.Writer.ExecuteAsync(commands =>
        {
            var ms = cutoff.ToUnixTimeMilliseconds();
            var attempts = commands.Add($"WITH gone AS (DELETE FROM delivery_attempts WHERE delivery_id IN ({FinishedDeliveries}) RETURNING 1) SELECT COUNT(*) FROM gone");
            attempts.Parameters.AddWithValue("cutoff", ms);
            attempts.Parameters.AddWithValue("batch", batch);
            var outbox = commands.Add($"WITH gone AS (DELETE FROM outbox WHERE id IN ({FinishedDeliveries}) RETURNING 1) SELECT COUNT(*) FROM gone");
            outbox.Parameters.AddWithValue("cutoff", ms);
            outbox.Parameters.AddWithValue("batch", batch);
            // An inbox row goes once it is routed, old, and none of its deliveries is still pending.
            var inbox = commands.Add(
                "WITH gone AS (DELETE FROM inbox WHERE seq IN (SELECT i.seq FROM inbox i WHERE i.state = 1 AND i.routed_at < @cutoff " +
                "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.inbox_seq = i.seq AND o.state = 0) ORDER BY i.seq LIMIT @batch) RETURNING 1) SELECT COUNT(*) FROM gone");
            inbox.Parameters.AddWithValue("cutoff", ms);
            inbox.Parameters.AddWithValue("batch", batch);
        }, results => ((int)results.Int64(2), (int)results.Int64(1)), cancellationToken);

    public Task<int> PurgeLinksAsync(DateTimeOffset cutoff, int batch, CancellationToken cancellationToken) =>
        database.Writer.ExecuteAsync(commands =>
        {
            var links = commands.Add(
                "WITH gone AS (DELETE FROM message_links WHERE (source_channel, source_chat, source_message, dest_channel, dest_chat, dest_message) IN " +
                "(SELECT source_channel, source_chat, source_message, dest_channel, dest_chat, dest_message FROM message_links WHERE created_at < @cutoff LIMIT @batch) " +
                "RETURNING 1) SELECT COUNT(*) FROM gone");
            links.Parameters.AddWithValue("cutoff", cutoff.ToUnixTimeMilliseconds());
            links.Parameters.AddWithValue("batch", batch);
        }, results => (int)results.Int64(0), cancellationToken);

    /// <summary>
    /// Refreshes the planner's statistics of the tables retention churns. Space is reclaimed by autovacuum, which
    /// PostgreSQL runs on its own; VACUUM FULL would lock the tables against the pipeline, so Tern never runs it.
    /// </summary>
    public async Task MaintainAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await PostgresDatabase.ExecuteAsync(connection, null, "ANALYZE inbox, outbox, lanes, delivery_attempts, message_links", cancellationToken).ConfigureAwait(false);
    }
}
