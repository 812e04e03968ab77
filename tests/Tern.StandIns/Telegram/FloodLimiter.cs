using System.Diagnostics;

namespace Tern.StandIns.Telegram;

/// <summary>
/// Sliding-window counters of sending calls, one window per bot, per (bot, chat) and per
/// (bot, group). Each key keeps only the arrival timestamps still inside its window, and a key
/// whose window empties is dropped, so memory follows the recent traffic, not the total.
/// Not thread-safe: the stand-in calls it under its lock.
/// </summary>
internal sealed class FloodLimiter
{
    private static readonly TimeSpan GroupWindow = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan BotWindow = TimeSpan.FromSeconds(1);

    private readonly Dictionary<long, Queue<long>> _perBot = [];
    private readonly Dictionary<(long Bot, long Chat), Queue<long>> _perChat = [];
    private readonly Dictionary<(long Bot, long Chat), Queue<long>> _perGroup = [];
    private long _lastSweep;

    /// <summary>A window the call would exceed, with the seconds until it would fit.</summary>
    public readonly record struct Exceeded(LimitKind Kind, int Limit, TimeSpan Window, int CallsInWindow, int RetryAfterSeconds);

    /// <summary>Number of keys with timestamps (for tests of the memory bound).</summary>
    public int TrackedKeys => _perBot.Count + _perChat.Count + _perGroup.Count;

    /// <summary>
    /// Checks the windows of a call arriving at <paramref name="now"/>. When none is exceeded, or
    /// <paramref name="countWhenExceeded"/>, the call is counted in all its windows.
    /// </summary>
    public List<Exceeded>? Check(StandInOptions options, long botId, long? chatId, long now, bool countWhenExceeded)
    {
        SweepIfDue(now, options.PerChatWindow);
        List<Exceeded>? exceeded = null;
        var botQueue = Window(_perBot, botId, BotWindow, now);
        Test(LimitKind.PerBot, botQueue, options.PerBotPerSecond, BotWindow, now, ref exceeded);

        Queue<long>? chatQueue = null;
        Queue<long>? groupQueue = null;
        if (chatId is { } chat)
        {
            chatQueue = Window(_perChat, (botId, chat), options.PerChatWindow, now);
            Test(LimitKind.PerChat, chatQueue, options.PerChatBurst, options.PerChatWindow, now, ref exceeded);
            if (chat < 0)
            {
                groupQueue = Window(_perGroup, (botId, chat), GroupWindow, now);
                Test(LimitKind.PerGroup, groupQueue, options.PerGroupPerMinute, GroupWindow, now, ref exceeded);
            }
        }

        if (exceeded is null || countWhenExceeded)
        {
            botQueue.Enqueue(now);
            chatQueue?.Enqueue(now);
            groupQueue?.Enqueue(now);
        }
        else
        {
            DropIfEmpty(_perBot, botId, botQueue);
            if (chatId is { } c)
            {
                DropIfEmpty(_perChat, (botId, c), chatQueue!);
                if (groupQueue is not null) DropIfEmpty(_perGroup, (botId, c), groupQueue);
            }
        }

        return exceeded;
    }

    private static void Test(LimitKind kind, Queue<long> queue, int limit, TimeSpan window, long now, ref List<Exceeded>? exceeded)
    {
        if (queue.Count < limit) return;
        // The call fits once the oldest calls that keep the window full have left it.
        var leaving = queue.ElementAt(queue.Count - Math.Max(limit, 1));
        var waitTicks = leaving + ToTicks(window) - now;
        var seconds = (int)Math.Ceiling(waitTicks / (double)Stopwatch.Frequency);
        exceeded ??= [];
        exceeded.Add(new Exceeded(kind, limit, window, queue.Count, Math.Max(1, seconds)));
    }

    private static Queue<long> Window<TKey>(Dictionary<TKey, Queue<long>> windows, TKey key, TimeSpan window, long now)
        where TKey : notnull
    {
        if (!windows.TryGetValue(key, out var queue))
        {
            queue = new Queue<long>();
            windows[key] = queue;
        }

        Trim(queue, now - ToTicks(window));
        return queue;
    }

    private static void Trim(Queue<long> queue, long oldestInside)
    {
        // A call at exactly now - window has left the window: "any 1 s" is the half-open (now - 1 s, now].
        while (queue.Count > 0 && queue.Peek() <= oldestInside) queue.Dequeue();
    }

    private static void DropIfEmpty<TKey>(Dictionary<TKey, Queue<long>> windows, TKey key, Queue<long> queue)
        where TKey : notnull
    {
        if (queue.Count == 0) windows.Remove(key);
    }

    private void SweepIfDue(long now, TimeSpan chatWindow)
    {
        // Keys of chats no longer written to would otherwise stay forever; sweep them at most once a minute.
        if (now - _lastSweep < ToTicks(GroupWindow)) return;
        _lastSweep = now;
        Sweep(_perBot, now, BotWindow);
        Sweep(_perChat, now, chatWindow);
        Sweep(_perGroup, now, GroupWindow);
    }

    private static void Sweep<TKey>(Dictionary<TKey, Queue<long>> windows, long now, TimeSpan window)
        where TKey : notnull
    {
        List<TKey>? empty = null;
        foreach (var (key, queue) in windows)
        {
            if (queue.Count == 0 || queue.Last() <= now - ToTicks(window)) (empty ??= []).Add(key);
        }

        if (empty is null) return;
        foreach (var key in empty) windows.Remove(key);
    }

    private static long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
}
