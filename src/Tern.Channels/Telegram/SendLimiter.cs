using Tern.Channels.Limits;
using Tern.Core.Memory;

namespace Tern.Channels.Telegram;

/// <summary>
/// The sending limits of every Telegram bot Tern runs: one window per bot, one per chat and one more
/// per group chat. Chat windows live in a bounded LRU (a chat idle for longer than its window needs
/// no memory); the LRU's size is what /memory shows.
/// </summary>
public sealed class SendLimiter
{
    private readonly TimeProvider _time;
    private readonly BoundedLruCache<string, SendWindow> _chats;
    private readonly BoundedLruCache<string, SendWindow> _bots;

    public SendLimiter(int chatCapacity, TimeProvider time)
    {
        _time = time;
        // Expiry after ten minutes: longer than any window (a group's is one minute), so an entry is only forgotten when idle.
        _chats = new BoundedLruCache<string, SendWindow>("telegram-chat-limits", chatCapacity, TimeSpan.FromMinutes(10), time, StringComparer.Ordinal);
        _bots = new BoundedLruCache<string, SendWindow>("telegram-bot-limits", 1024, TimeSpan.FromMinutes(10), time, StringComparer.Ordinal);
    }

    public IBoundedStructure ChatWindows => _chats;

    public IBoundedStructure BotWindows => _bots;

    /// <summary>
    /// Takes a slot in each window that applies to a send from <paramref name="botId"/> to <paramref name="chatId"/>.
    /// On "not yet" nothing is held; <paramref name="botWide"/> tells whether the bot's own limit said no (every chat waits).
    /// </summary>
    public SendWindowLease? TryAcquire(string botId, string chatId, SendLimits limits, out TimeSpan wait, out bool botWide)
    {
        botWide = false;
        var windows = new List<SendWindow>(3);
        if (limits.ChatPerSecond > 0)
        {
            var burst = Math.Max(1, limits.ChatBurst);
            windows.Add(Window(_chats, $"{botId}\n{chatId}\nchat", burst, TimeSpan.FromSeconds(burst / limits.ChatPerSecond)));
        }
        if (limits.GroupPerMinute > 0 && IsGroup(chatId))
        {
            windows.Add(Window(_chats, $"{botId}\n{chatId}\ngroup", limits.GroupPerMinute, TimeSpan.FromMinutes(1)));
        }
        if (limits.BotPerSecond > 0)
        {
            windows.Add(Window(_bots, botId + "\n" + limits.BotPerSecond, limits.BotPerSecond, TimeSpan.FromSeconds(1)));
        }

        for (var i = 0; i < windows.Count; i++)
        {
            if (windows[i].TryAcquire(out wait)) continue;
            for (var j = 0; j < i; j++) windows[j].Release();
            botWide = limits.BotPerSecond > 0 && i == windows.Count - 1;
            return null;
        }
        wait = TimeSpan.Zero;
        return new SendWindowLease(windows);
    }

    /// <summary>Groups, supergroups and channels have negative ids (or are addressed as @username).</summary>
    public static bool IsGroup(string chatId) => chatId.StartsWith('-') || chatId.StartsWith('@');

    // One window per key, made atomically: two windows for one chat or bot would each allow the full limit.
    private SendWindow Window(BoundedLruCache<string, SendWindow> cache, string key, int limit, TimeSpan window) =>
        cache.GetOrAdd(key, _ => new SendWindow(limit, window, _time));
}
