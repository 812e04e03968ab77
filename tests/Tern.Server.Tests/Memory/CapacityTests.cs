using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests.Memory;

/// <summary>
/// Many more conversations and update ids than any structure may hold, through the whole pipeline
/// with small capacities: the bounds hold all the way, and what they dropped is counted in /memory.
/// </summary>
[Collection(HeavyTests.Name)]
public sealed class CapacityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_hundred_thousand_conversations_keep_every_structure_within_its_capacity_and_count_the_evictions()
    {
        const int conversations = 100_000, dedupCapacity = 1000, dispatchCapacity = 16;
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var home = TernHome.Create();
        await home.AddWebhookPipelineAsync(receiver);
        await using var tern = await home.StartAsync(output,
            // A budget large enough that pressure never interferes: this test is about the bounds.
            "--Tern:Memory:Budget=1GB",
            $"--Tern:Memory:DedupCapacity={dedupCapacity}",
            $"--Tern:Dispatcher:Capacity={dispatchCapacity}");
        using var poster = new MessagePoster(tern.BaseUrl, connections: 16);
        await using var sampler = new MemorySampler(tern);

        var clock = Stopwatch.StartNew();
        // One message per chat: every message is a new conversation and a new update id.
        var posted = await Eventually.WithinAsync(poster.PostManyAsync("c", conversations, perChat: 1, parallelism: 16), TimeSpan.FromMinutes(5),
            () => $"posting 100,000; {sampler.Describe()}; {receiver.Describe()}");
        output.WriteLine($"posted in {clock.Elapsed.TotalSeconds:0.0} s: {posted}");
        Assert.Equal(conversations, posted.Count(HttpStatusCode.Accepted));

        await Eventually.UntilAsync(() => receiver.DistinctMessages >= conversations, TimeSpan.FromMinutes(5),
            () => $"{receiver.Describe()}; {home.Database.Describe()}; {sampler.Describe()}");
        await Eventually.UntilAsync(async () => (await tern.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(60), () => home.Database.Describe());
        output.WriteLine($"delivered in {clock.Elapsed.TotalSeconds:0.0} s; {receiver.Describe()}");
        await sampler.StopAsync();
        output.WriteLine(sampler.Describe());

        // Throughout: no structure ever above its capacity, and the endpoints kept answering correctly.
        Assert.True(sampler.Count >= 10, $"only {sampler.Count} samples of /memory");
        Assert.Empty(sampler.Violations);
        Assert.Empty(sampler.Errors);
        Assert.True(sampler.MaxCount("dedup") == dedupCapacity, $"dedup peaked at {sampler.MaxCount("dedup")}");

        // At the end: the dedup memory is full, and everything it forgot is counted.
        var memory = await MemoryJson.GetAsync(tern);
        var structures = MemoryJson.Structures(memory);
        Assert.All(structures, s => Assert.True(s.Count <= s.Capacity, $"{s.Name}: {s.Count} of {s.Capacity}"));
        var dedup = MemoryJson.Structure(memory, "dedup");
        Assert.Equal(dedupCapacity, dedup.Capacity);
        Assert.Equal(dedupCapacity, dedup.Count);
        Assert.InRange(dedup.Evictions, conversations - dedupCapacity, conversations);
        var dispatch = MemoryJson.Structure(memory, "dispatch");
        Assert.Equal(dispatchCapacity, dispatch.Capacity);
        Assert.Equal(0, memory.GetProperty("queues").GetProperty("inbox_pending").GetInt64());
        var metrics = PrometheusTextParser.Parse(await MemoryJson.GetMetricsAsync(tern));
        Assert.Equal(dedup.Evictions, metrics["tern_bounded_evictions_total"].Value(null, ("structure", "dedup")));
        Assert.Equal(conversations, metrics["tern_delivery_latency_seconds"].Value("tern_delivery_latency_seconds_count"));

        // And every message was delivered, once.
        Assert.Empty(receiver.Missing(MessagePoster.AllIds("c", conversations, 1)));
        Assert.Equal(0, receiver.DuplicatesBySource);
        Assert.Empty(receiver.Problems);
        var ready = await tern.ReadyAsync();
        Assert.Equal(conversations, ready.Received);
        Assert.Equal(conversations, ready.Delivered);
        Assert.Equal(0, ready.Failed);
        Assert.Equal(conversations, home.Database.OutboxCount(TernDatabase.OutboxSent));
    }

    /// <summary>Polls /memory (and now and then /metrics) in the background, keeping peaks and anything out of bounds.</summary>
    private sealed class MemorySampler : IAsyncDisposable
    {
        private readonly TernProcess _tern;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly ConcurrentDictionary<string, long> _maxCount = new(StringComparer.Ordinal);
        private readonly ConcurrentQueue<string> _violations = new();
        private readonly ConcurrentQueue<string> _errors = new();
        private int _count;

        public MemorySampler(TernProcess tern)
        {
            _tern = tern;
            _loop = Task.Run(LoopAsync);
        }

        public int Count => Volatile.Read(ref _count);

        public IReadOnlyList<string> Violations => [.. _violations.Take(20)];

        public IReadOnlyList<string> Errors => [.. _errors.Take(20)];

        public long MaxCount(string name) => _maxCount.GetValueOrDefault(name, -1);

        public string Describe() =>
            $"{Count} samples; peaks: {string.Join(", ", _maxCount.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"))}" +
            (_violations.IsEmpty ? "" : "; over capacity: " + string.Join(" | ", _violations.Take(3))) +
            (_errors.IsEmpty ? "" : "; errors: " + string.Join(" | ", _errors.Take(3)));

        public async Task StopAsync()
        {
            if (_stop.IsCancellationRequested) return;
            await _stop.CancelAsync();
            await _loop;
        }

        private async Task LoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var memory = await MemoryJson.GetAsync(_tern);
                    foreach (var s in MemoryJson.Structures(memory))
                    {
                        _maxCount.AddOrUpdate(s.Name, s.Count, (_, peak) => Math.Max(peak, s.Count));
                        if (s.Count > s.Capacity) _violations.Enqueue($"{s.Name}: {s.Count} > {s.Capacity}");
                    }
                    var queues = memory.GetProperty("queues");
                    var queued = queues.GetProperty("dispatch_queued").GetInt64();
                    if (queued > queues.GetProperty("dispatch_capacity").GetInt64()) _violations.Enqueue($"queues.dispatch_queued {queued}");
                    // Now and then the Prometheus view of the same figures, read strictly while the pipeline is busy.
                    if (Interlocked.Increment(ref _count) % 4 == 0) PrometheusTextParser.Parse(await MemoryJson.GetMetricsAsync(_tern));
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or FormatException or System.Text.Json.JsonException or Xunit.Sdk.XunitException)
                {
                    if (_errors.Count < 50) _errors.Enqueue(ex.GetType().Name + ": " + ex.Message);
                }
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(250), _stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            _stop.Dispose();
        }
    }
}
