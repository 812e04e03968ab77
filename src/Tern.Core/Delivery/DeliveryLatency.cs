namespace Tern.Core.Delivery;

/// <summary>A fixed-bucket histogram of time from routing to a successful send (Prometheus-style cumulative buckets).</summary>
public sealed class DeliveryLatency
{
    private static readonly double[] BoundsSeconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    private readonly long[] _counts = new long[BoundsSeconds.Length + 1];
    private long _sumMicros;
    private long _count;

    public static IReadOnlyList<double> Bounds => BoundsSeconds;

    public void Record(TimeSpan latency)
    {
        var seconds = latency.TotalSeconds;
        var i = 0;
        while (i < BoundsSeconds.Length && seconds > BoundsSeconds[i]) i++;
        Interlocked.Increment(ref _counts[i]);
        Interlocked.Add(ref _sumMicros, (long)(latency.TotalMilliseconds * 1000));
        Interlocked.Increment(ref _count);
    }

    public long Count => Interlocked.Read(ref _count);

    public double SumSeconds => Interlocked.Read(ref _sumMicros) / 1_000_000.0;

    /// <summary>Cumulative counts per bound; the last entry is +Inf.</summary>
    public long[] Cumulative()
    {
        var result = new long[_counts.Length];
        long running = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            running += Interlocked.Read(ref _counts[i]);
            result[i] = running;
        }
        return result;
    }
}
