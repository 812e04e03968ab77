using Tern.Channels.WhatsApp;
using Tern.Channels.WhatsApp.Graph;
using Tern.Core.Delivery;

namespace Tern.Channels.Tests.WhatsApp;

/// <summary>Meta's error codes, one answer at a time, as <see cref="WhatsAppSender.Classify"/> turns them into a delivery result.</summary>
public sealed class WhatsAppClassifyTests
{
    private static readonly WhatsAppSettings Settings = new("106540352242922", "EAAtoken", "verify-me");

    private static SendResult Classify(int code, int http = 400, string message = "Meta says no", int? subcode = null, WhatsAppSettings? settings = null) =>
        WhatsAppSender.Classify(settings ?? Settings, new GraphError(http, code, subcode, message));

    [Fact]
    public void Throughput_130429_retries_in_two_seconds_and_pauses_the_channel_as_long()
    {
        var result = Classify(130429, message: "Rate limit hit");
        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(2), result.RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(2), result.PauseChannel);
        Assert.False(result.DestinationFault);
        Assert.Contains("Rate limit hit", result.Error, StringComparison.Ordinal);
        Assert.Contains("130429", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(80007)]
    public void Api_call_limits_retry_in_a_minute_with_the_channel_paused(int code)
    {
        var result = Classify(code, message: "Application request limit reached");
        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.Equal(TimeSpan.FromMinutes(1), result.RetryAfter);
        Assert.Equal(TimeSpan.FromMinutes(1), result.PauseChannel);
        Assert.False(result.DestinationFault);
        Assert.Contains("Application request limit reached", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Pair_rate_131056_holds_only_this_user_for_the_pair_interval()
    {
        var result = Classify(131056, message: "(Business Account, Consumer Account) pair rate limit hit");
        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(6), result.RetryAfter);
        Assert.Null(result.PauseChannel);
        Assert.False(result.DestinationFault);
        Assert.Contains("pair rate limit hit", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Pair_rate_retry_follows_the_channels_pair_interval_and_is_at_least_a_second()
    {
        var slow = Settings with { Limits = new WhatsAppLimits(PairIntervalSeconds: 30) };
        Assert.Equal(TimeSpan.FromSeconds(30), Classify(131056, settings: slow).RetryAfter);
        var lifted = Settings with { Limits = new WhatsAppLimits(PairIntervalSeconds: 0) };
        var result = Classify(131056, settings: lifted);
        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(1), result.RetryAfter);
        Assert.Null(result.PauseChannel);
    }

    [Fact]
    public void A_closed_window_131047_fails_and_says_to_send_a_template()
    {
        var result = Classify(131047, message: "Re-engagement message");
        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.Null(result.RetryAfter);
        Assert.Null(result.PauseChannel);
        Assert.Contains("Re-engagement message", result.Error, StringComparison.Ordinal);
        Assert.Contains("send a template message", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_expired_token_190_pauses_the_whole_channel_five_minutes_and_names_the_fix()
    {
        var result = Classify(190, http: 401, message: "Error validating access token: Session has expired", subcode: 463);
        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.Equal(TimeSpan.FromMinutes(5), WhatsAppSender.AccountPause);
        Assert.Equal(WhatsAppSender.AccountPause, result.RetryAfter);
        Assert.Equal(WhatsAppSender.AccountPause, result.PauseChannel);
        Assert.False(result.DestinationFault);
        Assert.Contains("Session has expired", result.Error, StringComparison.Ordinal);
        Assert.Contains("(190/463)", result.Error, StringComparison.Ordinal);
        Assert.Contains("whatsapp.access_token", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_blocked_account_368_pauses_the_whole_channel_five_minutes_and_names_the_fix()
    {
        var result = Classify(368, message: "Temporarily blocked for policies violations");
        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.Equal(WhatsAppSender.AccountPause, result.RetryAfter);
        Assert.Equal(WhatsAppSender.AccountPause, result.PauseChannel);
        Assert.False(result.DestinationFault);
        Assert.Contains("Temporarily blocked for policies violations", result.Error, StringComparison.Ordinal);
        Assert.Contains("WhatsApp Manager", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 500)]
    [InlineData(2, 503)]
    [InlineData(131000, 500)]
    [InlineData(131016, 503)]
    [InlineData(133004, 503)]
    [InlineData(1, 400)]
    [InlineData(131000, 400)]
    public void Metas_own_trouble_retries_with_the_ordinary_backoff(int code, int http)
    {
        var result = Classify(code, http, message: "Service temporarily unavailable");
        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.Null(result.RetryAfter);
        Assert.Null(result.PauseChannel);
        Assert.Contains("Service temporarily unavailable", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(504)]
    public void Any_5xx_retries_whatever_its_code(int http)
    {
        var result = Classify(0, http, message: $"HTTP {http} Bad Gateway (not a Graph API error)");
        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.Null(result.RetryAfter);
        Assert.Null(result.PauseChannel);
        Assert.Contains("not a Graph API error", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_code_on_a_5xx_still_retries()
    {
        Assert.Equal(SendOutcome.Retry, Classify(131026, 500).Outcome);
    }

    [Theory]
    [InlineData(131026, "Message undeliverable")]
    [InlineData(131053, "Media upload error")]
    [InlineData(100, "Invalid parameter")]
    [InlineData(131051, "Unsupported message type")]
    [InlineData(0, "HTTP 404 Not Found (not a Graph API error)")]
    public void Other_codes_fail_with_metas_message(int code, string message)
    {
        var result = Classify(code, http: code == 0 ? 404 : 400, message: message);
        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.Null(result.RetryAfter);
        Assert.Null(result.PauseChannel);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("template", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_network_error_retries()
    {
        var result = WhatsAppSender.Classify(Settings, new GraphError(0, 0, null, "network: ConnectionError"));
        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.Null(result.RetryAfter);
        Assert.Null(result.PauseChannel);
        Assert.Contains("ConnectionError", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_timeout_retries()
    {
        var result = WhatsAppSender.Classify(Settings, new GraphError(0, 0, null, "no answer within 10 s"));
        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.Contains("no answer within 10 s", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_address_the_destination_policy_refused_fails_without_retrying()
    {
        var result = WhatsAppSender.Classify(Settings, new GraphError(0, 0, null, "refused: 10.0.0.5 is a private address", Refused: true));
        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.Null(result.PauseChannel);
        Assert.Contains("private address", result.Error, StringComparison.Ordinal);
    }
}
