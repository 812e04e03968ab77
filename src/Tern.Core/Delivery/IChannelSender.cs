using Tern.Core.Catalog;

namespace Tern.Core.Delivery;

/// <summary>Sends one delivery through a platform's client and classifies the answer. Must not throw for platform errors.</summary>
public interface IChannelSender
{
    /// <summary>The channel type this sender serves.</summary>
    string ChannelType { get; }

    Task<SendResult> SendAsync(ChannelDefinition channel, PendingDelivery delivery, CancellationToken cancellationToken);
}
