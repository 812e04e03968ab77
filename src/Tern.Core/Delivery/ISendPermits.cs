using Tern.Core.Catalog;

namespace Tern.Core.Delivery;

/// <summary>Whether this instance may send for a channel now. Without one, it sends for every channel.</summary>
public interface ISendPermits
{
    bool MaySend(ChannelDefinition channel);
}
