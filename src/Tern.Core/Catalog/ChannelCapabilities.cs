namespace Tern.Core.Catalog;

/// <summary>What a chat of a channel type can show; the router leaves out deliveries a destination could not show.</summary>
[Flags]
public enum ChannelCapabilities
{
    None = 0,

    /// <summary>A button press (a callback) can be delivered to it as a message of its own.</summary>
    ButtonPresses = 1 << 0,

    /// <summary>A message it received as a forward can be edited later (a platform may not let a bot edit a forward).</summary>
    EditsOfForwards = 1 << 1,

    /// <summary>
    /// Its limits are per channel (a bot's messages per second): in a cluster, one instance at a time receives and
    /// sends for it, the one holding the channel's lease.
    /// </summary>
    OneInstanceAtATime = 1 << 2,

    /// <summary>What a type Tern does not know a contract for (the tenants' event webhooks) is taken to show.</summary>
    All = ButtonPresses | EditsOfForwards,
}
