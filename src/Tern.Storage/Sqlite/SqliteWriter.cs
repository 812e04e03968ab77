using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Tern.Storage.Sqlite;

/// <summary>
/// The one connection that writes. Requests queue up and are committed together (group commit), so
/// throughput is not bound by one commit per message; each caller's task completes only after the
/// commit that holds its work. A request that fails is retried alone so it cannot sink its batch.
/// </summary>
internal sealed class SqliteWriter : IAsyncDisposable
{
    private const int MaxBatch = 512;
    private readonly SqliteConnection _connection;
    private readonly Channel<WriteRequest> _queue;
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private readonly Task _loop;
    private SqliteTransaction? _transaction;
    private long _batches;
    private long _requests;

    public SqliteWriter(SqliteConnection connection, int queueCapacity)
    {
        _connection = connection;
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

    public async Task<T> ExecuteAsync<T>(Func<SqliteWriter, T> work, CancellationToken cancellationToken)
    {
        var request = new WriteRequest<T>(work);
        await _queue.Writer.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        return await request.Task.ConfigureAwait(false);
    }

    /// <summary>A prepared command bound to the current transaction; prepared once per SQL text.</summary>
    public SqliteCommand Command(string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
#pragma warning disable CA2100 // SQL text comes from constants in this assembly.
            command.CommandText = sql;
#pragma warning restore CA2100
            _commands.Add(sql, command);
        }
        command.Transaction = _transaction;
        command.Parameters.Clear();
        return command;
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
            RunBatch(batch);
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _requests, batch.Count);
        }
    }

    private void RunBatch(List<WriteRequest> batch)
    {
        try
        {
            using (_transaction = _connection.BeginTransaction())
            {
                foreach (var request in batch) request.Execute(this);
                _transaction.Commit();
            }
            _transaction = null;
            foreach (var request in batch) request.Complete();
            return;
        }
        catch (Exception)
        {
            _transaction = null;
        }

        // Something in the batch failed and the whole transaction rolled back: run each alone.
        foreach (var request in batch)
        {
            try
            {
                using (_transaction = _connection.BeginTransaction())
                {
                    request.Execute(this);
                    _transaction.Commit();
                }
                _transaction = null;
                request.Complete();
            }
            catch (Exception ex)
            {
                _transaction = null;
                request.Fail(SqliteFailures.Unavailable(ex) ?? ex);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
        foreach (var command in _commands.Values) await command.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    private abstract class WriteRequest
    {
        public abstract void Execute(SqliteWriter writer);

        public abstract void Complete();

        public abstract void Fail(Exception ex);
    }

    private sealed class WriteRequest<T>(Func<SqliteWriter, T> work) : WriteRequest
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;

        public Task<T> Task => _completion.Task;

        public override void Execute(SqliteWriter writer) => _result = work(writer);

        public override void Complete() => _completion.TrySetResult(_result);

        public override void Fail(Exception ex) => _completion.TrySetException(ex);
    }
}
