using Tern.Core.Catalog;
using Tern.Core.Delivery;

namespace Tern.Storage.Sqlite;

/// <summary>What senders look up while they send: copies of source messages, and chats that moved.</summary>
public sealed class SqliteChannelState(SqliteDatabase database, ICatalogStore catalog) : IMessageLinks, IChatMigrations
{
    public async Task<IReadOnlyList<string>> FindAsync(
        string sourceChannel, string sourceChat, string sourceMessageId, string destinationChannel, string destinationChat, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText =
            "SELECT dest_message FROM message_links WHERE source_channel = $source_channel AND source_chat = $source_chat " +
            "AND source_message = $source_message AND dest_channel = $dest_channel AND dest_chat = $dest_chat ORDER BY created_at, dest_message LIMIT 100";
        command.Parameters.AddWithValue("$source_channel", sourceChannel);
        command.Parameters.AddWithValue("$source_chat", sourceChat);
        command.Parameters.AddWithValue("$source_message", sourceMessageId);
        command.Parameters.AddWithValue("$dest_channel", destinationChannel);
        command.Parameters.AddWithValue("$dest_chat", destinationChat);
        var found = new List<string>(1);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) found.Add(reader.GetString(0));
        return found;
    }

    public async Task<string?> FindAsync(string channelId, string chat, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT new_chat FROM chat_migrations WHERE channel_id = $channel AND old_chat = $chat";
        command.Parameters.AddWithValue("$channel", channelId);
        command.Parameters.AddWithValue("$chat", chat);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    public async Task RecordAsync(string channelId, string oldChat, string newChat, long nowMs, CancellationToken cancellationToken)
    {
        await using (var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        await using (var command = connection.CreateCommand())
        {
            command.CommandText =
                "INSERT INTO chat_migrations (channel_id, old_chat, new_chat, migrated_at) VALUES ($channel, $old, $new, $now) " +
                "ON CONFLICT (channel_id, old_chat) DO UPDATE SET new_chat = excluded.new_chat, migrated_at = excluded.migrated_at";
            command.Parameters.AddWithValue("$channel", channelId);
            command.Parameters.AddWithValue("$old", oldChat);
            command.Parameters.AddWithValue("$new", newChat);
            command.Parameters.AddWithValue("$now", nowMs);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        // The same conversation under its new id: routes to it (also to its topics) and from it follow.
        var snapshot = await catalog.LoadAsync(cancellationToken).ConfigureAwait(false);
        foreach (var route in snapshot.Routes)
        {
            var destinations = route.Destinations
                .Select(d => d.ChannelId == channelId && d.Chat is { } chat && IsSameChat(chat, oldChat) ? d with { Chat = newChat + chat[oldChat.Length..] } : d)
                .ToArray();
            var sources = route.SourceChannel == channelId && route.SourceChats is { } chats && chats.Contains(oldChat, StringComparer.Ordinal) && !chats.Contains(newChat, StringComparer.Ordinal)
                ? chats.Append(newChat).ToArray()
                : route.SourceChats;
            if (destinations.SequenceEqual(route.Destinations) && ReferenceEquals(sources, route.SourceChats)) continue;
            await catalog.UpdateRouteAsync(route with { Destinations = destinations, SourceChats = sources }, cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsSameChat(string chat, string oldChat) =>
        chat == oldChat || (chat.StartsWith(oldChat, StringComparison.Ordinal) && chat.Length > oldChat.Length && chat[oldChat.Length] == '#');
}
