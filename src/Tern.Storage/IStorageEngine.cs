using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Memory;
using Tern.Core.Pipeline;
using Tern.Core.Scheduling;
using Tern.Core.Tenancy;

namespace Tern.Storage;

/// <summary>
/// One storage engine: where everything durable lives. An engine is one folder (<c>Sqlite/</c>; the
/// PostgreSQL issue adds <c>Postgres/</c>) plus one line in the host's engine table; the host, the CLI
/// and the API see only these interfaces. Creating an engine opens nothing: the CLI migrates and uses the
/// catalog and tenant stores, <c>tern serve</c> also opens the pipeline stores.
/// </summary>
public interface IStorageEngine : IAsyncDisposable
{
    /// <summary>The value of <c>Tern:Storage:Engine</c> that chose it.</summary>
    string Name { get; }

    /// <summary>Where the data is (a file path; a host and database), for logs and answers. Never a password.</summary>
    string Location { get; }

    /// <summary>
    /// Creates or upgrades the schema, then checks the secret key (<see cref="StorageOptions.SecretKey"/> or the key file)
    /// against the database and seals secrets still stored plain; returns how many migrations were applied. Another key
    /// than the database was sealed with throws <see cref="Secrets.SecretKeyException"/>.
    /// </summary>
    Task<int> MigrateAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Key rotation: re-seals every secret with <paramref name="next"/> in one transaction (after <see cref="MigrateAsync"/>);
    /// returns how many. Keep the new key safe before calling: once this commits, only it opens the database.
    /// </summary>
    Task<int> ResealSecretsAsync(Secrets.SecretSealer next, CancellationToken cancellationToken);

    /// <summary>The schema version applied; throws when the database cannot be reached (readiness).</summary>
    Task<int> SchemaVersionAsync(CancellationToken cancellationToken);

    /// <summary>Migrates, starts the engine's writer and reads the backlog: what the pipeline needs beyond the catalog.</summary>
    Task<PipelineStores> OpenPipelineAsync(CancellationToken cancellationToken);

    ICatalogStore Catalog { get; }

    ITenantStore Tenants { get; }

    IMessageQueries Messages { get; }

    IMessageLinks Links { get; }

    IChatMoveStore ChatMoves { get; }

    IRestartLog Restarts { get; }

    ILeaseStore Leases { get; }

    IRetentionStore Retention { get; }

    IDatabaseMaintenance Maintenance { get; }

    /// <summary>Writes waiting for the engine's writer (0 before the pipeline is open), for /memory's queue depths.</summary>
    int WriteQueued { get; }

    /// <summary>The engine's own bounded parts (write queue, connection pool), listed in /memory.</summary>
    IReadOnlyList<IBoundedStructure> BoundedStructures { get; }

    /// <summary>
    /// One connection to the rows themselves, for <c>tern db copy</c> (after <see cref="MigrateAsync"/>): the copy reads one
    /// engine and writes another through the same plain values. The caller disposes it.
    /// </summary>
    Task<Copy.RawTables> OpenRawTablesAsync(CancellationToken cancellationToken);

    /// <summary>Critical memory pressure: close idle pooled connections (each holds a page cache); they reopen on demand.</summary>
    void ShrinkPools();
}

/// <summary>The inbox, outbox and receipts of an opened engine; they share the engine's writer and backlog counts.</summary>
public sealed class PipelineStores(IInboxStore inbox, IOutboxStore outbox, IReceiptStore receipts, IDisposable? owned = null) : IDisposable
{
    public IInboxStore Inbox => inbox;

    public IOutboxStore Outbox => outbox;

    public IReceiptStore Receipts => receipts;

    public void Dispose() => owned?.Dispose();
}
