using System.Globalization;
using Microsoft.Data.Sqlite;
using Tern.Storage.Migrations;
using Tern.Storage.Secrets;

namespace Tern.Storage.Sqlite;

/// <summary>
/// The embedded database: one writer connection (group commit) and pooled read connections, all in
/// WAL mode so reads never wait for the writer.
/// </summary>
public sealed class SqliteDatabase : IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly StorageOptions _options;
    private readonly SemaphoreSlim _readers;
    private SqliteWriter? _writer;
    private SecretSealer? _sealer;

    private SqliteDatabase(string connectionString, StorageOptions options)
    {
        _connectionString = connectionString;
        _options = options;
        _readers = new SemaphoreSlim(Math.Max(1, options.MaxReadConnections));
    }

    /// <summary>Read connections open right now, and their bound (shown in /memory).</summary>
    public int ReadConnectionsInUse => Math.Max(1, _options.MaxReadConnections) - _readers.CurrentCount;

    public int ReadConnectionCapacity => Math.Max(1, _options.MaxReadConnections);

    public string Path => _options.Path;

    /// <summary>The key secrets are sealed with; known once <see cref="MigrateAsync"/> has checked it against the database.</summary>
    internal SecretSealer Sealer => _sealer ?? throw new InvalidOperationException("The secret key is not checked yet; call MigrateAsync.");

    /// <summary>Plain values from before sealing that the last <see cref="MigrateAsync"/> sealed.</summary>
    public int SealedAtOpen { get; private set; }

    internal SqliteWriter Writer => _writer ?? throw new InvalidOperationException("The database is not open for writing; call OpenAsync.");

    /// <summary>Write requests waiting for the writer.</summary>
    public int WriteQueued => _writer?.Queued ?? 0;

    /// <summary>The writer's queue bound.</summary>
    public int WriteQueueCapacity => _options.WriteQueue;

    /// <summary>Write batches committed so far, and the requests they carried (group commit at work).</summary>
    public (long Batches, long Requests) WriteStats => _writer is null ? (0, 0) : (_writer.Batches, _writer.Requests);

    /// <summary>
    /// Opens (creating the file and folder when missing, owner-only) without migrating. SQLite makes the -wal and -shm
    /// files with the database file's mode, so an owner-only database file keeps them owner-only too.
    /// </summary>
    public static SqliteDatabase Create(StorageOptions options)
    {
        var full = System.IO.Path.GetFullPath(options.Path);
        var folder = System.IO.Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(folder)) OwnerOnly.CreateFolder(folder);
        // An empty file is a new database to SQLite; made here it is 0600 from the start.
        if (!OwnerOnly.CreateEmptyFile(full)) NarrowExisting(full);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        };
        return new SqliteDatabase(builder.ToString(), options);
    }

    /// <summary>A database made before Tern created its files owner-only: take group and other access away (best effort: a file of another user stays as it is).</summary>
    private static void NarrowExisting(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            try
            {
                OwnerOnly.Narrow(file);
            }
            catch (UnauthorizedAccessException)
            {
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Applies pending migrations and starts the writer.</summary>
    public async Task<int> OpenAsync(CancellationToken cancellationToken)
    {
        var applied = await MigrateAsync(cancellationToken).ConfigureAwait(false);
        var connection = await OpenConfiguredAsync(new SqliteConnection(_connectionString), cancellationToken).ConfigureAwait(false);
        _writer = new SqliteWriter(connection, _options.WriteQueue);
        return applied;
    }

    /// <summary>Applies the migrations not applied yet, each in its own transaction; returns how many.</summary>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // Incremental vacuum must be chosen before the first table exists; retention then hands pages back.
        // Opening the connection switched the file to WAL, which already wrote its header (auto_vacuum off):
        // on an empty database VACUUM rewrites it with the new setting.
        if (Scalar(connection, null, "SELECT COUNT(*) FROM sqlite_master") == 0) Execute(connection, null, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM;");
        Execute(connection, null, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
        var done = new HashSet<int>();
        await using (var query = connection.CreateCommand())
        {
            query.CommandText = "SELECT version FROM schema_migrations";
            await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) done.Add(reader.GetInt32(0));
        }

        var count = 0;
        foreach (var migration in Migration.For("Sqlite"))
        {
            if (done.Contains(migration.Version)) continue;
            // BEGIN IMMEDIATE: two processes starting at once cannot both apply the same migration.
            await using var transaction = connection.BeginTransaction(deferred: false);
            if (Scalar(connection, transaction, $"SELECT COUNT(*) FROM schema_migrations WHERE version = {migration.Version.ToString(CultureInfo.InvariantCulture)}") > 0) continue;
            Execute(connection, transaction, migration.Sql);
            await using (var record = connection.CreateCommand())
            {
                record.Transaction = transaction;
                record.CommandText = "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($v, $n, $t)";
                record.Parameters.AddWithValue("$v", migration.Version);
                record.Parameters.AddWithValue("$n", migration.Name);
                record.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            count++;
        }
        OpenSecrets(connection);
        return count;
    }

    /// <summary>
    /// The key: <see cref="StorageOptions.SecretKey"/>, else the key file (made on the first start). Checked against the
    /// database before anything reads a secret; another key is a <see cref="SecretKeyException"/> with one clear line.
    /// </summary>
    private void OpenSecrets(SqliteConnection connection)
    {
        var file = _options.SecretKeyFilePath;
        var (key, created) = _options.SecretKey is { } configured ? (configured, false) : SecretKeyFile.LoadOrCreate(file);
        try
        {
            SealedAtOpen = SqliteSecrets.Open(connection, key);
        }
        catch (SecretKeyMismatchException ex)
        {
            // A key made just now cannot be the one the database wants: do not leave it behind to be mistaken for it.
            if (created) File.Delete(file);
            var pending = SecretKeyFile.PendingPath(file);
            var hint = File.Exists(pending) ? $"; {pending} is the new key of an interrupted `tern secrets rotate-key`" : "";
            throw new SecretKeyException(
                (_options.SecretKey is not null ? "Tern:Secrets:Key: " : created ? $"Tern:Secrets:KeyFile: {file} is missing; " : $"Tern:Secrets:KeyFile: {file}: ") +
                $"the database {_options.Path} was sealed with key {ex.DatabaseKeyId}, this key is {ex.KeyId}; start with the key it was sealed with{hint}");
        }
        catch (SealedSecretException ex)
        {
            throw new SecretKeyException($"the database {_options.Path}: the secret in {ex.Message}");
        }
        _sealer = key;
    }

    /// <summary>
    /// Re-seals every secret with <paramref name="next"/> in one transaction and makes it the key in use; returns how
    /// many secrets. The caller keeps <paramref name="next"/> safe first: once this commits, only it opens the database.
    /// </summary>
    public async Task<int> ResealAsync(SecretSealer next, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var count = SqliteSecrets.Reseal(connection, Sealer, next);
        _sealer = next;
        return count;
    }

    /// <summary>Schema versions applied, for /health/ready and `tern doctor`.</summary>
    public async Task<int> SchemaVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return (int)Scalar(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    }

    /// <summary>
    /// A pooled read connection with Tern's pragmas applied; at most <see cref="StorageOptions.MaxReadConnections"/>
    /// are open at once (disposing it frees its place). Never hold one while opening another.
    /// </summary>
    public async Task<SqliteConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        await _readers.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await OpenConfiguredAsync(new BoundedConnection(_connectionString, _readers), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _readers.Release();
            throw;
        }
    }

    private async Task<SqliteConnection> OpenConfiguredAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            var synchronous = _options.Synchronous == SqliteSynchronous.Full ? "FULL" : "NORMAL";
            Execute(connection, null,
                $"PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA busy_timeout=30000; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-{_options.CacheKiB.ToString(CultureInfo.InvariantCulture)};");
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// A rare write (catalog, keys, tenants) in its own immediate transaction, bumping the meta counter
    /// <paramref name="versionKey"/> when it changed anything so running instances reload.
    /// </summary>
    internal async Task<bool> ChangeAsync(string sql, string? versionKey, Action<SqliteCommand> bind, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: false);
        int changed;
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
#pragma warning disable CA2100 // SQL text comes from constants in this assembly; values are bound.
            command.CommandText = sql;
#pragma warning restore CA2100
            bind(command);
            changed = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        if (changed > 0 && versionKey is not null)
        {
            await using var bump = connection.CreateCommand();
            bump.Transaction = transaction;
            bump.CommandText = "UPDATE meta SET value = value + 1 WHERE key = $key";
            bump.Parameters.AddWithValue("$key", versionKey);
            await bump.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed > 0;
    }

    internal static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
#pragma warning disable CA2100 // Only migration files and constants reach here.
        command.CommandText = sql;
#pragma warning restore CA2100
        command.ExecuteNonQuery();
    }

    internal static long Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
#pragma warning disable CA2100 // Only constants reach here.
        command.CommandText = sql;
#pragma warning restore CA2100
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null) await _writer.DisposeAsync().ConfigureAwait(false);
        _writer = null;
    }

    /// <summary>A read connection that gives its place back when disposed (once, however it is disposed).</summary>
    private sealed class BoundedConnection(string connectionString, SemaphoreSlim readers) : SqliteConnection(connectionString)
    {
        private int _released;

        protected override void Dispose(bool disposing)
        {
            base.Dispose(disposing);
            if (Interlocked.Exchange(ref _released, 1) == 0) readers.Release();
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync().ConfigureAwait(false);
            if (Interlocked.Exchange(ref _released, 1) == 0) readers.Release();
        }
    }
}
