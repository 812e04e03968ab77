using Tern.Core.Memory;

namespace Tern.Channels.Telegram;

/// <summary>
/// At most <c>limit</c> sends in any window of the given length, counted the way the platform sees
/// them: a send occupies its slot from the moment it starts until one window after it completed. So
/// however late a request reaches Telegram, no window there ever holds more than the limit — also
/// with many sends in flight at once. Memory: one timestamp per slot.
/// </summary>
public sealed class SendWindow
{
    private readonly Lock _lock = new();
    private readonly long _windowTicks;
    private readonly long[] _completions;
    private int _inFlight;

    public SendWindow(int limit, TimeSpan window, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        Time = time;
        _windowTicks = (long)(window.TotalSeconds * time.TimestampFrequency);
        _completions = new long[limit];
        Array.Fill(_completions, long.MinValue);
    }

    public TimeProvider Time { get; }

    /// <summary>Takes a slot, or says how long until one frees up.</summary>
    public bool TryAcquire(out TimeSpan wait)
    {
        var now = Time.GetTimestamp();
        lock (_lock)
        {
            var busy = _inFlight;
            var oldestLive = long.MaxValue;
            foreach (var completed in _completions)
            {
                if (completed != long.MinValue && now - completed < _windowTicks)
                {
                    busy++;
                    if (completed < oldestLive) oldestLive = completed;
                }
            }
            if (busy < _completions.Length)
            {
                _inFlight++;
                wait = TimeSpan.Zero;
                return true;
            }
            // Every slot is taken: by sends in flight (they free a slot a window after they finish) or by recent ones.
            var ticks = oldestLive == long.MaxValue ? _windowTicks : oldestLive + _windowTicks - now;
            wait = TimeSpan.FromSeconds(Math.Max(ticks, 1) / (double)Time.TimestampFrequency);
            return false;
        }
    }

    /// <summary>The send reached (or may have reached) the platform: it counts for one window from now.</summary>
    public void Complete()
    {
        var now = Time.GetTimestamp();
        lock (_lock)
        {
            _inFlight--;
            // The slot of the oldest completion is reused: only the newest `limit` completions can matter.
            var oldest = 0;
            for (var i = 1; i < _completions.Length; i++)
            {
                if (_completions[i] < _completions[oldest]) oldest = i;
            }
            _completions[oldest] = now;
        }
    }

    /// <summary>The slot was taken but nothing was sent (another limit said no first).</summary>
    public void Release()
    {
        lock (_lock) _inFlight--;
    }

    /// <summary>True when nothing in flight and no completion inside the window: the window may be forgotten.</summary>
    public bool Idle
    {
        get
        {
            var now = Time.GetTimestamp();
            lock (_lock) return _inFlight == 0 && _completions.All(c => c == long.MinValue || now - c >= _windowTicks);
        }
    }
}

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
    public Lease? TryAcquire(string botId, string chatId, SendLimits limits, out TimeSpan wait, out bool botWide)
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
        return new Lease(windows);
    }

    /// <summary>Groups, supergroups and channels have negative ids (or are addressed as @username).</summary>
    public static bool IsGroup(string chatId) => chatId.StartsWith('-') || chatId.StartsWith('@');

    // One window per key, made atomically: two windows for one chat or bot would each allow the full limit.
    private SendWindow Window(BoundedLruCache<string, SendWindow> cache, string key, int limit, TimeSpan window) =>
        cache.GetOrAdd(key, _ => new SendWindow(limit, window, _time));

    /// <summary>The slots one send holds; <see cref="Complete"/> when the request was made (whatever Telegram answered).</summary>
    public sealed class Lease(List<SendWindow> windows)
    {
        private int _done;

        public void Complete()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0) return;
            foreach (var window in windows) window.Complete();
        }

        /// <summary>Nothing was sent after all.</summary>
        public void Release()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0) return;
            foreach (var window in windows) window.Release();
        }
    }
}
