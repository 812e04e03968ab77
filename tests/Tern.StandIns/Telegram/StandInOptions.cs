namespace Tern.StandIns.Telegram;

/// <summary>
/// Faults and limits of a <see cref="BotApiStandIn"/>. Read on every call, so a test may change
/// them while the stand-in runs.
/// </summary>
public sealed class StandInOptions
{
    /// <summary>Fraction of sending and edit calls answered 429 "Too Many Requests: retry after N".</summary>
    public double TooManyRequestsRate { get; set; }

    /// <summary>The retry_after of injected 429s.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Fraction of sending and edit calls answered HTTP 502 "Bad Gateway".</summary>
    public double BadGatewayRate { get; set; }

    /// <summary>Seeds the fault choice and the bots' first update ids, so runs repeat.</summary>
    public int Seed { get; set; } = 12345;

    /// <summary>When false the flood limits are neither counted nor enforced (benchmarks).</summary>
    public bool EnforceLimits { get; set; } = true;

    /// <summary>A call that exceeds a limit is answered 429 with the seconds until it would be allowed.</summary>
    public bool RejectViolations { get; set; } = true;

    /// <summary>Sending calls one bot may make in any 1 s.</summary>
    public int PerBotPerSecond { get; set; } = 30;

    /// <summary>Sending calls one bot may make to one chat in any <see cref="PerChatWindow"/>.</summary>
    public int PerChatBurst { get; set; } = 3;

    public TimeSpan PerChatWindow { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Sending calls one bot may make to one group, supergroup or channel (id &lt; 0) in any 60 s.</summary>
    public int PerGroupPerMinute { get; set; } = 20;

    /// <summary>First delay before a webhook push is retried; doubles up to <see cref="WebhookRetryMax"/>.</summary>
    public TimeSpan WebhookRetryInitial { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan WebhookRetryMax { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one webhook POST may take before it counts as failed.</summary>
    public TimeSpan WebhookRequestTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
