using Tern.Core.Catalog;
using Tern.Core.Delivery;

namespace Tern.Core.Cluster;

/// <summary>
/// In a cluster, a channel whose type is <see cref="ChannelCapabilities.OneInstanceAtATime"/> is sent for only by the instance
/// holding its lease, so per-bot and per-chat limits hold across the cluster; every other channel by any instance.
/// </summary>
public sealed class ClusterSendPermits(HeldLeases held, ChannelTypeRegistry types) : ISendPermits
{
    public bool MaySend(ChannelDefinition channel) =>
        !types.CapabilitiesOf(channel.Type).HasFlag(ChannelCapabilities.OneInstanceAtATime) || held.IsHeld(LeaseNames.Channel(channel.Id));
}
