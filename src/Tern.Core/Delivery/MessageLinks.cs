using Tern.Core.Catalog;

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

/// <summary>Chats that moved (a platform may give a chat a new id, e.g. when a group is upgraded); deliveries to the old id go to the new one.</summary>
public interface IChatMigrations
{
    /// <summary>The chat's new id, or null when it did not move.</summary>
    Task<string?> FindAsync(string channelId, string chat, CancellationToken cancellationToken);

    /// <summary>Records the move and points every route destination at the old id to the new one.</summary>
    Task RecordAsync(string channelId, string oldChat, string newChat, long nowMs, CancellationToken cancellationToken);
}

/// <summary>A chat that got a new id on one channel.</summary>
public sealed record ChatMove(string ChannelId, string OldChat, string NewChat, long AtMs);

/// <summary>Where chat moves are kept. The move and the routes it rewrites are written in one transaction.</summary>
public interface IChatMoveStore
{
    /// <summary>The chat's new id, or null when it did not move.</summary>
    Task<string?> FindAsync(string channelId, string chat, CancellationToken cancellationToken);

    /// <summary>
    /// Records the move and replaces <paramref name="movedRoutes"/>, all in one transaction, provided the catalog
    /// is still at <paramref name="catalogVersion"/> (the version the routes were rewritten from). False, with
    /// nothing written, when the catalog changed in between.
    /// </summary>
    Task<bool> RecordAsync(ChatMove move, long catalogVersion, IReadOnlyList<RouteDefinition> movedRoutes, CancellationToken cancellationToken);
}

/// <summary>Decides what a chat move does to the routes; the store writes it atomically.</summary>
public sealed class ChatMigrations(IChatMoveStore store, ICatalogStore catalog) : IChatMigrations
{
    /// <summary>Rewrites lost to a concurrent catalog change are redone from the new catalog; this many times at most.</summary>
    private const int Attempts = 8;

    public Task<string?> FindAsync(string channelId, string chat, CancellationToken cancellationToken) => store.FindAsync(channelId, chat, cancellationToken);

    public async Task RecordAsync(string channelId, string oldChat, string newChat, long nowMs, CancellationToken cancellationToken)
    {
        var move = new ChatMove(channelId, oldChat, newChat, nowMs);
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var snapshot = await catalog.LoadAsync(cancellationToken).ConfigureAwait(false);
            if (await store.RecordAsync(move, snapshot.Version, RoutesAfter(move, snapshot.Routes), cancellationToken).ConfigureAwait(false)) return;
        }
        throw new InvalidOperationException($"chat {oldChat} of channel {channelId} moved to {newChat}, but the catalog kept changing while its routes were rewritten");
    }

    /// <summary>
    /// The same conversation under its new id: routes to it (also to its topics, <c>chat#topic</c>) point at the
    /// new id, and routes from it also take the new id as a source chat. Only the routes that change are returned.
    /// </summary>
    public static IReadOnlyList<RouteDefinition> RoutesAfter(ChatMove move, IEnumerable<RouteDefinition> routes)
    {
        var changed = new List<RouteDefinition>();
        foreach (var route in routes)
        {
            var destinations = route.Destinations
                .Select(d => d.ChannelId == move.ChannelId && d.Chat is { } chat && IsSameChat(chat, move.OldChat) ? d with { Chat = move.NewChat + chat[move.OldChat.Length..] } : d)
                .ToArray();
            var sources = route.SourceChannel == move.ChannelId && route.SourceChats is { } chats
                && chats.Contains(move.OldChat, StringComparer.Ordinal) && !chats.Contains(move.NewChat, StringComparer.Ordinal)
                ? chats.Append(move.NewChat).ToArray()
                : route.SourceChats;
            if (destinations.SequenceEqual(route.Destinations) && ReferenceEquals(sources, route.SourceChats)) continue;
            changed.Add(route with { Destinations = destinations, SourceChats = sources });
        }
        return changed;
    }

    private static bool IsSameChat(string chat, string oldChat) =>
        chat == oldChat || (chat.StartsWith(oldChat, StringComparison.Ordinal) && chat.Length > oldChat.Length && chat[oldChat.Length] == '#');
}
