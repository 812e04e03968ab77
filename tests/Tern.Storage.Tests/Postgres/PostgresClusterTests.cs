using Npgsql;
using Tern.Core.Cluster;
using Tern.Core.Delivery;
using Tern.Core.Messages;
using Tern.Core.Pipeline;
using Tern.StandIns.Postgres;
using Tern.Storage.Postgres;

namespace Tern.Storage.Tests.Postgres;

/// <summary>
/// Cluster mode on one database: lanes claimed by one live instance at a time, taken over when the owner's instance lease
/// lapses, routing committed only by the router lease's holder, backlog counts that follow the other instances.
/// </summary>
public sealed class PostgresClusterTests : IAsyncLifetime
{
    private static readonly TimeSpan Life = TimeSpan.FromMinutes(5);
    private readonly CancellationTokenSource _hangGuard = new(TimeSpan.FromMinutes(2));
    private readonly List<Instance> _instances = [];
    private readonly string _folder = Directory.CreateTempSubdirectory("tern-pg-cluster-").FullName;
    private PrivatePostgres? _server;
    private string _connectionString = "";

    private CancellationToken Ct => _hangGuard.Token;

    public async Task InitializeAsync()
    {
        _server = await PrivatePostgres.SharedAsync();
        _connectionString = await _server.CreateDatabaseAsync(Ct);
    }

    public async Task DisposeAsync()
    {
        foreach (var instance in _instances) await instance.DisposeAsync();
        await _server!.DropDatabaseAsync(_connectionString, CancellationToken.None);
        Directory.Delete(_folder, recursive: true);
        _hangGuard.Dispose();
    }

    [Fact]
    public async Task A_lane_claimed_by_a_live_instance_is_not_claimed_by_another_and_its_owner_claims_it_again()
    {
        var a = await StartAsync("a");
        var b = await StartAsync("b");
        await AddLanesAsync(a, 10);

        var ofA = await a.Outbox.ClaimDueLanesAsync(long.MaxValue, 4, [], Ct);
        var ofB = await b.Outbox.ClaimDueLanesAsync(long.MaxValue, 100, [], Ct);

        Assert.Equal(4, ofA.Count);
        Assert.Equal(6, ofB.Count);
        Assert.Empty(ofA.Intersect(ofB));
        Assert.Equal(Chats(ofA), Chats(await a.Outbox.ClaimDueLanesAsync(long.MaxValue, 100, [], Ct)));
        Assert.Equal(Chats(ofB), Chats(await b.Outbox.ClaimDueLanesAsync(long.MaxValue, 100, [], Ct)));
    }

    [Fact]
    public async Task The_lanes_of_an_instance_whose_lease_lapsed_are_taken_over_and_its_late_release_changes_nothing()
    {
        var a = await StartAsync("a");
        var b = await StartAsync("b");
        await AddLanesAsync(a, 5);
        var ofA = await a.Outbox.ClaimDueLanesAsync(long.MaxValue, 100, [], Ct);
        Assert.Equal(5, ofA.Count);
        Assert.Empty(await b.Outbox.ClaimDueLanesAsync(long.MaxValue, 100, [], Ct));

        // a stops renewing (killed, or cut off): its lease runs out by the database's clock.
        await ExecuteAsync($"UPDATE leases SET expires_at = 0 WHERE name = '{LeaseNames.Instance("a")}'");
        var taken = await b.Outbox.ClaimDueLanesAsync(long.MaxValue, 100, [], Ct);
        Assert.Equal(Chats(ofA), Chats(taken));

        // a comes back and lets go of a lane it no longer owns: b keeps it.
        await a.Outbox.ReleaseLaneAsync(ofA[0], 1, Ct);
        await a.Outbox.DeferLaneAsync(ofA[1], 2, Ct);
        Assert.Equal("b", await OwnerAsync(ofA[0]));
        Assert.Equal("b", await OwnerAsync(ofA[1]));

        // b lets go: the lane is anyone's again.
        await b.Outbox.ReleaseLaneAsync(ofA[0], 1, Ct);
        Assert.Null(await OwnerAsync(ofA[0]));
    }

    [Fact]
    public async Task The_holder_of_a_channels_lease_takes_its_lanes_from_a_live_instance_that_lost_the_lease()
    {
        var a = await StartAsync("a");
        var b = await StartAsync("b");
        await AddLanesAsync(a, 3);
        Assert.Equal(3, (await a.Outbox.ClaimDueLanesAsync(long.MaxValue, 100, [], Ct)).Count);
        Assert.Empty(await b.Outbox.ClaimDueLanesAsync(long.MaxValue, 100, [], Ct));

        // b now holds the bot's lease (a lost it but lives): only b sends for the channel, so a's lanes of it are b's to take.
        Assert.True(await b.Leases.TryAcquireAsync(LeaseNames.Channel("out"), "b", Life, Ct));

        Assert.Equal(3, (await b.Outbox.ClaimDueLanesAsync(long.MaxValue, 100, [], Ct)).Count);
        Assert.Equal(3, await ScalarAsync("SELECT COUNT(*) FROM lanes WHERE owner = 'b'"));
    }

    [Fact]
    public async Task Three_instances_claiming_at_once_never_share_a_lane()
    {
        var instances = new[] { await StartAsync("a"), await StartAsync("b"), await StartAsync("c") };
        await AddLanesAsync(instances[0], 300);

        var claims = await Task.WhenAll(instances.Select(i => Task.Run(async () =>
        {
            var mine = new List<Lane>();
            for (var round = 0; round < 10; round++) mine.AddRange(await i.Outbox.ClaimDueLanesAsync(long.MaxValue, 20, [], Ct));
            return mine.Distinct().ToList();
        })));

        var all = claims.SelectMany(c => c).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(all.Count, await ScalarAsync("SELECT COUNT(*) FROM lanes WHERE owner IS NOT NULL"));
        for (var i = 0; i < instances.Length; i++)
        {
            Assert.Equal(claims[i].Count, await ScalarAsync($"SELECT COUNT(*) FROM lanes WHERE owner = '{instances[i].Id}'"));
        }
    }

    [Fact]
    public async Task Only_the_router_leases_holder_commits_routing()
    {
        var a = await StartAsync("a");
        var b = await StartAsync("b");
        var seq = (await a.Inbox.AppendAsync(new Envelope("in", "m-1", "chat-1", null, "hi", null, 1_000, MessageKind.Message, "m-1", null, null, null), Ct)).Seq;
        Assert.True(await b.Leases.TryAcquireAsync(LeaseNames.Router, "b", Life, Ct));

        await a.Outbox.CommitRoutedAsync([seq], [Delivery(seq, "chat-1")], Ct);
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM inbox WHERE state = 0"));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM outbox"));

        await b.Outbox.CommitRoutedAsync([seq], [Delivery(seq, "chat-1")], Ct);
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM inbox WHERE state = 0"));
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM outbox"));
    }

    [Fact]
    public async Task An_inbox_append_waits_for_the_cluster_wide_order_lock_so_sequence_numbers_commit_in_order()
    {
        var a = await StartAsync("a");
        await using var other = new NpgsqlConnection(_connectionString);
        await other.OpenAsync(Ct);
        await using var holding = await other.BeginTransactionAsync(Ct);
        // Another instance's batch holds the lock: its numbers are taken and not yet committed.
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_xact_lock(8387235699588227704)", other, holding)) await take.ExecuteNonQueryAsync(Ct);

        var append = a.Inbox.AppendAsync(new Envelope("in", "m-1", "chat-1", null, "hi", null, 1_000, MessageKind.Message, "m-1", null, null, null), Ct);
        await WaitForAsync(() => ScalarAsync("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").GetAwaiter().GetResult() == 1,
            "a's append waits for the lock");
        Assert.False(append.IsCompleted);
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM inbox"));

        await holding.CommitAsync(Ct);
        Assert.False((await append).Duplicate);
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM inbox"));
    }

    [Fact]
    public async Task Another_instances_appends_and_deliveries_are_notified_when_they_commit()
    {
        var a = await StartAsync("a");
        var b = await StartAsync("b");
        var (appended, added) = (0, 0);
        await using var listener = new PostgresNotifications(b.Database, () => Interlocked.Increment(ref appended), () => Interlocked.Increment(ref added));
        // Listening: it looks once on its own (changes made while it was not listening), then only when told.
        await WaitForAsync(() => Volatile.Read(ref appended) == 1 && Volatile.Read(ref added) == 1, "b listens");

        await a.Inbox.AppendAsync(new Envelope("in", "m-1", "chat-1", null, "hi", null, 1_000, MessageKind.Message, "m-1", null, null, null), Ct);
        await WaitForAsync(() => Volatile.Read(ref appended) == 2, "b is told of a's append");
        Assert.Equal(1, Volatile.Read(ref added));

        await AddLanesAsync(a, 2);
        await WaitForAsync(() => Volatile.Read(ref added) == 2, "b is told of a's deliveries");
        Assert.Equal(2, Volatile.Read(ref appended));
        Assert.Equal(2, listener.Received);
    }

    [Fact]
    public async Task A_lane_let_go_by_one_instance_while_another_adds_to_it_is_never_dropped_with_a_delivery_pending()
    {
        var a = await StartAsync("a");
        var b = await StartAsync("b");
        var lane = new Lane("out", "chat-race");
        var orphans = 0L;
        for (var round = 0; round < 300 && orphans == 0; round++)
        {
            // a adds to the lane (the router, or an API send) while b sends what the lane had and lets it go.
            var adding = Task.Run(() => a.Outbox.AddAsync([Delivery(null, lane.Chat)], Ct));
            var sending = Task.Run(async () =>
            {
                foreach (var pending in await b.Outbox.ReadLaneAsync(lane, 100, Ct)) await b.Outbox.MarkSentAsync(pending.Id, "p", 1, [], [], Ct);
                await b.Outbox.ReleaseLaneAsync(lane, 1, Ct);
            });
            await Task.WhenAll(adding, sending);
            orphans = await ScalarAsync(
                "SELECT COUNT(*) FROM outbox o WHERE o.state = 0 AND NOT EXISTS (SELECT 1 FROM lanes l WHERE l.channel_id = o.channel_id AND l.chat = o.chat)");
        }

        Assert.Equal(0, orphans);
    }

    [Fact]
    public async Task An_instance_backlog_count_follows_what_the_other_instances_append_and_route()
    {
        var a = await StartAsync("a");
        var b = await StartAsync("b");
        for (var i = 0; i < 5; i++) await a.Inbox.AppendAsync(new Envelope("in", $"m-{i}", "chat-1", null, "hi", null, 1_000, MessageKind.Message, $"m-{i}", null, null, null), Ct);

        Assert.Equal(5, a.Inbox.PendingCount);
        await WaitForAsync(() => b.Inbox.PendingCount == 5, "b's inbox count follows a's appends");
        await AddLanesAsync(a, 3);
        await WaitForAsync(() => b.Outbox.PendingCount == 3, "b's outbox count follows a's deliveries");
    }

    private static string[] Chats(IEnumerable<Lane> lanes) => lanes.Select(l => l.Chat).Order(StringComparer.Ordinal).ToArray();

    private static NewDelivery Delivery(long? seq, string chat) => new(seq, null, "out", chat, "{\"text\":\"x\"}", 1_000);

    private async Task AddLanesAsync(Instance instance, int lanes) =>
        await instance.Outbox.AddAsync(Enumerable.Range(0, lanes).Select(i => Delivery(null, $"chat-{i:D4}")).ToArray(), Ct);

    private async Task<Instance> StartAsync(string id)
    {
        var database = PostgresDatabase.Create(new StorageOptions
        {
            Engine = PostgresStorageEngine.EngineName,
            ConnectionString = _connectionString,
            Path = Path.Combine(_folder, "tern.db"),
            ClusterInstanceId = id,
        });
        await database.OpenAsync(Ct);
        var inbox = await PostgresInboxStore.OpenAsync(database, Ct);
        var outbox = await PostgresOutboxStore.OpenAsync(database, inbox, Ct);
        var instance = new Instance(id, database, inbox, outbox, new PostgresRuntimeStore(database));
        _instances.Add(instance);
        // Alive: what the instance's heartbeat keeps renewed.
        Assert.True(await instance.Leases.TryAcquireAsync(LeaseNames.Instance(id), id, Life, Ct));
        return instance;
    }

    private async Task WaitForAsync(Func<bool> condition, string what)
    {
        while (!condition())
        {
            if (Ct.IsCancellationRequested) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(50, CancellationToken.None);
        }
    }

    private async Task<string?> OwnerAsync(Lane lane)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT owner FROM lanes WHERE channel_id = @c AND chat = @chat", connection);
        command.Parameters.AddWithValue("c", lane.ChannelId);
        command.Parameters.AddWithValue("chat", lane.Chat);
        return await command.ExecuteScalarAsync(Ct) as string;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed record Instance(string Id, PostgresDatabase Database, PostgresInboxStore Inbox, PostgresOutboxStore Outbox, PostgresRuntimeStore Leases) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Outbox.Dispose();
            Inbox.Dispose();
            await Database.DisposeAsync();
        }
    }
}
