using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tern.Core.Scheduling;

namespace Tern.Core.Tests.Scheduling;

public sealed class JobSchedulerTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
    private readonly CountingTimeProvider _clock;

    public JobSchedulerTests() => _clock = new CountingTimeProvider(_time);

    private JobScheduler Create(ILeaseStore leases, string holder, params ScheduledJob[] jobs) =>
        new(leases, jobs, holder, _clock, NullLogger<JobScheduler>.Instance, TimeSpan.FromSeconds(1));

    private static ScheduledJob Counting(string name, TimeSpan interval, Counter counter) =>
        new(name, interval, _ =>
        {
            counter.Increment();
            return Task.CompletedTask;
        });

    /// <summary>
    /// Moves the fake clock a second at a time until the condition holds. Before each step every one of
    /// <paramref name="loops"/> scheduler loops is waiting on its tick (each wait makes one timer), so no
    /// loop falls behind the clock however slow the machine is.
    /// </summary>
    private async Task PumpUntilAsync(int loops, Func<bool> condition, string what, int maxSeconds = 600)
    {
        for (var i = 0; i < maxSeconds && !condition(); i++)
        {
            var timers = _clock.TimersCreated;
            _time.Advance(TimeSpan.FromSeconds(1));
            await Doubles.Wait.UntilAsync(() => _clock.TimersCreated >= timers + loops, "every scheduler loop waiting on its next tick");
        }
        Assert.True(condition(), $"after {maxSeconds} fake seconds: {what}");
    }

    private Task LoopsWaitingAsync(int loops) => Doubles.Wait.UntilAsync(() => _clock.TimersCreated >= loops, $"{loops} scheduler loops waiting on their first tick");

    [Fact]
    public async Task Each_job_runs_first_at_once_and_then_once_per_its_interval()
    {
        var fast = new Counter();
        var slow = new Counter();
        var scheduler = Create(new InMemoryLeaseStore(_time), "a",
            Counting("fast", TimeSpan.FromSeconds(10), fast), Counting("slow", TimeSpan.FromMinutes(1), slow));

        await scheduler.RunDueAsync(CancellationToken.None);
        Assert.Equal((1, 1), (fast.Value, slow.Value));

        for (var second = 1; second <= 120; second++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await scheduler.RunDueAsync(CancellationToken.None);
            // Never more often than the interval allows, never later than a call after it has passed.
            Assert.Equal(1 + (second / 10), fast.Value);
            Assert.Equal(1 + (second / 60), slow.Value);
        }

        var report = scheduler.Report();
        Assert.Equal(new[] { "fast", "slow" }, report.Select(r => r.Name));
        Assert.Equal(13, report[0].Runs);
        Assert.Equal(3, report[1].Runs);
        Assert.Equal(10, report[0].IntervalSeconds);
        Assert.Equal(_time.GetUtcNow(), report[0].LastRun);
        Assert.All(report, r => Assert.Equal(0, r.Failures));
    }

    [Fact]
    public async Task A_failing_job_is_counted_and_the_others_still_run()
    {
        var before = new Counter();
        var after = new Counter();
        var fail = true;
        var scheduler = Create(new InMemoryLeaseStore(_time), "a",
            Counting("before", TimeSpan.FromSeconds(5), before),
            new ScheduledJob("flaky", TimeSpan.FromSeconds(5), _ => fail ? throw new InvalidOperationException("disk full") : Task.CompletedTask),
            Counting("after", TimeSpan.FromSeconds(5), after));

        await scheduler.RunDueAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(5));
        await scheduler.RunDueAsync(CancellationToken.None);

        Assert.Equal(2, before.Value);
        Assert.Equal(2, after.Value);
        var flaky = scheduler.Report()[1];
        Assert.Equal(2, flaky.Failures);
        Assert.Equal(0, flaky.Runs);
        Assert.Equal("disk full", flaky.LastError);

        // A failed job waits its interval like any other, and a success clears the error.
        fail = false;
        _time.Advance(TimeSpan.FromSeconds(2));
        await scheduler.RunDueAsync(CancellationToken.None);
        Assert.Equal(0, scheduler.Report()[1].Runs);
        _time.Advance(TimeSpan.FromSeconds(3));
        await scheduler.RunDueAsync(CancellationToken.None);
        flaky = scheduler.Report()[1];
        Assert.Equal(1, flaky.Runs);
        Assert.Equal(2, flaky.Failures);
        Assert.Null(flaky.LastError);
    }

    [Fact]
    public async Task Of_two_schedulers_on_one_lease_only_the_holder_runs_jobs_until_it_stops()
    {
        var leases = new InMemoryLeaseStore(_time);
        var runsA = new Counter();
        var runsB = new Counter();
        var a = Create(leases, "instance-a", Counting("job", TimeSpan.FromSeconds(2), runsA));
        var b = Create(leases, "instance-b", Counting("job", TimeSpan.FromSeconds(2), runsB));
        using var stopA = new CancellationTokenSource();
        using var stopB = new CancellationTokenSource();
        var runA = a.RunAsync(stopA.Token);
        var runB = b.RunAsync(stopB.Token);
        await LoopsWaitingAsync(2);

        // Long enough for several lease renewals (every 5 s of a 15 s lease).
        await PumpUntilAsync(2, () => runsA.Value >= 20, "instance a ran its job 20 times");

        Assert.True(a.IsLeader);
        Assert.False(b.IsLeader);
        Assert.Equal(0, runsB.Value);
        Assert.Equal("instance-a", leases.HolderOf(JobScheduler.LeaseName));

        await stopA.CancelAsync();
        await runA.WaitAsync(TimeSpan.FromSeconds(30));
        var finalA = runsA.Value;
        Assert.Null(leases.HolderOf(JobScheduler.LeaseName)); // released on the way out

        await PumpUntilAsync(1, () => runsB.Value >= 5, "instance b took over and ran its job");
        Assert.True(b.IsLeader);
        Assert.Equal("instance-b", leases.HolderOf(JobScheduler.LeaseName));
        Assert.Equal(finalA, runsA.Value);

        await stopB.CancelAsync();
        await runB.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_holder_that_vanished_without_releasing_is_replaced_once_its_lease_expires()
    {
        var leases = new InMemoryLeaseStore(_time);
        // A crashed instance took the lease a moment ago and will never renew or release it.
        Assert.True(await leases.TryAcquireAsync(JobScheduler.LeaseName, "crashed", TimeSpan.FromSeconds(15), CancellationToken.None));
        var taken = _time.GetUtcNow();
        var runs = new Counter();
        var scheduler = Create(leases, "survivor", Counting("job", TimeSpan.FromSeconds(1), runs));
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        await LoopsWaitingAsync(1);

        await PumpUntilAsync(1, () => runs.Value > 0, "the survivor ran a job");

        Assert.True(_time.GetUtcNow() - taken > TimeSpan.FromSeconds(15), $"the lease was taken over after {(_time.GetUtcNow() - taken).TotalSeconds} fake seconds");
        Assert.Equal("survivor", leases.HolderOf(JobScheduler.LeaseName));
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task When_the_lease_cannot_be_taken_no_job_runs()
    {
        var runs = new Counter();
        var scheduler = Create(new BrokenLeaseStore(), "a", Counting("job", TimeSpan.FromSeconds(1), runs));
        using var stop = new CancellationTokenSource();
        var started = _time.GetUtcNow();
        var run = scheduler.RunAsync(stop.Token);
        await LoopsWaitingAsync(1);

        await PumpUntilAsync(1, () => _time.GetUtcNow() >= started.AddSeconds(20), "20 fake seconds passed");
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, runs.Value);
        Assert.False(scheduler.IsLeader);
    }

    /// <summary>The fake clock, counting the timers made on it (one per scheduler tick wait).</summary>
    private sealed class CountingTimeProvider(FakeTimeProvider inner) : TimeProvider
    {
        private int _timers;

        public int TimersCreated => Volatile.Read(ref _timers);

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override long GetTimestamp() => inner.GetTimestamp();

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref _timers);
            return inner.CreateTimer(callback, state, dueTime, period);
        }
    }

    internal sealed class Counter
    {
        private int _value;

        public int Value => Volatile.Read(ref _value);

        public void Increment() => Interlocked.Increment(ref _value);
    }

    /// <summary>A lease table in memory with the database's rules: free, expired or already ours can be taken.</summary>
    internal sealed class InMemoryLeaseStore(TimeProvider time) : ILeaseStore
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, (string Holder, DateTimeOffset Expires)> _leases = new(StringComparer.Ordinal);

        public string? HolderOf(string name)
        {
            lock (_lock) return _leases.TryGetValue(name, out var lease) && lease.Expires >= time.GetUtcNow() ? lease.Holder : null;
        }

        public Task<bool> TryAcquireAsync(string name, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
        {
            var now = time.GetUtcNow();
            lock (_lock)
            {
                if (_leases.TryGetValue(name, out var lease) && lease.Holder != holder && lease.Expires >= now) return Task.FromResult(false);
                _leases[name] = (holder, now + timeToLive);
                return Task.FromResult(true);
            }
        }

        public Task ReleaseAsync(string name, string holder, CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                if (_leases.TryGetValue(name, out var lease) && lease.Holder == holder) _leases.Remove(name);
            }
            return Task.CompletedTask;
        }
    }

    private sealed class BrokenLeaseStore : ILeaseStore
    {
        public Task<bool> TryAcquireAsync(string name, string holder, TimeSpan timeToLive, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("database is locked");

        public Task ReleaseAsync(string name, string holder, CancellationToken cancellationToken) => throw new InvalidOperationException("database is locked");
    }
}
