using Tern.Core.Memory;

namespace Tern.Core.Pipeline;

/// <summary>
/// A bounded memory of recently stored (channel, platform id) pairs in front of the inbox's unique
/// key: platforms redeliver in bursts, and those are answered without touching the database. The
/// unique key stays the guarantee; this is only a shortcut, so evicting from it is always safe.
/// </summary>
public sealed class RecentInboundIds(int capacity, TimeProvider time)
{
    public BoundedLruCache<string, long> Cache { get; } = new("dedup", capacity, TimeSpan.FromHours(1), time, StringComparer.Ordinal);

    public bool TryGet(string channelId, string platformId, out long seq) => Cache.TryGet(Key(channelId, platformId), out seq);

    public void Remember(string channelId, string platformId, long seq) => Cache.Set(Key(channelId, platformId), seq);

    // The separator cannot occur in a channel id (see Identifiers), so keys never collide.
    private static string Key(string channelId, string platformId) => string.Concat(channelId, "\n", platformId);
}
