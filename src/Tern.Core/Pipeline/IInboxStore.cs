using Tern.Core.Messages;

namespace Tern.Core.Pipeline;

/// <summary>The durable inbox. An append returns only after the message is committed.</summary>
public interface IInboxStore
{
    /// <summary>Commits the envelope (group-committed with concurrent appends). A redelivery is a no-op.</summary>
    Task<InboxAppendResult> AppendAsync(Envelope envelope, CancellationToken cancellationToken);

    /// <summary>Reads up to <paramref name="max"/> pending messages with a sequence number above <paramref name="afterSeq"/>, in order.</summary>
    Task<IReadOnlyList<InboxItem>> ReadPendingAsync(long afterSeq, int max, CancellationToken cancellationToken);

    /// <summary>Completes when something was appended, or after <paramref name="timeout"/>.</summary>
    Task WaitForAppendAsync(TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Messages committed and not yet routed.</summary>
    long PendingCount { get; }
}
