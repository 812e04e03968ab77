using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Messages;

namespace Tern.Core.Pipeline;

/// <summary>
/// Reads the inbox in pages into bounded in-memory partitions and routes them with a fixed number of
/// workers. Memory holds at most <see cref="DispatcherOptions.Capacity"/> messages; the rest of a
/// backlog waits on disk. A chat always maps to the same worker, so its messages are routed in order.
/// </summary>
public sealed partial class Dispatcher
{
    private readonly IInboxStore _inbox;
    private readonly IOutboxStore _outbox;
    private readonly CatalogCache _catalog;
    private readonly DispatcherOptions _options;
    private readonly PipelineCounters _counters;
    private readonly TimeProvider _time;
    private readonly Func<string?, ChannelCapabilities> _capabilitiesOf;
    private readonly ILogger _logger;
    private Channel<InboxItem>[] _partitions;

    /// <param name="types">The channel types, for what their chats can show; without them every destination is taken to show everything.</param>
    public Dispatcher(
        IInboxStore inbox, IOutboxStore outbox, CatalogCache catalog, DispatcherOptions options, PipelineCounters counters, TimeProvider time, ILogger<Dispatcher> logger,
        ChannelTypeRegistry? types = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Capacity, 1);
        _inbox = inbox;
        _outbox = outbox;
        _catalog = catalog;
        _options = options;
        _counters = counters;
        _time = time;
        _logger = logger;
        _capabilitiesOf = types is null ? static _ => ChannelCapabilities.All : types.CapabilitiesOf;
        Albums = new AlbumBuffer(Math.Max(1, options.AlbumGroups), options.AlbumQuiet, options.AlbumMaxAge);
        _partitions = CreatePartitions();
    }

    private Channel<InboxItem>[] CreatePartitions()
    {
        var perPartition = Math.Max(1, _options.Capacity / _options.Workers);
        var partitions = new Channel<InboxItem>[_options.Workers];
        for (var i = 0; i < partitions.Length; i++)
        {
            partitions[i] = Channel.CreateBounded<InboxItem>(new BoundedChannelOptions(perPartition)
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleReader = true,
                SingleWriter = true,
            });
        }
        return partitions;
    }

    /// <summary>Albums waiting to be complete, over all workers.</summary>
    public AlbumBuffer Albums { get; }

    /// <summary>Messages in memory waiting for a worker.</summary>
    public int Queued => _partitions.Sum(p => p.Reader.Count);

    /// <summary>The in-memory bound.</summary>
    public int Capacity => _partitions.Length * Math.Max(1, _options.Capacity / _options.Workers);

    /// <summary>True while <see cref="RunAsync"/> is reading.</summary>
    public bool Running { get; private set; }

    /// <summary>
    /// Routes until <paramref name="stoppingToken"/> is cancelled; when it returns, nothing it read is in flight (what was
    /// queued stays pending in the inbox), so it can run again: in a cluster it runs while this instance holds the router lease.
    /// </summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        if (Running) throw new InvalidOperationException("the dispatcher is already running");
        if (_partitions.Any(p => p.Reader.Completion.IsCompleted)) _partitions = CreatePartitions();
        Running = true;
        var workers = _partitions.Select(p => Task.Run(() => WorkAsync(p.Reader, stoppingToken), CancellationToken.None)).ToArray();
        try
        {
            await ReadInboxAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            Running = false;
            foreach (var partition in _partitions) partition.Writer.TryComplete();
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
    }

    private async Task ReadInboxAsync(CancellationToken stoppingToken)
    {
        long cursor = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            IReadOnlyList<InboxItem> page;
            try
            {
                page = await _inbox.ReadPendingAsync(cursor, _options.PageSize, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogReadFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, stoppingToken).ConfigureAwait(false);
                continue;
            }

            if (page.Count == 0)
            {
                await _inbox.WaitForAppendAsync(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                continue;
            }

            foreach (var item in page)
            {
                // Waits while the partition is full: the backlog stays in the inbox table.
                await _partitions[PartitionOf(item.Envelope)].Writer.WriteAsync(item, stoppingToken).ConfigureAwait(false);
                cursor = item.Seq;
            }
        }
    }

    private int PartitionOf(Envelope envelope) =>
        (int)((uint)HashCode.Combine(envelope.ChannelId, envelope.Chat) % (uint)_partitions.Length);

    private async Task WorkAsync(ChannelReader<InboxItem> reader, CancellationToken stoppingToken)
    {
        var units = new List<IReadOnlyList<InboxItem>>(_options.BatchSize);
        var seqs = new List<long>(_options.BatchSize);
        var deliveries = new List<NewDelivery>(_options.BatchSize);
        var scratch = new ArrayBufferWriter<byte>(1024);
        var albums = Albums.CreateAssembler(Albums.Capacity / _partitions.Length);
        Task<bool>? waiting = null;
        try
        {
            while (true)
            {
                // Wait for messages, or for the next open album to fall due.
                waiting ??= reader.WaitToReadAsync(stoppingToken).AsTask();
                if (albums.NextDeadlineMs is { } deadline)
                {
                    var delay = deadline - NowMs;
                    if (delay > 0) await Task.WhenAny(waiting, Task.Delay(TimeSpan.FromMilliseconds(delay), _time, stoppingToken)).ConfigureAwait(false);
                    stoppingToken.ThrowIfCancellationRequested();
                }
                else
                {
                    await waiting.ConfigureAwait(false);
                }
                if (waiting.IsCompleted)
                {
                    if (!await waiting.ConfigureAwait(false)) break;
                    waiting = null;
                }

                units.Clear();
                var now = NowMs;
                var taken = 0;
                while (taken < _options.BatchSize && reader.TryRead(out var item))
                {
                    albums.Accept(item, now, units);
                    taken++;
                }
                albums.Expire(now, units);
                if (units.Count == 0) continue;
                // A failed batch is retried in place until it commits (or the dispatcher stops): moving on to the
                // messages queued behind it would route a chat's later messages before its earlier ones.
                while (!await RouteBatchAsync(units, seqs, deliveries, scratch, stoppingToken).ConfigureAwait(false))
                {
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Whatever is still queued stays pending in the inbox and is read again at the next start.
        }
        finally
        {
            albums.Abandon();
        }
    }

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Routes and commits one batch; false when the commit failed and the same batch must be tried again.</summary>
    private async Task<bool> RouteBatchAsync(List<IReadOnlyList<InboxItem>> units, List<long> seqs, List<NewDelivery> deliveries, ArrayBufferWriter<byte> scratch, CancellationToken stoppingToken)
    {
        seqs.Clear();
        deliveries.Clear();
        try
        {
            var catalog = await _catalog.GetAsync(stoppingToken).ConfigureAwait(false);
            var now = NowMs;
            foreach (var unit in units)
            {
                Router.Route(unit, catalog, _capabilitiesOf, now, deliveries, scratch);
                foreach (var item in unit) seqs.Add(item.Seq);
            }
            // Not cancellable: once routed, the commit should land; it is short.
            await _outbox.CommitRoutedAsync(seqs, deliveries, CancellationToken.None).ConfigureAwait(false);
            _counters.OnRouted(seqs.Count);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The rows are still pending on disk (routing them twice is a no-op), so retrying is safe.
            LogRouteFailed(ex, units.Sum(u => u.Count));
            await Task.Delay(TimeSpan.FromSeconds(1), _time, stoppingToken).ConfigureAwait(false);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Reading the inbox failed; retrying in 1 s")]
    private partial void LogReadFailed(Exception ex);

    [LoggerMessage(Level = LogLevel.Error, Message = "Routing a batch of {Count} messages failed; they stay in the inbox and are retried")]
    private partial void LogRouteFailed(Exception ex, int count);
}
