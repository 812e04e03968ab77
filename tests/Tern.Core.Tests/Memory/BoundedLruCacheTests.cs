using Microsoft.Extensions.Time.Testing;
using Tern.Core.Memory;
using Tern.Core.Pipeline;

namespace Tern.Core.Tests.Memory;

public sealed class BoundedLruCacheTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));

    private BoundedLruCache<string, int> Create(int capacity, TimeSpan? ttl = null) => new("test", capacity, ttl, _time, StringComparer.Ordinal);

    [Fact]
    public void Never_holds_more_than_its_capacity_and_counts_every_eviction()
    {
        var cache = Create(100);

        for (var i = 0; i < 10_000; i++)
        {
            cache.Set("k" + i, i);
            Assert.True(cache.Count <= 100, $"{cache.Count} entries after {i + 1} sets");
        }

        Assert.Equal(100, cache.Count);
        Assert.Equal(100, cache.Capacity);
        Assert.Equal(9_900, cache.Evictions);
        Assert.Equal("test", cache.Name);
    }

    [Fact]
    public void The_least_recently_used_entry_is_evicted_first_and_a_read_counts_as_use()
    {
        var cache = Create(3);
        cache.Set("a", 1);
        cache.Set("b", 2);
        cache.Set("c", 3);

        Assert.True(cache.TryGet("a", out _)); // a is now the most recent; b the least
        cache.Set("d", 4);

        Assert.False(cache.TryGet("b", out _));
        Assert.True(cache.TryGet("a", out var a));
        Assert.Equal(1, a);
        Assert.True(cache.TryGet("c", out _));
        Assert.True(cache.TryGet("d", out _));

        // Overwriting a key also counts as use, and does not evict.
        cache.Set("a", 10);  // order now (oldest first): c, d, a
        Assert.Equal(1, cache.Evictions);
        cache.Set("e", 5);   // evicts c
        Assert.False(cache.TryGet("c", out _));
        Assert.True(cache.TryGet("a", out a));
        Assert.Equal(10, a);
        Assert.Equal(2, cache.Evictions);
    }

    [Fact]
    public void Hits_and_misses_are_counted()
    {
        var cache = Create(10);
        cache.Set("x", 1);

        Assert.True(cache.TryGet("x", out _));
        Assert.True(cache.TryGet("x", out _));
        Assert.False(cache.TryGet("y", out _));

        Assert.Equal(2, cache.Hits);
        Assert.Equal(1, cache.Misses);
    }

    [Fact]
    public void An_entry_expires_after_its_time_to_live_and_the_expiry_is_counted()
    {
        var cache = Create(10, TimeSpan.FromMinutes(1));
        cache.Set("x", 1);

        _time.Advance(TimeSpan.FromSeconds(60));
        Assert.True(cache.TryGet("x", out _)); // exactly at the TTL: still fresh

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(cache.TryGet("x", out _));
        Assert.Equal(0, cache.Count);
        Assert.Equal(1, cache.Evictions);
        Assert.Equal(1, cache.Misses);
        Assert.Equal(1, cache.Hits);
    }

    [Fact]
    public void Setting_a_key_again_starts_its_time_to_live_again()
    {
        var cache = Create(10, TimeSpan.FromMinutes(1));
        cache.Set("x", 1);
        _time.Advance(TimeSpan.FromSeconds(50));
        cache.Set("x", 2);
        _time.Advance(TimeSpan.FromSeconds(50));

        Assert.True(cache.TryGet("x", out var value));
        Assert.Equal(2, value);
    }

    [Fact]
    public void RemoveExpired_drops_exactly_the_expired_entries()
    {
        var cache = Create(100, TimeSpan.FromMinutes(10));
        for (var i = 0; i < 30; i++) cache.Set("old" + i, i);
        _time.Advance(TimeSpan.FromMinutes(6));
        for (var i = 0; i < 20; i++) cache.Set("new" + i, i);
        _time.Advance(TimeSpan.FromMinutes(5)); // old: 11 min, new: 5 min

        Assert.Equal(30, cache.RemoveExpired());

        Assert.Equal(20, cache.Count);
        Assert.Equal(30, cache.Evictions);
        Assert.Equal(0, cache.RemoveExpired());
    }

    [Fact]
    public void RemoveExpired_also_drops_an_expired_entry_that_was_read_recently()
    {
        var cache = Create(100, TimeSpan.FromMinutes(10));
        cache.Set("stale", 1);
        _time.Advance(TimeSpan.FromMinutes(5));
        cache.Set("fresh", 2);
        _time.Advance(TimeSpan.FromMinutes(4));
        Assert.True(cache.TryGet("stale", out _)); // 9 min old: still fresh, and now the most recently used
        _time.Advance(TimeSpan.FromMinutes(2));    // stale: 11 min, fresh: 6 min

        Assert.Equal(1, cache.RemoveExpired());

        Assert.Equal(1, cache.Count);
        Assert.True(cache.TryGet("fresh", out _));
    }

    [Fact]
    public void Without_a_time_to_live_nothing_expires()
    {
        var cache = Create(10);
        cache.Set("x", 1);
        _time.Advance(TimeSpan.FromDays(365));

        Assert.Equal(0, cache.RemoveExpired());
        Assert.True(cache.TryGet("x", out _));
    }

    [Fact]
    public void Trim_keeps_the_most_recent_fraction_of_capacity()
    {
        var cache = Create(100);
        for (var i = 0; i < 80; i++) cache.Set("k" + i, i);

        Assert.Equal(30, cache.Trim(0.5));

        Assert.Equal(50, cache.Count);
        Assert.Equal(30, cache.Evictions);
        Assert.False(cache.TryGet("k29", out _));
        Assert.True(cache.TryGet("k30", out _));
        Assert.True(cache.TryGet("k79", out _));
        // Below the target already: nothing to do. Out-of-range fractions are clamped.
        Assert.Equal(0, cache.Trim(0.9));
        Assert.Equal(0, cache.Trim(7));
        Assert.Equal(50, cache.Trim(-1));
        Assert.Equal(0, cache.Count);
        // The capacity itself is unchanged by a trim.
        Assert.Equal(100, cache.Capacity);
    }

    [Fact]
    public void Resize_shrinking_evicts_at_once_and_growing_makes_room()
    {
        var cache = Create(10);
        for (var i = 0; i < 10; i++) cache.Set("k" + i, i);

        cache.Resize(4);
        Assert.Equal(4, cache.Capacity);
        Assert.Equal(4, cache.Count);
        Assert.Equal(6, cache.Evictions);
        Assert.True(cache.TryGet("k9", out _));
        Assert.False(cache.TryGet("k5", out _));

        cache.Resize(20);
        for (var i = 10; i < 26; i++) cache.Set("k" + i, i);
        Assert.Equal(20, cache.Count);
        Assert.Equal(6, cache.Evictions);
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Resize(0));
    }

    [Fact]
    public void Remove_is_not_an_eviction()
    {
        var cache = Create(10);
        cache.Set("x", 1);

        Assert.True(cache.Remove("x"));
        Assert.False(cache.Remove("x"));
        Assert.Equal(0, cache.Count);
        Assert.Equal(0, cache.Evictions);
    }

    [Fact]
    public void A_capacity_below_one_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Create(0));
    }

    [Fact]
    public async Task Concurrent_use_keeps_the_bound_and_the_books()
    {
        var cache = Create(64);
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < 5000; i++)
            {
                cache.Set($"{w}-{i}", i);
                cache.TryGet($"{w}-{i / 2}", out _);
            }
        })).ToArray();
        await Task.WhenAll(workers);

        Assert.Equal(64, cache.Count);
        Assert.Equal(4 * 5000 - 64, cache.Evictions);
        Assert.Equal(4 * 5000, cache.Hits + cache.Misses);
    }

    [Fact]
    public void The_registry_reports_and_trims_every_structure_and_refuses_a_second_name()
    {
        var registry = new BoundedRegistry();
        var a = new BoundedLruCache<int, int>("a", 10, time: _time);
        var b = new BoundedLruCache<int, int>("b", 4, time: _time);
        for (var i = 0; i < 10; i++) a.Set(i, i);
        for (var i = 0; i < 6; i++) b.Set(i, i);
        a.TryGet(3, out _);
        a.TryGet(99, out _);
        a.TryGet(98, out _);
        registry.Register(a);
        registry.Register(b);
        registry.Register(new QueueGauge("q", () => 3, () => 8));

        Assert.Throws<InvalidOperationException>(() => registry.Register(new QueueGauge("a", () => 0, () => 1)));
        Assert.Equal(
            // Caches add their hits and misses; a queue has none.
            new[] { new BoundedStructureReport("a", 10, 10, 0, 1, 2), new BoundedStructureReport("b", 4, 4, 2, 0, 0), new BoundedStructureReport("q", 3, 8, 0) },
            registry.Report());

        Assert.Equal(5 + 2, registry.TrimAll(0.5));
        Assert.Equal(
            new[] { new BoundedStructureReport("a", 5, 10, 5, 1, 2), new BoundedStructureReport("b", 2, 4, 4, 0, 0), new BoundedStructureReport("q", 3, 8, 0) },
            registry.Report());
    }

    [Fact]
    public void Recent_inbound_ids_remember_per_channel_within_their_capacity()
    {
        var recent = new RecentInboundIds(capacity: 3, _time);

        recent.Remember("in", "1", 101);
        recent.Remember("other", "1", 201);
        Assert.True(recent.TryGet("in", "1", out var seq));
        Assert.Equal(101, seq);
        Assert.True(recent.TryGet("other", "1", out seq));
        Assert.Equal(201, seq);
        Assert.False(recent.TryGet("in", "2", out _));

        for (var i = 2; i <= 100; i++) recent.Remember("in", i.ToString(System.Globalization.CultureInfo.InvariantCulture), 100 + i);
        Assert.Equal(3, recent.Cache.Count);
        Assert.Equal(3, recent.Cache.Capacity);
        Assert.Equal(98, recent.Cache.Evictions); // 101 different keys through a capacity of 3
        Assert.Equal("dedup", recent.Cache.Name);
        Assert.True(recent.TryGet("in", "100", out _));
        Assert.False(recent.TryGet("in", "1", out _));
    }

    [Fact]
    public void Recent_inbound_ids_forget_after_an_hour()
    {
        var recent = new RecentInboundIds(capacity: 10, _time);
        recent.Remember("in", "1", 1);

        _time.Advance(TimeSpan.FromMinutes(61));

        Assert.False(recent.TryGet("in", "1", out _));
    }
}

public sealed class BoundedLruCacheGetOrAddTests
{
    [Fact]
    public void GetOrAdd_makes_one_value_per_key_even_under_contention_and_refreshes_its_age()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var cache = new BoundedLruCache<string, object>("t", 10, TimeSpan.FromMinutes(1), time);
        var made = 0;
        var values = new System.Collections.Concurrent.ConcurrentBag<object>();
        Parallel.For(0, 1000, _ => values.Add(cache.GetOrAdd("k", _ => { Interlocked.Increment(ref made); return new object(); })));
        Assert.Equal(1, made);
        Assert.Single(values.Distinct());

        // Used every 40 s, it never reaches its one-minute age.
        for (var i = 0; i < 5; i++)
        {
            time.Advance(TimeSpan.FromSeconds(40));
            cache.GetOrAdd("k", _ => { made++; return new object(); });
        }
        Assert.Equal(1, made);
        time.Advance(TimeSpan.FromSeconds(61));
        cache.GetOrAdd("k", _ => { made++; return new object(); });
        Assert.Equal(2, made);
        Assert.Equal(1, cache.Evictions);
    }
}
