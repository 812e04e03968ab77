using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using Tern.StandIns.Postgres;

namespace Tern.StandIns.Tests.Postgres;

/// <summary>The private PostgreSQL server: a real server of the test process's own, and nothing of it left behind.</summary>
public sealed class PrivatePostgresTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_started_server_takes_tern_as_superuser_on_127_0_0_1_and_its_port_with_fsync_off_and_logs()
    {
        await using var postgres = await PrivatePostgres.StartAsync(CancellationToken.None);

        await using var connection = await OpenAsync(postgres.AdminConnectionString);
        Assert.Equal(PrivatePostgres.User, await ScalarAsync<string>(connection, "SELECT current_user"));
        Assert.Equal("on", await ScalarAsync<string>(connection, "SHOW is_superuser"));
        Assert.Equal("off", await ScalarAsync<string>(connection, "SHOW fsync"));
        Assert.Equal("127.0.0.1", await ScalarAsync<string>(connection, "SHOW listen_addresses"));
        Assert.Equal(postgres.Port.ToString(CultureInfo.InvariantCulture), await ScalarAsync<string>(connection, "SHOW port"));
        Assert.Equal("127.0.0.1", await ScalarAsync<string>(connection, "SELECT host(inet_server_addr())"));
        Assert.Equal(postgres.Port, await ScalarAsync<int>(connection, "SELECT inet_server_port()"));
        Assert.True(await AcceptsAsync(postgres.Port));
        Assert.True(File.Exists(Path.Combine(postgres.Directory, $".s.PGSQL.{postgres.Port}")), "the Unix socket is in the server's directory");
        Assert.StartsWith(Path.GetTempPath(), postgres.Directory, StringComparison.Ordinal);
        Assert.True(postgres.IsRunning);
        Assert.NotEmpty(postgres.ServerLog);
        Assert.Contains("database system is ready to accept connections", postgres.ServerLog, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Created_databases_are_separate_and_a_drop_works_with_a_connection_open_and_refuses_databases_it_did_not_make()
    {
        var postgres = await PrivatePostgres.SharedAsync();
        var first = await postgres.CreateDatabaseAsync(CancellationToken.None);
        var second = await postgres.CreateDatabaseAsync(CancellationToken.None);
        var firstName = new NpgsqlConnectionStringBuilder(first).Database!;
        var secondName = new NpgsqlConnectionStringBuilder(second).Database!;
        Assert.NotEqual(firstName, secondName);

        await using (var connection = await OpenAsync(first))
        {
            await ExecuteAsync(connection, "CREATE TABLE only_here (x int); INSERT INTO only_here VALUES (1)");
            Assert.Equal("only_here", await ScalarAsync<string>(connection, "SELECT to_regclass('only_here')::text"));
        }
        await using (var connection = await OpenAsync(second))
        {
            Assert.Null(await ScalarAsync<string?>(connection, "SELECT to_regclass('only_here')::text"));
        }

        await using var stillOpen = await OpenAsync(first);
        Assert.Equal(1, await ScalarAsync<int>(stillOpen, "SELECT count(*)::int FROM only_here"));
        await postgres.DropDatabaseAsync(first, CancellationToken.None);
        Assert.False(await DatabaseExistsAsync(postgres, firstName));
        Assert.True(await DatabaseExistsAsync(postgres, secondName));
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => ScalarAsync<int>(stillOpen, "SELECT 1"));

        // Made by hand with a name like the ones it makes, the postgres database, and one dropped already: all refused, none dropped.
        var byHand = "tern_" + new string('0', 32);
        await using (var admin = await OpenAsync(postgres.AdminConnectionString)) await ExecuteAsync(admin, $"CREATE DATABASE \"{byHand}\"");
        try
        {
            var byHandConnectionString = new NpgsqlConnectionStringBuilder(second) { Database = byHand }.ConnectionString;
            await Assert.ThrowsAsync<ArgumentException>(() => postgres.DropDatabaseAsync(byHandConnectionString, CancellationToken.None));
            await Assert.ThrowsAsync<ArgumentException>(() => postgres.DropDatabaseAsync(postgres.AdminConnectionString, CancellationToken.None));
            await Assert.ThrowsAsync<ArgumentException>(() => postgres.DropDatabaseAsync(first, CancellationToken.None));
            Assert.True(await DatabaseExistsAsync(postgres, byHand));
            Assert.True(await DatabaseExistsAsync(postgres, "postgres"));
        }
        finally
        {
            await using var admin = await OpenAsync(postgres.AdminConnectionString);
            await ExecuteAsync(admin, $"DROP DATABASE IF EXISTS \"{byHand}\" WITH (FORCE)");
        }
        await postgres.DropDatabaseAsync(second, CancellationToken.None);
        Assert.False(await DatabaseExistsAsync(postgres, secondName));
    }

    [Fact]
    public async Task Committed_data_survives_StopAsync_and_StartAgainAsync_on_the_same_port()
    {
        await using var postgres = await PrivatePostgres.StartAsync(CancellationToken.None);
        var database = Unpooled(await postgres.CreateDatabaseAsync(CancellationToken.None));
        await using (var connection = await OpenAsync(database))
        {
            await ExecuteAsync(connection, "CREATE TABLE kept (x text); INSERT INTO kept VALUES ('before the stop')");
        }
        var port = postgres.Port;
        var pid = postgres.ProcessId;
        Assert.NotNull(pid);

        await postgres.StopAsync();
        Assert.False(postgres.IsRunning);
        Assert.Null(postgres.ProcessId);
        Assert.False(System.IO.Directory.Exists($"/proc/{pid}"), "the postmaster is gone after StopAsync");
        Assert.False(await AcceptsAsync(port));
        Assert.True(System.IO.Directory.Exists(postgres.DataDirectory), "a stopped server keeps its data");

        await postgres.StartAgainAsync();
        Assert.True(postgres.IsRunning);
        Assert.Equal(port, postgres.Port);
        Assert.NotEqual(pid, postgres.ProcessId);
        await using (var connection = await OpenAsync(database))
        {
            Assert.Equal("before the stop", await ScalarAsync<string>(connection, "SELECT x FROM kept"));
        }
    }

    [Fact]
    public async Task DisposeAsync_ends_the_postmaster_and_its_backends_deletes_the_directory_and_frees_the_port()
    {
        var postgres = await PrivatePostgres.StartAsync(CancellationToken.None);
        var pid = postgres.ProcessId ?? throw new InvalidOperationException("no postmaster pid");
        var directory = postgres.Directory;
        var port = postgres.Port;
        await using var open = await OpenAsync(postgres.AdminConnectionString);
        var backend = await ScalarAsync<int>(open, "SELECT pg_backend_pid()");
        Assert.Contains(backend, ChildrenOf(pid));

        await postgres.DisposeAsync();

        Assert.False(System.IO.Directory.Exists($"/proc/{pid}"), "the postmaster is gone");
        Assert.False(System.IO.Directory.Exists($"/proc/{backend}"), "its backend is gone");
        Assert.False(System.IO.Directory.Exists(directory), "the directory is deleted");
        Assert.False(await AcceptsAsync(port));
        Assert.False(postgres.IsRunning);
        await postgres.DisposeAsync();
    }

    [Fact]
    public async Task An_abandoned_server_is_stopped_and_its_directory_deleted_by_the_watchdog()
    {
        var postgres = await PrivatePostgres.StartAsync(CancellationToken.None);
        var pid = postgres.ProcessId ?? throw new InvalidOperationException("no postmaster pid");
        var directory = postgres.Directory;
        await using var open = await OpenAsync(postgres.AdminConnectionString);
        var backend = await ScalarAsync<int>(open, "SELECT pg_backend_pid()");

        postgres.AbandonForTest();

        // Nothing in this process stops it now: only the watchdog, on the EOF of its stdin.
        await EventuallyAsync(() => !System.IO.Directory.Exists($"/proc/{pid}"), "the postmaster exits", postgres);
        await EventuallyAsync(() => !System.IO.Directory.Exists($"/proc/{backend}"), "its backend exits", postgres);
        await EventuallyAsync(() => !System.IO.Directory.Exists(directory), "the directory is deleted", postgres);
        Assert.False(await AcceptsAsync(postgres.Port));
    }

    [Fact]
    public async Task SharedAsync_gives_the_same_server_every_time_and_disposing_it_does_not_stop_it()
    {
        var first = await PrivatePostgres.SharedAsync();
        var second = await PrivatePostgres.SharedAsync();
        Assert.Same(first, second);

        await first.DisposeAsync();

        Assert.True(first.IsRunning);
        Assert.True(System.IO.Directory.Exists(first.DataDirectory));
        await using var connection = await OpenAsync(first.AdminConnectionString);
        Assert.Equal(1, await ScalarAsync<int>(connection, "SELECT 1"));
        Assert.Same(first, await PrivatePostgres.SharedAsync());
    }

    private static string Unpooled(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;

    private static async Task<NpgsqlConnection> OpenAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull or null ? default! : (T)value;
    }

    private static async Task<bool> DatabaseExistsAsync(PrivatePostgres postgres, string name)
    {
        await using var connection = await OpenAsync(postgres.AdminConnectionString);
        await using var command = new NpgsqlCommand("SELECT count(*)::int FROM pg_database WHERE datname = $1", connection);
        command.Parameters.AddWithValue(name);
        return (int)(await command.ExecuteScalarAsync())! == 1;
    }

    /// <summary>Whether something accepts a TCP connection on 127.0.0.1:<paramref name="port"/>.</summary>
    private static async Task<bool> AcceptsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(10));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The pids whose parent is <paramref name="pid"/>, from /proc.</summary>
    private static List<int> ChildrenOf(int pid)
    {
        var children = new List<int>();
        foreach (var stat in System.IO.Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "stat")))
        {
            string text;
            try
            {
                text = File.ReadAllText(stat);
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            // "pid (comm) state ppid ...": comm may hold spaces, so fields are counted after its closing parenthesis.
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length > 1 && int.Parse(fields[1], CultureInfo.InvariantCulture) == pid)
            {
                children.Add(int.Parse(text[..text.IndexOf(' ', StringComparison.Ordinal)], CultureInfo.InvariantCulture));
            }
        }
        return children;
    }

    private static async Task EventuallyAsync(Func<bool> condition, string what, PrivatePostgres postgres)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            if (waited.Elapsed > Generous) Assert.Fail($"not within {Generous.TotalSeconds} s: {what}. Server log:\n{postgres.ServerLog}");
            await Task.Delay(50);
        }
    }
}
