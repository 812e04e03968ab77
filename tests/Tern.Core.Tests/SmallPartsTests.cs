using Tern.Core.Delivery;
using Tern.Core.Messages;
using Tern.Core.Pipeline;
using Tern.Core.Tests.Doubles;

namespace Tern.Core.Tests;

public sealed class DeliveryLatencyTests
{
    [Fact]
    public void Each_latency_lands_in_the_first_bucket_whose_bound_it_does_not_exceed()
    {
        var latency = new DeliveryLatency();
        var bounds = DeliveryLatency.Bounds;

        latency.Record(TimeSpan.Zero);                       // bucket 0 (<= 5 ms)
        latency.Record(TimeSpan.FromMilliseconds(5));        // bucket 0: the bound is inclusive
        latency.Record(TimeSpan.FromMilliseconds(6));        // bucket 1 (<= 10 ms)
        latency.Record(TimeSpan.FromMilliseconds(300));      // <= 0.5 s
        latency.Record(TimeSpan.FromSeconds(60));            // last finite bucket
        latency.Record(TimeSpan.FromMinutes(5));             // +Inf

        var cumulative = latency.Cumulative();
        Assert.Equal(bounds.Count + 1, cumulative.Length);
        Assert.Equal(2, cumulative[0]);
        Assert.Equal(3, cumulative[1]);
        var halfSecond = bounds.ToList().IndexOf(0.5);
        Assert.Equal(3, cumulative[halfSecond - 1]);
        Assert.Equal(4, cumulative[halfSecond]);
        Assert.Equal(5, cumulative[bounds.Count - 1]);
        Assert.Equal(6, cumulative[^1]);
        Assert.Equal(6, latency.Count);
        Assert.Equal(0 + 0.005 + 0.006 + 0.3 + 60 + 300, latency.SumSeconds, precision: 6);
    }

    [Fact]
    public void Bounds_increase_and_the_counts_are_cumulative()
    {
        var latency = new DeliveryLatency();
        var bounds = DeliveryLatency.Bounds;
        Assert.Equal(bounds.Order(), bounds);
        foreach (var bound in bounds) latency.Record(TimeSpan.FromSeconds(bound));

        var cumulative = latency.Cumulative();

        Assert.Equal(Enumerable.Range(1, bounds.Count).Select(i => (long)i).Append(bounds.Count), cumulative);
    }

    [Fact]
    public void Concurrent_records_are_all_counted()
    {
        var latency = new DeliveryLatency();

        Parallel.For(0, 10_000, i => latency.Record(TimeSpan.FromMilliseconds(i % 100)));

        Assert.Equal(10_000, latency.Count);
        Assert.Equal(10_000, latency.Cumulative()[^1]);
    }
}

public sealed class IngressGateTests
{
    [Fact]
    public async Task The_backlog_is_inbox_plus_outbox_and_refuses_at_its_bound()
    {
        using var inbox = new InMemoryInboxStore();
        using var outbox = new InMemoryOutboxStore(inbox);
        var gate = new IngressGate(inbox, outbox, maxBacklog: 3);

        await inbox.AppendAsync(new Envelope("in", "1", "c", null, "t", null, 0), CancellationToken.None);
        outbox.Add(new Lane("out", "c"), 1, 0);
        Assert.Equal(2, gate.Backlog);
        Assert.Null(gate.RefusalReason());

        await inbox.AppendAsync(new Envelope("in", "2", "c", null, "t", null, 0), CancellationToken.None);

        Assert.Equal(3, gate.Backlog);
        var reason = gate.RefusalReason();
        Assert.NotNull(reason);
        Assert.Contains("3", reason, StringComparison.Ordinal);
        Assert.Equal(3, gate.MaxBacklog);
    }
}

public sealed class AsyncSignalTests
{
    [Fact]
    public async Task A_set_before_the_wait_is_not_lost()
    {
        using var signal = new AsyncSignal();
        signal.Set();
        signal.Set();

        var wait = signal.WaitAsync(Timeout.InfiniteTimeSpan, CancellationToken.None);

        await wait.GuardAsync();
        Assert.True(wait.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task A_set_wakes_a_waiter()
    {
        using var signal = new AsyncSignal();
        var wait = signal.WaitAsync(Timeout.InfiniteTimeSpan, CancellationToken.None);
        Assert.False(wait.IsCompleted);

        signal.Set();

        await wait.GuardAsync();
    }

    [Fact]
    public async Task A_wait_ends_at_its_timeout_without_a_set()
    {
        using var signal = new AsyncSignal();

        var wait = signal.WaitAsync(TimeSpan.FromMilliseconds(1), CancellationToken.None);

        await wait.GuardAsync();
        Assert.True(wait.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task A_cancelled_wait_throws()
    {
        using var signal = new AsyncSignal();
        using var cancel = new CancellationTokenSource();
        var wait = signal.WaitAsync(Timeout.InfiniteTimeSpan, cancel.Token);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.GuardAsync());
    }
}
