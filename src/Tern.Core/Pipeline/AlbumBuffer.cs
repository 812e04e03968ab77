using Tern.Core.Memory;
using Tern.Core.Messages;

namespace Tern.Core.Pipeline;

/// <summary>
/// Holds album items (messages of one chat sharing a group id) until the album is complete, so it is
/// routed as one unit. Platforms deliver an album as separate updates; its items are consecutive in
/// their chat, so an album is complete when the chat's next message is not part of it, when it has
/// <see cref="MaxItems"/> items, when it has been quiet for a moment, or when it is too old. The items
/// are already committed to the inbox; a crash loses nothing, they are read again at the next start.
/// This is the registry's view (counts over all workers); each worker owns an <see cref="AlbumAssembler"/>.
/// </summary>
public sealed class AlbumBuffer : IBoundedStructure
{
    /// <summary>The most items a platform puts in one media group (the Bot API's limit is 10).</summary>
    public const int MaxItems = 10;

    private int _open;
    private long _evictions;
    private long _flushRequests;

    public AlbumBuffer(int capacity, TimeSpan quiet, TimeSpan maxAge)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        Quiet = quiet;
        MaxAge = maxAge;
    }

    public string Name => "albums";

    public int Count => Volatile.Read(ref _open);

    public int Capacity { get; }

    /// <summary>Albums sent before they were complete because the buffer was full or memory was short.</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    public TimeSpan Quiet { get; }

    public TimeSpan MaxAge { get; }

    /// <summary>Bumped by <see cref="Trim"/>; workers flush their open albums when they see it change.</summary>
    internal long FlushRequests => Interlocked.Read(ref _flushRequests);

    /// <summary>Under memory pressure the open albums are routed as they are (nothing can be dropped: they are in the inbox).</summary>
    public int Trim(double fraction)
    {
        var open = Count;
        if (open > Capacity * fraction) Interlocked.Increment(ref _flushRequests);
        return open;
    }

    public AlbumAssembler CreateAssembler(int capacity) => new(this, Math.Max(1, capacity));

    internal void OnOpened() => Interlocked.Increment(ref _open);

    internal void OnClosed(bool early)
    {
        Interlocked.Decrement(ref _open);
        if (early) Interlocked.Increment(ref _evictions);
    }
}

/// <summary>One worker's open albums. Not thread-safe: it belongs to the worker that routes those chats.</summary>
public sealed class AlbumAssembler
{
    private readonly AlbumBuffer _buffer;
    private readonly int _capacity;
    private readonly Dictionary<string, OpenAlbum> _open = new(StringComparer.Ordinal);
    private long _flushRequestsSeen;

    internal AlbumAssembler(AlbumBuffer buffer, int capacity)
    {
        _buffer = buffer;
        _capacity = capacity;
        _flushRequestsSeen = buffer.FlushRequests;
    }

    public int OpenCount => _open.Count;

    /// <summary>Takes the next item of the worker's stream; appends whatever is ready to route, in order.</summary>
    public void Accept(InboxItem item, long nowMs, List<IReadOnlyList<InboxItem>> ready)
    {
        var envelope = item.Envelope;
        var key = string.Concat(envelope.ChannelId, "\n", envelope.Chat);
        if (_open.TryGetValue(key, out var album))
        {
            if (envelope.Kind == MessageKind.Message && envelope.GroupId == album.GroupId)
            {
                album.Items.Add(item);
                album.LastMs = nowMs;
                if (album.Items.Count >= AlbumBuffer.MaxItems) Close(key, album, ready, early: false);
                return;
            }
            // The chat moved on: the album is complete, and goes out before the message that follows it.
            Close(key, album, ready, early: false);
        }

        if (envelope.Kind != MessageKind.Message || envelope.GroupId is null)
        {
            ready.Add([item]);
            return;
        }

        if (_open.Count >= _capacity) CloseOldest(ready);
        _open[key] = new OpenAlbum(envelope.GroupId, nowMs) { Items = { item }, LastMs = nowMs };
        _buffer.OnOpened();
    }

    /// <summary>Sends albums that have been quiet long enough or are too old (all of them when memory is short).</summary>
    public void Expire(long nowMs, List<IReadOnlyList<InboxItem>> ready)
    {
        if (_open.Count == 0) return;
        var flushAll = false;
        var requests = _buffer.FlushRequests;
        if (requests != _flushRequestsSeen)
        {
            _flushRequestsSeen = requests;
            flushAll = true;
        }
        List<string>? due = null;
        foreach (var (key, album) in _open)
        {
            if (flushAll || DeadlineOf(album) <= nowMs) (due ??= []).Add(key);
        }
        if (due is null) return;
        // Oldest first, so the order between chats stays close to the inbox order.
        due.Sort((a, b) => _open[a].FirstMs.CompareTo(_open[b].FirstMs));
        foreach (var key in due) Close(key, _open[key], ready, early: flushAll);
    }

    /// <summary>When the next album falls due, or null with none open.</summary>
    public long? NextDeadlineMs
    {
        get
        {
            long? next = null;
            foreach (var album in _open.Values)
            {
                var deadline = DeadlineOf(album);
                if (next is null || deadline < next) next = deadline;
            }
            return next;
        }
    }

    /// <summary>Forgets open albums without routing them (the worker is stopping; the items stay pending in the inbox).</summary>
    public void Abandon()
    {
        foreach (var _ in _open) _buffer.OnClosed(early: false);
        _open.Clear();
    }

    private long DeadlineOf(OpenAlbum album) =>
        Math.Min(album.LastMs + (long)_buffer.Quiet.TotalMilliseconds, album.FirstMs + (long)_buffer.MaxAge.TotalMilliseconds);

    private void CloseOldest(List<IReadOnlyList<InboxItem>> ready)
    {
        var oldest = _open.MinBy(p => p.Value.FirstMs);
        Close(oldest.Key, oldest.Value, ready, early: true);
    }

    private void Close(string key, OpenAlbum album, List<IReadOnlyList<InboxItem>> ready, bool early)
    {
        _open.Remove(key);
        _buffer.OnClosed(early);
        ready.Add(album.Items);
    }

    private sealed class OpenAlbum(string groupId, long firstMs)
    {
        public string GroupId { get; } = groupId;
        public long FirstMs { get; } = firstMs;
        public long LastMs { get; set; }
        public List<InboxItem> Items { get; } = new(AlbumBuffer.MaxItems);
    }
}
