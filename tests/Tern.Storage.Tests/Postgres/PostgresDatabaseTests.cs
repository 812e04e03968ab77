using Npgsql;
using Tern.Core.Messages;
using Tern.StandIns.Postgres;
using Tern.Storage.Migrations;
using Tern.Storage.Postgres;

namespace Tern.Storage.Tests.Postgres;

/// <summary>What is PostgreSQL's own: migrations under a lock, the batching writer, the connection bound, a server restart.</summary>
public sealed class PostgresDatabaseTests : IAsyncLifetime
{
    private readonly PostgresStoreFactory _factory = new();
    private readonly CancellationTokenSource _hangGuard = new(TimeSpan.FromMinutes(2));

    private CancellationToken Ct => _hangGuard.Token;

    public async Task InitializeAsync() => await (await _factory.CreateAsync(Ct)).DisposeAsync();

    public async Task DisposeAsync()
    {
        await _factory.DisposeAsync();
        _hangGuard.Dispose();
    }

    [Fact]
    public async Task A_statement_prepared_while_the_outbox_was_empty_looks_rows_up_by_key_once_it_has_grown()
    {
        await using var database = PostgresDatabase.Create(_factory.Options());
        await using var connection = await database.OpenConnectionAsync(Ct);
        await Sql(connection, "PREPARE mark(bigint) AS UPDATE outbox SET state = 2 WHERE id = $1 AND state = 0");
        // More than the five executions after which PostgreSQL may settle on a generic plan: made now, on an empty table.
        for (var i = 0; i < 10; i++) await Sql(connection, "EXECUTE mark(1)");

        await using (var other = new NpgsqlConnection(_factory.ConnectionString))
        {
            await other.OpenAsync(Ct);
            await using var fill = new NpgsqlCommand(
                "INSERT INTO outbox (channel_id, chat, payload, created_at, updated_at) SELECT 'out', 'c' || (g % 100), '{}', 1, 1 FROM generate_series(1, 20000) g", other);
            await fill.ExecuteNonQueryAsync(Ct);
        }

        await using var explain = new NpgsqlCommand("EXPLAIN EXECUTE mark(12345)", connection);
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct)) plan.Add(reader.GetString(0));
        }
        Assert.Contains(plan, line => line.Contains("Index Scan using outbox_pkey", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, line => line.Contains("Seq Scan", StringComparison.Ordinal));

        async Task Sql(NpgsqlConnection on, string sql)
        {
            await using var command = new NpgsqlCommand(sql, on);
            await command.ExecuteNonQueryAsync(Ct);
        }
    }

    [Fact]
    public void Migration_files_are_found_in_version_order_with_their_names()
    {
        var migrations = Migration.For("Postgres");

        Assert.NotEmpty(migrations);
        Assert.Equal("0001_initial", migrations[0].Name);
        Assert.Equal(migrations.Select(m => m.Version).Order(), migrations.Select(m => m.Version));
    }

    [Fact]
    public async Task An_empty_database_reports_schema_version_zero_before_migrating()
    {
        var server = await PrivatePostgres.SharedAsync();
        var empty = await server.CreateDatabaseAsync(Ct);
        try
        {
            await using var database = PostgresDatabase.Create(new StorageOptions { ConnectionString = empty, Path = Path.Combine(Path.GetTempPath(), "unused", "tern.db") });
            Assert.Equal(0, await database.SchemaVersionAsync(Ct));
        }
        finally
        {
            await server.DropDatabaseAsync(empty, Ct);
        }
    }

    [Fact]
    public async Task Two_instances_migrating_the_same_new_database_at_once_apply_each_migration_once()
    {
        var server = await PrivatePostgres.SharedAsync();
        var fresh = await server.CreateDatabaseAsync(Ct);
        var folder = Directory.CreateTempSubdirectory("tern-pg-migrate-").FullName;
        try
        {
            var options = new StorageOptions { ConnectionString = fresh, Path = Path.Combine(folder, "tern.db") };
            await using var first = PostgresDatabase.Create(options);
            await using var second = PostgresDatabase.Create(options);

            var applied = await Task.WhenAll(Task.Run(() => first.MigrateAsync(Ct)), Task.Run(() => second.MigrateAsync(Ct)));

            Assert.Equal(Migration.For("Postgres").Count, applied.Sum());
            Assert.Contains(0, applied);
            Assert.Equal(await first.SchemaVersionAsync(Ct), await second.SchemaVersionAsync(Ct));
        }
        finally
        {
            await server.DropDatabaseAsync(fresh, Ct);
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Idle_pooled_connections_are_closed_once_the_idle_lifetime_has_passed()
    {
        var options = _factory.Options();
        options.MaxReadConnections = 4;
        options.ConnectionIdleLifetime = TimeSpan.FromSeconds(2);
        options.ConnectionPruningInterval = TimeSpan.FromSeconds(1);
        await using var database = PostgresDatabase.Create(options);
        Assert.Equal((5, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1)), database.Pool);
        await database.MigrateAsync(Ct); // no writer: every connection of this database is a pooled reader

        var held = new List<NpgsqlConnection>();
        for (var i = 0; i < 4; i++) held.Add(await database.OpenConnectionAsync(Ct));
        Assert.Equal(4, await BackendsAsync());
        foreach (var connection in held) await connection.DisposeAsync();

        // Back in the pool, idle: the pool closes them on its own, and the server's backends go with them.
        while (await BackendsAsync() > 0) await Task.Delay(100, Ct);
        // A reader is opened again on demand.
        await using (var again = await database.OpenConnectionAsync(Ct)) Assert.Equal(1, await BackendsAsync());
    }

    [Fact]
    public async Task A_pruning_interval_longer_than_the_idle_lifetime_is_cut_to_it()
    {
        var options = _factory.Options();
        options.ConnectionIdleLifetime = TimeSpan.FromSeconds(5);
        options.ConnectionPruningInterval = TimeSpan.FromSeconds(30);
        await using var database = PostgresDatabase.Create(options);

        Assert.Equal(TimeSpan.FromSeconds(5), database.Pool.PruningInterval);
    }

    /// <summary>The server's backends on this test's database, other than the probe's own.</summary>
    private async Task<long> BackendsAsync()
    {
        var probe = PostgresConnectionString.Parse(_factory.ConnectionString);
        probe.Pooling = false;
        await using var connection = new NpgsqlConnection(probe.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", connection);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }

    [Fact]
    public async Task Writing_before_open_is_refused_with_a_clear_error()
    {
        await using var database = PostgresDatabase.Create(_factory.Options());

        Assert.Equal((0L, 0L), database.WriteStats);
        var error = Assert.Throws<InvalidOperationException>(() => database.Writer);
        Assert.Contains("OpenAsync", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_appends_are_committed_in_fewer_batches_than_requests()
    {
        await using var database = PostgresDatabase.Create(_factory.Options());
        await database.OpenAsync(Ct);
        using var inbox = await PostgresInboxStore.OpenAsync(database, Ct);

        // Queued all before the first can finish (the writer takes what waits): group commit has something to group.
        var appends = Enumerable.Range(0, 500).Select(i => inbox.AppendAsync(Message($"g-{i}"), Ct)).ToList();
        await Task.WhenAll(appends);

        var (batches, requests) = database.WriteStats;
        Assert.Equal(500, requests);
        Assert.InRange(batches, 1, 499);
        Assert.Equal(500, (await inbox.ReadPendingAsync(0, 1_000, Ct)).Count);
    }

    [Fact]
    public async Task A_failing_write_fails_alone_and_does_not_sink_its_batch_mates()
    {
        await using var database = PostgresDatabase.Create(_factory.Options());
        await database.OpenAsync(Ct);
        using var inbox = await PostgresInboxStore.OpenAsync(database, Ct);

        var before = Enumerable.Range(0, 100).Select(i => inbox.AppendAsync(Message($"a-{i}"), Ct)).ToList();
        var bad = database.Writer.ExecuteAsync(c => c.Add("INSERT INTO no_such_table (x) VALUES (1) RETURNING 1"), r => r.Int64(0), Ct);
        var after = Enumerable.Range(0, 100).Select(i => inbox.AppendAsync(Message($"b-{i}"), Ct)).ToList();

        var error = await Assert.ThrowsAsync<PostgresException>(() => bad);
        Assert.Equal(PostgresErrorCodes.UndefinedTable, error.SqlState);
        var results = await Task.WhenAll(before.Concat(after));
        Assert.All(results, r => Assert.False(r.Duplicate));
        Assert.Equal(200, (await inbox.ReadPendingAsync(0, 1_000, Ct)).Count);
        Assert.Equal(200, inbox.PendingCount);
    }

    [Fact]
    public async Task A_request_whose_later_statement_fails_leaves_nothing_of_its_earlier_ones()
    {
        await using var database = PostgresDatabase.Create(_factory.Options());
        await database.OpenAsync(Ct);

        await Assert.ThrowsAsync<PostgresException>(() => database.Writer.ExecuteAsync(c =>
        {
            c.Add("INSERT INTO meta (key, value) VALUES ('half-way', 1) RETURNING 1");
            c.Add("SELECT 1 / 0");
        }, r => r.Int64(0), Ct));

        await using var connection = await database.OpenConnectionAsync(Ct);
        Assert.Equal(0, await PostgresDatabase.ScalarAsync(connection, null, "SELECT COUNT(*) FROM meta WHERE key = 'half-way'", Ct));
    }

    [Fact]
    public async Task A_statement_that_returns_no_result_set_is_refused_rather_than_misread()
    {
        await using var database = PostgresDatabase.Create(_factory.Options());
        await database.OpenAsync(Ct);

        // Npgsql skips the UPDATE's missing result set: read by position, 42 would be taken for the UPDATE's answer.
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => database.Writer.ExecuteAsync(c =>
        {
            c.Add("UPDATE meta SET value = value WHERE key = 'nothing'");
            c.Add("SELECT 42");
        }, r => r.Int64(1), Ct));

        Assert.Contains("result set", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writes_queued_before_dispose_are_committed()
    {
        var database = PostgresDatabase.Create(_factory.Options());
        await database.OpenAsync(Ct);
        var inbox = await PostgresInboxStore.OpenAsync(database, Ct);
        var appends = Enumerable.Range(0, 300).Select(i => inbox.AppendAsync(Message($"q-{i}"), Ct)).ToList();

        await database.DisposeAsync();
        var results = await Task.WhenAll(appends);
        inbox.Dispose();

        await using var reopened = PostgresDatabase.Create(_factory.Options());
        Assert.Equal(0, await reopened.OpenAsync(Ct));
        using var reopenedInbox = await PostgresInboxStore.OpenAsync(reopened, Ct);
        Assert.Equal(300, reopenedInbox.PendingCount);
        Assert.Equal(results.Select(r => r.Seq).Order(), (await reopenedInbox.ReadPendingAsync(0, 1_000, Ct)).Select(p => p.Seq));
    }

    [Fact]
    public async Task A_nul_character_in_a_message_is_kept_as_the_replacement_character_not_refused()
    {
        await using var database = PostgresDatabase.Create(_factory.Options());
        await database.OpenAsync(Ct);
        using var inbox = await PostgresInboxStore.OpenAsync(database, Ct);

        await inbox.AppendAsync(new Envelope("in", "nul", "chat", "a\0b", "x\0y", null, 1), Ct);

        var item = Assert.Single(await inbox.ReadPendingAsync(0, 10, Ct));
        Assert.Equal(("a\uFFFDb", "x\uFFFDy"), (item.Envelope.Sender, item.Envelope.Text));
    }

    [Fact]
    public async Task Connections_are_bounded_and_a_terminated_one_still_gives_its_place_back()
    {
        var options = _factory.Options();
        options.MaxReadConnections = 2;
        await using var database = PostgresDatabase.Create(options);
        await database.OpenAsync(Ct);
        using var inbox = await PostgresInboxStore.OpenAsync(database, Ct);

        var first = await database.OpenConnectionAsync(Ct);
        var second = await database.OpenConnectionAsync(Ct);
        Assert.Equal((2, 2), (database.ReadConnectionsInUse, database.ReadConnectionCapacity));
        var third = database.OpenConnectionAsync(Ct);
        await Task.Delay(200);
        Assert.False(third.IsCompleted, "a third reader got a connection past the bound of 2");

        // The server ends the first one's backend (an admin, a failover): its place still comes back when it is disposed.
        await using (var admin = new NpgsqlConnection((await PrivatePostgres.SharedAsync()).AdminConnectionString))
        {
            await admin.OpenAsync(Ct);
            await using var kill = new NpgsqlCommand("SELECT pg_terminate_backend(@pid)", admin);
            kill.Parameters.AddWithValue("pid", first.ProcessID);
            await kill.ExecuteNonQueryAsync(Ct);
        }
        await Assert.ThrowsAnyAsync<Exception>(() => new NpgsqlCommand("SELECT 1", first).ExecuteScalarAsync(Ct));
        await first.DisposeAsync();
        await using var got = await third.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, database.ReadConnectionsInUse);
        second.Dispose();
        await second.DisposeAsync();
        Assert.Equal(1, database.ReadConnectionsInUse);

        // The writer is not counted: writes go on while every read connection is taken.
        await using var busy = await database.OpenConnectionAsync(Ct);
        Assert.False((await inbox.AppendAsync(Message("p1"), Ct).WaitAsync(TimeSpan.FromSeconds(30))).Duplicate);
    }

    [Fact]
    public async Task The_writer_reconnects_after_a_server_restart_fails_as_unavailable_while_it_is_down_and_nothing_committed_is_lost()
    {
        await using var server = await PrivatePostgres.StartAsync(Ct);
        var connection = await server.CreateDatabaseAsync(Ct);
        var folder = Directory.CreateTempSubdirectory("tern-pg-restart-").FullName;
        try
        {
            await using var database = PostgresDatabase.Create(new StorageOptions { ConnectionString = connection, Path = Path.Combine(folder, "tern.db") });
            await database.OpenAsync(Ct);
            using var inbox = await PostgresInboxStore.OpenAsync(database, Ct);
            await inbox.AppendAsync(Message("before"), Ct);

            await server.StopAsync();
            await server.StartAgainAsync(Ct);

            // The writer's connection died with the server: the batch is tried again on a new one.
            Assert.False((await inbox.AppendAsync(Message("after"), Ct)).Duplicate);

            // While the server is away, a write and a read fail as "unavailable" (HTTP answers 503), not as a bad statement.
            await server.StopAsync();
            await Assert.ThrowsAsync<Tern.Core.Pipeline.StorageUnavailableException>(() => inbox.AppendAsync(Message("while-down"), Ct));
            await Assert.ThrowsAsync<Tern.Core.Pipeline.StorageUnavailableException>(() => database.SchemaVersionAsync(Ct));
            await server.StartAgainAsync(Ct);
            Assert.Equal(["before", "after"], (await inbox.ReadPendingAsync(0, 10, Ct)).Select(i => i.Envelope.PlatformId));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Envelope Message(string id) => new("in", id, "chat", null, "t", null, 1);
}
