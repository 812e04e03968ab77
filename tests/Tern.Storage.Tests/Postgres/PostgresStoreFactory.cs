using Npgsql;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Pipeline;
using Tern.Core.Scheduling;
using Tern.StandIns.Postgres;
using Tern.Core.Memory;
using Tern.Core.Tenancy;
using Tern.Storage.Migrations;
using Tern.Storage.Secrets;
using Tern.Storage.Postgres;
using Tern.Storage.Tests.Contracts;

namespace Tern.Storage.Tests.Postgres;

/// <summary>A fresh database per test on the test process's own PostgreSQL server (<see cref="PrivatePostgres.SharedAsync"/>).</summary>
public sealed class PostgresStoreFactory : StoreFactory
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tern-storage-tests", Guid.NewGuid().ToString("N"));
    private PrivatePostgres? _server;
    private string? _connectionString;

    public string ConnectionString => _connectionString ?? throw new InvalidOperationException("CreateAsync first");

    public override async Task<StoreSet> CreateAsync(CancellationToken cancellationToken)
    {
        if (_connectionString is not null) throw new InvalidOperationException("CreateAsync is called once per factory");
        _server = await PrivatePostgres.SharedAsync();
        _connectionString = await _server.CreateDatabaseAsync(cancellationToken);
        return await OpenAsync(cancellationToken);
    }

    public override Task<StoreSet> ReopenAsync(CancellationToken cancellationToken) => OpenAsync(cancellationToken);

    public override Task<StoreSet> OpenAnotherAsync(CancellationToken cancellationToken) => OpenAsync(cancellationToken);

    public override IStorageEngine CreateEngine(SecretSealer? secretKey)
    {
        var options = Options();
        options.SecretKey = secretKey;
        return PostgresStorageEngine.Create(options);
    }

    /// <summary>The options an engine on this test's database is made with (the key file in the test's folder).</summary>
    public StorageOptions Options() => new()
    {
        Engine = PostgresStorageEngine.EngineName,
        ConnectionString = ConnectionString,
        Path = Path.Combine(_folder, "tern.db"),
    };

    private async Task<StoreSet> OpenAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_folder);
        var database = PostgresDatabase.Create(Options());
        var applied = await database.OpenAsync(cancellationToken);
        var inbox = await PostgresInboxStore.OpenAsync(database, cancellationToken);
        var outbox = await PostgresOutboxStore.OpenAsync(database, inbox, cancellationToken);
        return new PostgresStoreSet(database, inbox, outbox, applied);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_server is not null && _connectionString is not null) await _server.DropDatabaseAsync(_connectionString, CancellationToken.None);
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private sealed class PostgresStoreSet(PostgresDatabase database, PostgresInboxStore inbox, PostgresOutboxStore outbox, int applied) : StoreSet
    {
        private readonly PostgresCatalogStore _catalog = new(database);
        private readonly PostgresChannelState _state = new(database);
        private readonly PostgresRuntimeStore _runtime = new(database);

        public override IInboxStore Inbox => inbox;

        public override IOutboxStore Outbox => outbox;

        public override IReceiptStore Receipts => outbox;

        public override ICatalogStore Catalog => _catalog;

        public override IMessageLinks MessageLinks => _state;

        public override IChatMoveStore ChatMoves => _state;

        public override IRetentionStore Retention => _runtime;

        public override ITenantStore Tenants { get; } = new PostgresTenantStore(database);

        public override IMessageQueries Messages { get; } = new PostgresMessageQueries(database);

        public override IRestartLog Restarts => _runtime;

        public override ILeaseStore Leases => _runtime;

        public override IDatabaseMaintenance Maintenance => _runtime;

        public override int MigrationsAppliedAtOpen => applied;

        public override int LatestSchemaVersion => Migration.For("Postgres").Max(m => m.Version);

        public override Task<int> MigrateAsync(CancellationToken cancellationToken) => database.MigrateAsync(cancellationToken);

        public override Task<int> SchemaVersionAsync(CancellationToken cancellationToken) => database.SchemaVersionAsync(cancellationToken);

        public override Task<long> CountInboxRowsAsync(string channelId, string platformId, CancellationToken cancellationToken) =>
            ScalarAsync("SELECT COUNT(*) FROM inbox WHERE channel_id = @a AND platform_id = @b", cancellationToken, channelId, platformId);

        public override Task<long> CountInboxRowsAsync(CancellationToken cancellationToken) => ScalarAsync("SELECT COUNT(*) FROM inbox", cancellationToken);

        public override Task<long> CountDeliveriesAsync(CancellationToken cancellationToken) => ScalarAsync("SELECT COUNT(*) FROM outbox", cancellationToken);

        public override async Task<DeliveryRecord?> ReadDeliveryAsync(long id, CancellationToken cancellationToken)
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT state, attempts, last_error, platform_message_id FROM outbox WHERE id = @id", connection);
            command.Parameters.AddWithValue("id", id);
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
            await using var command = new NpgsqlCommand("SELECT channel_id, chat, due_at FROM lanes ORDER BY channel_id COLLATE \"C\", chat COLLATE \"C\"", connection);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var lanes = new List<LaneRecord>();
            while (await reader.ReadAsync(cancellationToken)) lanes.Add(new LaneRecord(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
            return lanes;
        }

        public override async Task<int> ExecuteSqlAsync(string sql, CancellationToken cancellationToken)
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = new NpgsqlCommand(sql, connection);
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }

        public override Task<long> ScalarSqlAsync(string sql, CancellationToken cancellationToken) => ScalarAsync(sql, cancellationToken);

        private async Task<long> ScalarAsync(string sql, CancellationToken cancellationToken, params string[] values)
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = new NpgsqlCommand(sql, connection);
            for (var i = 0; i < values.Length; i++) command.Parameters.AddWithValue(((char)('a' + i)).ToString(), values[i]);
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
