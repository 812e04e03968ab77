using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Memory;
using Tern.Core.Scheduling;
using Tern.Core.Tenancy;

namespace Tern.Storage.Postgres;

/// <summary>
/// PostgreSQL (<c>Tern:Storage:Engine=postgres</c>): the same stores as SQLite's on a server several Tern processes
/// may share, with one group-committing writer connection per process and a bounded pool for everything else.
/// </summary>
public sealed class PostgresStorageEngine : IStorageEngine
{
    public const string EngineName = "postgres";

    private readonly PostgresDatabase _database;
    private readonly PostgresRuntimeStore _runtime;
    private readonly PostgresChannelState _channelState;

    private PostgresStorageEngine(PostgresDatabase database)
    {
        _database = database;
        Catalog = new PostgresCatalogStore(database);
        Tenants = new PostgresTenantStore(database);
        Messages = new PostgresMessageQueries(database);
        _runtime = new PostgresRuntimeStore(database);
        _channelState = new PostgresChannelState(database);
        BoundedStructures =
        [
            new QueueGauge("write-queue", () => database.WriteQueued, () => database.WriteQueueCapacity),
            new QueueGauge("read-connections", () => database.ReadConnectionsInUse, () => database.ReadConnectionCapacity),
        ];
    }

    /// <summary>Reads the connection string (a bad one throws <see cref="FormatException"/> naming the setting); connects to nothing yet.</summary>
    public static PostgresStorageEngine Create(StorageOptions options) => new(PostgresDatabase.Create(options));

    /// <summary>The database underneath, for this engine's own tests and tools.</summary>
    public PostgresDatabase Database => _database;

    public string Name => EngineName;

    public string Location => _database.Location;

    public ICatalogStore Catalog { get; }

    public ITenantStore Tenants { get; }

    public IMessageQueries Messages { get; }

    public IMessageLinks Links => _channelState;

    public IChatMoveStore ChatMoves => _channelState;

    public IRestartLog Restarts => _runtime;

    public ILeaseStore Leases => _runtime;

    public IRetentionStore Retention => _runtime;

    public IDatabaseMaintenance Maintenance => _runtime;

    public int WriteQueued => _database.WriteQueued;

    public IReadOnlyList<IBoundedStructure> BoundedStructures { get; }

    public Task<int> MigrateAsync(CancellationToken cancellationToken) => _database.MigrateAsync(cancellationToken);

    public Task<int> ResealSecretsAsync(Secrets.SecretSealer next, CancellationToken cancellationToken) => _database.ResealAsync(next, cancellationToken);

    public Task<int> SchemaVersionAsync(CancellationToken cancellationToken) => _database.SchemaVersionAsync(cancellationToken);

    public async Task<PipelineStores> OpenPipelineAsync(CancellationToken cancellationToken)
    {
        await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var inbox = await PostgresInboxStore.OpenAsync(_database, cancellationToken).ConfigureAwait(false);
        var outbox = await PostgresOutboxStore.OpenAsync(_database, inbox, cancellationToken).ConfigureAwait(false);
        // In a cluster the other instances' appends and deliveries wake this one's router and sender.
        var listener = _database.ClusterInstanceId is null ? null : new PostgresNotifications(_database, inbox.OnAppendedElsewhere, outbox.OnAddedElsewhere);
        return new PipelineStores(inbox, outbox, outbox, new Owned(inbox, outbox, listener));
    }

    public async Task<Copy.RawTables> OpenRawTablesAsync(CancellationToken cancellationToken) =>
        new PostgresTables(await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false), _database.Location);

    public void ShrinkPools() => _database.ClearPool();

    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private sealed class Owned(IDisposable inbox, IDisposable outbox, PostgresNotifications? listener) : IDisposable
    {
        public void Dispose()
        {
            // The listener first: it calls into the stores.
            listener?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            outbox.Dispose();
            inbox.Dispose();
        }
    }
}
