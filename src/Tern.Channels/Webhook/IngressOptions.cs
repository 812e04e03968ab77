namespace Tern.Channels.Webhook;

public sealed class IngressOptions
{
    /// <summary>Largest inbound body accepted; larger gets 413.</summary>
    public int MaxBodyBytes { get; set; } = 256 * 1024;

    /// <summary>What 503 answers put in Retry-After.</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(5);
}
