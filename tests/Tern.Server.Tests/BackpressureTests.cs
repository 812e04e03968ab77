using System.Collections.Concurrent;
using System.Net;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests;

/// <summary>
/// A destination far slower than the inbound stream: the backlog must wait on disk, not in memory.
/// Messages carry ~700 characters of text, so each one held in memory costs about 3 KB (the envelope's
/// text plus the rendered payload, UTF-16): keeping 50,000 of them would take well over 100 MB, and a
/// leak of even a fraction of that per message breaks the heap bound.
/// </summary>
[Collection(HeavyTests.Name)]
public sealed class BackpressureTests(ITestOutputHelper output)
{
    private const long HeapBound = 64L << 20;
    private const int TextLength = 700;

    private static readonly string[] SlowSettings =
    [
        "--Tern:Dispatcher:Capacity=16",
        "--Tern:Sender:Concurrency=4",
        "--Tern:Sender:PerChannelConcurrency=2",
    ];

    [Fact]
    public async Task Fifty_thousand_messages_to_a_slow_receiver_are_all_accepted_with_a_bounded_heap()
    {
        const int chats = 100, perChat = 500, total = chats * perChat;
        await using var receiver = await LoopbackReceiver.StartAsync();
        receiver.Delay = TimeSpan.FromMilliseconds(20);
        // Slow, and however slowly the messages are posted, it takes no more than leaves 10,000 waiting (two sends may be past the pause).
        receiver.PauseAt(total - 10_000 - 2);
        using var home = TernHome.Create();
        await home.AddWebhookPipelineAsync(receiver);
        await using var tern = await home.StartAsync(output, [.. SlowSettings, "--Tern:Ingress:MaxBacklog=1000000"]);
        using var poster = new MessagePoster(tern.BaseUrl);
        await using var sampler = new ReadySampler(tern);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var posted = await Eventually.WithinAsync(poster.PostManyAsync("p", chats, perChat, textLength: TextLength), TimeSpan.FromSeconds(240),
            () => $"posting 50,000; {sampler.Describe()}");
        output.WriteLine($"posted {posted.Total} in {clock.Elapsed.TotalSeconds:0.0} s: {posted}");
        await Eventually.UntilAsync(async () => (await tern.ReadyAsync()).InboxPending == 0, TimeSpan.FromSeconds(120),
            () => $"routing the inbox; {sampler.Describe()}");
        await Task.Delay(TimeSpan.FromSeconds(1));
        var end = await tern.ReadyAsync();
        await sampler.StopAsync();
        output.WriteLine($"{sampler.Describe()}; at the end: outbox pending {end.OutboxPending}, delivered {end.Delivered}; {receiver.Describe()}");

        Assert.Equal(total, posted.Count(HttpStatusCode.Accepted));
        Assert.Equal(total, home.Database.InboxCount());
        Assert.Equal(total, home.Database.OutboxCount());
        // The backlog was really there (on disk) while the heap was measured.
        Assert.True(end.OutboxPending >= 10_000, $"outbox pending {end.OutboxPending}: the receiver was not slow enough to build a backlog");
        Assert.True(sampler.Count >= 10, $"only {sampler.Count} samples");
        Assert.True(sampler.MaxHeap < HeapBound, $"managed heap reached {sampler.MaxHeap / (1 << 20)} MB (bound {HeapBound >> 20} MB)");
        Assert.True(sampler.MaxQueued <= 16, $"dispatch queue held {sampler.MaxQueued} messages with capacity 16");
        Assert.True(sampler.Capacity is > 0 and <= 16, $"dispatch capacity reported as {sampler.Capacity}");

        // What did get through went out right: limited concurrency, no duplicates, in order.
        Assert.True(end.Delivered > 0, "nothing was delivered");
        Assert.InRange(receiver.MaxInFlight, 1, 2);
        Assert.Equal(0, receiver.DuplicatesBySource);
        Assert.Empty(receiver.OutOfOrderChats());
        Assert.Empty(receiver.Problems);
    }

    [Fact]
    public async Task Past_a_small_backlog_bound_ingress_answers_503_with_Retry_After_and_stores_only_what_it_accepted()
    {
        const int chats = 30, perChat = 100, total = chats * perChat, bound = 1000;
        await using var receiver = await LoopbackReceiver.StartAsync();
        receiver.Delay = TimeSpan.FromMilliseconds(20);
        // Slow, and however slowly the messages are posted, it drains no more than total - 2 × bound: the backlog must reach the bound.
        receiver.PauseAt(total - 2 * bound);
        using var home = TernHome.Create();
        await home.AddWebhookPipelineAsync(receiver);
        await using var tern = await home.StartAsync(output, [.. SlowSettings, $"--Tern:Ingress:MaxBacklog={bound}", "--Tern:Ingress:RetryAfter=3s"]);
        using var poster = new MessagePoster(tern.BaseUrl);
        await using var sampler = new ReadySampler(tern);

        var posted = await Eventually.WithinAsync(poster.PostManyAsync("s", chats, perChat, textLength: TextLength), TimeSpan.FromSeconds(120), sampler.Describe);
        await sampler.StopAsync();
        var accepted = posted.Count(HttpStatusCode.Accepted);
        var busy = posted.Count(HttpStatusCode.ServiceUnavailable);
        output.WriteLine($"{posted}; {sampler.Describe()}; {receiver.Describe()}");

        Assert.Equal(total, accepted + busy);
        Assert.True(busy > 0, "no 503 although the backlog bound is far below the number of messages");
        Assert.True(accepted >= bound, $"only {accepted} accepted: refused before the bound of {bound}");
        // Past the bound only what the slow receiver drained meanwhile, plus the posters racing the check, gets in.
        Assert.True(accepted <= bound + receiver.Accepted + 8 + 16, $"{accepted} accepted with a bound of {bound} and {receiver.Accepted} delivered");
        Assert.All(posted.BusyRetryAfter, value => Assert.Equal("3", value));
        Assert.Equal(accepted, home.Database.InboxCount());
        Assert.Equal(accepted, posted.AcceptedIds.Count);
        Assert.True(sampler.MaxHeap < HeapBound, $"managed heap reached {sampler.MaxHeap / (1 << 20)} MB");
        Assert.Equal(HttpStatusCode.OK, await tern.HealthAsync());
    }

    /// <summary>Polls /health/ready in the background and keeps the peaks.</summary>
    private sealed class ReadySampler : IAsyncDisposable
    {
        private readonly TernProcess _tern;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly ConcurrentQueue<string> _errors = new();
        private long _maxHeap;
        private long _maxWorkingSet;
        private int _maxQueued;
        private int _count;

        public ReadySampler(TernProcess tern)
        {
            _tern = tern;
            _loop = Task.Run(LoopAsync);
        }

        public long MaxHeap => Interlocked.Read(ref _maxHeap);

        public int MaxQueued => Volatile.Read(ref _maxQueued);

        public int Capacity { get; private set; }

        public int Count => Volatile.Read(ref _count);

        public string Describe() =>
            $"{Count} samples: peak managed heap {MaxHeap / 1048576.0:0.0} MB, peak working set {Interlocked.Read(ref _maxWorkingSet) / 1048576.0:0.0} MB, " +
            $"peak dispatch queue {MaxQueued}/{Capacity}{(_errors.IsEmpty ? "" : "; errors: " + string.Join(" | ", _errors.Take(3)))}";

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _loop;
        }

        private async Task LoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var sample = await _tern.ReadyAsync();
                    Capacity = sample.DispatchCapacity;
                    Interlocked.Exchange(ref _maxHeap, Math.Max(MaxHeap, sample.ManagedHeapBytes));
                    Interlocked.Exchange(ref _maxWorkingSet, Math.Max(Interlocked.Read(ref _maxWorkingSet), sample.WorkingSetBytes));
                    Volatile.Write(ref _maxQueued, Math.Max(MaxQueued, sample.DispatchQueued));
                    Interlocked.Increment(ref _count);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
                {
                    if (_errors.Count < 10) _errors.Enqueue(ex.Message);
                }
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), _stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_stop.IsCancellationRequested) await StopAsync();
            _stop.Dispose();
        }
    }
}
