namespace Tern.Core.Memory;

/// <summary>Something that grows and has a bound: it reports its size and can shrink under pressure.</summary>
public interface IBoundedStructure
{
    string Name { get; }

    int Count { get; }

    int Capacity { get; }

    long Evictions { get; }

    /// <summary>Shrinks to at most <paramref name="fraction"/> of capacity (critical pressure). Queues that cannot drop work return 0.</summary>
    int Trim(double fraction);
}

/// <summary>A structure whose entries expire (time-to-live); the scheduler's cleanup job calls it.</summary>
public interface IExpiring
{
    /// <summary>Drops expired entries; returns how many.</summary>
    int RemoveExpired();
}

/// <summary>A snapshot of one structure for /memory and /metrics.</summary>
/// <param name="Hits">Lookups answered from the structure (caches only).</param>
/// <param name="Misses">Lookups that had to go further (caches only).</param>
public sealed record BoundedStructureReport(string Name, int Count, int Capacity, long Evictions, long? Hits = null, long? Misses = null);

/// <summary>A cache: how often it answered and how often it did not.</summary>
public interface ICacheStatistics
{
    long Hits { get; }

    long Misses { get; }
}

/// <summary>Every bounded structure of the process, so pressure actions and /memory reach all of them.</summary>
public sealed class BoundedRegistry
{
    private readonly Lock _lock = new();
    private IBoundedStructure[] _structures = [];

    public void Register(IBoundedStructure structure)
    {
        lock (_lock)
        {
            if (_structures.Any(s => s.Name == structure.Name)) throw new InvalidOperationException($"A bounded structure named '{structure.Name}' is registered already");
            _structures = [.. _structures, structure];
        }
    }

    public IReadOnlyList<IBoundedStructure> Structures => Volatile.Read(ref _structures);

    public IReadOnlyList<BoundedStructureReport> Report() =>
        Structures.Select(s => new BoundedStructureReport(s.Name, s.Count, s.Capacity, s.Evictions, (s as ICacheStatistics)?.Hits, (s as ICacheStatistics)?.Misses)).ToArray();

    /// <summary>Trims every structure; returns the entries dropped.</summary>
    public int TrimAll(double fraction) => Structures.Sum(s => s.Trim(fraction));
}

/// <summary>A read-only view of a queue (it cannot drop work; its bound makes producers wait).</summary>
public sealed class QueueGauge(string name, Func<int> count, Func<int> capacity) : IBoundedStructure
{
    public string Name => name;
    public int Count => count();
    public int Capacity => capacity();
    public long Evictions => 0;
    public int Trim(double fraction) => 0;
}
