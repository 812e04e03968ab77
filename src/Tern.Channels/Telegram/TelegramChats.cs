namespace Tern.Channels.Telegram;

/// <summary>What a Telegram chat is in a route: the Bot API's chat ids and channel usernames.</summary>
public static class TelegramChats
{
    /// <summary>A destination chat: a chat id or @channelusername, optionally #topic (a forum topic id).</summary>
    public static string? Destination(string chat)
    {
        var hash = chat.LastIndexOf('#');
        var id = hash > 0 ? chat[..hash] : chat;
        if (hash > 0 && !(long.TryParse(chat.AsSpan(hash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var topic) && topic > 0))
        {
            return "a forum topic after '#' must be a positive number (chat#topic)";
        }
        return IsTelegramChatId(id) || IsChannelUsername(id) ? null : "must be a Telegram chat id (e.g. -1001234567890) or @channelusername, optionally #topic";
    }

    /// <summary>A source chat: updates name chats by number.</summary>
    public static string? Source(string chat) => IsTelegramChatId(chat) ? null : "must be a Telegram chat id (e.g. -1001234567890)";

    private static bool IsTelegramChatId(string id) =>
        long.TryParse(id, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n) && n != 0;

    private static bool IsChannelUsername(string id) =>
        id.Length is >= 6 and <= 33 && id[0] == '@' && id.AsSpan(1).ContainsAnyExcept(UsernameChars) == false;

    private static readonly System.Buffers.SearchValues<char> UsernameChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
}
