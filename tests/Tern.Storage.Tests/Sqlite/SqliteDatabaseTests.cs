using Microsoft.Data.Sqlite;
using Tern.Core.Messages;
using Tern.Storage.Migrations;
using Tern.Storage.Sqlite;

namespace Tern.Storage.Tests.Sqlite;

/// <summary>What only the SQLite engine has: its file, pragmas, migration files and the group-commit writer.</summary>
public sealed class SqliteDatabaseTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tern-storage-tests", Guid.NewGuid().ToString("N"));
    private readonly CancellationTokenSource _hangGuard = new(TimeSpan.FromMinutes(2));

    private CancellationToken Ct => _hangGuard.Token;

    private string DbPath => Path.Combine(_folder, "nested", "deeper", "tern.db");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
        _hangGuard.Dispose();
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData(13, true)] // SQLITE_FULL: the disk is full
    [InlineData(10, true)] // SQLITE_IOERR
    [InlineData(14, true)] // SQLITE_CANTOPEN
    [InlineData(5, true)] // SQLITE_BUSY past the busy timeout
    [InlineData(19, false)] // SQLITE_CONSTRAINT: this write is wrong, trying again will not help
    [InlineData(1, false)] // SQLITE_ERROR: a bad statement
    public void A_full_disk_or_an_IO_error_is_storage_unavailable_and_a_bad_statement_is_not(int code, bool unavailable)
    {
        var failure = new SqliteException("failure", code);

        var mapped = SqliteFailures.Unavailable(failure);

        Assert.Equal(unavailable, mapped is not null);
        if (mapped is not null) Assert.Same(failure, mapped.InnerException);
    }

    [Fact]
    public void Migration_files_are_found_in_version_order_with_their_names()
    {
        var migrations = Migration.For("Sqlite");

        Assert.NotEmpty(migrations);
        Assert.Equal(migrations.Select(m => m.Version).Order(), migrations.Select(m => m.Version));
        Assert.Equal(migrations.Count, migrations.Select(m => m.Version).Distinct().Count());
        var first = migrations[0];
        Assert.Equal((1, "0001_initial"), (first.Version, first.Name));
        Assert.Contains("CREATE TABLE inbox", first.Sql, StringComparison.Ordinal);
        Assert.Empty(Migration.For("NoSuchEngine"));
    }

    [Fact]
    public async Task Create_makes_missing_folders_and_migrate_applies_every_file_once()
    {
        await using var database = SqliteDatabase.Create(new StorageOptions { Path = DbPath });
        Assert.True(Directory.Exists(Path.GetDirectoryName(DbPath)));
        var expected = Migration.For("Sqlite");

        Assert.Equal(expected.Count, await database.MigrateAsync(Ct));
        Assert.Equal(0, await database.MigrateAsync(Ct));

        Assert.Equal(expected.Max(m => m.Version), await database.SchemaVersionAsync(Ct));
        await using var connection = await database.OpenConnectionAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT version, name FROM schema_migrations ORDER BY version";
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<(int, string)>();
        while (await reader.ReadAsync(Ct)) rows.Add((reader.GetInt32(0), reader.GetString(1)));
        Assert.Equal(expected.Select(m => (m.Version, m.Name)), rows);
    }

    [Fact]
    public async Task An_empty_file_reports_schema_version_zero_before_migrating()
    {
        await using var database = SqliteDatabase.Create(new StorageOptions { Path = DbPath });
        await using (var connection = await database.OpenConnectionAsync(Ct))
        {
            SqliteDatabase.Execute(connection, null, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
        }

        Assert.Equal(0, await database.SchemaVersionAsync(Ct));
    }

    [Fact]
    public async Task Two_instances_migrating_the_same_new_file_at_once_apply_each_migration_once()
    {
        await using var a = SqliteDatabase.Create(new StorageOptions { Path = DbPath });
        await using var b = SqliteDatabase.Create(new StorageOptions { Path = DbPath });

        var applied = await Task.WhenAll(Task.Run(() => a.MigrateAsync(Ct)), Task.Run(() => b.MigrateAsync(Ct)));

        Assert.Equal(Migration.For("Sqlite").Count, applied.Sum());
        Assert.Equal(Migration.For("Sqlite").Max(m => m.Version), await a.SchemaVersionAsync(Ct));
    }

    [Theory]
    [InlineData(SqliteSynchronous.Normal, 1L)]
    [InlineData(SqliteSynchronous.Full, 2L)]
    public async Task Connections_get_wal_the_configured_synchronous_mode_busy_timeout_and_cache(SqliteSynchronous synchronous, long expected)
    {
        await using var database = SqliteDatabase.Create(new StorageOptions { Path = DbPath, Synchronous = synchronous, CacheKiB = 1234 });
        await using var connection = await database.OpenConnectionAsync(Ct);

        Assert.Equal("wal", Pragma(connection, "journal_mode"));
        Assert.Equal(expected, Pragma(connection, "synchronous"));
        Assert.Equal(30000L, Pragma(connection, "busy_timeout"));
        Assert.Equal(-1234L, Pragma(connection, "cache_size"));
        Assert.Equal(2L, Pragma(connection, "temp_store"));
    }

    [Fact]
    public async Task Writing_before_open_is_refused_with_a_clear_error()
    {
        await using var database = SqliteDatabase.Create(new StorageOptions { Path = DbPath });

        Assert.Equal((0L, 0L), database.WriteStats);
        var error = Assert.Throws<InvalidOperationException>(() => database.Writer);
        Assert.Contains("OpenAsync", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Appends_queued_while_the_writer_is_busy_are_group_committed_in_few_transactions()
    {
        await using var database = SqliteDatabase.Create(new StorageOptions { Path = DbPath });
        await database.OpenAsync(Ct);
        using var inbox = await SqliteInboxStore.OpenAsync(database, Ct);
        var before = database.WriteStats;

        // The writer is held inside a write until every append is queued, so grouping does not depend on timing.
        using var release = new ManualResetEventSlim();
        var holding = database.Writer.ExecuteAsync(_ => { release.Wait(Ct); return 0; }, Ct);
        var appends = Enumerable.Range(0, 500).Select(i => inbox.AppendAsync(Message($"g-{i}"), Ct)).ToList();
        release.Set();
        await holding;
        await Task.WhenAll(appends);

        var (batches, requests) = database.WriteStats;
        Assert.Equal(501, requests - before.Requests);
        Assert.InRange(batches - before.Batches, 1, 10);
        Assert.Equal(500, (await inbox.ReadPendingAsync(0, 1_000, Ct)).Count);
    }

    [Fact]
    public async Task A_failing_write_fails_alone_and_does_not_sink_its_batch_mates()
    {
        await using var database = SqliteDatabase.Create(new StorageOptions { Path = DbPath });
        await database.OpenAsync(Ct);
        using var inbox = await SqliteInboxStore.OpenAsync(database, Ct);

        var before = Enumerable.Range(0, 100).Select(i => inbox.AppendAsync(Message($"a-{i}"), Ct)).ToList();
        var bad = database.Writer.ExecuteAsync(w => w.Command("INSERT INTO no_such_table (x) VALUES (1)").ExecuteNonQuery(), Ct);
        var after = Enumerable.Range(0, 100).Select(i => inbox.AppendAsync(Message($"b-{i}"), Ct)).ToList();

        await Assert.ThrowsAsync<SqliteException>(() => bad);
        var results = await Task.WhenAll(before.Concat(after));
        Assert.All(results, r => Assert.False(r.Duplicate));
        Assert.Equal(200, (await inbox.ReadPendingAsync(0, 1_000, Ct)).Count);
        Assert.Equal(200, inbox.PendingCount);
    }

    [Fact]
    public async Task A_write_that_throws_half_way_leaves_nothing_behind_and_the_caller_gets_its_exception()
    {
        await using var database = SqliteDatabase.Create(new StorageOptions { Path = DbPath });
        await database.OpenAsync(Ct);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => database.Writer.ExecuteAsync<int>(w =>
        {
            w.Command("INSERT INTO meta (key, value) VALUES ('half-way', 1)").ExecuteNonQuery();
            throw new InvalidOperationException("boom");
        }, Ct));

        Assert.Equal("boom", error.Message);
        await using var connection = await database.OpenConnectionAsync(Ct);
        Assert.Equal(0, SqliteDatabase.Scalar(connection, null, "SELECT COUNT(*) FROM meta WHERE key = 'half-way'"));
    }

    [Fact]
    public async Task Writes_queued_before_dispose_are_committed()
    {
        var database = SqliteDatabase.Create(new StorageOptions { Path = DbPath });
        await database.OpenAsync(Ct);
        var inbox = await SqliteInboxStore.OpenAsync(database, Ct);
        var appends = Enumerable.Range(0, 300).Select(i => inbox.AppendAsync(Message($"q-{i}"), Ct)).ToList();

        await database.DisposeAsync();
        var results = await Task.WhenAll(appends);
        inbox.Dispose();

        SqliteConnection.ClearAllPools();
        await using var reopened = SqliteDatabase.Create(new StorageOptions { Path = DbPath });
        Assert.Equal(0, await reopened.OpenAsync(Ct));
        using var reopenedInbox = await SqliteInboxStore.OpenAsync(reopened, Ct);
        Assert.Equal(300, reopenedInbox.PendingCount);
        Assert.Equal(results.Select(r => r.Seq).Order(), (await reopenedInbox.ReadPendingAsync(0, 1_000, Ct)).Select(p => p.Seq));
    }

    private static Envelope Message(string id) => new("in", id, "chat", null, "t", null, 1);

    private static object Pragma(SqliteConnection connection, string name)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA " + name;
        return command.ExecuteScalar()!;
    }

    [Fact]
    public async Task Read_connections_are_bounded_and_a_reader_waits_until_one_is_given_back()
    {
        await using var database = SqliteDatabase.Create(new StorageOptions { Path = DbPath, MaxReadConnections = 2 });
        await database.OpenAsync(Ct);
        using var inbox = await SqliteInboxStore.OpenAsync(database, Ct);

        var first = await database.OpenConnectionAsync(Ct);
        var second = await database.OpenConnectionAsync(Ct);
        Assert.Equal((2, 2), (database.ReadConnectionsInUse, database.ReadConnectionCapacity));
        var third = database.OpenConnectionAsync(Ct);
        await Task.Delay(200);
        Assert.False(third.IsCompleted, "a third reader got a connection past the bound of 2");

        await first.DisposeAsync();
        await using var got = await third.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, database.ReadConnectionsInUse);
        // Disposed twice (sync and async) it gives its place back once.
        second.Dispose();
        await second.DisposeAsync();
        Assert.Equal(1, database.ReadConnectionsInUse);

        // The writer is not counted: writes go on while every read connection is taken.
        await using var busy = await database.OpenConnectionAsync(Ct);
        Assert.Equal(2, database.ReadConnectionsInUse);
        Assert.False((await inbox.AppendAsync(new Envelope("in", "p1", "c", null, "x", null, 1), Ct).WaitAsync(TimeSpan.FromSeconds(10))).Duplicate);
    }
}
