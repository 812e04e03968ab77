using Tern.Storage.Secrets;

namespace Tern.Storage;

public enum SqliteSynchronous
{
    /// <summary>WAL + NORMAL: a commit survives a process crash (kill -9); the last commits can be lost on power failure.</summary>
    Normal,

    /// <summary>WAL + FULL: every commit is fsynced; survives power failure, slower.</summary>
    Full,
}

public sealed class StorageOptions
{
    /// <summary>Which storage engine keeps the data: <c>sqlite</c> (the embedded default) or <c>postgres</c>.</summary>
    public string Engine { get; set; } = "sqlite";

    /// <summary>
    /// The PostgreSQL database (<c>Tern:Storage:ConnectionString</c>): a <c>postgres://user:password@host:port/database</c>
    /// URL or Npgsql's <c>Host=…;Database=…</c> keywords. Unused by SQLite.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Path of the SQLite database file; with PostgreSQL, its folder is still where the key file is made.</summary>
    public string Path { get; set; } = "./data/tern.db";

    public SqliteSynchronous Synchronous { get; set; } = SqliteSynchronous.Normal;

    /// <summary>Page cache per connection, in KiB (SQLite's default is 2000).</summary>
    public int CacheKiB { get; set; } = 2048;

    /// <summary>Write requests waiting for the writer before callers wait.</summary>
    public int WriteQueue { get; set; } = 4096;

    /// <summary>
    /// Read connections open at once (each has its own page cache, or a server backend); more readers wait for one
    /// to close. The writer's connection is not counted.
    /// </summary>
    public int MaxReadConnections { get; set; } = 8;

    /// <summary>PostgreSQL: how long an idle pooled connection is kept before the pool closes it.</summary>
    public TimeSpan ConnectionIdleLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>PostgreSQL: how often the pool looks for idle connections to close; at most <see cref="ConnectionIdleLifetime"/>.</summary>
    public TimeSpan ConnectionPruningInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The key secrets are sealed with, when configured (<c>Tern:Secrets:Key</c>); it wins over the key file.</summary>
    public SecretSealer? SecretKey { get; set; }

    /// <summary>The key file (<c>Tern:Secrets:KeyFile</c>); null: <c>secret.key</c> beside the database, made on the first start.</summary>
    public string? SecretKeyFile { get; set; }

    /// <summary>
    /// In a cluster (<c>Tern:Cluster:Enabled</c>), this instance's id: lanes it claims are its own while its instance lease
    /// lives, and it commits routed messages only while it holds the router lease. Null: one process owns the database.
    /// </summary>
    public string? ClusterInstanceId { get; set; }

    /// <summary>The key file used when no key is configured.</summary>
    public string SecretKeyFilePath => SecretKeyFile is { } file ? System.IO.Path.GetFullPath(file) : Secrets.SecretKeyFile.DefaultPath(Path);
}
