namespace Tern.Core.Pipeline;

public sealed class DispatcherOptions
{
    /// <summary>Messages held in memory between the inbox reader and the workers; a full channel pauses reading, never drops.</summary>
    public int Capacity { get; set; } = 256;

    /// <summary>Routing workers. Each owns a partition of chats, so a chat's messages are routed in order.</summary>
    public int Workers { get; set; } = 2;

    /// <summary>Inbox rows read per query.</summary>
    public int PageSize { get; set; } = 256;

    /// <summary>Messages routed per transaction.</summary>
    public int BatchSize { get; set; } = 128;
}
