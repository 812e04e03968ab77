using Microsoft.Data.Sqlite;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Messages;
using Tern.Core.Tenancy;
using Tern.StandIns.Postgres;
using Tern.Storage.Copy;
using Tern.Storage.Postgres;
using Tern.Storage.Secrets;
using Tern.Storage.Sqlite;
using Tern.Storage.Tests.Contracts;
using Tern.Storage.Tests.Sqlite;

namespace Tern.Storage.Tests.Copy;

/// <summary><c>tern db copy</c>'s engine part: SQLite to PostgreSQL and back, refusals, and resuming after an interruption.</summary>
public sealed class DatabaseCopyTests : IAsyncLifetime
{
    private const string BotToken = "123456:copy-Secret-token";
    private readonly SqliteStoreFactory _sqlite = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("tern-copy-tests-").FullName;
    private readonly CancellationTokenSource _hangGuard = new(TimeSpan.FromMinutes(3));
    private readonly List<string> _postgresDatabases = [];
    private PrivatePostgres? _server;
    private SecretSealer? _key;

    private CancellationToken Ct => _hangGuard.Token;

    public async Task InitializeAsync()
    {
        _server = await PrivatePostgres.SharedAsync();
        await using var stores = await _sqlite.CreateAsync(Ct);
        await SeedAsync(stores);
        _key = SecretKeyFile.Load(SecretKeyFile.DefaultPath(_sqlite.DatabasePath));
    }

    public async Task DisposeAsync()
    {
        foreach (var database in _postgresDatabases) await _server!.DropDatabaseAsync(database, CancellationToken.None);
        await _sqlite.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        _hangGuard.Dispose();
    }

    [Fact]
    public void The_copy_covers_every_table_of_both_schemas()
    {
        var copied = DatabaseCopy.Tables.Select(t => t.Name).ToHashSet();
        Assert.Equal(copied.Count, DatabaseCopy.Tables.Count);
        Assert.Empty(copied.Intersect(DatabaseCopy.NotCopied));
    }

    [Fact]
    public async Task Every_table_of_a_migrated_database_is_copied_or_named_as_not_copied_on_both_engines()
    {
        foreach (var engine in new IStorageEngine[] { SqliteSource(), await NewPostgresAsync() })
        {
            await using (engine)
            {
                await engine.MigrateAsync(Ct);
                await using var tables = await engine.OpenRawTablesAsync(Ct);
                var known = DatabaseCopy.Tables.Select(t => t.Name).Concat(DatabaseCopy.NotCopied).ToHashSet();
                Assert.All(await tables.TablesAsync(Ct), table => Assert.True(known.Contains(table), $"{engine.Name}: table {table} is neither copied nor named as not copied"));
            }
        }
    }

    [Fact]
    public async Task SQLite_to_PostgreSQL_copies_every_row_verifies_it_and_the_copy_works_as_a_database()
    {
        await using var source = SqliteSource();
        await using var target = await NewPostgresAsync();
        var statuses = new List<CopyStatus>();

        var report = await DatabaseCopy.RunAsync(source, target, new CopyOptions { BatchRows = 7 }, statuses.Add, Ct);

        Assert.True(report.Verified, string.Join("; ", report.Tables.Where(t => !t.Equal)));
        Assert.False(report.Resumed);
        Assert.Equal(Expected, report.Tables.Where(t => Expected.ContainsKey(t.Table)).ToDictionary(t => t.Table, t => t.TargetRows));
        Assert.Contains(statuses, s => s is { Table: "inbox", Done: false } && s.Copied > 0 && s.Copied < s.Total);
        Assert.All(DatabaseCopy.Tables, t => Assert.Contains(statuses, s => s.Table == t.Name && s.Done));

        // The target is a working database: secrets open with the same key, messages and keys are there, ids go on.
        var catalog = await target.Catalog.LoadAsync(Ct);
        Assert.Equal(BotToken, catalog.Channels["tg"].Secret);
        Assert.Equal("whsec_copy", (await target.Tenants.GetWebhookAsync("acme", "wh-1", Ct))!.Secret);
        Assert.NotNull(await target.Tenants.GetKeyAsync("k-acme", Ct));
        var messages = await target.Messages.ListAsync(new MessageFilter("acme", null, null, null, null, null, null, 1, 100), Ct);
        Assert.Equal(29 + 25, messages.Total); // every inbound message of tg and every delivery to out
        Assert.Equal("🙂 привет \"quoted\"", messages.Items.Single(m => m.PlatformId == "p0").Text);
        using var pipeline = await target.OpenPipelineAsync(Ct);
        var next = await pipeline.Inbox.AppendAsync(new Envelope("tg", "after-copy", "-1", null, "new", null, 9_000_000), Ct);
        Assert.True(next.Seq > SourceHighestSeq, $"seq {next.Seq} after the copy reuses a number up to {SourceHighestSeq}");
        Assert.Equal(3, pipeline.Outbox.PendingCount); // one retrying, two never tried
        await using var tables = await target.OpenRawTablesAsync(Ct);
        Assert.DoesNotContain(RawTables.ProgressTable, await tables.TablesAsync(Ct));
    }

    [Fact]
    public async Task PostgreSQL_back_to_SQLite_gives_the_same_checksums_as_the_original()
    {
        await using var original = SqliteSource();
        await using var postgres = await NewPostgresAsync();
        var there = await DatabaseCopy.RunAsync(original, postgres, new CopyOptions(), null, Ct);
        await using var back = SqliteAt(Path.Combine(_folder, "back", "tern.db"));

        var report = await DatabaseCopy.RunAsync(postgres, back, new CopyOptions { BatchRows = 3 }, null, Ct);

        Assert.True(report.Verified, string.Join("; ", report.Tables.Where(t => !t.Equal)));
        Assert.Equal(there.Tables.Select(t => (t.Table, t.SourceRows, t.SourceChecksum)), report.Tables.Select(t => (t.Table, t.TargetRows, t.TargetChecksum)));
        Assert.Equal(BotToken, (await back.Catalog.LoadAsync(Ct)).Channels["tg"].Secret);
    }

    [Fact]
    public async Task A_non_empty_target_is_refused_unless_replace_is_given_and_then_holds_only_the_source()
    {
        await using var source = SqliteSource();
        await using var target = await NewPostgresAsync();
        await target.MigrateAsync(Ct);
        await target.Catalog.AddChannelAsync(new ChannelDefinition("already-here", ChannelTypes.Webhook, null, null, null), Ct);

        var refused = await Assert.ThrowsAsync<CopyRefusedException>(() => DatabaseCopy.RunAsync(source, target, new CopyOptions(), null, Ct));
        Assert.Contains("not empty", refused.Message, StringComparison.Ordinal);
        Assert.Contains("channels: 1 row)", refused.Message, StringComparison.Ordinal);
        Assert.Contains("already-here", (await target.Catalog.LoadAsync(Ct)).Channels.Keys);

        var report = await DatabaseCopy.RunAsync(source, target, new CopyOptions { Replace = true }, null, Ct);

        Assert.True(report.Verified);
        Assert.DoesNotContain("already-here", (await target.Catalog.LoadAsync(Ct)).Channels.Keys);
    }

    [Fact]
    public async Task A_target_sealed_with_another_key_is_refused_before_anything_is_written()
    {
        await using var source = SqliteSource();
        var connection = await _server!.CreateDatabaseAsync(Ct);
        _postgresDatabases.Add(connection);
        await using (var other = PostgresStorageEngine.Create(new StorageOptions { Engine = "postgres", ConnectionString = connection, SecretKey = SecretSealer.NewKey(), Path = Path.Combine(_folder, "x.db") }))
        {
            await other.MigrateAsync(Ct);
        }
        await using var target = PostgresStorageEngine.Create(new StorageOptions { Engine = "postgres", ConnectionString = connection, SecretKey = _key, Path = Path.Combine(_folder, "x.db") });

        await Assert.ThrowsAsync<SecretKeyException>(() => DatabaseCopy.RunAsync(source, target, new CopyOptions(), null, Ct));
    }

    [Fact]
    public async Task A_source_with_a_running_instance_is_refused()
    {
        await using (var stores = await _sqlite.ReopenAsync(Ct))
        {
            Assert.True(await stores.Leases.TryAcquireAsync("scheduler", "host-1:4242", TimeSpan.FromMinutes(10), Ct));
        }
        await using var source = SqliteSource();
        await using var target = await NewPostgresAsync();

        var refused = await Assert.ThrowsAsync<CopyRefusedException>(() => DatabaseCopy.RunAsync(source, target, new CopyOptions(), null, Ct));

        Assert.Contains("host-1:4242", refused.Message, StringComparison.Ordinal);
        Assert.Contains("stop it first", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_interrupted_copy_resumes_after_its_last_committed_batch_and_ends_verified()
    {
        await using var source = SqliteSource();
        await using var target = await NewPostgresAsync();
        using var stop = new CancellationTokenSource();
        var seenBefore = new List<CopyStatus>();

        // Stopped right after a batch of the outbox committed, halfway through.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => DatabaseCopy.RunAsync(source, target, new CopyOptions { BatchRows = 4 }, status =>
        {
            seenBefore.Add(status);
            if (status is { Table: "outbox", Copied: > 4 }) stop.Cancel();
            stop.Token.ThrowIfCancellationRequested();
        }, Ct));
        var interruptedAt = seenBefore[^1];
        Assert.True(interruptedAt.Copied < interruptedAt.Total, "the copy finished before it could be interrupted");

        var statuses = new List<CopyStatus>();
        var report = await DatabaseCopy.RunAsync(source, target, new CopyOptions { BatchRows = 4 }, statuses.Add, Ct);

        Assert.True(report.Resumed);
        Assert.True(report.Verified, string.Join("; ", report.Tables.Where(t => !t.Equal)));
        // Tables done before the interruption are not copied again; the outbox goes on from where it stopped.
        Assert.Contains(statuses, s => s is { Table: "inbox", Done: true, Resumed: true });
        Assert.Equal(interruptedAt.Copied, statuses.First(s => s.Table == "outbox").Copied);
    }

    [Fact]
    public async Task An_unfinished_copy_of_another_source_is_refused_without_replace()
    {
        await using var target = await NewPostgresAsync();
        await using (var source = SqliteSource())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => DatabaseCopy.RunAsync(source, target, new CopyOptions { BatchRows = 2 }, status =>
            {
                if (status is { Table: "inbox", Copied: > 0 }) throw new OperationCanceledException();
            }, Ct));
        }
        // The source changes (a new message) before the copy is run again.
        await using (var stores = await _sqlite.ReopenAsync(Ct))
        {
            await stores.Inbox.AppendAsync(new Envelope("tg", "late", "-1", null, "late", null, 5_000_000), Ct);
        }
        await using var changed = SqliteSource();

        var refused = await Assert.ThrowsAsync<CopyRefusedException>(() => DatabaseCopy.RunAsync(changed, target, new CopyOptions(), null, Ct));
        Assert.Contains("--replace", refused.Message, StringComparison.Ordinal);

        Assert.True((await DatabaseCopy.RunAsync(changed, target, new CopyOptions { Replace = true }, null, Ct)).Verified);
    }

    private static readonly Dictionary<string, long> Expected = new()
    {
        ["tenants"] = 3, // default, acme, globex
        ["api_keys"] = 2,
        ["channels"] = 3,
        ["routes"] = 1,
        ["webhooks"] = 1,
        ["inbox"] = 29, // 30, two deleted, one more
        ["message_links"] = 1,
        ["chat_migrations"] = 1,
        ["restarts"] = 2,
        ["leases"] = 1,
        ["delivery_attempts"] = 2,
    };

    private long SourceHighestSeq { get; set; }

    /// <summary>Something in every table, through the stores: tenants, keys, channels with sealed secrets, routed and pending messages, every delivery state.</summary>
    private async Task SeedAsync(StoreSet stores)
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        await stores.Tenants.AddTenantAsync(new Tenant("acme", 120, at), Ct);
        await stores.Tenants.AddTenantAsync(new Tenant("globex", null, at), Ct);
        await stores.Tenants.AddKeyAsync(new ApiKeyRecord("k-acme", "acme", "ab12", "ci", at, null), Ct);
        await stores.Tenants.AddKeyAsync(new ApiKeyRecord("k-admin", null, "cd34", "ops", at, at.AddDays(1)), Ct);
        await stores.Catalog.AddChannelAsync(new ChannelDefinition("tg", "telegram", BotToken, null, 2, "acme", """{"token":"123456:copy-Secret-token"}"""), Ct);
        await stores.Catalog.AddChannelAsync(new ChannelDefinition("out", ChannelTypes.Webhook, "hook-secret", new Uri("https://receiver.example.test/in"), null, "acme"), Ct);
        await stores.Catalog.AddChannelAsync(new ChannelDefinition("other", ChannelTypes.Webhook, null, new Uri("https://other.example.test/"), null, "globex"), Ct);
        await stores.Catalog.AddRouteAsync(new RouteDefinition("r1", "tg", ["-1", "чат"], [new Destination("out", null)]), Ct);
        await stores.Tenants.AddWebhookAsync(new WebhookSubscription("wh-1", "acme", new Uri("https://acme.example.test/events"), "whsec_copy", ["message.sent"], at), Ct);

        // After the channels were made (the catalog stamps the real clock): older rows are not the tenant's to see.
        var t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1_000;
        var seqs = new List<long>();
        for (var i = 0; i < 30; i++)
        {
            // Text the engines must carry unchanged: emoji, Cyrillic, quotes, and a NUL that PostgreSQL keeps as U+FFFD.
            var text = i switch { 0 => "🙂 привет \"quoted\"", 1 => "nul\0inside", _ => $"message {i}" };
            var appended = await stores.Inbox.AppendAsync(new Envelope("tg", $"p{i}", i % 3 == 0 ? "-1" : "чат", "alice", text, i == 2 ? """[{"type":"photo","id":"AgAD"}]""" : null, t0 + i), Ct);
            seqs.Add(appended.Seq);
        }
        SourceHighestSeq = seqs.Max();
        var lane = new Lane("out", "hook");
        await stores.Outbox.CommitRoutedAsync(seqs.Take(25).ToList(), seqs.Take(25).Select(s => new NewDelivery(s, "r1", lane.ChannelId, lane.Chat, $"{{\"text\":\"m{s}\"}}", t0 + 2_000 + s, TenantId: "acme")).ToList(), Ct);
        var pending = await stores.Outbox.ReadLaneAsync(lane, 100, Ct);
        for (var i = 0; i < 20; i++) await stores.Outbox.MarkSentAsync(pending[i].Id, "sent-" + i, t0 + 3_000 + i, [], i == 0 ? [new MessageLink("tg", "-1", "p0", "out", "hook", "sent-0")] : [], Ct);
        await stores.Outbox.MarkFailedAsync(pending[20].Id, "refused", t0 + 4_000, [], Ct);
        await stores.Outbox.ScheduleRetryAsync(pending[21].Id, lane, t0 + 9_000, "timeout", t0 + 4_100, Ct);
        await stores.Outbox.ScheduleRetryAsync(pending[21].Id, lane, t0 + 9_500, "timeout again", t0 + 4_200, Ct);
        await stores.Outbox.MarkFailedAsync(pending[22].Id, "gave up", t0 + 4_300, [], Ct);
        // The two newest messages are removed by retention in spirit: their numbers must never come back.
        await stores.ExecuteSqlAsync($"DELETE FROM inbox WHERE seq > {seqs[^3]}", Ct);
        await stores.Inbox.AppendAsync(new Envelope("tg", "p-last", "-1", null, "kept", null, t0 + 5_000), Ct);
        SourceHighestSeq = Math.Max(SourceHighestSeq, await stores.ScalarSqlAsync("SELECT MAX(seq) FROM inbox", Ct));
        await stores.ExecuteSqlAsync("INSERT INTO chat_migrations (channel_id, old_chat, new_chat, migrated_at) VALUES ('tg', '-1', '-1001', 6000)", Ct);
        await stores.Restarts.RecordAsync(at, "memory pressure", Ct);
        await stores.Restarts.RecordAsync(at.AddMinutes(5), "memory pressure", Ct);
        // The lease of an instance that stopped: expired, so the copy may run, and copied like any row.
        Assert.True(await stores.Leases.TryAcquireAsync("scheduler", "old-host", TimeSpan.FromMilliseconds(1), Ct));
        var expires = await stores.ScalarSqlAsync("SELECT expires_at FROM leases", Ct);
        while (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() <= expires) await Task.Delay(5, Ct);
    }

    private SqliteStorageEngine SqliteSource() => SqliteAt(_sqlite.DatabasePath);

    private SqliteStorageEngine SqliteAt(string path) => SqliteStorageEngine.Create(new StorageOptions { Path = path, SecretKey = _key });

    private async Task<IStorageEngine> NewPostgresAsync()
    {
        var connection = await _server!.CreateDatabaseAsync(Ct);
        _postgresDatabases.Add(connection);
        return PostgresStorageEngine.Create(new StorageOptions { Engine = PostgresStorageEngine.EngineName, ConnectionString = connection, SecretKey = _key, Path = Path.Combine(_folder, "unused.db") });
    }
}
