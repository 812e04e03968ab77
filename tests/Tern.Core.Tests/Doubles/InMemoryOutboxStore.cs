using Tern.Core.Delivery;
using Tern.Core.Pipeline;

namespace Tern.Core.Tests.Doubles;

/// <summary>
/// An outbox in dictionaries with the real one's rules: deliveries grouped in lanes sent oldest first,
/// a lane held until due, routing a message twice inserting nothing. It also keeps a log of every call
/// so tests can see what the engine and dispatcher did.
/// </summary>
internal sealed class InMemoryOutboxStore(InMemoryInboxStore? inbox = null) : IOutboxStore, IDisposable
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<long, Row> _rows = [];
    private readonly Dictionary<Lane, long> _lanes = [];
    private readonly List<NewDelivery> _committed = [];
    private readonly List<long> _sent = [];
    private readonly Dictionary<long, string> _failed = [];
    private readonly List<RetryCall> _retries = [];
    private readonly List<(string ChannelId, long UntilMs)> _defers = [];
    private readonly List<(Lane Lane, long UntilMs)> _laneDefers = [];
    private readonly List<MessageLink> _links = [];
    private readonly AsyncSignal _added = new();
    private long _nextId;
    private int _commits;

    /// <summary>Runs at the start of each routing commit; throwing from it fails the commit and changes nothing.</summary>
    public Func<Task>? BeforeCommit { get; set; }

    public long PendingCount
    {
        get
        {
            lock (_lock) return _rows.Values.Count(r => r.State == DeliveryState.Pending);
        }
    }

    public int Commits => Volatile.Read(ref _commits);

    /// <summary>Deliveries inserted by routing commits, in commit order.</summary>
    public IReadOnlyList<NewDelivery> Committed
    {
        get
        {
            lock (_lock) return _committed.ToList();
        }
    }

    /// <summary>Delivery ids marked sent, in the order they were marked.</summary>
    public IReadOnlyList<long> Sent
    {
        get
        {
            lock (_lock) return _sent.ToList();
        }
    }

    public IReadOnlyDictionary<long, string> Failed
    {
        get
        {
            lock (_lock) return new Dictionary<long, string>(_failed);
        }
    }

    public IReadOnlyList<RetryCall> Retries
    {
        get
        {
            lock (_lock) return _retries.ToList();
        }
    }

    public IReadOnlyList<(string ChannelId, long UntilMs)> Defers
    {
        get
        {
            lock (_lock) return _defers.ToList();
        }
    }

    public IReadOnlyDictionary<Lane, long> Lanes
    {
        get
        {
            lock (_lock) return new Dictionary<Lane, long>(_lanes);
        }
    }

    public Row Get(long id)
    {
        lock (_lock) return _rows[id] with { };
    }

    /// <summary>Puts deliveries straight into a lane (as if routed), oldest first; returns their ids.</summary>
    public IReadOnlyList<long> Add(Lane lane, int count, long createdAtMs, Func<int, string>? payload = null)
    {
        var ids = new List<long>();
        lock (_lock)
        {
            for (var i = 0; i < count; i++)
            {
                var id = ++_nextId;
                _rows.Add(id, new Row(id, null, null, lane, payload?.Invoke(i) ?? $"{{\"n\":{i}}}", createdAtMs));
                ids.Add(id);
            }
            _lanes.TryAdd(lane, createdAtMs);
        }
        _added.Set();
        return ids;
    }

    public async Task CommitRoutedAsync(IReadOnlyList<long> inboxSeqs, IReadOnlyList<NewDelivery> deliveries, CancellationToken cancellationToken)
    {
        if (BeforeCommit is { } hook) await hook();
        var inserted = 0;
        lock (_lock)
        {
            Interlocked.Increment(ref _commits);
            var fresh = new HashSet<long>();
            foreach (var seq in inboxSeqs)
            {
                if (inbox is null || inbox.TryMarkRouted(seq)) fresh.Add(seq);
            }
            foreach (var delivery in deliveries)
            {
                if (delivery.InboxSeq is not { } seq || !fresh.Contains(seq)) continue;
                Insert(delivery);
                _committed.Add(delivery);
                inserted++;
            }
        }
        if (inserted > 0) _added.Set();
    }

    /// <summary>Events and other stand-alone deliveries written by the engine, in order.</summary>
    public IReadOnlyList<NewDelivery> Added
    {
        get
        {
            lock (_lock) return _addedDeliveries.ToList();
        }
    }

    private readonly List<NewDelivery> _addedDeliveries = [];
    private readonly Dictionary<(string?, string), long> _idempotency = [];

    private long Insert(NewDelivery delivery)
    {
        var id = ++_nextId;
        var lane = new Lane(delivery.ChannelId, delivery.Chat);
        _rows.Add(id, new Row(id, delivery.InboxSeq, delivery.RouteId, lane, delivery.Payload, delivery.CreatedAtMs));
        _lanes.TryAdd(lane, delivery.CreatedAtMs);
        return id;
    }

    public Task<EnqueueResult> EnqueueAsync(NewDelivery delivery, CancellationToken cancellationToken)
    {
        EnqueueResult result;
        lock (_lock)
        {
            if (delivery.IdempotencyKey is { } key && _idempotency.TryGetValue((delivery.TenantId, key), out var existing))
            {
                return Task.FromResult(new EnqueueResult(existing, Existing: true));
            }
            var id = Insert(delivery);
            if (delivery.IdempotencyKey is { } newKey) _idempotency[(delivery.TenantId, newKey)] = id;
            result = new EnqueueResult(id, Existing: false);
        }
        _added.Set();
        return Task.FromResult(result);
    }

    public Task AddAsync(IReadOnlyList<NewDelivery> deliveries, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            foreach (var delivery in deliveries)
            {
                Insert(delivery);
                _addedDeliveries.Add(delivery);
            }
        }
        if (deliveries.Count > 0) _added.Set();
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<Lane>> ClaimDueLanesAsync(long nowMs, int max, IReadOnlyCollection<string> skipChannels, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<Lane> due = _lanes
                .Where(l => l.Value <= nowMs && !skipChannels.Contains(l.Key.ChannelId))
                .OrderBy(l => l.Value)
                .Take(max)
                .Select(l => l.Key)
                .ToList();
            return Task.FromResult(due);
        }
    }

    public Task<IReadOnlyList<PendingDelivery>> ReadLaneAsync(Lane lane, int max, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<PendingDelivery> list = _rows.Values
                .Where(r => r.Lane == lane && r.State == DeliveryState.Pending)
                .Take(max)
                .Select(r => new PendingDelivery(r.Id, r.InboxSeq, r.RouteId, lane.ChannelId, lane.Chat, r.Payload, r.Attempts, r.CreatedAtMs))
                .ToList();
            return Task.FromResult(list);
        }
    }

    public Task MarkSentAsync(long deliveryId, string? platformMessageId, long nowMs, IReadOnlyList<NewDelivery> events, IReadOnlyList<MessageLink> links, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _links.AddRange(links);
            var row = _rows[deliveryId];
            if (row.State == DeliveryState.Pending)
            {
                foreach (var e in events)
                {
                    Insert(e);
                    _addedDeliveries.Add(e);
                }
                row.State = DeliveryState.Sent;
                row.Attempts++;
                row.PlatformMessageId = platformMessageId;
                row.LastError = null;
                _sent.Add(deliveryId);
            }
        }
        return Task.CompletedTask;
    }

    public Task MarkFailedAsync(long deliveryId, string reason, long nowMs, IReadOnlyList<NewDelivery> events, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var row = _rows[deliveryId];
            if (row.State == DeliveryState.Pending)
            {
                foreach (var e in events)
                {
                    Insert(e);
                    _addedDeliveries.Add(e);
                }
                row.State = DeliveryState.Failed;
                row.Attempts++;
                row.LastError = reason;
                _failed.Add(deliveryId, reason);
            }
        }
        return Task.CompletedTask;
    }

    public Task ScheduleRetryAsync(long deliveryId, Lane lane, long dueAtMs, string error, long nowMs, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var row = _rows[deliveryId];
            if (row.State == DeliveryState.Pending)
            {
                row.Attempts++;
                row.LastError = error;
            }
            if (_lanes.ContainsKey(lane)) _lanes[lane] = dueAtMs;
            _retries.Add(new RetryCall(deliveryId, lane, dueAtMs, error, nowMs));
        }
        return Task.CompletedTask;
    }

    public Task ReleaseLaneAsync(Lane lane, long nowMs, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_rows.Values.Any(r => r.Lane == lane && r.State == DeliveryState.Pending))
            {
                if (_lanes.ContainsKey(lane)) _lanes[lane] = nowMs;
            }
            else
            {
                _lanes.Remove(lane);
            }
        }
        return Task.CompletedTask;
    }

    public Task DeferLaneAsync(Lane lane, long untilMs, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _laneDefers.Add((lane, untilMs));
            if (_lanes.TryGetValue(lane, out var due)) _lanes[lane] = Math.Max(due, untilMs);
        }
        return Task.CompletedTask;
    }

    /// <summary>Lane holds that counted no attempt (rate limits, parked chats), in call order.</summary>
    public IReadOnlyList<(Lane Lane, long UntilMs)> LaneDefers
    {
        get
        {
            lock (_lock) return _laneDefers.ToList();
        }
    }

    /// <summary>Message links written with mark-sent calls.</summary>
    public IReadOnlyList<MessageLink> Links
    {
        get
        {
            lock (_lock) return _links.ToList();
        }
    }

    /// <summary>Channels retired, with the reason, in order.</summary>
    public List<(string ChannelId, string Reason)> Retired { get; } = [];

    public Task<int> RetireChannelAsync(string channelId, string reason, long nowMs, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            Retired.Add((channelId, reason));
            var count = 0;
            foreach (var row in _rows.Values.Where(r => r.Lane.ChannelId == channelId && r.State == DeliveryState.Pending))
            {
                row.State = DeliveryState.Failed;
                row.LastError = reason;
                _failed.Add(row.Id, reason);
                count++;
            }
            foreach (var lane in _lanes.Keys.Where(l => l.ChannelId == channelId).ToList()) _lanes.Remove(lane);
            return Task.FromResult(count);
        }
    }

    public Task ResumeChannelAsync(string channelId, long heldUntilMs, long nowMs, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            foreach (var lane in _lanes.Keys.Where(l => l.ChannelId == channelId && _lanes[l] > nowMs && _lanes[l] <= heldUntilMs).ToList())
            {
                _lanes[lane] = nowMs;
            }
        }
        return Task.CompletedTask;
    }

    public Task DeferChannelAsync(string channelId, long untilMs, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _defers.Add((channelId, untilMs));
            foreach (var lane in _lanes.Keys.Where(l => l.ChannelId == channelId).ToList())
            {
                _lanes[lane] = Math.Max(_lanes[lane], untilMs);
            }
        }
        return Task.CompletedTask;
    }

    public Task WaitForDeliveriesAsync(TimeSpan timeout, CancellationToken cancellationToken) => _added.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _added.Dispose();

    public enum DeliveryState
    {
        Pending,
        Sent,
        Failed,
    }

    public sealed record Row(long Id, long? InboxSeq, string? RouteId, Lane Lane, string Payload, long CreatedAtMs)
    {
        public DeliveryState State { get; set; }

        public int Attempts { get; set; }

        public string? LastError { get; set; }

        public string? PlatformMessageId { get; set; }
    }

    public sealed record RetryCall(long DeliveryId, Lane Lane, long DueAtMs, string Error, long NowMs);
}
