using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Tern.Server.Configuration;
using Tern.StandIns.Postgres;
using Tern.Storage.Postgres;

namespace Tern.Server.Tests;

/// <summary>
/// deploy/postgres: low-memory.conf is read by the PostgreSQL the tests use (<c>postgres -C</c>, which needs no running
/// server and, given first, runs under root too), and compose.yaml is read line by line (no YAML library).
/// </summary>
public sealed partial class DeployFilesTests
{
    /// <summary>The machines low-memory.conf is written for end at 2 GB; Tern's budget there is at most the machine.</summary>
    private const int LargestBoxMb = 2048;

    private static readonly string Repository = FindRepositoryRoot();
    private static readonly string ConfPath = Path.Combine(Repository, "deploy", "postgres", "low-memory.conf");
    private static readonly string ComposePath = Path.Combine(Repository, "deploy", "postgres", "compose.yaml");

    /// <summary>The unit <c>postgres -C</c> prints a setting in (pg_settings.unit), for every setting written with a unit.</summary>
    private static readonly Dictionary<string, string> BaseUnits = new(StringComparer.Ordinal)
    {
        ["shared_buffers"] = "8kB",
        ["effective_cache_size"] = "8kB",
        ["wal_buffers"] = "8kB",
        ["temp_buffers"] = "8kB",
        ["work_mem"] = "kB",
        ["maintenance_work_mem"] = "kB",
        ["autovacuum_work_mem"] = "kB",
        ["max_wal_size"] = "MB",
        ["min_wal_size"] = "MB",
        ["idle_in_transaction_session_timeout"] = "ms",
        ["checkpoint_timeout"] = "s",
        ["tcp_keepalives_idle"] = "s",
        ["tcp_keepalives_interval"] = "s",
    };

    private static readonly Dictionary<string, double> UnitFactors = new(StringComparer.Ordinal)
    {
        ["B"] = 1,
        ["kB"] = 1024,
        ["8kB"] = 8192,
        ["MB"] = 1024 * 1024,
        ["GB"] = 1024.0 * 1024 * 1024,
        ["TB"] = 1024.0 * 1024 * 1024 * 1024,
        ["us"] = 0.001,
        ["ms"] = 1,
        ["s"] = 1000,
        ["min"] = 60_000,
        ["h"] = 3_600_000,
        ["d"] = 86_400_000,
    };

    [Fact]
    public void Every_setting_in_low_memory_conf_parses_and_postgres_reports_the_value_written()
    {
        var settings = ReadSettings(File.ReadAllText(ConfPath));
        foreach (var required in new[]
                 {
                     "shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem", "max_connections", "wal_buffers",
                     "max_wal_size", "min_wal_size", "checkpoint_completion_target", "synchronous_commit", "huge_pages",
                     "max_worker_processes", "max_parallel_workers", "max_parallel_workers_per_gather", "autovacuum",
                     "idle_in_transaction_session_timeout",
                 })
        {
            Assert.True(settings.ContainsKey(required), $"low-memory.conf does not set {required}");
        }
        // Tern acknowledges only what is committed, and its retention relies on autovacuum to reclaim what it deletes.
        Assert.Equal("on", settings["synchronous_commit"]);
        Assert.Equal("on", settings["autovacuum"]);

        using var cluster = new ConfigDirectory(ConfPath);
        foreach (var (name, written) in settings)
        {
            var result = cluster.Show(name);
            Assert.True(result.ExitCode == 0, $"postgres -C {name} exited with {result.ExitCode}:\n{result.Error}");
            var expected = Expected(name, written);
            Assert.True(Same(expected, result.Output), $"{name} = {written} in low-memory.conf: postgres reports '{result.Output}', expected '{expected}'");
        }
    }

    [Theory]
    [InlineData("work_mem = 4MB", "wrok_mem = 4MB", "unrecognized configuration parameter \"wrok_mem\"")]
    [InlineData("shared_buffers = 128MB", "shared_buffers = 128XB", "invalid value for parameter \"shared_buffers\"")]
    public void A_typo_in_low_memory_conf_makes_postgres_refuse_it(string line, string typo, string message)
    {
        var text = File.ReadAllText(ConfPath);
        Assert.Contains(line + "\n", text);
        var directory = Directory.CreateTempSubdirectory("tern-deploy-conf-").FullName;
        try
        {
            var broken = Path.Combine(directory, "low-memory.conf");
            File.WriteAllText(broken, text.Replace(line + "\n", typo + "\n", StringComparison.Ordinal));
            using var cluster = new ConfigDirectory(broken);
            var result = cluster.Show("max_connections");
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains(message, result.Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Max_connections_leaves_room_for_three_instances_of_the_largest_pool_tern_derives()
    {
        var largest = 0;
        for (var mb = 64; mb <= LargestBoxMb; mb += 32) largest = Math.Max(largest, PoolSize($"{mb}MB"));

        using var cluster = new ConfigDirectory(ConfPath);
        var maxConnections = int.Parse(cluster.Show("max_connections").Output, CultureInfo.InvariantCulture);
        var reserved = int.Parse(cluster.Show("superuser_reserved_connections").Output, CultureInfo.InvariantCulture);
        // Three instances at the largest pool, the superuser's reserve, and one psql.
        Assert.True(maxConnections >= (3 * largest) + reserved + 1, $"max_connections {maxConnections} < 3 × {largest} + {reserved} + 1");
        // The file's own arithmetic names the same pool.
        Assert.Contains($"3 Tern instances × {largest} = {3 * largest}", File.ReadAllText(ConfPath), StringComparison.Ordinal);
    }

    [Fact]
    public void Compose_mounts_low_memory_conf_as_the_config_file_and_limits_both_services()
    {
        var services = ComposeServices(File.ReadAllLines(ComposePath));
        Assert.True(services.ContainsKey("postgres") && services.ContainsKey("tern"), $"services: {string.Join(", ", services.Keys)}");
        foreach (var (name, lines) in services)
        {
            Assert.True(lines.Any(l => MemLimit().IsMatch(l)), $"service {name} has no mem_limit");
        }

        var postgres = services["postgres"];
        var mount = postgres.Select(l => ConfMount().Match(l)).Single(m => m.Success);
        var host = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(ComposePath)!, mount.Groups["host"].Value));
        Assert.Equal(ConfPath, host);
        Assert.Contains(postgres, l => l.Contains($"config_file={mount.Groups["container"].Value}", StringComparison.Ordinal));
        Assert.Contains(postgres, l => l.Contains("listen_addresses=*", StringComparison.Ordinal));
        Assert.Contains(postgres, l => l.Contains("pg_isready", StringComparison.Ordinal));

        var tern = services["tern"];
        var dependsOn = tern.FindIndex(l => l.Trim() == "depends_on:");
        Assert.True(dependsOn >= 0, "tern has no depends_on");
        Assert.Equal("postgres:", tern[dependsOn + 1].Trim());
        Assert.Equal("condition: service_healthy", tern[dependsOn + 2].Trim());
    }

    [Fact]
    public void Compose_environment_gives_tern_the_postgres_service_and_a_budget_under_its_limit()
    {
        var services = ComposeServices(File.ReadAllLines(ComposePath));
        var tern = services["tern"];
        var environment = ServiceEnvironment(tern);
        var postgresEnvironment = ServiceEnvironment(services["postgres"]);

        // What AddEnvironmentVariables makes of them: "__" for ":".
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(environment.Select(e => new KeyValuePair<string, string?>(e.Key.Replace("__", ":", StringComparison.Ordinal), e.Value)))
            .Build();
        var options = TernOptions.Read(configuration);

        Assert.Equal("postgres", options.Storage.Engine);
        var connection = new NpgsqlConnectionStringBuilder(options.Storage.ConnectionString);
        Assert.Equal("postgres", connection.Host);
        Assert.Equal(postgresEnvironment["POSTGRES_USER"], connection.Username);
        Assert.Equal(postgresEnvironment["POSTGRES_DB"], connection.Database);
        Assert.Equal(postgresEnvironment["POSTGRES_PASSWORD"], connection.Password);

        // The budget is set, the container's limit a little above it, the heap limit the plan's.
        var limit = Megabytes(tern.Select(l => MemLimit().Match(l)).Single(m => m.Success).Groups[1].Value);
        Assert.Equal(options.Memory.Budget.Bytes * 110 / 100 >> 20, limit >> 20);
        Assert.Equal(options.Memory.HeapHardLimit.ToString("X", CultureInfo.InvariantCulture), environment["DOTNET_GCHeapHardLimit"]);
    }

    /// <summary>Npgsql's Maximum Pool Size for a budget, as Tern sets it: the options read, then the database made (it connects to nothing).</summary>
    private static int PoolSize(string budget)
    {
        var options = TernOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Tern:Memory:Budget"] = budget,
            ["Tern:Profile"] = "Standard",
            ["Tern:Storage:ConnectionString"] = "Host=postgres;Database=tern;Username=tern",
            // Three instances on one database are a cluster: each also holds a connection that listens for the others' changes.
            ["Tern:Cluster:Enabled"] = "true",
        }).Build());
        var database = PostgresDatabase.Create(options.Storage);
        try
        {
            return database.Pool.MaxSize;
        }
        finally
        {
            database.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>name → value (unquoted) of every setting line; anything else that is not a comment fails.</summary>
    private static Dictionary<string, string> ReadSettings(string text)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var match = SettingLine().Match(line);
            Assert.True(match.Success, $"not a setting line: {line}");
            var value = match.Groups["value"].Value;
            if (value.StartsWith('\'')) value = value[1..^1].Replace("''", "'", StringComparison.Ordinal);
            Assert.True(settings.TryAdd(match.Groups["name"].Value, value), $"{match.Groups["name"].Value} is set twice");
        }
        return settings;
    }

    /// <summary>What <c>postgres -C</c> prints for a value as written: a number with a unit in the setting's base unit.</summary>
    private static string Expected(string name, string written)
    {
        var withUnit = ValueWithUnit().Match(written);
        if (!withUnit.Success) return written;
        Assert.True(BaseUnits.TryGetValue(name, out var baseUnit), $"{name} = {written}: add its base unit (pg_settings.unit) to BaseUnits");
        Assert.True(UnitFactors.TryGetValue(withUnit.Groups[2].Value, out var factor), $"{name} = {written}: unknown unit");
        var inBase = double.Parse(withUnit.Groups[1].Value, CultureInfo.InvariantCulture) * factor / UnitFactors[baseUnit];
        Assert.True(inBase == Math.Floor(inBase), $"{name} = {written} is not a whole number of {baseUnit}");
        return ((long)inBase).ToString(CultureInfo.InvariantCulture);
    }

    private static bool Same(string expected, string actual) =>
        string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase)
        || (double.TryParse(expected, NumberStyles.Float, CultureInfo.InvariantCulture, out var e)
            && double.TryParse(actual, NumberStyles.Float, CultureInfo.InvariantCulture, out var a)
            && e == a);

    /// <summary>The lines of each service under <c>services:</c> (two spaces in), by name.</summary>
    private static Dictionary<string, List<string>> ComposeServices(string[] lines)
    {
        var services = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        List<string>? current = null;
        var inServices = false;
        foreach (var line in lines)
        {
            if (line.Length == 0 || line.TrimStart().StartsWith('#')) continue;
            if (!line.StartsWith(' '))
            {
                inServices = line == "services:";
                current = null;
                continue;
            }
            if (!inServices) continue;
            if (line.StartsWith("  ", StringComparison.Ordinal) && !line.StartsWith("   ", StringComparison.Ordinal))
            {
                current = [];
                services[line.Trim().TrimEnd(':')] = current;
            }
            else
            {
                current?.Add(line);
            }
        }
        return services;
    }

    /// <summary>A service's <c>environment:</c> map (KEY: value lines), quotes removed and <c>${VAR:?…}</c> filled in as Compose would.</summary>
    private static Dictionary<string, string> ServiceEnvironment(List<string> service)
    {
        var start = service.FindIndex(l => l == "    environment:");
        Assert.True(start >= 0, "no environment: map");
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in service.Skip(start + 1).TakeWhile(l => l.StartsWith("      ", StringComparison.Ordinal)))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var value = line[(colon + 1)..].Trim();
            if (value.Length >= 2 && value[0] == '"' && value[^1] == '"') value = value[1..^1];
            environment[line[..colon].Trim()] = Interpolation().Replace(value, m => m.Groups[1].Value == "TERN_DB_PASSWORD" ? "0123abcd" : throw new InvalidOperationException($"unknown variable {m.Value}"));
        }
        return environment;
    }

    private static long Megabytes(string composeSize)
    {
        Assert.EndsWith("m", composeSize, StringComparison.Ordinal);
        return long.Parse(composeSize[..^1], CultureInfo.InvariantCulture) << 20;
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Tern.slnx"))) return directory.FullName;
        }
        throw new InvalidOperationException($"no Tern.slnx above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"^(?<name>[a-z_][a-z0-9_.]*)\s*=\s*(?<value>'(?:[^']|'')*'|[^\s#']+)\s*(?:#.*)?$")]
    private static partial Regex SettingLine();

    [GeneratedRegex(@"^(-?\d+(?:\.\d+)?)\s*([A-Za-z]+)$")]
    private static partial Regex ValueWithUnit();

    [GeneratedRegex(@"^\s+mem_limit:\s*(\S+)\s*$")]
    private static partial Regex MemLimit();

    [GeneratedRegex(@"^\s+-\s+(?<host>\./low-memory\.conf):(?<container>/[^:\s]+)(?::ro)?\s*$")]
    private static partial Regex ConfMount();

    [GeneratedRegex(@"\$\{([A-Z_]+):\?[^}]*\}")]
    private static partial Regex Interpolation();

    /// <summary>
    /// A directory holding only a postgresql.conf that includes the file under test, as the data directory of
    /// <c>postgres -C</c>: enough for it to read the configuration (no initdb, no server). -C comes first: PostgreSQL
    /// then runs under root as well (it refuses otherwise).
    /// </summary>
    private sealed class ConfigDirectory : IDisposable
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
        private readonly string _directory;
        private readonly string _postgres = Path.Combine(PrivatePostgres.FindBinDirectory(), "postgres");

        public ConfigDirectory(string included)
        {
            _directory = Directory.CreateTempSubdirectory("tern-deploy-pg-").FullName;
            File.WriteAllText(Path.Combine(_directory, "postgresql.conf"), $"include '{included.Replace("'", "''", StringComparison.Ordinal)}'\n");
        }

        public (int ExitCode, string Output, string Error) Show(string name)
        {
            var info = new ProcessStartInfo(_postgres)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { "-C", name, "-D", _directory }) info.ArgumentList.Add(arg);
            info.Environment["LC_ALL"] = "C";
            using var process = Process.Start(info) ?? throw new InvalidOperationException($"{_postgres} did not start");
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Timeout))
            {
                process.Kill();
                throw new TimeoutException($"postgres -C {name} did not finish within {Timeout.TotalSeconds} s");
            }
            return (process.ExitCode, output.GetAwaiter().GetResult().Trim(), error.GetAwaiter().GetResult());
        }

        public void Dispose() => Directory.Delete(_directory, recursive: true);
    }
}
