using System.Collections.Concurrent;
using Tern.Core.Memory;

namespace Tern.Core.Cluster;

/// <summary>One lease this instance holds, for /health/ready and /memory.</summary>
public sealed record HeldLease(string Name, DateTimeOffset Since, DateTimeOffset RenewedAt);

/// <summary>
/// The leases this instance holds right now. Work that may only run under a lease asks here (a sender skips a bot's lanes
/// unless its lease is held). At most one entry per lease name Tern uses: the fixed ones and one per channel.
/// </summary>
public sealed class HeldLeases(Func<int> channelCount) : IBoundedStructure
{
    private readonly ConcurrentDictionary<string, HeldLease> _held = new(StringComparer.Ordinal);
    private long _lost;

    public string Name => "leases";

    public int Count => _held.Count;

    /// <summary>Router, scheduler, this instance's own, one per channel.</summary>
    public int Capacity => 3 + Math.Max(1, channelCount());

    public long Evictions => 0;

    /// <summary>Leases this instance lost while it still wanted them (another instance took over, or renewals failed).</summary>
    public long Lost => Interlocked.Read(ref _lost);

    public int Trim(double fraction) => 0;

    public bool IsHeld(string name) => _held.ContainsKey(name);

    public IReadOnlyList<HeldLease> Snapshot() => _held.Values.OrderBy(l => l.Name, StringComparer.Ordinal).ToArray();

    internal void Acquired(string name, DateTimeOffset at) => _held[name] = new HeldLease(name, at, at);

    internal void Renewed(string name, DateTimeOffset at) => _held.AddOrUpdate(name, _ => new HeldLease(name, at, at), (_, held) => held with { RenewedAt = at });

    internal void Released(string name, bool lost)
    {
        if (_held.TryRemove(name, out _) && lost) Interlocked.Increment(ref _lost);
    }
}
