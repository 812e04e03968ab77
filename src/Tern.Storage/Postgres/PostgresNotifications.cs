using Npgsql;

namespace Tern.Storage.Postgres;

/// <summary>
/// In a cluster: LISTENs for the other instances' changes on one connection, so the router reads messages another
/// instance took in, and every sender looks for deliveries the router added, when they commit rather than at their next
/// timeout. A notification only wakes a waiter: losing one (the connection drops) costs a timeout, never a message.
/// </summary>
internal sealed class PostgresNotifications : IAsyncDisposable
{
    public const string InboxChannel = "tern_inbox";
    public const string OutboxChannel = "tern_outbox";

    private readonly PostgresDatabase _database;
    private readonly Action _inboxAppended;
    private readonly Action _deliveriesAdded;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _received;

    public PostgresNotifications(PostgresDatabase database, Action inboxAppended, Action deliveriesAdded)
    {
        _database = database;
        _inboxAppended = inboxAppended;
        _deliveriesAdded = deliveriesAdded;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Notifications received so far.</summary>
    public long Received => Interlocked.Read(ref _received);

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _database.OpenDedicatedConnectionAsync(_stop.Token).ConfigureAwait(false);
                connection.Notification += OnNotification;
                await using (var listen = new NpgsqlCommand($"LISTEN {InboxChannel}; LISTEN {OutboxChannel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(_stop.Token).ConfigureAwait(false);
                }
                // Changes made while this was not listening: look once, as if told.
                _inboxAppended();
                _deliveriesAdded();
                while (true) await connection.WaitAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The database away: listen again in a moment; the waiters' timeouts cover the gap.
            catch (Exception)
#pragma warning restore CA1031
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        Interlocked.Increment(ref _received);
        if (e.Channel == InboxChannel) _inboxAppended();
        else if (e.Channel == OutboxChannel) _deliveriesAdded();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
