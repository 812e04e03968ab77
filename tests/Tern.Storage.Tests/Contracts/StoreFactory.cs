using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Pipeline;
using Tern.Core.Memory;
using Tern.Core.Scheduling;
using Tern.Core.Tenancy;
using Tern.Storage.Secrets;

namespace Tern.Storage.Tests.Contracts;

/// <summary>
/// What a storage engine gives the contract suites: a fresh database per test, and the same database
/// opened again through new instances (as after a restart). Everything above this class is
/// engine-neutral; an engine (SQLite, PostgreSQL, …) adds one factory and one subclass per suite.
/// </summary>
public abstract class StoreFactory : IAsyncDisposable
{
    /// <summary>Creates a new, empty, migrated database and opens the stores on it.</summary>
    public abstract Task<StoreSet> CreateAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Opens the database of the last <see cref="CreateAsync"/> again through new instances; the caller has
    /// disposed the previous <see cref="StoreSet"/>, so nothing is shared but what was committed.
    /// </summary>
    public abstract Task<StoreSet> ReopenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Opens the database of the last <see cref="CreateAsync"/> a second time while the first set stays open, as a
    /// second process on the same database would; the caller disposes it.
    /// </summary>
    public abstract Task<StoreSet> OpenAnotherAsync(CancellationToken cancellationToken);

    /// <summary>
    /// An engine (as <c>tern serve</c> and the CLI make it) on the database of the last <see cref="CreateAsync"/>,
    /// with <paramref name="secretKey"/> as <c>Tern:Secrets:Key</c>, or the key file beside the data when null. Not migrated yet.
    /// </summary>
    public abstract IStorageEngine CreateEngine(SecretSealer? secretKey);

    /// <summary>Drops the database.</summary>
    public abstract ValueTask DisposeAsync();
}

/// <summary>The stores of one open database, plus what the contracts need to look behind the interfaces.</summary>
public abstract class StoreSet : IAsyncDisposable
{
    public abstract IInboxStore Inbox { get; }

    public abstract IOutboxStore Outbox { get; }

    /// <summary>The engine's receipt store (what PipelineStores.Receipts gives: the outbox store).</summary>
    public abstract IReceiptStore Receipts { get; }

    public abstract ICatalogStore Catalog { get; }

    public abstract IMessageLinks MessageLinks { get; }

    /// <summary>The decision (Core's <see cref="Tern.Core.Delivery.ChatMigrations"/>) over this engine's move store.</summary>
    public IChatMigrations ChatMigrations => new ChatMigrations(ChatMoves, Catalog);

    public abstract IChatMoveStore ChatMoves { get; }

    public abstract IRetentionStore Retention { get; }

    public abstract ITenantStore Tenants { get; }

    public abstract IMessageQueries Messages { get; }

    public abstract IRestartLog Restarts { get; }

    public abstract ILeaseStore Leases { get; }

    public abstract IDatabaseMaintenance Maintenance { get; }

    /// <summary>Migrations the open that produced this set applied.</summary>
    public abstract int MigrationsAppliedAtOpen { get; }

    /// <summary>The newest schema version this build ships.</summary>
    public abstract int LatestSchemaVersion { get; }

    /// <summary>Applies pending migrations; returns how many were applied.</summary>
    public abstract Task<int> MigrateAsync(CancellationToken cancellationToken);

    public abstract Task<int> SchemaVersionAsync(CancellationToken cancellationToken);

    /// <summary>Inbox rows (pending or routed) with this key.</summary>
    public abstract Task<long> CountInboxRowsAsync(string channelId, string platformId, CancellationToken cancellationToken);

    /// <summary>Inbox rows of any state.</summary>
    public abstract Task<long> CountInboxRowsAsync(CancellationToken cancellationToken);

    /// <summary>One outbox row as stored, whatever its state; null when there is none.</summary>
    public abstract Task<DeliveryRecord?> ReadDeliveryAsync(long id, CancellationToken cancellationToken);

    /// <summary>Outbox rows of any state.</summary>
    public abstract Task<long> CountDeliveriesAsync(CancellationToken cancellationToken);

    /// <summary>Every lane with its due time.</summary>
    public abstract Task<IReadOnlyList<LaneRecord>> ReadLanesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Runs one statement written in the SQL both engines speak (literal values, no parameters), to set up what the
    /// interfaces cannot (a row finished long ago); returns the rows it changed.
    /// </summary>
    public abstract Task<int> ExecuteSqlAsync(string sql, CancellationToken cancellationToken);

    /// <summary>The first column of the first row of a query in the SQL both engines speak, as a number.</summary>
    public abstract Task<long> ScalarSqlAsync(string sql, CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();
}

public enum DeliveryState
{
    Pending,
    Sent,
    Failed,
}

public sealed record DeliveryRecord(long Id, DeliveryState State, int Attempts, string? LastError, string? PlatformMessageId);

public sealed record LaneRecord(string ChannelId, string Chat, long DueAtMs);
