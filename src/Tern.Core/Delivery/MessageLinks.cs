namespace Tern.Core.Delivery;

/// <summary>
/// A copy of a source message in a destination chat, learned when the copy was sent. Edits of the
/// source edit the copy; a reply to the source becomes a reply to the copy.
/// </summary>
public sealed record MessageLink(
    string SourceChannel, string SourceChat, string SourceMessageId, string DestinationChannel, string DestinationChat, string DestinationMessageId);

/// <summary>The durable map of source messages to their copies, kept for a configurable time.</summary>
public interface IMessageLinks
{
    /// <summary>The copies (destination message ids, oldest first) of a source message in one destination chat.</summary>
    Task<IReadOnlyList<string>> FindAsync(string sourceChannel, string sourceChat, string sourceMessageId, string destinationChannel, string destinationChat, CancellationToken cancellationToken);
}

/// <summary>Chats that moved (a Telegram group upgraded to a supergroup gets a new id); deliveries to the old id go to the new one.</summary>
public interface IChatMigrations
{
    /// <summary>The chat's new id, or null when it did not move.</summary>
    Task<string?> FindAsync(string channelId, string chat, CancellationToken cancellationToken);

    /// <summary>Records the move and points every route destination at the old id to the new one.</summary>
    Task RecordAsync(string channelId, string oldChat, string newChat, long nowMs, CancellationToken cancellationToken);
}
