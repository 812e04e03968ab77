namespace Tern.StandIns.WhatsApp;

/// <summary>
/// Limits, clock and lifetimes of a <see cref="GraphApiStandIn"/>. Read on every call, so a test may change
/// them while the stand-in runs (the clock excepted).
/// </summary>
public sealed class GraphApiOptions
{
    /// <summary>
    /// The clock of the limits, the media expiry and the timestamps. A test passes a <see cref="ManualTimeProvider"/>
    /// so that nothing depends on how fast the machine is.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>When false the limits are neither counted nor enforced (benchmarks).</summary>
    public bool EnforceLimits { get; set; } = true;

    /// <summary>A send over a limit is answered with Meta's error (130429 or 131056). When false it is accepted and only counted.</summary>
    public bool RejectViolations { get; set; } = true;

    /// <summary>Messages one business phone number may send in any 1 s (Meta: 80 mps by default). 0 = no limit.</summary>
    public int MessagesPerSecond { get; set; } = 80;

    /// <summary>
    /// The pair rate: one message to one recipient every <see cref="PairInterval"/> (Meta: about one every 6 s),
    /// after a burst of up to <see cref="PairBurst"/>. A token bucket. <see cref="PairBurst"/> 0 turns it off.
    /// </summary>
    public TimeSpan PairInterval { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>The pair-rate bucket's size (the burst allowance). 0 = no pair limit.</summary>
    public int PairBurst { get; set; } = 45;

    /// <summary>Whether a recipient nobody marked is inside the 24-hour customer service window. Meta: only after the user wrote.</summary>
    public bool WindowOpenByDefault { get; set; }

    /// <summary>Media ids expire after this age (Meta: media from webhooks, 7 days; uploads, 30 days).</summary>
    public TimeSpan MediaLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>A media URL from <c>GET /{media-id}</c> works this long (Meta: 5 minutes).</summary>
    public TimeSpan MediaUrlLifetime { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>A clock that moves only when the test moves it.</summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private readonly Lock _lock = new();
    private DateTimeOffset _now;

    public ManualTimeProvider(DateTimeOffset? start = null) => _now = start ?? new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock) return _now;
    }

    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        lock (_lock) _now += by;
    }
}
