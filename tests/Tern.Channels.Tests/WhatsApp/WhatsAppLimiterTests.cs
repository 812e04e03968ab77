using Microsoft.Extensions.Time.Testing;
using Tern.Channels.WhatsApp;

namespace Tern.Channels.Tests.WhatsApp;

public sealed class WhatsAppLimiterTests
{
    private const string Number = "106540352242922";
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

    private static bool Send(WhatsAppLimiter limiter, string recipient, WhatsAppLimits limits, out TimeSpan wait, out bool numberWide, string number = Number)
    {
        var lease = limiter.TryAcquire(number, recipient, limits, out wait, out numberWide);
        if (lease is null) return false;
        lease.Complete();
        return true;
    }

    [Fact]
    public void A_user_gets_the_pair_burst_back_to_back_then_waits_burst_times_the_interval()
    {
        var limiter = new WhatsAppLimiter(100, _time);
        var limits = WhatsAppLimits.Default; // 80/s, one per 6 s to a user, bursts of 5
        for (var i = 0; i < 5; i++)
        {
            Assert.True(Send(limiter, "15551234567", limits, out _, out _), $"send {i + 1} of the burst");
        }
        Assert.False(Send(limiter, "15551234567", limits, out var wait, out var numberWide));
        Assert.False(numberWide);
        Assert.Equal(TimeSpan.FromSeconds(30), wait);

        // Only that user waits.
        Assert.True(Send(limiter, "15557654321", limits, out _, out _));

        _time.Advance(wait - TimeSpan.FromMilliseconds(1));
        Assert.False(Send(limiter, "15551234567", limits, out _, out _));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(Send(limiter, "15551234567", limits, out _, out _));
    }

    [Fact]
    public void The_pair_window_is_per_number()
    {
        var limiter = new WhatsAppLimiter(100, _time);
        var limits = new WhatsAppLimits(PairBurst: 1);
        Assert.True(Send(limiter, "15551234567", limits, out _, out _));
        Assert.False(Send(limiter, "15551234567", limits, out _, out _));
        Assert.True(Send(limiter, "15551234567", limits, out _, out _, number: "200000000000001"));
    }

    [Fact]
    public void A_send_in_flight_holds_its_pair_slot()
    {
        var limiter = new WhatsAppLimiter(100, _time);
        var limits = new WhatsAppLimits(PairIntervalSeconds: 6, PairBurst: 1);
        var lease = limiter.TryAcquire(Number, "15551234567", limits, out _, out _);
        Assert.NotNull(lease);
        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.Null(limiter.TryAcquire(Number, "15551234567", limits, out _, out _));
        lease.Complete();
        Assert.Null(limiter.TryAcquire(Number, "15551234567", limits, out var wait, out _));
        Assert.Equal(TimeSpan.FromSeconds(6), wait);
        _time.Advance(wait);
        Assert.NotNull(limiter.TryAcquire(Number, "15551234567", limits, out _, out _));
    }

    [Fact]
    public void The_numbers_throughput_holds_every_user_and_says_so()
    {
        var limiter = new WhatsAppLimiter(100, _time);
        var limits = new WhatsAppLimits(MessagesPerSecond: 3);
        Assert.True(Send(limiter, "15550000001", limits, out _, out _));
        Assert.True(Send(limiter, "15550000002", limits, out _, out _));
        Assert.True(Send(limiter, "15550000003", limits, out _, out _));
        Assert.False(Send(limiter, "15550000004", limits, out var wait, out var numberWide));
        Assert.True(numberWide);
        Assert.Equal(TimeSpan.FromSeconds(1), wait);
        // A user with pair slots to spare waits as well: the number is what is full.
        Assert.False(Send(limiter, "15550000001", limits, out _, out numberWide));
        Assert.True(numberWide);
        // Another number has its own throughput.
        Assert.True(Send(limiter, "15550000004", limits, out _, out _, number: "200000000000001"));
        _time.Advance(wait);
        Assert.True(Send(limiter, "15550000004", limits, out _, out _));
    }

    [Fact]
    public void A_throughput_refusal_gives_back_the_users_pair_slot()
    {
        var limiter = new WhatsAppLimiter(100, _time);
        var limits = new WhatsAppLimits(MessagesPerSecond: 1, PairIntervalSeconds: 6, PairBurst: 1);
        Assert.True(Send(limiter, "15550000001", limits, out _, out _));
        Assert.False(Send(limiter, "15550000002", limits, out _, out var numberWide));
        Assert.True(numberWide);
        _time.Advance(TimeSpan.FromSeconds(1));
        // The refused attempt held nothing: user 2's only pair slot is free.
        Assert.True(Send(limiter, "15550000002", limits, out _, out _));
    }

    [Fact]
    public void Throughput_only_says_number_wide_when_the_pair_rate_is_lifted()
    {
        var limiter = new WhatsAppLimiter(100, _time);
        var limits = new WhatsAppLimits(MessagesPerSecond: 1, PairIntervalSeconds: 0);
        Assert.True(Send(limiter, "15550000001", limits, out _, out _));
        Assert.False(Send(limiter, "15550000002", limits, out _, out var numberWide));
        Assert.True(numberWide);
    }

    [Fact]
    public void A_pair_refusal_with_throughput_lifted_is_not_number_wide()
    {
        var limiter = new WhatsAppLimiter(100, _time);
        var limits = new WhatsAppLimits(MessagesPerSecond: 0, PairIntervalSeconds: 6, PairBurst: 2);
        Assert.True(Send(limiter, "15550000001", limits, out _, out _));
        Assert.True(Send(limiter, "15550000001", limits, out _, out _));
        Assert.False(Send(limiter, "15550000001", limits, out var wait, out var numberWide));
        Assert.False(numberWide);
        Assert.Equal(TimeSpan.FromSeconds(12), wait);
        for (var i = 0; i < 500; i++)
        {
            Assert.True(Send(limiter, "1666" + i.ToString("D7", System.Globalization.CultureInfo.InvariantCulture), limits, out _, out _));
        }
    }

    [Fact]
    public void Zero_lifts_both_limits()
    {
        var limiter = new WhatsAppLimiter(100, _time);
        var limits = new WhatsAppLimits(MessagesPerSecond: 0, PairIntervalSeconds: 0);
        for (var i = 0; i < 1_000; i++)
        {
            Assert.True(Send(limiter, "15551234567", limits, out var wait, out var numberWide));
            Assert.Equal(TimeSpan.Zero, wait);
            Assert.False(numberWide);
        }
        Assert.Equal(0, limiter.PairWindows.Count);
        Assert.Equal(0, limiter.NumberWindows.Count);
    }

    [Theory]
    [InlineData(-1, 6, 5, "messages_per_second")]
    [InlineData(10_001, 6, 5, "messages_per_second")]
    [InlineData(80, -1, 5, "pair_interval_seconds")]
    [InlineData(80, 3601, 5, "pair_interval_seconds")]
    [InlineData(80, double.NaN, 5, "pair_interval_seconds")]
    [InlineData(80, 6, 0, "pair_burst")]
    public void Out_of_range_limits_are_named(int perSecond, double interval, int burst, string field)
    {
        Assert.Contains(field, WhatsAppLimits.Check(new WhatsAppLimits(perSecond, interval, burst)), StringComparison.Ordinal);
    }

    [Fact]
    public void Zero_limits_are_valid()
    {
        Assert.Null(WhatsAppLimits.Check(new WhatsAppLimits(0, 0, 1)));
        Assert.Null(WhatsAppLimits.Check(WhatsAppLimits.Default));
    }
}
