namespace Tern.Storage.Postgres;

/// <summary>
/// A backlog count (pending inbox or outbox rows) kept in memory: this process adds what it appends and takes away what it
/// finishes. In a cluster the other instances change the rows too, so the count is read again from the database at most
/// once a second, in the background, when someone asks for it (the ingress gate does, with every message).
/// </summary>
internal sealed class BacklogCount(PostgresDatabase database, string countSql, long initial, bool shared)
{
    private static readonly long ResyncEvery = TimeSpan.FromSeconds(1).Ticks / TimeSpan.TicksPerMillisecond;
    private long _value = initial;
    private long _syncedAt = Environment.TickCount64;
    private int _syncing;

    public long Value
    {
        get
        {
            if (shared && Environment.TickCount64 - Interlocked.Read(ref _syncedAt) >= ResyncEvery && Interlocked.Exchange(ref _syncing, 1) == 0)
            {
                _ = ResyncAsync();
            }
            return Interlocked.Read(ref _value);
        }
    }

    public void Add(long count) => Interlocked.Add(ref _value, count);

    private async Task ResyncAsync()
    {
        try
        {
            await using var connection = await database.OpenConnectionAsync(CancellationToken.None).ConfigureAwait(false);
            Interlocked.Exchange(ref _value, await PostgresDatabase.ScalarAsync(connection, null, countSql, CancellationToken.None).ConfigureAwait(false));
        }
#pragma warning disable CA1031 // A count that could not be read keeps its last value; the next ask tries again.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            Interlocked.Exchange(ref _syncedAt, Environment.TickCount64);
            Interlocked.Exchange(ref _syncing, 0);
        }
    }
}
