namespace Tern.Core.Delivery;

/// <summary>Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries spread out but never collapse to zero.</summary>
public sealed class Backoff
{
    private readonly TimeSpan _base;
    private readonly TimeSpan _max;

    public Backoff(TimeSpan @base, TimeSpan max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(@base, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, @base);
        _base = @base;
        _max = max;
    }

    /// <summary>The delay before attempt number <paramref name="failedAttempts"/> + 1.</summary>
    public TimeSpan Delay(int failedAttempts, double random01)
    {
        var exponent = Math.Clamp(failedAttempts - 1, 0, 30);
        var ceiling = Math.Min(_max.TotalMilliseconds, _base.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds((ceiling / 2) + (ceiling / 2 * Math.Clamp(random01, 0, 1)));
    }
}
