using Tern.Core.Messages;
using Tern.Core.Pipeline;

namespace Tern.Core.Tests.Doubles;

/// <summary>An inbox in a list, with the real one's rules: unique (channel, platform id), pending until routed, read in seq order.</summary>
internal sealed class InMemoryInboxStore : IInboxStore, IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<InboxItem> _rows = [];
    private readonly HashSet<long> _routed = [];
    private readonly Dictionary<(string, string), long> _keys = [];
    private readonly HashSet<long> _readNotRouted = [];
    private readonly AsyncSignal _appended = new();
    private long _nextSeq;
    private int _maxReadNotRouted;
    private int _reads;

    /// <summary>Called before each read; throwing from it makes the read fail.</summary>
    public Action? BeforeRead { get; set; }

    public long PendingCount
    {
        get
        {
            lock (_lock) return _rows.Count - _routed.Count;
        }
    }

    /// <summary>The most messages handed out by reads and not routed yet at any moment: what the dispatcher held in memory.</summary>
    public int MaxReadNotRouted
    {
        get
        {
            lock (_lock) return _maxReadNotRouted;
        }
    }

    public int Reads => Volatile.Read(ref _reads);

    public Task<InboxAppendResult> AppendAsync(Envelope envelope, CancellationToken cancellationToken)
    {
        InboxAppendResult result;
        lock (_lock)
        {
            if (_keys.TryGetValue((envelope.ChannelId, envelope.PlatformId), out var existing))
            {
                return Task.FromResult(new InboxAppendResult(existing, Duplicate: true));
            }
            var seq = ++_nextSeq;
            _rows.Add(new InboxItem(seq, envelope));
            _keys.Add((envelope.ChannelId, envelope.PlatformId), seq);
            result = new InboxAppendResult(seq, Duplicate: false);
        }
        _appended.Set();
        return Task.FromResult(result);
    }

    public Task<IReadOnlyList<InboxItem>> ReadPendingAsync(long afterSeq, int max, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _reads);
        BeforeRead?.Invoke();
        lock (_lock)
        {
            // Rows are in seq order; seq n sits at index n - 1.
            var page = new List<InboxItem>(max);
            for (var i = (int)Math.Max(0, afterSeq); i < _rows.Count && page.Count < max; i++)
            {
                var row = _rows[i];
                if (_routed.Contains(row.Seq)) continue;
                page.Add(row);
                _readNotRouted.Add(row.Seq);
            }
            _maxReadNotRouted = Math.Max(_maxReadNotRouted, _readNotRouted.Count);
            return Task.FromResult<IReadOnlyList<InboxItem>>(page);
        }
    }

    public Task WaitForAppendAsync(TimeSpan timeout, CancellationToken cancellationToken) => _appended.WaitAsync(timeout, cancellationToken);

    /// <summary>Moves a pending message to routed; false when it was routed already (or never stored).</summary>
    public bool TryMarkRouted(long seq)
    {
        lock (_lock)
        {
            if (seq < 1 || seq > _rows.Count || !_routed.Add(seq)) return false;
            _readNotRouted.Remove(seq);
            return true;
        }
    }

    public void Dispose() => _appended.Dispose();
}
