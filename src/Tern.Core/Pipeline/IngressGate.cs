using Tern.Core.Memory;

namespace Tern.Core.Pipeline;

/// <summary>
/// Decides whether ingress may accept more work. The backlog (messages on disk not yet routed plus
/// deliveries not yet sent) has a bound; past it, or while memory pressure sheds load, platforms are
/// told to come back later rather than Tern growing without limit.
/// </summary>
public sealed class IngressGate(IInboxStore inbox, IOutboxStore outbox, long maxBacklog, ILoadShedding? shedding = null)
{
    public long MaxBacklog => maxBacklog;

    public long Backlog => inbox.PendingCount + outbox.PendingCount;

    /// <summary>Null when accepting; else the reason to refuse.</summary>
    public string? RefusalReason()
    {
        if (shedding?.SheddingReason is { } reason) return reason;
        var backlog = Backlog;
        return backlog >= maxBacklog ? $"backlog of {backlog} messages is at its bound of {maxBacklog}" : null;
    }
}
