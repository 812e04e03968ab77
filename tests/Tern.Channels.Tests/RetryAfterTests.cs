using System.Net.Http.Headers;
using Tern.Channels.Http;

namespace Tern.Channels.Tests;

public sealed class RetryAfterTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Cap = TimeSpan.FromHours(1);

    [Fact]
    public void No_header_means_no_wait() => Assert.Null(RetryAfter.From(null, Now, Cap));

    [Fact]
    public void Delta_seconds_are_taken_as_they_are()
    {
        Assert.Equal(TimeSpan.FromSeconds(120), RetryAfter.From(RetryConditionHeaderValue.Parse("120"), Now, Cap));
        Assert.Equal(TimeSpan.Zero, RetryAfter.From(RetryConditionHeaderValue.Parse("0"), Now, Cap));
    }

    [Fact]
    public void An_HTTP_date_is_the_wait_until_then()
    {
        var header = RetryConditionHeaderValue.Parse(Now.AddSeconds(90).ToString("r"));

        Assert.Equal(TimeSpan.FromSeconds(90), RetryAfter.From(header, Now, Cap));
    }

    [Fact]
    public void A_date_in_the_past_means_now()
    {
        var header = RetryConditionHeaderValue.Parse("Wed, 21 Oct 2015 07:28:00 GMT");

        Assert.Equal(TimeSpan.Zero, RetryAfter.From(header, Now, Cap));
    }

    [Fact]
    public void Long_waits_are_capped()
    {
        Assert.Equal(Cap, RetryAfter.From(RetryConditionHeaderValue.Parse("86400"), Now, Cap));
        Assert.Equal(Cap, RetryAfter.From(RetryConditionHeaderValue.Parse(Now.AddDays(3).ToString("r")), Now, Cap));
        Assert.Equal(Cap, RetryAfter.From(new RetryConditionHeaderValue(Cap), Now, Cap));
    }
}
