using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Tern.Core.Scheduling;
using Tern.Storage.Sqlite;

namespace Tern.Storage.Tests.Sqlite;

/// <summary>The runtime bookkeeping (restart log, leases, retention, maintenance) on a real SQLite file.</summary>
public sealed class SqliteRuntimeStoreTests : IAsyncLifetime
{
    private const int InboxPending = 0, InboxRouted = 1;
    private const int OutboxPending = 0, OutboxSent = 2, OutboxFailed = 3;

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

    private async Task CloseAsync(SqliteDatabase database)
    {
        _open.Remove(database);
        await database.DisposeAsync();
        SqliteConnection.ClearAllPools();
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

    private long Insert(string sql, params (string Name, object? Value)[] parameters)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = sql + "; SELECT last_insert_rowid();";
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private long InsertInbox(string id, int state, DateTimeOffset? routedAt, DateTimeOffset receivedAt) =>
        Insert("INSERT INTO inbox (channel_id, platform_id, chat, text, received_at, state, routed_at) VALUES ('in', $id, 'chat', 'hello', $received, $state, $routed)",
            ("$id", id), ("$received", receivedAt.ToUnixTimeMilliseconds()), ("$state", state), ("$routed", routedAt?.ToUnixTimeMilliseconds()));

    private long InsertOutbox(long? inboxSeq, int state, DateTimeOffset updatedAt, string payload = "{}") =>
        Insert("INSERT INTO outbox (inbox_seq, channel_id, chat, payload, state, attempts, created_at, updated_at) VALUES ($seq, 'out', 'chat', $payload, $state, 1, $at, $at)",
            ("$seq", inboxSeq), ("$payload", payload), ("$state", state), ("$at", updatedAt.ToUnixTimeMilliseconds()));

    private HashSet<long> Ids(string table, string key)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {key} FROM {table}";
        using var reader = command.ExecuteReader();
        var ids = new HashSet<long>();
        while (reader.Read()) ids.Add(reader.GetInt64(0));
        return ids;
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
    public async Task The_restart_count_survives_reopening_the_file()
    {
        var now = DateTimeOffset.UtcNow;
        var (first, store) = await OpenAsync();
        await store.RecordAsync(now.AddHours(-2), "memory pressure", Ct);
        await store.RecordAsync(now.AddMinutes(-10), "memory pressure", Ct);
        await store.RecordAsync(now.AddMinutes(-1), "memory pressure", Ct);
        Assert.Equal(2, await store.CountSinceAsync(now.AddHours(-1), Ct));
        await CloseAsync(first);

        var (_, reopened) = await OpenAsync();

        Assert.Equal(2, await reopened.CountSinceAsync(now.AddHours(-1), Ct));
        Assert.Equal(3, await reopened.CountSinceAsync(now.AddHours(-3), Ct));
        Assert.Equal(0, await reopened.CountSinceAsync(now, Ct));
        await reopened.RecordAsync(now, "memory pressure", Ct);
        Assert.Equal(3, await reopened.CountSinceAsync(now.AddHours(-1), Ct));
        Assert.Equal(4, Scalar("SELECT COUNT(*) FROM restarts"));
    }

    [Fact]
    public async Task A_lease_is_taken_renewed_refused_to_others_and_released_by_its_holder_only()
    {
        var (_, store) = await OpenAsync();
        var minute = TimeSpan.FromMinutes(1);

        Assert.True(await store.TryAcquireAsync("scheduler", "a", minute, Ct));
        var firstExpiry = Scalar("SELECT expires_at FROM leases WHERE name = 'scheduler'");
        Assert.False(await store.TryAcquireAsync("scheduler", "b", minute, Ct));
        Assert.True(await store.TryAcquireAsync("scheduler", "a", TimeSpan.FromMinutes(5), Ct));
        Assert.True(Scalar("SELECT expires_at FROM leases WHERE name = 'scheduler'") > firstExpiry, "renewing did not move the expiry");
        // Other names are independent.
        Assert.True(await store.TryAcquireAsync("other", "b", minute, Ct));

        await store.ReleaseAsync("scheduler", "b", Ct); // not b's: nothing happens
        Assert.False(await store.TryAcquireAsync("scheduler", "b", minute, Ct));

        await store.ReleaseAsync("scheduler", "a", Ct);
        Assert.True(await store.TryAcquireAsync("scheduler", "b", minute, Ct));
        Assert.False(await store.TryAcquireAsync("scheduler", "a", minute, Ct));
        Assert.Equal(1, Scalar("SELECT COUNT(*) FROM leases WHERE name = 'scheduler' AND holder = 'b'"));
    }

    [Fact]
    public async Task An_expired_lease_is_taken_over_and_its_old_holder_is_then_refused()
    {
        var (_, store) = await OpenAsync();
        Assert.True(await store.TryAcquireAsync("scheduler", "a", TimeSpan.FromMinutes(1), Ct));
        Assert.False(await store.TryAcquireAsync("scheduler", "b", TimeSpan.FromMinutes(1), Ct));

        // a renews for a moment only, then vanishes without releasing.
        Assert.True(await store.TryAcquireAsync("scheduler", "a", TimeSpan.FromMilliseconds(1), Ct));
        while (!await store.TryAcquireAsync("scheduler", "b", TimeSpan.FromMinutes(1), Ct))
        {
            Ct.ThrowIfCancellationRequested();
            await Task.Delay(5, Ct);
        }

        Assert.False(await store.TryAcquireAsync("scheduler", "a", TimeSpan.FromMinutes(1), Ct));
        Assert.Equal(1, Scalar("SELECT COUNT(*) FROM leases WHERE name = 'scheduler' AND holder = 'b'"));
    }

    [Fact]
    public async Task Leases_are_shared_by_two_openings_of_one_file_like_two_processes()
    {
        var (_, first) = await OpenAsync();
        var (_, second) = await OpenAsync();

        Assert.True(await first.TryAcquireAsync("scheduler", "first", TimeSpan.FromMinutes(1), Ct));
        Assert.False(await second.TryAcquireAsync("scheduler", "second", TimeSpan.FromMinutes(1), Ct));
        await first.ReleaseAsync("scheduler", "first", Ct);
        Assert.True(await second.TryAcquireAsync("scheduler", "second", TimeSpan.FromMinutes(1), Ct));
    }

    [Fact]
    public async Task Purge_deletes_only_finished_rows_older_than_the_cutoff_and_never_an_inbox_row_with_a_pending_delivery()
    {
        var (_, store) = await OpenAsync();
        var cutoff = DateTimeOffset.UtcNow.AddDays(-7);
        var old = cutoff.AddHours(-1);
        var recent = cutoff.AddHours(1);

        // Routed long ago, delivered long ago: both go.
        var i1 = InsertInbox("1", InboxRouted, old, old);
        var o1 = InsertOutbox(i1, OutboxSent, old);
        // Routed long ago but its delivery is still pending (retrying for a week): both stay.
        var i2 = InsertInbox("2", InboxRouted, old, old);
        var o2 = InsertOutbox(i2, OutboxPending, old);
        // Routed after the cutoff: stays.
        var i3 = InsertInbox("3", InboxRouted, recent, old);
        // Never routed (pending), however old: stays.
        var i4 = InsertInbox("4", InboxPending, null, old.AddDays(-30));
        // Routed long ago, failed for good long ago: both go.
        var i5 = InsertInbox("5", InboxRouted, old, old);
        var o5 = InsertOutbox(i5, OutboxFailed, old);
        // Routed long ago, one delivery finished long ago and one finished recently: the inbox row and the old delivery go.
        var i6 = InsertInbox("6", InboxRouted, old, old);
        var o6a = InsertOutbox(i6, OutboxSent, old);
        var o6b = InsertOutbox(i6, OutboxSent, recent);
        // Routed long ago to no destination at all: goes.
        var i7 = InsertInbox("7", InboxRouted, old, old);
        // Deliveries without an inbox row (events): finished and old goes, pending stays.
        var o8 = InsertOutbox(null, OutboxSent, old);
        var o9 = InsertOutbox(null, OutboxPending, old);

        var (inbox, outbox) = await store.PurgeAsync(cutoff, 1000, Ct);

        Assert.Equal((4, 4), (inbox, outbox));
        var inboxLeft = Ids("inbox", "seq");
        var outboxLeft = Ids("outbox", "id");
        Assert.Equal(new HashSet<long> { i2, i3, i4 }, inboxLeft);
        Assert.Equal(new HashSet<long> { o2, o6b, o9 }, outboxLeft);
        Assert.All(new[] { i1, i5, i6, i7 }, seq => Assert.DoesNotContain(seq, inboxLeft));
        Assert.All(new[] { o1, o5, o6a, o8 }, id => Assert.DoesNotContain(id, outboxLeft));

        Assert.Equal((0, 0), await store.PurgeAsync(cutoff, 1000, Ct));
    }

    [Fact]
    public async Task Purge_deletes_at_most_a_batch_of_each_per_call()
    {
        var (_, store) = await OpenAsync();
        var cutoff = DateTimeOffset.UtcNow.AddDays(-7);
        var old = cutoff.AddMinutes(-5);
        for (var i = 0; i < 10; i++) InsertOutbox(InsertInbox("m" + i, InboxRouted, old, old), OutboxSent, old);

        var rounds = new List<(int, int)>();
        (int Inbox, int Outbox) result;
        do
        {
            result = await store.PurgeAsync(cutoff, 3, Ct);
            rounds.Add(result);
        }
        while (result != (0, 0));

        Assert.Equal(new[] { (3, 3), (3, 3), (3, 3), (1, 1), (0, 0) }, rounds);
        Assert.Equal(0, Scalar("SELECT COUNT(*) FROM inbox"));
        Assert.Equal(0, Scalar("SELECT COUNT(*) FROM outbox"));
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

    [Fact]
    public async Task Two_schedulers_on_one_database_file_run_jobs_only_while_holding_the_lease()
    {
        var (_, storeA) = await OpenAsync();
        var (_, storeB) = await OpenAsync();
        var runsA = 0;
        var runsB = 0;
        var tick = TimeSpan.FromMilliseconds(20);
        var a = new JobScheduler(storeA, [new ScheduledJob("job", TimeSpan.Zero, _ => Task.FromResult(Interlocked.Increment(ref runsA)))],
            "a", TimeProvider.System, NullLogger<JobScheduler>.Instance, tick);
        var b = new JobScheduler(storeB, [new ScheduledJob("job", TimeSpan.Zero, _ => Task.FromResult(Interlocked.Increment(ref runsB)))],
            "b", TimeProvider.System, NullLogger<JobScheduler>.Instance, tick);
        using var stopA = new CancellationTokenSource();
        using var stopB = new CancellationTokenSource();

        var runA = a.RunAsync(stopA.Token);
        while (Volatile.Read(ref runsA) == 0) await Task.Delay(5, Ct);
        var runB = b.RunAsync(stopB.Token);
        while (Volatile.Read(ref runsA) < 30) await Task.Delay(5, Ct);

        Assert.Equal(0, Volatile.Read(ref runsB));
        Assert.True(a.IsLeader);
        Assert.False(b.IsLeader);

        await stopA.CancelAsync();
        await runA.WaitAsync(Ct);
        var finalA = Volatile.Read(ref runsA);
        while (Volatile.Read(ref runsB) < 10) await Task.Delay(5, Ct);

        Assert.True(b.IsLeader);
        Assert.Equal(finalA, Volatile.Read(ref runsA));
        Assert.Equal(1, Scalar("SELECT COUNT(*) FROM leases WHERE name = 'scheduler' AND holder = 'b'"));
        await stopB.CancelAsync();
        await runB.WaitAsync(Ct);
        Assert.Equal(0, Scalar("SELECT COUNT(*) FROM leases"));
    }
}
