using System.Threading.Channels;
using Npgsql;

namespace Tern.Storage.Postgres;

/// <summary>
/// The one connection that writes the pipeline's rows. Requests queue up and go to the server together: every
/// request adds its statements to one <see cref="NpgsqlBatch"/>, sent in one round trip and committed as one implicit
/// transaction (group commit), so throughput is bound neither by a round trip nor by a WAL flush per message. Each
/// caller's task completes only after the commit that holds its work. A batch that fails is rolled back whole and
/// its requests are run again one by one, so one bad request cannot sink its batch mates.
/// </summary>
/// <remarks>
/// A request cannot read between its statements (they all go in one message), so each store writes a change that
/// depends on an earlier result as one statement (data-modifying CTEs). Every statement must return a result set
/// (<c>RETURNING</c> or a final <c>SELECT</c>): results are matched to requests by position, and Npgsql skips a
/// statement that returns none, so a count that does not add up fails the batch rather than be misread.
/// </remarks>
internal sealed class PostgresWriter : IAsyncDisposable
{
    private const int MaxBatch = 512;

    /// <summary>
    /// The advisory lock that orders inbox appends across a cluster. The router reads the inbox by sequence number past a
    /// cursor; with several writers, a row given a lower number could commit after a higher one was read, and be passed by
    /// for good. Held from the batch's first statement to its commit, it makes numbers and commits go in the same order.
    /// </summary>
    private const long InboxOrderLock = 0x7465726E_696E6278; // "tern" "inbx"

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _cluster;
    private readonly Channel<WriteRequest> _queue;
    private readonly Task _loop;
    private NpgsqlConnection? _connection;
    private long _batches;
    private long _requests;

    /// <param name="cluster">
    /// Several instances on the database: batches with inbox appends take <see cref="InboxOrderLock"/> first, and batches
    /// that add rows another instance works on notify it (<see cref="PostgresNotifications"/>) when they commit.
    /// </param>
    public PostgresWriter(NpgsqlDataSource dataSource, int queueCapacity, bool cluster = false)
    {
        _dataSource = dataSource;
        _cluster = cluster;
        _queue = Channel.CreateBounded<WriteRequest>(new BoundedChannelOptions(queueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _loop = Task.Run(RunAsync);
    }

    public long Batches => Interlocked.Read(ref _batches);

    public long Requests => Interlocked.Read(ref _requests);

    public int Queued => _queue.Reader.Count;

    /// <summary>
    /// Queues a write: <paramref name="add"/> adds its statements (each returning a result set), <paramref name="read"/>
    /// turns their results into the answer once they are committed.
    /// </summary>
    public async Task<T> ExecuteAsync<T>(Action<WriteCommands> add, Func<WriteResults, T> read, CancellationToken cancellationToken, WriteChanges changes = WriteChanges.None)
    {
        var request = new WriteRequest<T>(add, read) { Changes = changes };
        await _queue.Writer.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        return await request.Task.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var batch = new List<WriteRequest>(MaxBatch);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var request)) batch.Add(request);
            if (batch.Count == 0) continue;
            await RunBatchAsync(batch).ConfigureAwait(false);
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _requests, batch.Count);
        }
    }

    private async Task RunBatchAsync(List<WriteRequest> batch)
    {
        // A connection that died with a server restart fails the first try; the second is on a new connection.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                var results = await ExecuteAsync(batch).ConfigureAwait(false);
                foreach (var request in batch) request.Complete(results);
                return;
            }
            catch (Exception ex) when (PostgresFailures.Unavailable(ex) is { } unavailable)
            {
                if (attempt == 0) continue;
                // The server is not there: trying each request alone would only fail each again.
                foreach (var request in batch) request.Fail(unavailable);
                return;
            }
            catch (Exception)
            {
                // Rolled back whole (one implicit transaction); each is tried again alone below.
                break;
            }
        }

        var one = new List<WriteRequest>(1);
        foreach (var request in batch)
        {
            one.Clear();
            one.Add(request);
            try
            {
                var results = await ExecuteAsync(one).ConfigureAwait(false);
                request.Complete(results);
            }
            catch (Exception ex)
            {
                request.Fail(PostgresFailures.Unavailable(ex) ?? ex);
            }
        }
    }

    /// <summary>Sends the requests' statements as one batch and reads every result set; throws when anything failed.</summary>
    private async Task<List<List<object?[]>>> ExecuteAsync(List<WriteRequest> requests)
    {
        var connection = await ConnectionAsync().ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection);
        var commands = new WriteCommands(batch);
        var changes = WriteChanges.None;
        foreach (var request in requests) changes |= request.Changes;
        if (_cluster && changes.HasFlag(WriteChanges.Inbox))
        {
            commands.Add("SELECT 1 FROM (SELECT pg_advisory_xact_lock(@lock)) AS taken").Parameters.AddWithValue("lock", InboxOrderLock);
        }
        foreach (var request in requests)
        {
            request.First = batch.BatchCommands.Count;
            request.AddTo(commands);
            request.Count = batch.BatchCommands.Count - request.First;
        }
        // Delivered to the listeners at the commit, once per channel however many requests changed it.
        if (_cluster && changes.HasFlag(WriteChanges.Inbox)) commands.Add($"SELECT 1 FROM (SELECT pg_notify('{PostgresNotifications.InboxChannel}', '')) AS told");
        if (_cluster && changes.HasFlag(WriteChanges.Outbox)) commands.Add($"SELECT 1 FROM (SELECT pg_notify('{PostgresNotifications.OutboxChannel}', '')) AS told");
        var results = new List<List<object?[]>>(batch.BatchCommands.Count);
        try
        {
            await using var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false);
            do
            {
                var rows = new List<object?[]>(1);
                while (await reader.ReadAsync().ConfigureAwait(false))
                {
                    var values = new object?[reader.FieldCount];
                    for (var i = 0; i < values.Length; i++) values[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
                    rows.Add(values);
                }
                results.Add(rows);
            }
            while (await reader.NextResultAsync().ConfigureAwait(false));
        }
        catch (Exception) when (connection.FullState.HasFlag(System.Data.ConnectionState.Broken) || connection.State != System.Data.ConnectionState.Open)
        {
            // The server went away or restarted: the next try opens a new connection.
            await DropConnectionAsync().ConfigureAwait(false);
            throw;
        }
        if (results.Count != batch.BatchCommands.Count)
        {
            throw new InvalidOperationException($"{batch.BatchCommands.Count} statements gave {results.Count} result sets: every statement the writer sends must return one");
        }
        return results;
    }

    private async Task<NpgsqlConnection> ConnectionAsync()
    {
        if (_connection is { State: System.Data.ConnectionState.Open } open) return open;
        await DropConnectionAsync().ConfigureAwait(false);
        _connection = await _dataSource.OpenConnectionAsync().ConfigureAwait(false);
        return _connection;
    }

    private async Task DropConnectionAsync()
    {
        var connection = _connection;
        _connection = null;
        if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
        await DropConnectionAsync().ConfigureAwait(false);
    }

    private abstract class WriteRequest
    {
        public int First { get; set; }

        public int Count { get; set; }

        public WriteChanges Changes { get; init; }

        public abstract void AddTo(WriteCommands commands);

        public abstract void Complete(List<List<object?[]>> results);

        public abstract void Fail(Exception ex);
    }

    private sealed class WriteRequest<T>(Action<WriteCommands> add, Func<WriteResults, T> read) : WriteRequest
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<T> Task => _completion.Task;

        public override void AddTo(WriteCommands commands) => add(commands);

        public override void Complete(List<List<object?[]>> results)
        {
            try
            {
                _completion.TrySetResult(read(new WriteResults(results, First, Count)));
            }
            catch (Exception ex)
            {
                _completion.TrySetException(ex);
            }
        }

        public override void Fail(Exception ex) => _completion.TrySetException(ex);
    }
}

/// <summary>What a write request adds that other instances of a cluster work on.</summary>
[Flags]
internal enum WriteChanges
{
    None = 0,

    /// <summary>Inbox rows (the router reads them).</summary>
    Inbox = 1,

    /// <summary>New deliveries (every instance's sender claims them).</summary>
    Outbox = 2,
}

/// <summary>Where a write request adds its statements.</summary>
internal sealed class WriteCommands(NpgsqlBatch batch)
{
    /// <summary>A statement (it must return a result set); bind its <c>@name</c> parameters on what it returns.</summary>
    public NpgsqlBatchCommand Add(string sql)
    {
        var command = new NpgsqlBatchCommand(sql);
        batch.BatchCommands.Add(command);
        return command;
    }
}

/// <summary>The committed results of one request's statements, by the order it added them.</summary>
internal readonly struct WriteResults(List<List<object?[]>> all, int first, int count)
{
    public int Count => count;

    /// <summary>The rows statement <paramref name="index"/> returned (null for SQL NULL).</summary>
    public IReadOnlyList<object?[]> Rows(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
        return all[first + index];
    }

    /// <summary>The first column of the first row as a number; <paramref name="none"/> when it returned no row or NULL.</summary>
    public long Int64(int index, long none = 0) =>
        Rows(index) is [var row, ..] && row[0] is { } value ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) : none;
}
