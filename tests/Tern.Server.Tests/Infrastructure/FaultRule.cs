namespace Tern.Server.Tests.Infrastructure;

/// <summary>
/// Decides, from the delivery id and attempt alone (so a run is reproducible), whether the receiver
/// answers 500, 429 (with Retry-After: 1) or accepts.
/// </summary>
public sealed class FaultRule(int percentServerError, int percentTooManyRequests)
{
    public int PercentServerError { get; } = percentServerError;

    public int PercentTooManyRequests { get; } = percentTooManyRequests;

    /// <summary>500, 429 or null (accept).</summary>
    public int? StatusFor(long deliveryId, int attempt)
    {
        var bucket = (int)(Fnv1a(deliveryId, attempt) % 100);
        if (bucket < PercentServerError) return 500;
        if (bucket < PercentServerError + PercentTooManyRequests) return 429;
        return null;
    }

    private static ulong Fnv1a(long deliveryId, int attempt)
    {
        var hash = 14695981039346656037UL;
        Span<byte> bytes = stackalloc byte[12];
        BitConverter.TryWriteBytes(bytes, deliveryId);
        BitConverter.TryWriteBytes(bytes[8..], attempt);
        foreach (var b in bytes)
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return hash;
    }
}
