namespace Tern.Core.Memory;

/// <summary>
/// A least-recently-used map with a hard capacity and an optional time-to-live. Adding past the
/// capacity evicts the least recently used entry; every eviction (capacity, expiry, trim) is counted.
/// One lock: entries are tiny and operations O(1), so contention is not worth a fancier design.
/// </summary>
public sealed class BoundedLruCache<TKey, TValue> : IBoundedStructure, IExpiring, ICacheStatistics where TKey : notnull
{
    private readonly Dictionary<TKey, LinkedListNode<Entry>> _map;
    private readonly LinkedList<Entry> _order = new();
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly long _ttlTicks;
    private int _capacity;
    private long _evictions;
    private long _hits;
    private long _misses;

    public BoundedLruCache(string name, int capacity, TimeSpan? timeToLive = null, TimeProvider? time = null, IEqualityComparer<TKey>? comparer = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Name = name;
        _capacity = capacity;
        _time = time ?? TimeProvider.System;
        _ttlTicks = timeToLive is { } ttl ? (long)(ttl.TotalSeconds * _time.TimestampFrequency) : 0;
        _map = new Dictionary<TKey, LinkedListNode<Entry>>(comparer);
    }

    public string Name { get; }

    public int Count
    {
        get
        {
            lock (_lock) return _map.Count;
        }
    }

    public int Capacity => Volatile.Read(ref _capacity);

    public long Evictions => Interlocked.Read(ref _evictions);

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public bool TryGet(TKey key, out TValue value)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var node))
            {
                if (_ttlTicks > 0 && _time.GetTimestamp() - node.Value.Stamp > _ttlTicks)
                {
                    Remove(node);
                    _evictions++;
                }
                else
                {
                    _order.Remove(node);
                    _order.AddFirst(node);
                    _hits++;
                    value = node.Value.Value;
                    return true;
                }
            }
            _misses++;
            value = default!;
            return false;
        }
    }

    public void Set(TKey key, TValue value)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            if (_map.TryGetValue(key, out var node))
            {
                node.Value = new Entry(key, value, now);
                _order.Remove(node);
                _order.AddFirst(node);
                return;
            }
            while (_map.Count >= _capacity) EvictOldest();
            _map[key] = _order.AddFirst(new Entry(key, value, now));
        }
    }

    /// <summary>
    /// The entry for <paramref name="key"/>, made by <paramref name="create"/> when missing, in one step
    /// (two callers never get two values for one key). A hit counts as fresh use: its age starts again.
    /// </summary>
    public TValue GetOrAdd(TKey key, Func<TKey, TValue> create)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            if (_map.TryGetValue(key, out var node) && !(_ttlTicks > 0 && now - node.Value.Stamp > _ttlTicks))
            {
                node.Value = node.Value with { Stamp = now };
                _order.Remove(node);
                _order.AddFirst(node);
                _hits++;
                return node.Value.Value;
            }
            if (node is not null)
            {
                Remove(node);
                _evictions++;
            }
            _misses++;
            var value = create(key);
            while (_map.Count >= _capacity) EvictOldest();
            _map[key] = _order.AddFirst(new Entry(key, value, now));
            return value;
        }
    }

    public bool Remove(TKey key)
    {
        lock (_lock)
        {
            if (!_map.TryGetValue(key, out var node)) return false;
            Remove(node);
            return true;
        }
    }

    /// <summary>Drops expired entries (the scheduler's TTL cleanup); returns how many.</summary>
    public int RemoveExpired()
    {
        if (_ttlTicks == 0) return 0;
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            var removed = 0;
            // The order is by use (a read moves an entry to the front) but the stamp is from the last Set,
            // so an expired entry can sit in front of a fresh one: look at every entry.
            for (var node = _order.Last; node is not null;)
            {
                var previous = node.Previous;
                if (now - node.Value.Stamp > _ttlTicks)
                {
                    Remove(node);
                    removed++;
                }
                node = previous;
            }
            _evictions += removed;
            return removed;
        }
    }

    public int Trim(double fraction)
    {
        lock (_lock)
        {
            var target = (int)(_capacity * Math.Clamp(fraction, 0, 1));
            var removed = 0;
            while (_map.Count > target)
            {
                EvictOldest();
                removed++;
            }
            return removed;
        }
    }

    /// <summary>The live (not expired) entries matching <paramref name="filter"/>, most recently used first; for status pages, not the hot path.</summary>
    public IReadOnlyList<KeyValuePair<TKey, TValue>> Snapshot(Func<TKey, TValue, bool> filter)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            var list = new List<KeyValuePair<TKey, TValue>>();
            foreach (var entry in _order)
            {
                if (_ttlTicks > 0 && now - entry.Stamp > _ttlTicks) continue;
                if (filter(entry.Key, entry.Value)) list.Add(new KeyValuePair<TKey, TValue>(entry.Key, entry.Value));
            }
            return list;
        }
    }

    /// <summary>Changes the bound (pressure relief or a new plan); shrinking evicts at once.</summary>
    public void Resize(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        lock (_lock)
        {
            _capacity = capacity;
            while (_map.Count > _capacity) EvictOldest();
        }
    }

    private void EvictOldest()
    {
        Remove(_order.Last!);
        _evictions++;
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _order.Remove(node);
        _map.Remove(node.Value.Key);
    }

    private record struct Entry(TKey Key, TValue Value, long Stamp);
}
