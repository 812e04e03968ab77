namespace Tern.Channels.Limits;

/// <summary>
/// At most <c>limit</c> sends in any window of the given length, counted the way the platform sees
/// them: a send occupies its slot from the moment it starts until one window after it completed. So
/// however late a request reaches the platform, no window there ever holds more than the limit — also
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

/// <summary>The slots one send holds; <see cref="Complete"/> when the request was made (whatever the platform answered).</summary>
public sealed class SendWindowLease(List<SendWindow> windows)
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
