namespace Tern.Core.Catalog;

/// <summary>What makes a channel or route setting valid: one set of rules for the CLI and the API. Each returns the problem, or null.</summary>
public static class CatalogRules
{
    public const int MinSecretLength = 16;

    public static string? Id(string? id) => Identifiers.IsValid(id) ? null : $"must be {Identifiers.Rule}";

    public static string? Type(string? type) => type is not null && ChannelTypes.IsKnown(type) ? null : $"must be one of: {ChannelTypes.KnownList}";

    public static string? Url(string? url, out Uri? parsed)
    {
        parsed = null;
        if (url is null) return null;
        if (!Uri.TryCreate(url, UriKind.Absolute, out parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
        {
            parsed = null;
            return "must be an absolute http:// or https:// URL";
        }
        return null;
    }

    public static string? Secret(string? secret) => secret is { Length: < MinSecretLength } or { Length: > 256 } ? $"must be {MinSecretLength} to 256 characters" : null;

    public static string? MaxConcurrency(int? value) => value is < 1 or > 1024 ? "must be from 1 to 1024" : null;

    public static string? Chat(string? chat) => string.IsNullOrEmpty(chat) || chat.Length > 256 ? "must be 1 to 256 characters" : null;

    /// <summary>A Telegram destination chat: a chat id or @channelusername, optionally #topic (a forum topic id).</summary>
    public static string? TelegramDestination(string chat)
    {
        var hash = chat.LastIndexOf('#');
        var id = hash > 0 ? chat[..hash] : chat;
        if (hash > 0 && !(long.TryParse(chat.AsSpan(hash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var topic) && topic > 0))
        {
            return "a forum topic after '#' must be a positive number (chat#topic)";
        }
        return IsTelegramChatId(id) || IsChannelUsername(id) ? null : "must be a Telegram chat id (e.g. -1001234567890) or @channelusername, optionally #topic";
    }

    /// <summary>A Telegram source chat: updates name chats by number.</summary>
    public static string? TelegramSourceChat(string chat) => IsTelegramChatId(chat) ? null : "must be a Telegram chat id (e.g. -1001234567890)";

    private static bool IsTelegramChatId(string id) =>
        long.TryParse(id, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n) && n != 0;

    private static bool IsChannelUsername(string id) =>
        id.Length is >= 6 and <= 33 && id[0] == '@' && id.AsSpan(1).ContainsAnyExcept(UsernameChars) == false;

    private static readonly System.Buffers.SearchValues<char> UsernameChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");

    /// <summary>The problem with a route's chat for a channel of this type, or null.</summary>
    public static string? DestinationChat(string channelType, string chat) =>
        channelType == ChannelTypes.Telegram ? TelegramDestination(chat) : Chat(chat);

    public static string? SourceChat(string channelType, string chat) =>
        channelType == ChannelTypes.Telegram ? TelegramSourceChat(chat) : Chat(chat);
}
