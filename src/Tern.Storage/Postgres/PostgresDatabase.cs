using System.Globalization;
using Npgsql;
using Tern.Storage.Migrations;
using Tern.Storage.Secrets;

namespace Tern.Storage.Postgres;

/// <summary>
/// A PostgreSQL database: one group-committing writer connection for the pipeline's rows and a bounded pool of
/// connections for reads and the rare catalog, key and tenant changes. Several Tern processes may share it.
/// </summary>
public sealed class PostgresDatabase : IAsyncDisposable
{
    /// <summary>pg_advisory_lock key held while migrating ("tern" in ASCII): two instances starting at once migrate one after the other.</summary>
    private const long MigrationLock = 0x7465726E;

    private readonly StorageOptions _options;
    private readonly NpgsqlDataSource _dataSource;
    private readonly SemaphoreSlim _readers;
    private PostgresWriter? _writer;
    private SecretSealer? _sealer;

    private PostgresDatabase(StorageOptions options, NpgsqlConnectionStringBuilder connection)
    {
        _options = options;
        Location = PostgresConnectionString.Describe(connection);
        _readers = new SemaphoreSlim(ReadConnectionCapacity);
        // The pool holds the readers and the writer (and in a cluster the listener for the other instances' changes); more
        // would only queue inside Npgsql instead of here.
        connection.MaxPoolSize = ReadConnectionCapacity + (options.ClusterInstanceId is null ? 1 : 2);
        connection.MinPoolSize = 0;
        // From the memory budget (or Tern:Storage:ConnectionIdleLifetime / …PruningInterval): idle connections are handed back.
        connection.ConnectionIdleLifetime = WholeSeconds(options.ConnectionIdleLifetime);
        connection.ConnectionPruningInterval = Math.Min(WholeSeconds(options.ConnectionPruningInterval), connection.ConnectionIdleLifetime);
        // Statements run again and again (the writer's, the sender's reads) are prepared once per connection.
        if (connection.MaxAutoPrepare == 0) connection.MaxAutoPrepare = 64;
        connection.ApplicationName ??= "tern";
        // Prepared statements get a plan made for the parameters of each execution. A cached generic plan is made once, early,
        // when the tables may still be empty: a lookup by primary key planned then stays a sequential scan as the table grows
        // (until autovacuum's next analyze), which made every "mark sent" read the whole outbox.
        connection.Options = string.IsNullOrWhiteSpace(connection.Options) ? "-c plan_cache_mode=force_custom_plan" : connection.Options + " -c plan_cache_mode=force_custom_plan";
        Pool = (connection.MaxPoolSize, TimeSpan.FromSeconds(connection.ConnectionIdleLifetime), TimeSpan.FromSeconds(connection.ConnectionPruningInterval));
        _dataSource = NpgsqlDataSource.Create(connection.ConnectionString);
    }

    private static int WholeSeconds(TimeSpan value) => (int)Math.Clamp(Math.Ceiling(value.TotalSeconds), 1, int.MaxValue);

    /// <summary>The pool as configured: its size (readers and the writer), idle lifetime and pruning interval.</summary>
    public (int MaxSize, TimeSpan IdleLifetime, TimeSpan PruningInterval) Pool { get; private set; }

    /// <summary>Host, port and database, never a password.</summary>
    public string Location { get; }

    public int ReadConnectionsInUse => ReadConnectionCapacity - _readers.CurrentCount;

    public int ReadConnectionCapacity => Math.Max(1, _options.MaxReadConnections);

    /// <summary>The key secrets are sealed with; known once <see cref="MigrateAsync"/> has checked it against the database.</summary>
    internal SecretSealer Sealer => _sealer ?? throw new InvalidOperationException("The secret key is not checked yet; call MigrateAsync.");

    /// <summary>Plain values from before sealing that the last <see cref="MigrateAsync"/> sealed.</summary>
    public int SealedAtOpen { get; private set; }

    /// <summary>A connection of the pool for a long-running use (the cluster's listener), outside the readers' bound.</summary>
    internal ValueTask<NpgsqlConnection> OpenDedicatedConnectionAsync(CancellationToken cancellationToken) => _dataSource.OpenConnectionAsync(cancellationToken);

    internal PostgresWriter Writer => _writer ?? throw new InvalidOperationException("The database is not open for writing; call OpenAsync.");

    public int WriteQueued => _writer?.Queued ?? 0;

    public int WriteQueueCapacity => _options.WriteQueue;

    /// <summary>This instance's id in a cluster (<see cref="StorageOptions.ClusterInstanceId"/>); null when one process owns the database.</summary>
    public string? ClusterInstanceId => _options.ClusterInstanceId;

    /// <summary>Write batches committed so far, and the requests they carried (group commit at work).</summary>
    public (long Batches, long Requests) WriteStats => _writer is null ? (0, 0) : (_writer.Batches, _writer.Requests);

    /// <summary>
    /// Reads <see cref="StorageOptions.ConnectionString"/> (a <c>postgres://</c> URL or Npgsql keywords); connects to
    /// nothing yet. A bad value is a <see cref="FormatException"/> naming the setting, never the password.
    /// </summary>
    public static PostgresDatabase Create(StorageOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.ConnectionString)) throw new FormatException("Tern:Storage:ConnectionString: the postgres engine needs one (a postgres:// URL or Host=…;Database=…)");
        NpgsqlConnectionStringBuilder connection;
        try
        {
            connection = PostgresConnectionString.Parse(options.ConnectionString);
        }
        catch (FormatException ex)
        {
            throw new FormatException($"Tern:Storage:ConnectionString: {ex.Message}", ex);
        }
        return new PostgresDatabase(options, connection);
    }

    /// <summary>Applies pending migrations and starts the writer.</summary>
    public async Task<int> OpenAsync(CancellationToken cancellationToken)
    {
        var applied = await MigrateAsync(cancellationToken).ConfigureAwait(false);
        _writer ??= new PostgresWriter(_dataSource, _options.WriteQueue, cluster: _options.ClusterInstanceId is not null);
        return applied;
    }

    /// <summary>
    /// Applies the migrations not applied yet, each in its own transaction, under an advisory lock (two instances
    /// starting at once on a new database apply each migration once); then checks the secret key. Returns how many.
    /// </summary>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, $"SELECT pg_advisory_lock({MigrationLock.ToString(CultureInfo.InvariantCulture)})", cancellationToken).ConfigureAwait(false);
        try
        {
            await ExecuteAsync(connection, null, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)", cancellationToken).ConfigureAwait(false);
            var done = new HashSet<int>();
            await using (var query = new NpgsqlCommand("SELECT version FROM schema_migrations", connection))
            await using (var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) done.Add(reader.GetInt32(0));
            }

            var count = 0;
            foreach (var migration in Migration.For("Postgres"))
            {
                if (done.Contains(migration.Version)) continue;
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                await ExecuteAsync(connection, transaction, migration.Sql, cancellationToken).ConfigureAwait(false);
                await using (var record = new NpgsqlCommand("INSERT INTO schema_migrations (version, name, applied_at) VALUES (@v, @n, @t)", connection, transaction))
                {
                    record.Parameters.AddWithValue("v", migration.Version);
                    record.Parameters.AddWithValue("n", migration.Name);
                    record.Parameters.AddWithValue("t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                    await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                count++;
            }
            await OpenSecretsAsync(connection, cancellationToken).ConfigureAwait(false);
            return count;
        }
        finally
        {
            await ExecuteAsync(connection, null, $"SELECT pg_advisory_unlock({MigrationLock.ToString(CultureInfo.InvariantCulture)})", CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>The key (configured, or the key file beside the data folder), checked against the database as SQLite does.</summary>
    private async Task OpenSecretsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var file = _options.SecretKeyFilePath;
        var (key, created) = _options.SecretKey is { } configured ? (configured, false) : SecretKeyFile.LoadOrCreate(file);
        try
        {
            SealedAtOpen = await PostgresSecrets.OpenAsync(connection, key, cancellationToken).ConfigureAwait(false);
        }
        catch (SecretKeyMismatchException ex)
        {
            if (created) File.Delete(file);
            var pending = SecretKeyFile.PendingPath(file);
            var hint = File.Exists(pending) ? $"; {pending} is the new key of an interrupted `tern secrets rotate-key`" : "";
            throw new SecretKeyException(
                (_options.SecretKey is not null ? "Tern:Secrets:Key: " : created ? $"Tern:Secrets:KeyFile: {file} is missing; " : $"Tern:Secrets:KeyFile: {file}: ") +
                $"the database {Location} was sealed with key {ex.DatabaseKeyId}, this key is {ex.KeyId}; start with the key it was sealed with{hint}");
        }
        catch (SealedSecretException ex)
        {
            throw new SecretKeyException($"the database {Location}: the secret in {ex.Message}");
        }
        _sealer = key;
    }

    /// <summary>Re-seals every secret with <paramref name="next"/> in one transaction and makes it the key in use; returns how many.</summary>
    public async Task<int> ResealAsync(SecretSealer next, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var count = await PostgresSecrets.ResealAsync(connection, Sealer, next, cancellationToken).ConfigureAwait(false);
        _sealer = next;
        return count;
    }

    /// <summary>Schema versions applied, for /health/ready and `tern doctor`; 0 before the first migration.</summary>
    public async Task<int> SchemaVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // Two statements: a query naming a missing table fails at planning, whatever a CASE around it says.
        if (await ScalarAsync(connection, null, "SELECT COUNT(*) FROM pg_class WHERE oid = to_regclass('schema_migrations')", cancellationToken).ConfigureAwait(false) == 0) return 0;
        return (int)await ScalarAsync(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A pooled connection; at most <see cref="StorageOptions.MaxReadConnections"/> are open at once (disposing it gives
    /// its place back). Never hold one while opening another.
    /// </summary>
    public async Task<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        await _readers.WaitAsync(cancellationToken).ConfigureAwait(false);
        var connection = _dataSource.CreateConnection();
        var released = 0;
        // NpgsqlConnection is sealed, so its place is given back on the change to Closed (Dispose closes it), once.
        connection.StateChange += (_, change) =>
        {
            if (change.CurrentState == System.Data.ConnectionState.Closed && Interlocked.Exchange(ref released, 1) == 0) _readers.Release();
        };
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            if (Interlocked.Exchange(ref released, 1) == 0) _readers.Release();
            if (PostgresFailures.Unavailable(ex) is { } unavailable) throw unavailable;
            throw;
        }
    }

    /// <summary>
    /// A rare write (catalog, keys, tenants) in its own transaction, bumping the meta counter <paramref name="versionKey"/>
    /// when it changed anything so running instances reload.
    /// </summary>
    internal async Task<bool> ChangeAsync(string sql, string? versionKey, Action<NpgsqlCommand> bind, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        int changed;
#pragma warning disable CA2100 // SQL text comes from constants in this assembly; values are bound.
        await using (var command = new NpgsqlCommand(sql, connection, transaction))
#pragma warning restore CA2100
        {
            bind(command);
            changed = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        if (changed > 0 && versionKey is not null)
        {
            await using var bump = new NpgsqlCommand("UPDATE meta SET value = value + 1 WHERE key = @key", connection, transaction);
            bump.Parameters.AddWithValue("key", versionKey);
            await bump.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed > 0;
    }

    internal static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
#pragma warning disable CA2100 // Only migration files and constants reach here.
        await using var command = new NpgsqlCommand(sql, connection, transaction);
#pragma warning restore CA2100
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    internal static async Task<long> ScalarAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
#pragma warning disable CA2100 // Only constants reach here.
        await using var command = new NpgsqlCommand(sql, connection, transaction);
#pragma warning restore CA2100
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    /// <summary>Critical memory pressure: close idle pooled connections; they reopen on demand.</summary>
    public void ClearPool() => _dataSource.Clear();

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null) await _writer.DisposeAsync().ConfigureAwait(false);
        _writer = null;
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }
}
