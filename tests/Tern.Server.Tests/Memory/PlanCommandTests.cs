using System.Globalization;
using Microsoft.Extensions.Configuration;
using Tern.Core.Memory;
using Tern.Server.Configuration;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests.Memory;

/// <summary><c>tern plan</c> and the memory settings of <c>tern serve</c>, as an operator meets them.</summary>
public sealed class PlanCommandTests
{
    private const long Mb = 1L << 20;

    private static Task<CliResult> PlanAsync(TernHome home, params string[] args) => TernCli.RunAsync(home.Directory, ["plan", .. args]);

    [Fact]
    public async Task Plan_for_512M_prints_the_budget_the_derived_values_and_the_sizing_table_and_exits_0()
    {
        using var home = TernHome.Create();

        var result = await PlanAsync(home, "--ram", "512M");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("", result.Stderr);
        var stdout = result.Stdout;
        var expected = SizingPlan.For(512 * Mb, Profile.Lite);
        Assert.Contains("512 MB RAM, lite profile", stdout, StringComparison.Ordinal);
        Assert.Contains("Memory budget 256 MB (50% of RAM)", stdout, StringComparison.Ordinal);
        AssertRow(stdout, "Tern:Memory:DedupCapacity", expected.Tern.DedupCapacity.ToString("N0", CultureInfo.InvariantCulture));
        AssertRow(stdout, "Tern:Dispatcher:Capacity", expected.Tern.DispatchCapacity.ToString("N0", CultureInfo.InvariantCulture));
        AssertRow(stdout, "Tern:Sender:Concurrency", expected.Tern.SenderConcurrency.ToString(CultureInfo.InvariantCulture));
        AssertRow(stdout, "DOTNET_GCHeapHardLimit (env)", $"{expected.Tern.HeapHardLimit:X}");
        foreach (var row in expected.Rows) AssertRow(stdout, row.Component, MemoryBudget.Format(row.Bytes));
        Assert.Contains("headroom", stdout, StringComparison.Ordinal);
        // Lite runs on SQLite: no PostgreSQL row to size.
        Assert.DoesNotContain(stdout.Split('\n'), l => l.TrimStart().StartsWith("PostgreSQL", StringComparison.Ordinal));
        Assert.DoesNotContain("shared_buffers", stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(home.DatabasePath), "plan must not touch a database");
    }

    [Fact]
    public async Task Plan_for_the_standard_profile_adds_PostgreSQL_and_a_given_budget_is_used()
    {
        using var home = TernHome.Create();

        var standard = await PlanAsync(home, "--ram", "2G", "--profile", "standard");
        var budgeted = await PlanAsync(home, "--ram", "1G", "--budget", "200M");

        Assert.True(standard.ExitCode == 0, standard.ToString());
        Assert.Contains("Memory budget 512 MB (25% of RAM)", standard.Stdout, StringComparison.Ordinal);
        Assert.Contains(standard.Stdout.Split('\n'), l => l.TrimStart().StartsWith("PostgreSQL ", StringComparison.Ordinal));
        Assert.Contains("shared_buffers=512MB", standard.Stdout, StringComparison.Ordinal);
        // The Npgsql pool from the 512 MB budget: 16 readers and the writer, idle connections kept 256 s, looked at every 30 s.
        var plan = SizingPlan.For(2048 * Mb, Profile.Standard).Tern;
        Assert.Equal((16, 256d, 30d), (plan.DatabasePoolSize, plan.DatabaseIdleLifetime.TotalSeconds, plan.DatabasePruningInterval.TotalSeconds));
        AssertRow(standard.Stdout, "Tern:Storage:ReadConnections", "16");
        Assert.Contains("Npgsql pool 17 with the writer", standard.Stdout, StringComparison.Ordinal);
        AssertRow(standard.Stdout, "Tern:Storage:ConnectionIdleLifetime", "256 s");
        AssertRow(standard.Stdout, "Tern:Storage:ConnectionPruningInterval", "30 s");
        Assert.True(budgeted.ExitCode == 0, budgeted.ToString());
        Assert.Contains("Memory budget 200 MB (given)", budgeted.Stdout, StringComparison.Ordinal);
    }

    public static TheoryData<string, string[]> BadPlanOptions => new()
    {
        { "--ram", ["--ram", "12X"] },
        { "--ram", ["--ram", "lots"] },
        { "--ram", ["--ram", "64M"] },
        { "--ram", [] },
        { "--profile", ["--ram", "512M", "--profile", "huge"] },
        { "--profile", ["--ram", "512M", "--profile", "1"] },
        { "--budget", ["--ram", "512M", "--budget", "1G"] },
        { "--budget", ["--ram", "512M", "--budget", "10M"] },
        { "--colour", ["--ram", "512M", "--colour", "red"] },
    };

    [Theory]
    [MemberData(nameof(BadPlanOptions))]
    public async Task Plan_with_a_bad_option_exits_2_with_one_line_naming_it(string option, string[] args)
    {
        using var home = TernHome.Create();

        AssertUsageError(await PlanAsync(home, args), option);
    }

    public static TheoryData<string, string> BadMemorySettings => new()
    {
        { "Tern:Memory:Budget", "--Tern:Memory:Budget=10MB" },
        { "Tern:Memory:Budget", "--Tern:Memory:Budget=lots" },
        { "Tern:Memory:Budget", "--Tern:Memory:Budget=-64MB" },
        { "Tern:Memory:WarningPercent", "--Tern:Memory:WarningPercent=high" },
        { "Tern:Memory:RestartPercent", "--Tern:Memory:RestartPercent=101" },
        { "Tern:Memory:SampleInterval", "--Tern:Memory:SampleInterval=often" },
        { "Tern:Memory:MaxRestartsPerHour", "--Tern:Memory:MaxRestartsPerHour=-1" },
        { "Tern:Memory:DedupCapacity", "--Tern:Memory:DedupCapacity=0" },
        { "Tern:Memory:TrimPercent", "--Tern:Memory:TrimPercent=150" },
        { "Tern:Logging:File:MaxSize", "--Tern:Logging:File:MaxSize=1KB" },
        { "Tern:Logging:File:RetainedFiles", "--Tern:Logging:File:RetainedFiles=0" },
        { "Tern:Retention:FinishedRows", "--Tern:Retention:FinishedRows=forever" },
        { "Tern:Storage:ConnectionIdleLifetime", "--Tern:Storage:ConnectionIdleLifetime=forever" },
        { "Tern:Storage:ConnectionPruningInterval", "--Tern:Storage:ConnectionPruningInterval=0s" },
        { "Tern:Memory:Budgett", "--Tern:Memory:Budgett=64MB" },
        { "Tern:Cluster:Enabled", "--Tern:Cluster:Enabled=yes" },
        // A cluster shares one PostgreSQL database; a SQLite file is one process's.
        { "Tern:Cluster:Enabled", "--Tern:Cluster:Enabled=true" },
        { "Tern:Cluster:InstanceId", "--Tern:Cluster:InstanceId=node 1" },
        { "Tern:Cluster:LeaseTimeToLive", "--Tern:Cluster:LeaseTimeToLive=1s" },
    };

    [Theory]
    [MemberData(nameof(BadMemorySettings))]
    public async Task Serve_with_a_bad_memory_setting_exits_2_naming_the_key_before_touching_the_database(string key, string setting)
    {
        using var home = TernHome.Create();

        AssertUsageError(await home.RunAsync(["serve", $"--Tern:Http:Url=http://127.0.0.1:{FreePort.Next()}", setting]), key);
        Assert.False(File.Exists(home.DatabasePath), "the database was created although the settings were bad");
    }

    [Fact]
    public async Task Thresholds_that_do_not_rise_are_refused()
    {
        using var home = TernHome.Create();

        var result = await home.RunAsync(["serve", "--Tern:Memory:WarningPercent=90", "--Tern:Memory:CriticalPercent=80"]);

        AssertUsageError(result, "Tern:Memory:CriticalPercent");
        Assert.Contains("warning 90 < critical 80", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pruning_interval_longer_than_the_idle_lifetime_is_refused()
    {
        using var home = TernHome.Create();

        var result = await home.RunAsync(["serve", "--Tern:Storage:ConnectionIdleLifetime=20s", "--Tern:Storage:ConnectionPruningInterval=1m"]);

        AssertUsageError(result, "Tern:Storage:ConnectionPruningInterval");
        Assert.False(File.Exists(home.DatabasePath), "the database was created although the settings were bad");
    }

    [Fact]
    public void A_connection_string_chooses_the_standard_profile_and_the_pool_follows_the_budget_unless_set()
    {
        static TernOptions Read(params (string Key, string Value)[] settings) =>
            TernOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build());
        const string Postgres = "postgres://tern:secret@127.0.0.1:5432/tern";

        var small = Read(("Tern:Storage:ConnectionString", Postgres), ("Tern:Memory:Budget", "128MB"));
        var big = Read(("Tern:Storage:ConnectionString", Postgres), ("Tern:Memory:Budget", "1GB"));
        var set = Read(("Tern:Storage:ConnectionString", Postgres), ("Tern:Memory:Budget", "1GB"),
            ("Tern:Storage:ReadConnections", "3"), ("Tern:Storage:ConnectionIdleLifetime", "90s"), ("Tern:Storage:ConnectionPruningInterval", "15s"));
        var lite = Read(("Tern:Memory:Budget", "1GB"));
        // A short idle lifetime derived from the budget pulls the pruning interval down with it.
        var shortIdle = Read(("Tern:Storage:ConnectionString", Postgres), ("Tern:Storage:ConnectionIdleLifetime", "3s"));

        Assert.Equal((Profile.Standard, Profile.Lite), (big.Memory.Profile, lite.Memory.Profile));
        Assert.Equal((4, 64d, 10d), (small.Storage.MaxReadConnections, small.Storage.ConnectionIdleLifetime.TotalSeconds, small.Storage.ConnectionPruningInterval.TotalSeconds));
        Assert.Equal((32, 300d, 30d), (big.Storage.MaxReadConnections, big.Storage.ConnectionIdleLifetime.TotalSeconds, big.Storage.ConnectionPruningInterval.TotalSeconds));
        Assert.Equal((3, 90d, 15d), (set.Storage.MaxReadConnections, set.Storage.ConnectionIdleLifetime.TotalSeconds, set.Storage.ConnectionPruningInterval.TotalSeconds));
        Assert.Equal((3d, 3d), (shortIdle.Storage.ConnectionIdleLifetime.TotalSeconds, shortIdle.Storage.ConnectionPruningInterval.TotalSeconds));
    }

    [Fact]
    public async Task A_bad_budget_in_the_environment_names_the_key()
    {
        using var home = TernHome.Create();

        AssertUsageError(await home.RunAsync(["serve"], new Dictionary<string, string> { ["TERN__Memory__Budget"] = "lots" }), "Tern:Memory:Budget");
    }

    private static void AssertRow(string stdout, string first, string second)
    {
        var line = stdout.Split('\n').FirstOrDefault(l => l.TrimStart().StartsWith(first + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no row '{first}' in:\n{stdout}");
        Assert.True(line.Contains(second, StringComparison.Ordinal), $"row '{first}' does not show {second}: {line}");
    }

    private static void AssertUsageError(CliResult result, string name)
    {
        Assert.True(result.ExitCode == 2, $"expected exit code 2 naming {name}; got {result}");
        var lines = result.StderrLines;
        Assert.True(lines.Count == 1, $"expected exactly one stderr line; got {lines.Count}: {result.Stderr}");
        Assert.StartsWith("tern: ", lines[0], StringComparison.Ordinal);
        Assert.True(lines[0].Contains(name, StringComparison.OrdinalIgnoreCase), $"the line does not name {name}: {lines[0]}");
        Assert.True(result.Stdout.Trim().Length == 0, $"nothing should be printed on stdout: {result.Stdout}");
    }
}
