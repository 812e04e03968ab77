using Tern.Core.Delivery;
using Tern.Core.Messages;

namespace Tern.Storage.Tests.Contracts;

/// <summary>
/// Base of every contract suite: a fresh database per test from <typeparamref name="TFactory"/>, a
/// token that ends a hung test, and helpers that only use the store interfaces.
/// </summary>
public abstract class StoreContract<TFactory> : IAsyncLifetime
    where TFactory : StoreFactory, new()
{
    private readonly TFactory _factory = new();
    private readonly CancellationTokenSource _hangGuard = new(TimeSpan.FromMinutes(2));
    private StoreSet? _stores;
    private int _nextId;

    protected StoreSet Stores => _stores ?? throw new InvalidOperationException("Not initialized");

    /// <summary>The engine's factory, for what <see cref="Stores"/> does not give (an engine with a chosen key).</summary>
    protected TFactory Factory => _factory;

    /// <summary>Cancels only when a test hangs.</summary>
    protected CancellationToken Ct => _hangGuard.Token;

    public async Task InitializeAsync() => _stores = await _factory.CreateAsync(Ct);

    public async Task DisposeAsync()
    {
        if (_stores is not null) await _stores.DisposeAsync();
        await _factory.DisposeAsync();
        _hangGuard.Dispose();
    }

    /// <summary>Closes everything and opens the same database through new instances.</summary>
    protected async Task ReopenAsync()
    {
        await Stores.DisposeAsync();
        _stores = null;
        _stores = await _factory.ReopenAsync(Ct);
    }

    protected string NextPlatformId() => "m" + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);

    protected static Envelope Message(string platformId, string chat = "chat-1", string channel = "in", string? text = "hello", long receivedAtMs = 1_000) =>
        new(channel, platformId, chat, "alice", text, null, receivedAtMs);

    protected async Task<long> AppendAsync(string chat = "chat-1", string channel = "in")
    {
        var result = await Stores.Inbox.AppendAsync(Message(NextPlatformId(), chat, channel), Ct);
        Assert.False(result.Duplicate);
        return result.Seq;
    }

    protected static NewDelivery Delivery(long inboxSeq, Lane lane, long createdAtMs, string? payload = null, string routeId = "r1") =>
        new(inboxSeq, routeId, lane.ChannelId, lane.Chat, payload ?? $"{{\"seq\":{inboxSeq}}}", createdAtMs);

    /// <summary>Appends <paramref name="count"/> messages and routes each to one delivery in <paramref name="lane"/>; returns the new deliveries, oldest first.</summary>
    protected async Task<IReadOnlyList<PendingDelivery>> SeedLaneAsync(Lane lane, int count, long createdAtMs)
    {
        var seqs = new List<long>();
        var deliveries = new List<NewDelivery>();
        for (var i = 0; i < count; i++)
        {
            var seq = await AppendAsync(chat: lane.Chat);
            seqs.Add(seq);
            deliveries.Add(Delivery(seq, lane, createdAtMs));
        }
        await Stores.Outbox.CommitRoutedAsync(seqs, deliveries, Ct);
        var all = await Stores.Outbox.ReadLaneAsync(lane, 10_000, Ct);
        var fresh = all.Where(d => d.InboxSeq is { } s && seqs.Contains(s)).ToList();
        Assert.Equal(count, fresh.Count);
        return fresh;
    }

    protected async Task<IReadOnlyList<Lane>> ClaimAsync(long nowMs, int max = 100, params string[] skip) =>
        await Stores.Outbox.ClaimDueLanesAsync(nowMs, max, skip, Ct);

    protected async Task<DeliveryRecord> DeliveryAsync(long id) =>
        await Stores.ReadDeliveryAsync(id, Ct) ?? throw new Xunit.Sdk.XunitException($"delivery {id} is not stored");
}
