using Microsoft.Data.Sqlite;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Memory;
using Tern.Core.Scheduling;
using Tern.Core.Tenancy;

namespace Tern.Storage.Sqlite;

/// <summary>The embedded engine: one SQLite file in WAL mode, one group-committing writer, bounded readers.</summary>
public sealed class SqliteStorageEngine : IStorageEngine
{
    public const string EngineName = "sqlite";

    private readonly SqliteDatabase _database;
    private readonly SqliteRuntimeStore _runtime;
    private readonly SqliteChannelState _channelState;

    private SqliteStorageEngine(SqliteDatabase database)
    {
        _database = database;
        Catalog = new SqliteCatalogStore(database);
        Tenants = new SqliteTenantStore(database);
        Messages = new SqliteMessageQueries(database);
        _runtime = new SqliteRuntimeStore(database);
        _channelState = new SqliteChannelState(database);
        BoundedStructures =
        [
            new QueueGauge("write-queue", () => database.WriteQueued, () => database.WriteQueueCapacity),
            new QueueGauge("read-connections", () => database.ReadConnectionsInUse, () => database.ReadConnectionCapacity),
        ];
    }

    /// <summary>Creates the file and its folder when missing; opens nothing else.</summary>
    public static SqliteStorageEngine Create(StorageOptions options) => new(SqliteDatabase.Create(options));

    /// <summary>The database underneath, for this engine's own tests and tools.</summary>
    public SqliteDatabase Database => _database;

    public string Name => EngineName;

    public string Location => _database.Path;

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
        var inbox = await SqliteInboxStore.OpenAsync(_database, cancellationToken).ConfigureAwait(false);
        var outbox = await SqliteOutboxStore.OpenAsync(_database, inbox, cancellationToken).ConfigureAwait(false);
        return new PipelineStores(inbox, outbox, outbox, new Both(inbox, outbox));
    }

    public async Task<Copy.RawTables> OpenRawTablesAsync(CancellationToken cancellationToken) =>
        new SqliteTables(await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false), _database.Path);

    public void ShrinkPools() => SqliteConnection.ClearAllPools();

    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private sealed class Both(IDisposable first, IDisposable second) : IDisposable
    {
        public void Dispose()
        {
            second.Dispose();
            first.Dispose();
        }
    }
}
