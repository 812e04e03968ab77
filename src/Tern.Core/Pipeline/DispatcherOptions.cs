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

    /// <summary>Albums (media groups) open at once, over all workers; when full, the oldest goes out as it is.</summary>
    public int AlbumGroups { get; set; } = 256;

    /// <summary>An album goes out once no new item arrived for this long.</summary>
    public TimeSpan AlbumQuiet { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>An album goes out at the latest this long after its first item, however busy it is.</summary>
    public TimeSpan AlbumMaxAge { get; set; } = TimeSpan.FromSeconds(10);
}
