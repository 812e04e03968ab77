namespace Tern.Channels.Webhook;

public sealed class IngressOptions
{
    /// <summary>Largest inbound body accepted; larger gets 413.</summary>
    public int MaxBodyBytes { get; set; } = 256 * 1024;

    /// <summary>What 503 answers put in Retry-After.</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Platform pushes (<c>/hooks/…</c>) handled at once; more wait in a queue of eight times this, past it 503.
    /// Each request in progress holds its body and JSON until its commit: this bounds that memory.
    /// </summary>
    public int MaxConcurrentRequests { get; set; } = 64;
}
