using System.Collections.Concurrent;

namespace Tern.Core.Pipeline;

/// <summary>How a channel's inbound side is doing (a poller or a platform webhook), for the channel status and /health/ready.</summary>
/// <param name="Mode">"polling" or "webhook".</param>
/// <param name="State">"starting", "ok", "conflict", "unauthorized", "error", "paused" or "stopped".</param>
/// <param name="Detail">What the state means right now (the last error, or why it is paused); never holds a secret.</param>
/// <param name="Bot">The bot's @username when known.</param>
/// <param name="LastUpdateAtMs">When the last update came in.</param>
/// <param name="Updates">Updates committed since the start.</param>
/// <param name="ChangedAtMs">When the state last changed.</param>
public sealed record IngressStatus(string Mode, string State, string? Detail, string? Bot, long? LastUpdateAtMs, long Updates, long ChangedAtMs);

/// <summary>The current <see cref="IngressStatus"/> of every channel that has an inbound worker; one entry per channel.</summary>
public sealed class IngressStatusBoard
{
    private readonly ConcurrentDictionary<string, IngressStatus> _channels = new(StringComparer.Ordinal);

    public IngressStatus? Get(string channelId) => _channels.TryGetValue(channelId, out var status) ? status : null;

    public IReadOnlyDictionary<string, IngressStatus> All => _channels;

    /// <summary>Sets the state; returns the previous one (null when the channel had none).</summary>
    public IngressStatus? Set(string channelId, string mode, string state, string? detail, long nowMs, string? bot = null)
    {
        IngressStatus? previous = null;
        _channels.AddOrUpdate(channelId,
            _ => new IngressStatus(mode, state, detail, bot, null, 0, nowMs),
            (_, old) =>
            {
                previous = old;
                return old with { Mode = mode, State = state, Detail = detail, Bot = bot ?? old.Bot, ChangedAtMs = old.State == state ? old.ChangedAtMs : nowMs };
            });
        return previous;
    }

    public void OnUpdates(string channelId, int count, long nowMs) =>
        _channels.AddOrUpdate(channelId,
            _ => new IngressStatus("unknown", "ok", null, null, nowMs, count, nowMs),
            (_, old) => old with { LastUpdateAtMs = nowMs, Updates = old.Updates + count });

    public void Remove(string channelId) => _channels.TryRemove(channelId, out _);
}
