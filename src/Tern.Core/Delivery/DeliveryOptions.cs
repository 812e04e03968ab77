namespace Tern.Core.Delivery;

public sealed class DeliveryOptions
{
    /// <summary>Deliveries in flight at once, over all destinations. Also the most duplicates a crash can cause.</summary>
    public int Concurrency { get; set; } = 16;

    /// <summary>Deliveries in flight to one channel, unless the channel sets its own.</summary>
    public int PerChannelConcurrency { get; set; } = 8;

    /// <summary>Deliveries read per lane visit before the lane goes back in line (fairness between chats).</summary>
    public int LaneBatch { get; set; } = 32;

    public TimeSpan BackoffBase { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Consecutive destination faults (5xx, network) after which a channel is parked.</summary>
    public int ParkAfterFailures { get; set; } = 10;

    /// <summary>How long a parked channel waits before it is tried again.</summary>
    public TimeSpan Cooldown { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A delivery still failing this long after it was created is recorded as failed.</summary>
    public TimeSpan GiveUpAfter { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often due lanes are looked for when nothing signals new work (retries coming due).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>On shutdown, how long in-flight sends may take before they are abandoned (and stay pending).</summary>
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Failing destination chats remembered for the channel status (a bounded structure).</summary>
    public int FailureRecords { get; set; } = 4096;

    /// <summary>How long a failing chat's record is kept after its last failure.</summary>
    public TimeSpan FailureMemory { get; set; } = TimeSpan.FromHours(24);
}
