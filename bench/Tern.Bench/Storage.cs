using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Npgsql;
using Tern.StandIns.Postgres;
using static System.FormattableString;

namespace Tern.Bench;

/// <summary>
/// Where tern keeps its data for the benchmark: SQLite in each run's directory (nothing to do here), or a private
/// PostgreSQL server (tests/Tern.StandIns) started once for the driver, with a fresh database per run.
/// </summary>
internal sealed class BenchStorage : IAsyncDisposable
{
    private readonly PrivatePostgres? _postgres;

    private BenchStorage(string kind, PrivatePostgres? postgres)
    {
        Kind = kind;
        _postgres = postgres;
    }

    public string Kind { get; }

    public bool IsPostgres => _postgres is not null;

    /// <summary>The postmaster's pid (its backends are its children), for CPU accounting; null on SQLite.</summary>
    public int? PostgresPid => _postgres?.ProcessId;

    public static async Task<BenchStorage> StartAsync(string kind)
    {
        if (kind != BenchOptions.Postgres) return new BenchStorage(kind, null);
        var postgres = await PrivatePostgres.StartAsync(CancellationToken.None);
        Console.WriteLine(Invariant($"PostgreSQL: private server on 127.0.0.1:{postgres.Port} ({PrivatePostgres.FindBinDirectory()}; fsync, full_page_writes and synchronous_commit off; max_connections 200; shared_buffers 32MB)"));
        return new BenchStorage(kind, postgres);
    }

    /// <summary>A fresh database for one run (PostgreSQL), or nothing (SQLite).</summary>
    public async Task<RunDatabase> NewRunAsync(string home)
    {
        if (_postgres is null) return new RunDatabase(null, null, home);
        var connectionString = await _postgres.CreateDatabaseAsync(CancellationToken.None);
        return new RunDatabase(_postgres, connectionString, home);
    }

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null) await _postgres.DisposeAsync();
    }
}

/// <summary>One run's database: the settings every tern (CLI and serve) of the run gets, its size, its leases, the connections sampled.</summary>
internal sealed class RunDatabase : IAsyncDisposable
{
    private readonly PrivatePostgres? _postgres;
    private readonly string? _connectionString;
    private readonly string _home;

    public RunDatabase(PrivatePostgres? postgres, string? connectionString, string home)
    {
        _postgres = postgres;
        _connectionString = connectionString;
        _home = home;
        // One key for every instance and the CLI (on SQLite tern writes secret.key beside the database itself).
        var key = connectionString is null ? null : Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        Settings = connectionString is null ? [] : ["--Tern:Storage:ConnectionString=" + connectionString, "--Tern:Secrets:Key=" + key];
    }

    public bool IsPostgres => _connectionString is not null;

    /// <summary>Arguments for every `tern` command of the run (empty on SQLite).</summary>
    public IReadOnlyList<string> Settings { get; }

    /// <summary>The database's size: the files under data/ (SQLite) or pg_database_size (PostgreSQL).</summary>
    public async Task<long> BytesAsync()
    {
        if (_connectionString is null) return Runs.DatabaseBytes(_home);
        return await ScalarAsync<long>("SELECT pg_database_size(current_database())");
    }

    /// <summary>Who holds which lease now, as one line ("—" on SQLite).</summary>
    public async Task<string> LeasesAsync()
    {
        if (_connectionString is null) return "—";
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("SELECT name, holder FROM leases ORDER BY name", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var held = new List<string>();
        while (await reader.ReadAsync()) held.Add(reader.GetString(0) + "=" + reader.GetString(1));
        return held.Count == 0 ? "none" : string.Join(", ", held);
    }

    /// <summary>Waits (up to 60 s) until some instance holds the lease <paramref name="name"/>; true when one does.</summary>
    public async Task<bool> WaitForLeaseAsync(string name)
    {
        if (_connectionString is null) return true;
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(60))
        {
            await using (var connection = await OpenAsync())
            {
                await using var command = new NpgsqlCommand("SELECT count(*) FROM leases WHERE name = @name", connection);
                command.Parameters.AddWithValue("name", name);
                if (Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture) > 0) return true;
            }
            await Task.Delay(100);
        }
        return false;
    }

    /// <summary>Samples the connections tern holds on this database every 100 ms (null on SQLite).</summary>
    public async Task<ConnectionSampler?> StartConnectionSamplerAsync() =>
        _connectionString is null ? null : await ConnectionSampler.StartAsync(await OpenAsync());

    private async Task<NpgsqlConnection> OpenAsync()
    {
        // Unpooled: the driver's own connection goes away with it and is never one of tern's.
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)Convert.ChangeType(await command.ExecuteScalarAsync(), typeof(T), CultureInfo.InvariantCulture)!;
    }

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null && _connectionString is not null)
        {
            try
            {
                await _postgres.DropDatabaseAsync(_connectionString, CancellationToken.None);
            }
            catch (NpgsqlException ex)
            {
                Console.WriteLine("dropping the run's database: " + ex.Message);
            }
        }
    }
}

/// <summary>
/// Every 100 ms, from a connection of its own: the other backends on the run's database (tern's connections),
/// <c>SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid &lt;&gt; pg_backend_pid()</c>; keeps the max.
/// </summary>
internal sealed class ConnectionSampler : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly PeriodicTimer _timer = new(TimeSpan.FromMilliseconds(100));
    private Task _loop = Task.CompletedTask;
    private long _max;
    private int _samples;

    private ConnectionSampler(NpgsqlConnection connection)
    {
        _connection = connection;
    }

    public long Max => Interlocked.Read(ref _max);

    public int Samples => Volatile.Read(ref _samples);

    public static async Task<ConnectionSampler> StartAsync(NpgsqlConnection connection)
    {
        var sampler = new ConnectionSampler(connection);
        await sampler.SampleAsync();
        sampler._loop = Task.Run(sampler.LoopAsync);
        return sampler;
    }

    /// <summary>Stops sampling (after one last sample); the max stays readable.</summary>
    public async Task StopAsync()
    {
        _timer.Dispose();
        await _loop;
        await SampleAsync();
    }

    private async Task LoopAsync()
    {
        while (await _timer.WaitForNextTickAsync()) await SampleAsync();
    }

    private async Task SampleAsync()
    {
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", _connection);
        var count = Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
        Interlocked.Increment(ref _samples);
        long seen;
        while (count > (seen = Interlocked.Read(ref _max)) && Interlocked.CompareExchange(ref _max, count, seen) != seen)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _timer.Dispose();
        await _loop;
        await _connection.DisposeAsync();
    }
}
