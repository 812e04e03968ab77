using Microsoft.Extensions.Logging.Abstractions;
using Tern.Core.Delivery;
using Tern.Core.Scheduling;

namespace Tern.Storage.Tests.Contracts;

/// <summary>
/// The runtime bookkeeping every engine keeps: the restart log, the leases that make one scheduler among instances
/// sharing a database, retention and housekeeping. The engine's own housekeeping effects (SQLite's vacuum) are that
/// engine's tests.
/// </summary>
public abstract class RuntimeContract<TFactory> : StoreContract<TFactory>
    where TFactory : StoreFactory, new()
{
    private static readonly Lane Out = new("out", "chat");

    [Fact]
    public async Task The_restart_count_survives_reopening_the_database()
    {
        var now = DateTimeOffset.UtcNow;
        await Stores.Restarts.RecordAsync(now.AddHours(-2), "memory pressure", Ct);
        await Stores.Restarts.RecordAsync(now.AddMinutes(-10), "memory pressure", Ct);
        await Stores.Restarts.RecordAsync(now.AddMinutes(-1), "memory pressure", Ct);
        Assert.Equal(2, await Stores.Restarts.CountSinceAsync(now.AddHours(-1), Ct));

        await ReopenAsync();

        Assert.Equal(2, await Stores.Restarts.CountSinceAsync(now.AddHours(-1), Ct));
        Assert.Equal(3, await Stores.Restarts.CountSinceAsync(now.AddHours(-3), Ct));
        Assert.Equal(0, await Stores.Restarts.CountSinceAsync(now.AddMinutes(1), Ct));
        await Stores.Restarts.RecordAsync(now, "memory pressure", Ct);
        Assert.Equal(3, await Stores.Restarts.CountSinceAsync(now.AddHours(-1), Ct));
        Assert.Equal(4, await Stores.ScalarSqlAsync("SELECT COUNT(*) FROM restarts", Ct));
    }

    [Fact]
    public async Task A_lease_is_taken_renewed_refused_to_others_and_released_by_its_holder_only()
    {
        var leases = Stores.Leases;
        var minute = TimeSpan.FromMinutes(1);

        Assert.True(await leases.TryAcquireAsync("scheduler", "a", minute, Ct));
        var firstExpiry = await Stores.ScalarSqlAsync("SELECT expires_at FROM leases WHERE name = 'scheduler'", Ct);
        Assert.False(await leases.TryAcquireAsync("scheduler", "b", minute, Ct));
        Assert.True(await leases.TryAcquireAsync("scheduler", "a", TimeSpan.FromMinutes(5), Ct));
        Assert.True(await Stores.ScalarSqlAsync("SELECT expires_at FROM leases WHERE name = 'scheduler'", Ct) > firstExpiry, "renewing did not move the expiry");
        // Other names are independent.
        Assert.True(await leases.TryAcquireAsync("other", "b", minute, Ct));

        await leases.ReleaseAsync("scheduler", "b", Ct); // not b's: nothing happens
        Assert.False(await leases.TryAcquireAsync("scheduler", "b", minute, Ct));

        await leases.ReleaseAsync("scheduler", "a", Ct);
        Assert.True(await leases.TryAcquireAsync("scheduler", "b", minute, Ct));
        Assert.False(await leases.TryAcquireAsync("scheduler", "a", minute, Ct));
        Assert.Equal(1, await Stores.ScalarSqlAsync("SELECT COUNT(*) FROM leases WHERE name = 'scheduler' AND holder = 'b'", Ct));
    }

    [Fact]
    public async Task An_expired_lease_is_taken_over_and_its_old_holder_is_then_refused()
    {
        var leases = Stores.Leases;
        Assert.True(await leases.TryAcquireAsync("scheduler", "a", TimeSpan.FromMinutes(1), Ct));
        Assert.False(await leases.TryAcquireAsync("scheduler", "b", TimeSpan.FromMinutes(1), Ct));

        // a renews for a moment only, then vanishes without releasing; b keeps trying, as a scheduler's tick does.
        Assert.True(await leases.TryAcquireAsync("scheduler", "a", TimeSpan.FromMilliseconds(1), Ct));
        while (!await leases.TryAcquireAsync("scheduler", "b", TimeSpan.FromMinutes(1), Ct)) await Task.Delay(5, Ct);

        Assert.False(await leases.TryAcquireAsync("scheduler", "a", TimeSpan.FromMinutes(1), Ct));
        Assert.Equal(1, await Stores.ScalarSqlAsync("SELECT COUNT(*) FROM leases WHERE name = 'scheduler' AND holder = 'b'", Ct));
    }

    [Fact]
    public async Task Leases_are_shared_by_two_openings_of_one_database_like_two_processes()
    {
        await using var second = await Factory.OpenAnotherAsync(Ct);

        Assert.True(await Stores.Leases.TryAcquireAsync("scheduler", "first", TimeSpan.FromMinutes(1), Ct));
        Assert.False(await second.Leases.TryAcquireAsync("scheduler", "second", TimeSpan.FromMinutes(1), Ct));
        await Stores.Leases.ReleaseAsync("scheduler", "first", Ct);
        Assert.True(await second.Leases.TryAcquireAsync("scheduler", "second", TimeSpan.FromMinutes(1), Ct));
        Assert.False(await Stores.Leases.TryAcquireAsync("scheduler", "first", TimeSpan.FromMinutes(1), Ct));
    }

    [Fact]
    public async Task Many_instances_racing_for_a_free_lease_let_exactly_one_win()
    {
        var openings = new List<StoreSet>();
        try
        {
            for (var i = 0; i < 4; i++) openings.Add(await Factory.OpenAnotherAsync(Ct));
            var contenders = openings.Prepend(Stores).SelectMany((set, i) => Enumerable.Range(0, 5).Select(j => (set, holder: $"i{i}-{j}"))).ToList();

            var results = await Task.WhenAll(contenders.Select(c => Task.Run(() => c.set.Leases.TryAcquireAsync("scheduler", c.holder, TimeSpan.FromMinutes(1), Ct))));

            Assert.Equal(1, results.Count(won => won));
            var winner = contenders[Array.IndexOf(results, true)].holder;
            Assert.Equal(1, await Stores.ScalarSqlAsync($"SELECT COUNT(*) FROM leases WHERE name = 'scheduler' AND holder = '{winner}'", Ct));
        }
        finally
        {
            foreach (var set in openings) await set.DisposeAsync();
        }
    }

    [Fact]
    public async Task Purge_deletes_only_finished_rows_older_than_the_cutoff_and_never_an_inbox_row_with_a_pending_delivery()
    {
        var now = DateTimeOffset.UtcNow;
        var cutoff = now.AddDays(-7);
        var old = cutoff.AddHours(-1).ToUnixTimeMilliseconds();
        var recent = cutoff.AddHours(1).ToUnixTimeMilliseconds();

        // Routed long ago, delivered long ago: both go.
        var (i1, o1) = await RoutedAsync(old, DeliveryState.Sent, old);
        // Routed long ago but its delivery is still pending (retrying for a week): both stay.
        var (i2, o2) = await RoutedAsync(old, DeliveryState.Pending, old);
        // Routed after the cutoff: stays.
        var (i3, _) = await RoutedAsync(recent, null, 0);
        // Never routed (pending), however old: stays.
        var i4 = (await Stores.Inbox.AppendAsync(Message(NextPlatformId(), receivedAtMs: cutoff.AddDays(-30).ToUnixTimeMilliseconds()), Ct)).Seq;
        // Routed long ago, failed for good long ago: both go.
        var (i5, o5) = await RoutedAsync(old, DeliveryState.Failed, old);
        // Routed long ago, one delivery finished long ago and one finished recently: the inbox row and the old delivery go.
        var (i6, o6a) = await RoutedAsync(old, DeliveryState.Sent, old);
        var o6b = await DeliveryOfAsync(i6, DeliveryState.Sent, recent);
        // Routed long ago to no destination at all: goes.
        var (i7, _) = await RoutedAsync(old, null, 0);
        // Deliveries without an inbox row (events): finished and old goes, pending stays.
        var o8 = await DeliveryOfAsync(null, DeliveryState.Sent, old);
        var o9 = await DeliveryOfAsync(null, DeliveryState.Pending, old);

        var (inbox, outbox) = await Stores.Retention.PurgeAsync(cutoff, 1000, Ct);

        Assert.Equal((4, 4), (inbox, outbox));
        foreach (var seq in new[] { i2, i3, i4 }) Assert.True(await InboxRowExistsAsync(seq), $"inbox row {seq} was purged");
        foreach (var seq in new[] { i1, i5, i6, i7 }) Assert.False(await InboxRowExistsAsync(seq), $"inbox row {seq} was kept");
        foreach (var id in new[] { o2, o6b, o9 }) Assert.NotNull(await Stores.ReadDeliveryAsync(id, Ct));
        foreach (var id in new[] { o1, o5, o6a, o8 }) Assert.Null(await Stores.ReadDeliveryAsync(id, Ct));
        Assert.Equal(3, await Stores.CountInboxRowsAsync(Ct));
        Assert.Equal(3, await Stores.CountDeliveriesAsync(Ct));

        Assert.Equal((0, 0), await Stores.Retention.PurgeAsync(cutoff, 1000, Ct));
        // The backlog is what it was: the two pending deliveries.
        Assert.Equal(2, Stores.Outbox.PendingCount);
    }

    [Fact]
    public async Task Purge_deletes_at_most_a_batch_of_each_per_call()
    {
        var cutoff = DateTimeOffset.UtcNow.AddDays(-7);
        var old = cutoff.AddMinutes(-5).ToUnixTimeMilliseconds();
        for (var i = 0; i < 10; i++) await RoutedAsync(old, DeliveryState.Sent, old);

        var rounds = new List<(int, int)>();
        (int Inbox, int Outbox) result;
        do
        {
            result = await Stores.Retention.PurgeAsync(cutoff, 3, Ct);
            rounds.Add(result);
        }
        while (result != (0, 0));

        Assert.Equal(new[] { (3, 3), (3, 3), (3, 3), (1, 1), (0, 0) }, rounds);
        Assert.Equal(0, await Stores.CountInboxRowsAsync(Ct));
        Assert.Equal(0, await Stores.CountDeliveriesAsync(Ct));
    }

    [Fact]
    public async Task Maintenance_after_a_purge_keeps_every_row_that_is_left_and_can_run_again()
    {
        var cutoff = DateTimeOffset.UtcNow.AddDays(-7);
        var old = cutoff.AddHours(-1).ToUnixTimeMilliseconds();
        for (var i = 0; i < 50; i++) await RoutedAsync(old, DeliveryState.Sent, old);
        var kept = await SeedLaneAsync(Out, 3, createdAtMs: 1_000);
        Assert.Equal((50, 50), await Stores.Retention.PurgeAsync(cutoff, 1000, Ct));

        await Stores.Maintenance.MaintainAsync(Ct);
        await Stores.Maintenance.MaintainAsync(Ct); // nothing left to do is fine

        Assert.Equal(kept.Select(d => d.Id), (await Stores.Outbox.ReadLaneAsync(Out, 100, Ct)).Select(d => d.Id));
        Assert.Equal(3, await Stores.CountInboxRowsAsync(Ct));
    }

    [Fact]
    public async Task Two_schedulers_on_one_database_run_jobs_only_while_holding_the_lease()
    {
        await using var other = await Factory.OpenAnotherAsync(Ct);
        var runsA = 0;
        var runsB = 0;
        var tick = TimeSpan.FromMilliseconds(20);
        var a = new JobScheduler(Stores.Leases, [new ScheduledJob("job", TimeSpan.Zero, _ => Task.FromResult(Interlocked.Increment(ref runsA)))],
            "a", TimeProvider.System, NullLogger<JobScheduler>.Instance, tick);
        var b = new JobScheduler(other.Leases, [new ScheduledJob("job", TimeSpan.Zero, _ => Task.FromResult(Interlocked.Increment(ref runsB)))],
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
        Assert.Equal(1, await Stores.ScalarSqlAsync("SELECT COUNT(*) FROM leases WHERE name = 'scheduler' AND holder = 'b'", Ct));
        await stopB.CancelAsync();
        await runB.WaitAsync(Ct);
        Assert.Equal(0, await Stores.ScalarSqlAsync("SELECT COUNT(*) FROM leases", Ct));
    }

    /// <summary>A message routed at <paramref name="routedAtMs"/>, with one delivery in <paramref name="state"/> finished at <paramref name="finishedAtMs"/> (none when null).</summary>
    private async Task<(long Seq, long DeliveryId)> RoutedAsync(long routedAtMs, DeliveryState? state, long finishedAtMs)
    {
        var seq = await AppendAsync();
        await Stores.Outbox.CommitRoutedAsync([seq], [], Ct);
        Assert.Equal(1, await Stores.ExecuteSqlAsync($"UPDATE inbox SET routed_at = {routedAtMs} WHERE seq = {seq}", Ct));
        var id = state is { } s ? await DeliveryOfAsync(seq, s, finishedAtMs) : 0;
        return (seq, id);
    }

    /// <summary>A delivery (of inbox message <paramref name="seq"/>, or standing alone) brought to <paramref name="state"/>, last changed at <paramref name="updatedAtMs"/>.</summary>
    private async Task<long> DeliveryOfAsync(long? seq, DeliveryState state, long updatedAtMs)
    {
        var lane = new Lane("out", "chat-" + NextPlatformId());
        var delivery = new NewDelivery(seq, seq is null ? null : "r1", lane.ChannelId, lane.Chat, "{}", updatedAtMs, seq is null ? DeliveryKind.Event : DeliveryKind.Message);
        await Stores.Outbox.AddAsync([delivery], Ct);
        var id = Assert.Single(await Stores.Outbox.ReadLaneAsync(lane, 10, Ct)).Id;
        if (state == DeliveryState.Sent) await Stores.Outbox.MarkSentAsync(id, "p" + id, updatedAtMs, [], [], Ct);
        if (state == DeliveryState.Failed) await Stores.Outbox.MarkFailedAsync(id, "refused", updatedAtMs, [], Ct);
        Assert.Equal(1, await Stores.ExecuteSqlAsync($"UPDATE outbox SET updated_at = {updatedAtMs} WHERE id = {id}", Ct));
        Assert.Equal(state, (await DeliveryAsync(id)).State);
        return id;
    }

    private async Task<bool> InboxRowExistsAsync(long seq) => await Stores.ScalarSqlAsync($"SELECT COUNT(*) FROM inbox WHERE seq = {seq}", Ct) == 1;
}
