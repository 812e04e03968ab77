namespace Tern.Core.Pipeline;

/// <summary>
/// Decides whether ingress may accept more work. The backlog (messages on disk not yet routed plus
/// deliveries not yet sent) has a bound; past it, platforms are told to come back later rather than
/// Tern growing without limit.
/// </summary>
public sealed class IngressGate(IInboxStore inbox, IOutboxStore outbox, long maxBacklog)
{
    public long MaxBacklog => maxBacklog;

    public long Backlog => inbox.PendingCount + outbox.PendingCount;

    /// <summary>Null when accepting; else the reason to refuse.</summary>
    public string? RefusalReason() =>
        Backlog >= maxBacklog ? $"backlog of {Backlog} messages is at its bound of {maxBacklog}" : null;
}
