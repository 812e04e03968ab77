namespace Tern.Core.Pipeline;

/// <summary>Monotonic counters of the pipeline, read by /health/ready and /metrics.</summary>
public sealed class PipelineCounters
{
    private long _received;
    private long _duplicates;
    private long _routed;
    private long _delivered;
    private long _failed;
    private long _retried;

    public long Received => Interlocked.Read(ref _received);
    public long Duplicates => Interlocked.Read(ref _duplicates);
    public long Routed => Interlocked.Read(ref _routed);
    public long Delivered => Interlocked.Read(ref _delivered);
    public long Failed => Interlocked.Read(ref _failed);
    public long Retried => Interlocked.Read(ref _retried);

    public void OnReceived(bool duplicate)
    {
        if (duplicate) Interlocked.Increment(ref _duplicates);
        else Interlocked.Increment(ref _received);
    }

    public void OnRouted(int messages) => Interlocked.Add(ref _routed, messages);
    public void OnDelivered() => Interlocked.Increment(ref _delivered);
    public void OnFailed() => Interlocked.Increment(ref _failed);

    public void OnFailed(int count) => Interlocked.Add(ref _failed, count);
    public void OnRetried() => Interlocked.Increment(ref _retried);
}
