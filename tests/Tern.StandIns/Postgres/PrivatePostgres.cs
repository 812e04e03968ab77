using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;
using Tern.StandIns.Processes;

namespace Tern.StandIns.Postgres;

/// <summary>
/// A real PostgreSQL server of the test process's own: a fresh cluster (initdb) in a temp directory, on 127.0.0.1
/// and a free port, with test-speed settings (no fsync). Nothing is shared with the machine and nothing is left
/// behind: the server is stopped and its directory deleted on dispose, at process exit, and, by a watchdog, when the
/// test process is SIGKILLed. Under root (CI) initdb and postgres run as the <c>postgres</c> user, since PostgreSQL
/// refuses to run as root. It asserts nothing: failures throw with the server's log in the message.
/// </summary>
public sealed partial class PrivatePostgres : IAsyncDisposable
{
    public const string User = "tern";
    private const string DatabasePrefix = "tern_";
    private const string RunAsUser = "postgres";
    private const int SigInt = 2;
    private const int SigQuit = 3;
    private const int PortAttempts = 5;
    private static readonly TimeSpan InitDbTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);
    private static readonly ConcurrentDictionary<PrivatePostgres, byte> Live = new();
    private static readonly Lazy<Task<PrivatePostgres>> Shared = new(() => StartAsync(shared: true, CancellationToken.None));

    // On EOF of its stdin, i.e. once the test process is gone without stopping the server (a SIGKILL, say), the
    // watchdog asks the postmaster for an immediate shutdown (it takes its backends along), kills it after 10 s,
    // and deletes the directory. Its own output goes nowhere: the pipes to the dead parent would SIGPIPE it.
    private const string WatchdogScript = """
        exec >/dev/null 2>&1
        read -r _
        alive() { s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [ "$s" != Z ]; }
        kill -QUIT "$1"
        i=0
        while alive "$1" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        alive "$1" && kill -KILL "$1"
        for _ in 1 2 3 4 5; do rm -rf -- "$2" && break; sleep 0.2; done
        """;

    private readonly string _bin;
    private readonly string? _runAs;
    private readonly bool _shared;
    private readonly Lock _logLock = new();
    private readonly StringBuilder _log = new();
    private readonly ConcurrentDictionary<string, byte> _databases = new(StringComparer.Ordinal);
    private ChildProcess? _server;
    private ChildProcess? _watchdog;
    private int _disposed;

    static PrivatePostgres()
    {
        // A test process that ends without disposing (the shared server always does) stops its servers here.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var postgres in Live.Keys)
            {
                try
                {
                    postgres.StopAndDeleteNow();
                }
                catch (Exception)
                {
                    // The others still get their turn; the watchdog has the last word on this one.
                }
            }
        };
    }

    private PrivatePostgres(string bin, string directory, string? runAs, bool shared)
    {
        _bin = bin;
        Directory = directory;
        _runAs = runAs;
        _shared = shared;
    }

    /// <summary>The temp directory everything is in: the cluster (<c>data</c>) and the Unix socket. Gone after dispose.</summary>
    public string Directory { get; }

    public string DataDirectory => Path.Combine(Directory, "data");

    public int Port { get; private set; }

    /// <summary>The <c>postgres</c> database as superuser <c>tern</c>, unpooled: for creating and dropping databases.</summary>
    public string AdminConnectionString => ConnectionString("postgres", pooling: false);

    /// <summary>Whether the server process is running (it may not accept connections yet, or any more).</summary>
    public bool IsRunning => _server is { HasExited: false };

    /// <summary>The postmaster's pid while it runs.</summary>
    public int? ProcessId => _server is { HasExited: false } server ? server.Id : null;

    /// <summary>What initdb and the server wrote, every start included: for failure messages.</summary>
    public string ServerLog
    {
        get
        {
            lock (_logLock) return _log.ToString();
        }
    }

    /// <summary>
    /// One server for the whole test process, started on first use and stopped at process exit, so that many test
    /// classes can each have their own database (<see cref="CreateDatabaseAsync"/>) cheaply. Disposing it does
    /// nothing; a test that stops or restarts a server starts its own with <see cref="StartAsync"/>.
    /// </summary>
    public static Task<PrivatePostgres> SharedAsync() => Shared.Value;

    /// <summary>A new cluster in a new temp directory, started and accepting connections.</summary>
    public static Task<PrivatePostgres> StartAsync(CancellationToken cancellationToken) => StartAsync(shared: false, cancellationToken);

    private static async Task<PrivatePostgres> StartAsync(bool shared, CancellationToken cancellationToken)
    {
        var bin = FindBinDirectory();
        string? runAs = null;
        var directory = System.IO.Directory.CreateTempSubdirectory("tern-pg-").FullName;
        if (GetEffectiveUserId() == 0)
        {
            // PostgreSQL will not run as root: the cluster's directory must belong to the user it runs as.
            runAs = RunAsUser;
            var (uid, gid) = LookUpUser(RunAsUser);
            if (ChangeOwner(directory, uid, gid) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                System.IO.Directory.Delete(directory, recursive: true);
                throw new InvalidOperationException($"chown {directory} to {RunAsUser} failed with errno {errno}");
            }
        }
        var postgres = new PrivatePostgres(bin, directory, runAs, shared);
        Live[postgres] = 0;
        try
        {
            await postgres.InitDbAsync(cancellationToken);
            await postgres.StartOnAFreePortAsync(cancellationToken);
            return postgres;
        }
        catch
        {
            postgres.StopAndDeleteNow();
            throw;
        }
    }

    /// <summary>An Npgsql connection string (pooled) for a new empty database with a name of its own.</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        var name = DatabasePrefix + Guid.NewGuid().ToString("N");
        await ExecuteAsync($"CREATE DATABASE \"{name}\"", cancellationToken);
        _databases[name] = 0;
        return ConnectionString(name, pooling: true);
    }

    /// <summary>
    /// Drops a database this server's <see cref="CreateDatabaseAsync"/> made, its connections closed by force. Any
    /// other database (<c>postgres</c>, one a test made by hand, one of another server) is refused.
    /// </summary>
    public async Task DropDatabaseAsync(string connectionString, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var name = builder.Database;
        if (name is null || builder.Port != Port || !CreatedName().IsMatch(name) || !_databases.ContainsKey(name))
        {
            throw new ArgumentException($"{name} on port {builder.Port} is not a database CreateDatabaseAsync of this server made", nameof(connectionString));
        }
        using (var connection = new NpgsqlConnection(connectionString)) NpgsqlConnection.ClearPool(connection);
        await ExecuteAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", cancellationToken);
        _databases.TryRemove(name, out _);
    }

    /// <summary>
    /// Fast shutdown (SIGINT: connections are closed, a checkpoint is written), so committed data survives. Pooled
    /// connections are left broken, as a real restart leaves them.
    /// </summary>
    public async Task StopAsync()
    {
        var server = _server ?? throw new InvalidOperationException("the server is not running");
        _server = null;
        if (!server.HasExited && SendSignal(server.Id, SigInt) != 0 && !server.HasExited)
        {
            throw new InvalidOperationException($"kill({server.Id}, SIGINT) failed with errno {Marshal.GetLastPInvokeError()}");
        }
        try
        {
            await server.WaitForExitAsync(StopTimeout);
        }
        catch (TimeoutException)
        {
            server.Kill();
            throw new TimeoutException($"PostgreSQL did not stop within {StopTimeout.TotalSeconds} s and was killed. Log:\n{LogTail()}");
        }
        finally
        {
            await server.DisposeAsync();
            await DisposeWatchdogAsync();
        }
    }

    /// <summary>Starts the stopped server again on the same port and data directory; throws when the port was taken meanwhile.</summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        if (_server is not null) throw new InvalidOperationException("the server is running");
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await StartServerAsync(Port, cancellationToken);
    }

    /// <summary>Immediate shutdown and the directory deleted. Does nothing for the shared server (process exit stops it).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_shared) return;
        await Task.Run(StopAndDeleteNow);
    }

    /// <summary>Tests only: forgets the server as a SIGKILLed test process would, so that only the watchdog is left to clean up.</summary>
    internal void AbandonForTest()
    {
        Interlocked.Exchange(ref _disposed, 1);
        Live.TryRemove(this, out _);
        _watchdog?.CloseStandardInput();
    }

    [GeneratedRegex("^tern_[0-9a-f]{32}$")]
    private static partial Regex CreatedName();

    [LibraryImport("libc.so.6", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    [LibraryImport("libc.so.6", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    [LibraryImport("libc.so.6", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChangeOwner(string path, uint owner, uint group);

    /// <summary>Debian's layout: /usr/lib/postgresql/&lt;version&gt;/bin, the highest version that has initdb.</summary>
    public static string FindBinDirectory()
    {
        const string root = "/usr/lib/postgresql";
        var found = System.IO.Directory.Exists(root)
            ? System.IO.Directory.GetDirectories(root)
                .Select(d => (Directory: d, Version: decimal.TryParse(Path.GetFileName(d), NumberStyles.Number, CultureInfo.InvariantCulture, out var v) ? v : -1))
                .Where(d => d.Version >= 0 && File.Exists(Path.Combine(d.Directory, "bin", "initdb")))
                .OrderByDescending(d => d.Version)
                .Select(d => Path.Combine(d.Directory, "bin"))
                .FirstOrDefault()
            : null;
        return found ?? throw new InvalidOperationException($"no PostgreSQL server binaries ({root}/<version>/bin/initdb): install Debian's postgresql package (./test.sh does)");
    }

    private static (uint Uid, uint Gid) LookUpUser(string name)
    {
        foreach (var line in File.ReadLines("/etc/passwd"))
        {
            var fields = line.Split(':');
            if (fields.Length >= 4 && fields[0] == name) return (uint.Parse(fields[2], CultureInfo.InvariantCulture), uint.Parse(fields[3], CultureInfo.InvariantCulture));
        }
        throw new InvalidOperationException($"running as root, and there is no '{name}' user to run PostgreSQL as: install Debian's postgresql package (./test.sh does)");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private string ConnectionString(string database, bool pooling) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = User,
        Database = database,
        Pooling = pooling,
    }.ConnectionString;

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The binary run directly, or as the postgres user under root (setpriv execs it: the pid is the binary's).</summary>
    private ProcessStartInfo Command(string binary, IEnumerable<string> args)
    {
        var path = Path.Combine(_bin, binary);
        var info = _runAs is null
            ? ChildProcess.StartInfo(path, args, Directory)
            : ChildProcess.StartInfo("setpriv", [$"--reuid={_runAs}", $"--regid={_runAs}", "--init-groups", "--", path, .. args], Directory);
        // Messages in English whatever the machine's locale (a taken port is recognised by its message).
        info.Environment["LC_ALL"] = "C";
        return info;
    }

    private async Task InitDbAsync(CancellationToken cancellationToken)
    {
        await using var initdb = ChildProcess.Start(
            Command("initdb", ["-D", DataDirectory, "--auth=trust", "-U", User, "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"]),
            sink: Log);
        try
        {
            using var registration = cancellationToken.Register(initdb.Kill);
            var exitCode = await initdb.WaitForExitAsync(InitDbTimeout);
            cancellationToken.ThrowIfCancellationRequested();
            if (exitCode != 0) throw new InvalidOperationException($"initdb exited with {exitCode}:\n{initdb.Tail(30)}");
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"initdb did not finish within {InitDbTimeout.TotalSeconds} s:\n{initdb.Tail(30)}");
        }
    }

    /// <summary>A port that was free a moment ago may be taken by the time postgres binds it: then another one.</summary>
    private async Task StartOnAFreePortAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StartServerAsync(FreePort(), cancellationToken);
                return;
            }
            catch (PortTakenException) when (attempt < PortAttempts)
            {
            }
        }
    }

    private async Task StartServerAsync(int port, CancellationToken cancellationToken)
    {
        Port = port;
        int logStart;
        lock (_logLock) logStart = _log.Length;
        var server = ChildProcess.Start(
            Command("postgres", [
                "-D", DataDirectory,
                "-c", "listen_addresses=127.0.0.1",
                "-c", $"port={port}",
                "-c", $"unix_socket_directories={Directory}",
                "-c", "fsync=off",
                "-c", "full_page_writes=off",
                "-c", "synchronous_commit=off",
                "-c", "max_connections=200",
                "-c", "shared_buffers=32MB",
                "-c", "jit=off",
                "-c", "logging_collector=off",
            ]),
            keptLines: 2_000,
            sink: Log);
        _server = server;
        // The watchdog's stdin is a pipe only this process writes to: the kernel closes it when this process dies.
        var watchdog = ChildProcess.StartInfo("/bin/sh", ["-c", WatchdogScript, "tern-pg-watchdog", server.Id.ToString(CultureInfo.InvariantCulture), Directory], "/");
        watchdog.RedirectStandardInput = true;
        _watchdog = ChildProcess.Start(watchdog, keptLines: 10);

        var deadline = Stopwatch.StartNew();
        var probe = new NpgsqlConnectionStringBuilder(AdminConnectionString) { Timeout = 5 }.ConnectionString;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (server.HasExited)
            {
                _server = null;
                await server.DisposeAsync();
                await DisposeWatchdogAsync();
                string log;
                lock (_logLock) log = _log.ToString(logStart, _log.Length - logStart);
                if (log.Contains("Address already in use", StringComparison.Ordinal)) throw new PortTakenException($"port {port} is taken:\n{log}");
                throw new InvalidOperationException($"PostgreSQL exited during its start. Log:\n{log}");
            }
            try
            {
                await using var connection = new NpgsqlConnection(probe);
                await connection.OpenAsync(cancellationToken);
                await using var command = new NpgsqlCommand("SELECT 1", connection);
                await command.ExecuteScalarAsync(cancellationToken);
                return;
            }
            catch (Exception e) when (e is NpgsqlException or SocketException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                // Not listening yet, or "the database system is starting up".
            }
            if (deadline.Elapsed > ReadyTimeout)
            {
                throw new TimeoutException($"PostgreSQL did not accept connections on port {port} within {ReadyTimeout.TotalSeconds} s. Log:\n{LogTail()}");
            }
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>Synchronous, for process exit too: immediate shutdown (SIGQUIT takes the backends along), a kill after 10 s, the directory deleted.</summary>
    private void StopAndDeleteNow()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Live.TryRemove(this, out _);
        var server = _server;
        _server = null;
        if (server is { HasExited: false })
        {
            SendSignal(server.Id, SigQuit);
            var stopping = Stopwatch.StartNew();
            while (!server.HasExited && stopping.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(20);
            if (!server.HasExited) server.Kill();
        }
        server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        DisposeWatchdogAsync().GetAwaiter().GetResult();
        for (var attempt = 1; System.IO.Directory.Exists(Directory); attempt++)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (Exception e) when ((e is IOException or UnauthorizedAccessException) && attempt < 10)
            {
                // A backend still going away, or the watchdog deleting too.
                Thread.Sleep(100);
            }
        }
    }

    private async Task DisposeWatchdogAsync()
    {
        // Killed (not its stdin closed), so that it does not act: the server is stopped by this process.
        var watchdog = _watchdog;
        _watchdog = null;
        if (watchdog is not null) await watchdog.DisposeAsync();
    }

    private string LogTail()
    {
        lock (_logLock)
        {
            const int max = 8_000;
            return _log.Length <= max ? _log.ToString() : _log.ToString(_log.Length - max, max);
        }
    }

    private void Log(string line)
    {
        lock (_logLock) _log.Append(line).Append('\n');
    }

    private sealed class PortTakenException(string message) : Exception(message);
}
