using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Pipeline;

namespace Tern.Core.Tests.Doubles;

/// <summary>A <see cref="DeliveryEngine"/> over in-memory doubles with a fake clock: time moves only when a test advances it.</summary>
internal sealed class EngineHarness : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    private readonly CancellationTokenSource _stop = new();
    private Task? _run;

    public EngineHarness(DeliveryOptions options, ScriptedSender sender, params ChannelDefinition[] channels)
        : this(options, [sender], channels)
    {
    }

    public EngineHarness(DeliveryOptions options, IChannelSender[] senders, params ChannelDefinition[] channels)
    {
        Options = options;
        foreach (var channel in channels) CatalogStore.AddChannelAsync(channel, CancellationToken.None).GetAwaiter().GetResult();
        Catalog = new CatalogCache(CatalogStore, Time, TimeSpan.FromHours(1));
        Engine = new DeliveryEngine(Outbox, Catalog, senders, options, Counters, Latency, Time, NullLogger<DeliveryEngine>.Instance);
    }

    public FakeTimeProvider Time { get; } = new(Start);

    public InMemoryOutboxStore Outbox { get; } = new();

    public InMemoryCatalogStore CatalogStore { get; } = new();

    public CatalogCache Catalog { get; }

    public PipelineCounters Counters { get; } = new();

    public DeliveryLatency Latency { get; } = new();

    public DeliveryOptions Options { get; }

    public DeliveryEngine Engine { get; }

    public long NowMs => Time.GetUtcNow().ToUnixTimeMilliseconds();

    public Task Run => _run ?? throw new InvalidOperationException("Not started");

    public static DeliveryOptions DefaultOptions() => new()
    {
        Concurrency = 16,
        PerChannelConcurrency = 8,
        BackoffBase = TimeSpan.FromSeconds(1),
        BackoffMax = TimeSpan.FromSeconds(1),
        // Real time: how often the engine looks for due lanes when nothing wakes it.
        PollInterval = TimeSpan.FromMilliseconds(5),
        ShutdownGrace = TimeSpan.FromSeconds(10),
    };

    public static ChannelDefinition Hook(string id, int? maxConcurrency = null, string type = ChannelTypes.Webhook) =>
        new(id, type, null, new Uri($"http://127.0.0.1:9/{id}"), maxConcurrency);

    public void Begin() => _run = Task.Run(() => Engine.RunAsync(_stop.Token));

    /// <summary>Asks the engine to stop (like SIGTERM) without waiting.</summary>
    public void RequestStop() => _stop.Cancel();

    public async Task StopAsync()
    {
        _stop.Cancel();
        await Run.GuardAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_run is not null && !_run.IsCompleted)
        {
            _stop.Cancel();
            // Let a test that left a send hanging end: grace passes on the fake clock.
            for (var i = 0; i < 100 && !_run.IsCompleted; i++)
            {
                Time.Advance(Options.ShutdownGrace);
                await Task.WhenAny(_run, Task.Delay(50));
            }
        }
        _stop.Dispose();
        Catalog.Dispose();
        Outbox.Dispose();
    }
}
