using Microsoft.Data.Sqlite;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Scheduling;
using Tern.Core.Pipeline;
using Tern.Core.Memory;
using Tern.Core.Tenancy;
using Tern.Storage.Migrations;
using Tern.Storage.Secrets;
using Tern.Storage.Sqlite;
using Tern.Storage.Tests.Contracts;

namespace Tern.Storage.Tests.Sqlite;

/// <summary>A real SQLite file in a temporary folder per test.</summary>
public sealed class SqliteStoreFactory : StoreFactory
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tern-storage-tests", Guid.NewGuid().ToString("N"));

    public string DatabasePath => Path.Combine(_folder, "tern.db");

    public override Task<StoreSet> CreateAsync(CancellationToken cancellationToken)
    {
        if (File.Exists(DatabasePath)) throw new InvalidOperationException("CreateAsync is called once per factory");
        return OpenAsync(cancellationToken);
    }

    public override Task<StoreSet> ReopenAsync(CancellationToken cancellationToken)
    {
        // Pooled connections would otherwise carry state (page cache) over to the new instances.
        SqliteConnection.ClearAllPools();
        return OpenAsync(cancellationToken);
    }

    public override Task<StoreSet> OpenAnotherAsync(CancellationToken cancellationToken) => OpenAsync(cancellationToken);

    public override IStorageEngine CreateEngine(SecretSealer? secretKey) =>
        SqliteStorageEngine.Create(new StorageOptions { Path = DatabasePath, SecretKey = secretKey });

    private async Task<StoreSet> OpenAsync(CancellationToken cancellationToken)
    {
        var database = SqliteDatabase.Create(new StorageOptions { Path = DatabasePath });
        var applied = await database.OpenAsync(cancellationToken);
        var inbox = await SqliteInboxStore.OpenAsync(database, cancellationToken);
        var outbox = await SqliteOutboxStore.OpenAsync(database, inbox, cancellationToken);
        return new SqliteStoreSet(database, inbox, outbox, applied);
    }

    public override ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        return ValueTask.CompletedTask;
    }

    private sealed class SqliteStoreSet(SqliteDatabase database, SqliteInboxStore inbox, SqliteOutboxStore outbox, int applied) : StoreSet
    {
        private readonly SqliteCatalogStore _catalog = new(database);
        private readonly SqliteRuntimeStore _runtime = new(database);
        private SqliteChannelState? _state;

        public override IInboxStore Inbox => inbox;

        public override IOutboxStore Outbox => outbox;

        public override IReceiptStore Receipts => outbox;

        public override ICatalogStore Catalog => _catalog;

        public override IMessageLinks MessageLinks => _state ??= new SqliteChannelState(database);

        public override IChatMoveStore ChatMoves => _state ??= new SqliteChannelState(database);

        public override IRetentionStore Retention => _runtime;

        public override ITenantStore Tenants { get; } = new SqliteTenantStore(database);

        public override IMessageQueries Messages { get; } = new SqliteMessageQueries(database);

        public override IRestartLog Restarts => _runtime;

        public override ILeaseStore Leases => _runtime;

        public override IDatabaseMaintenance Maintenance => _runtime;

        public override int MigrationsAppliedAtOpen => applied;

        public override int LatestSchemaVersion => Migration.For("Sqlite").Max(m => m.Version);

        public override Task<int> MigrateAsync(CancellationToken cancellationToken) => database.MigrateAsync(cancellationToken);

        public override Task<int> SchemaVersionAsync(CancellationToken cancellationToken) => database.SchemaVersionAsync(cancellationToken);

        public override Task<long> CountInboxRowsAsync(string channelId, string platformId, CancellationToken cancellationToken) =>
            ScalarAsync("SELECT COUNT(*) FROM inbox WHERE channel_id = $a AND platform_id = $b", cancellationToken, channelId, platformId);

        public override Task<long> CountInboxRowsAsync(CancellationToken cancellationToken) => ScalarAsync("SELECT COUNT(*) FROM inbox", cancellationToken);

        public override Task<long> CountDeliveriesAsync(CancellationToken cancellationToken) => ScalarAsync("SELECT COUNT(*) FROM outbox", cancellationToken);

        public override async Task<DeliveryRecord?> ReadDeliveryAsync(long id, CancellationToken cancellationToken)
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT state, attempts, last_error, platform_message_id FROM outbox WHERE id = $id";
            command.Parameters.AddWithValue("$id", id);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken)) return null;
            var state = reader.GetInt32(0) switch
            {
                0 => DeliveryState.Pending,
                2 => DeliveryState.Sent,
                3 => DeliveryState.Failed,
                var other => throw new InvalidDataException($"outbox state {other}"),
            };
            return new DeliveryRecord(id, state, reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3));
        }

        public override async Task<IReadOnlyList<LaneRecord>> ReadLanesAsync(CancellationToken cancellationToken)
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT channel_id, chat, due_at FROM lanes ORDER BY channel_id, chat";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var lanes = new List<LaneRecord>();
            while (await reader.ReadAsync(cancellationToken)) lanes.Add(new LaneRecord(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
            return lanes;
        }

        public override async Task<int> ExecuteSqlAsync(string sql, CancellationToken cancellationToken)
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }

        public override Task<long> ScalarSqlAsync(string sql, CancellationToken cancellationToken) => ScalarAsync(sql, cancellationToken);

        private async Task<long> ScalarAsync(string sql, CancellationToken cancellationToken, params string[] values)
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            for (var i = 0; i < values.Length; i++) command.Parameters.AddWithValue("$" + (char)('a' + i), values[i]);
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }

        public override async ValueTask DisposeAsync()
        {
            outbox.Dispose();
            inbox.Dispose();
            await database.DisposeAsync();
        }
    }
}
