namespace Tern.Core.Cluster;

/// <summary>
/// Several instances on one database (<c>Tern:Cluster</c>). Off, one process owns everything and takes no leases beyond the
/// scheduler's. On, the work that must happen in one place at a time is held by leases with a heartbeat: the router (the
/// inbox is routed by one instance, so a chat's messages enter the outbox in order), each bot (one instance polls and sends
/// for it, so its limits hold), the scheduler, and each instance's own lease, which keeps the lanes it is sending.
/// </summary>
public sealed record ClusterOptions
{
    public static readonly ClusterOptions Off = new() { Enabled = false, InstanceId = DefaultInstanceId() };

    public required bool Enabled { get; init; }

    /// <summary>Names this instance in the leases it holds; unique in the cluster.</summary>
    public required string InstanceId { get; init; }

    /// <summary>A lease not renewed for this long is free for another instance: the takeover time when an instance dies.</summary>
    public TimeSpan LeaseTimeToLive { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>A held lease is renewed this often (a third of its life: two renewals may fail before it lapses).</summary>
    public TimeSpan RenewInterval => LeaseTimeToLive / 3;

    /// <summary>A lease someone else holds is asked for again this often.</summary>
    public TimeSpan AcquireInterval => LeaseTimeToLive / 5;

    /// <summary>Host, process and a random part: a restarted process is a new instance, whose old lanes others may take.</summary>
    public static string DefaultInstanceId() => $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
}

/// <summary>The names of the leases Tern takes.</summary>
public static class LeaseNames
{
    /// <summary>Routes the inbox.</summary>
    public const string Router = "router";

    /// <summary>An instance's heartbeat: the lanes it claimed are its own while this lease lives.</summary>
    public const string InstancePrefix = "instance/";

    /// <summary>A channel whose type sends from one instance at a time (a chat bot with per-bot limits): polls and sends for it.</summary>
    public const string ChannelPrefix = "channel/";

    public static string Instance(string instanceId) => InstancePrefix + instanceId;

    public static string Channel(string channelId) => ChannelPrefix + channelId;
}
