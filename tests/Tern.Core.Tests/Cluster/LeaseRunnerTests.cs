using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tern.Core.Cluster;
using Tern.Core.Scheduling;
using Tern.Core.Tests.Doubles;
using Tern.Core.Tests.Scheduling;

namespace Tern.Core.Tests.Cluster;

/// <summary>
/// Work under a lease: it runs only while the lease is held, stops when another holder has it or when renewals failed for
/// as long as is safe (before the lease could lapse), and hands the lease on when it stops. The clock is fake; the test
/// advances it only once the runner waits on it (counted timers), so nothing depends on how fast the machine is.
/// </summary>
public sealed class LeaseRunnerTests
{
    private const string Lease = "router";
    private static readonly ClusterOptions Options = new() { Enabled = true, InstanceId = "a", LeaseTimeToLive = TimeSpan.FromSeconds(15) };

    private readonly CountingTime _time = new();
    private readonly FlakyLeaseStore _store;

    public LeaseRunnerTests()
    {
        _store = new FlakyLeaseStore(new JobSchedulerTests.InMemoryLeaseStore(_time));
    }

    [Fact]
    public async Task Renewals_refused_because_another_instance_holds_the_lease_stop_the_work_at_once()
    {
        var (held, work, stop, run) = Start(Options);
        await work.Started.Task.GuardAsync();
        await Wait.UntilAsync(() => _time.Timers >= 1, "the runner waits to renew");

        _store.Steal(Lease, "b");
        _time.Advance(Options.RenewInterval);

        await work.Cancelled.Task.GuardAsync();
        await Wait.UntilAsync(() => !held.IsHeld(Lease), "the lease is no longer listed as held");
        Assert.Equal(1, held.Lost);
        await stop.CancelAsync();
        await run.GuardAsync();
    }

    [Fact]
    public async Task Failed_renewals_stop_the_work_one_renewal_before_the_lease_could_lapse_and_not_sooner()
    {
        var (held, work, stop, run) = Start(Options);
        await work.Started.Task.GuardAsync();
        await Wait.UntilAsync(() => _time.Timers >= 1, "the runner waits to renew");
        _store.Failing = true;

        // 5 s after the last renewal: a failure is not proof another holder has it, and the lease lives until 15 s.
        _time.Advance(Options.RenewInterval);
        await Wait.UntilAsync(() => _store.Failures >= 1 && _time.Timers >= 2, "the first renewal failed and the runner waits again");
        Assert.False(work.Cancelled.Task.IsCompleted);
        Assert.True(held.IsHeld(Lease));

        // 10 s: the next renewal would come at 15 s, when the database may give the lease away; stop now.
        _time.Advance(Options.RenewInterval);
        await work.Cancelled.Task.GuardAsync();
        await Wait.UntilAsync(() => !held.IsHeld(Lease), "the lease is no longer listed as held");
        Assert.Equal(1, held.Lost);
        await stop.CancelAsync();
        await run.GuardAsync();
    }

    [Fact]
    public async Task Stopping_hands_the_lease_on_and_a_waiting_instance_takes_it_at_its_next_ask()
    {
        var (heldA, workA, stopA, runA) = Start(Options);
        await workA.Started.Task.GuardAsync();
        var (heldB, workB, stopB, runB) = Start(Options with { InstanceId = "b" });
        await Wait.UntilAsync(() => _store.Refusals >= 1 && _time.Timers >= 2, "b was refused and waits to ask again");

        await stopA.CancelAsync();
        await runA.GuardAsync();
        Assert.True(workA.Cancelled.Task.IsCompleted);
        Assert.Null(_store.HolderOf(Lease));
        Assert.Equal(0, heldA.Lost);

        _time.Advance(Options.AcquireInterval);
        await workB.Started.Task.GuardAsync();
        Assert.True(heldB.IsHeld(Lease));
        Assert.Equal("b", _store.HolderOf(Lease));
        await stopB.CancelAsync();
        await runB.GuardAsync();
        Assert.Null(_store.HolderOf(Lease));
    }

    private (HeldLeases Held, Work Work, CancellationTokenSource Stop, Task Run) Start(ClusterOptions options)
    {
        var held = new HeldLeases(() => 1);
        var runner = new LeaseRunner(_store, options, held, _time, NullLogger<LeaseRunner>.Instance);
        var work = new Work();
        var stop = new CancellationTokenSource();
        var run = runner.RunWhileHeldAsync(Lease, work.RunAsync, stop.Token);
        return (held, work, stop, run);
    }

    private sealed class Work
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task RunAsync(CancellationToken held)
        {
            Started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, held);
            }
            finally
            {
                Cancelled.TrySetResult();
            }
        }
    }

    /// <summary>The in-memory lease store, with answers that fail on demand (the database away) and a lease taken by force.</summary>
    private sealed class FlakyLeaseStore(JobSchedulerTests.InMemoryLeaseStore inner) : ILeaseStore
    {
        private int _failures;
        private int _refusals;

        public volatile bool Failing;

        public int Failures => Volatile.Read(ref _failures);

        public int Refusals => Volatile.Read(ref _refusals);

        public string? HolderOf(string name) => inner.HolderOf(name);

        /// <summary>Another instance has it: as if this one's lease had lapsed and been taken.</summary>
        public void Steal(string name, string holder)
        {
            inner.ReleaseAsync(name, inner.HolderOf(name) ?? "", CancellationToken.None).GetAwaiter().GetResult();
            Assert.True(inner.TryAcquireAsync(name, holder, TimeSpan.FromHours(1), CancellationToken.None).GetAwaiter().GetResult());
        }

        public async Task<bool> TryAcquireAsync(string name, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
        {
            if (Failing)
            {
                Interlocked.Increment(ref _failures);
                throw new InvalidOperationException("the database is away");
            }
            var granted = await inner.TryAcquireAsync(name, holder, timeToLive, cancellationToken);
            if (!granted) Interlocked.Increment(ref _refusals);
            return granted;
        }

        public Task ReleaseAsync(string name, string holder, CancellationToken cancellationToken) => inner.ReleaseAsync(name, holder, cancellationToken);
    }

    /// <summary>A fake clock that counts the timers made on it: a timer made means the runner waits on the clock.</summary>
    private sealed class CountingTime : TimeProvider
    {
        private readonly FakeTimeProvider _fake = new();
        private int _timers;

        public int Timers => Volatile.Read(ref _timers);

        public void Advance(TimeSpan by) => _fake.Advance(by);

        public override DateTimeOffset GetUtcNow() => _fake.GetUtcNow();

        public override long GetTimestamp() => _fake.GetTimestamp();

        public override long TimestampFrequency => _fake.TimestampFrequency;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref _timers);
            return _fake.CreateTimer(callback, state, dueTime, period);
        }
    }
}
