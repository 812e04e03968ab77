using Tern.Core.Delivery;

namespace Tern.Core.Tests;

public sealed class BackoffTests
{
    [Fact]
    public void Delay_doubles_per_attempt_and_stops_at_the_maximum()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromSeconds(1), backoff.Delay(1, 1.0));
        Assert.Equal(TimeSpan.FromSeconds(2), backoff.Delay(2, 1.0));
        Assert.Equal(TimeSpan.FromSeconds(4), backoff.Delay(3, 1.0));
        Assert.Equal(TimeSpan.FromSeconds(10), backoff.Delay(10, 1.0));
        Assert.Equal(TimeSpan.FromSeconds(10), backoff.Delay(int.MaxValue, 1.0));
    }

    [Fact]
    public void Jitter_keeps_at_least_half_of_the_delay()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
        Assert.Equal(TimeSpan.FromSeconds(2), backoff.Delay(3, 0.0));
        Assert.Equal(TimeSpan.FromSeconds(3), backoff.Delay(3, 0.5));
    }
}
