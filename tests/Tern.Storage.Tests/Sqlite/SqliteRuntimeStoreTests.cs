using System.Globalization;
using Microsoft.Data.Sqlite;
using Tern.Storage.Sqlite;

namespace Tern.Storage.Tests.Sqlite;

/// <summary>What only SQLite's housekeeping does (incremental vacuum); the restart log, leases and retention are <c>RuntimeContract</c>.</summary>
public sealed class SqliteRuntimeStoreTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tern-storage-tests", Guid.NewGuid().ToString("N"));
    private readonly CancellationTokenSource _hangGuard = new(TimeSpan.FromMinutes(2));
    private readonly List<SqliteDatabase> _open = [];

    private CancellationToken Ct => _hangGuard.Token;

    private string DbPath => Path.Combine(_folder, "tern.db");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var database in _open) await database.DisposeAsync();
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
        _hangGuard.Dispose();
    }

    /// <summary>Opens the file like a starting process does (migrations, writer).</summary>
    private async Task<(SqliteDatabase Database, SqliteRuntimeStore Store)> OpenAsync()
    {
        var database = SqliteDatabase.Create(new StorageOptions { Path = DbPath });
        _open.Add(database);
        await database.OpenAsync(Ct);
        return (database, new SqliteRuntimeStore(database));
    }

    private SqliteConnection Connect()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DbPath, Pooling = false, DefaultTimeout = 30 }.ToString());
        connection.Open();
        return connection;
    }

    private long Scalar(string sql)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task A_fresh_database_uses_incremental_auto_vacuum()
    {
        var (database, _) = await OpenAsync();

        await using var connection = await database.OpenConnectionAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA auto_vacuum";
        Assert.Equal(2L, Convert.ToInt64(await command.ExecuteScalarAsync(Ct), CultureInfo.InvariantCulture));
        Assert.Equal(2L, Scalar("PRAGMA auto_vacuum"));
    }

    [Fact]
    public async Task Maintenance_runs_and_hands_freed_pages_back_to_the_file_system()
    {
        var (_, store) = await OpenAsync();
        var old = DateTimeOffset.UtcNow.AddDays(-30);
        var payload = new string('x', 2000);
        using (var connection = Connect())
        using (var transaction = connection.BeginTransaction())
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO outbox (inbox_seq, channel_id, chat, payload, state, attempts, created_at, updated_at) VALUES (NULL, 'out', 'chat', $p, 2, 1, $at, $at)";
            command.Parameters.AddWithValue("$p", payload);
            command.Parameters.AddWithValue("$at", old.ToUnixTimeMilliseconds());
            for (var i = 0; i < 1000; i++) command.ExecuteNonQuery();
            transaction.Commit();
        }
        var pagesFull = Scalar("PRAGMA page_count");

        var (_, outboxDeleted) = await store.PurgeAsync(DateTimeOffset.UtcNow.AddDays(-7), 5000, Ct);
        Assert.Equal(1000, outboxDeleted);
        var freeBefore = Scalar("PRAGMA freelist_count");
        Assert.True(freeBefore > 100, $"only {freeBefore} free pages after deleting ~2 MB of rows");

        await store.MaintainAsync(Ct);
        await store.MaintainAsync(Ct); // and again: nothing left to do is fine

        var freeAfter = Scalar("PRAGMA freelist_count");
        var pagesAfter = Scalar("PRAGMA page_count");
        Assert.True(freeAfter < freeBefore, $"free pages {freeBefore} -> {freeAfter}: incremental vacuum did nothing");
        Assert.True(pagesAfter < pagesFull, $"pages {pagesFull} -> {pagesAfter}: the file did not shrink");
        Assert.Equal("ok", Convert.ToString(ScalarObject("PRAGMA integrity_check"), CultureInfo.InvariantCulture));
    }

    private object? ScalarObject(string sql)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
