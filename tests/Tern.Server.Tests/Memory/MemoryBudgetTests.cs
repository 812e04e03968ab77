using Tern.Core.Memory;
using Tern.Server.Hosting;

namespace Tern.Server.Tests.Memory;

/// <summary>The budget read from fixture folders laid out like a machine's /proc and /sys/fs/cgroup.</summary>
public sealed class MemoryBudgetTests : IDisposable
{
    private const long Mb = 1L << 20;

    /// <summary>What cgroup v1 reports for "no limit": the largest page-aligned 64-bit number.</summary>
    private const string V1Unlimited = "9223372036854771712";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "tern-budget-tests", Guid.NewGuid().ToString("N"));

    public MemoryBudgetTests() => Directory.CreateDirectory(_root);

    private void Write(string relativePath, string content)
    {
        var path = Path.Combine(_root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private void WriteMemInfo(long totalKiB) =>
        Write("proc/meminfo", $"MemTotal:       {totalKiB} kB\nMemFree:          123456 kB\nMemAvailable:    2345678 kB\n");

    [Fact]
    public void Cgroup_v2_with_a_number_is_the_budget()
    {
        Write("proc/self/cgroup", "0::/\n");
        Write("sys/fs/cgroup/memory.max", "268435456\n");
        WriteMemInfo(8 * 1024 * 1024);

        var budget = MemoryBudget.Resolve(null, HostMemoryLimits.Read(_root));

        Assert.Equal(new MemoryBudget(256 * Mb, BudgetSource.CgroupV2), budget);
    }

    [Fact]
    public void Cgroup_v2_max_falls_back_to_the_v1_limit()
    {
        Write("proc/self/cgroup", "0::/\n");
        Write("sys/fs/cgroup/memory.max", "max\n");
        Write("sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n");
        WriteMemInfo(8 * 1024 * 1024);

        var budget = MemoryBudget.Resolve(null, HostMemoryLimits.Read(_root));

        Assert.Equal(new MemoryBudget(512 * Mb, BudgetSource.CgroupV1), budget);
    }

    [Fact]
    public void Cgroup_v1_unlimited_falls_back_to_a_share_of_MemTotal()
    {
        Write("sys/fs/cgroup/memory/memory.limit_in_bytes", V1Unlimited + "\n");
        WriteMemInfo(2 * 1024 * 1024); // 2 GiB

        var budget = MemoryBudget.Resolve(null, HostMemoryLimits.Read(_root));

        Assert.Equal(BudgetSource.MachineShare, budget.Source);
        Assert.Equal((long)(2048 * Mb * MemoryBudget.MachineShare), budget.Bytes);
    }

    [Fact]
    public void Cgroup_v2_max_with_v1_unlimited_falls_through_to_meminfo()
    {
        Write("proc/self/cgroup", "0::/\n");
        Write("sys/fs/cgroup/memory.max", "max");
        Write("sys/fs/cgroup/memory/memory.limit_in_bytes", V1Unlimited);
        WriteMemInfo(1024 * 1024); // 1 GiB

        var budget = MemoryBudget.Resolve(null, HostMemoryLimits.Read(_root));

        Assert.Equal(new MemoryBudget(512 * Mb, BudgetSource.MachineShare), budget);
    }

    [Fact]
    public void Cgroup_v2_limit_of_a_nested_group_is_found_from_proc_self_cgroup()
    {
        Write("proc/self/cgroup", "0::/system.slice/tern.service\n");
        Write("sys/fs/cgroup/system.slice/tern.service/memory.max", "402653184\n");
        // The mount root has no limit: only the service's own group says 384 MB.
        Write("sys/fs/cgroup/memory.max", "max\n");
        WriteMemInfo(8 * 1024 * 1024);

        var budget = MemoryBudget.Resolve(null, HostMemoryLimits.Read(_root));

        Assert.Equal(new MemoryBudget(384 * Mb, BudgetSource.CgroupV2), budget);
        Assert.Equal(384 * Mb, HostMemoryLimits.ReadCgroupV2(_root));
    }

    [Fact]
    public void A_limit_on_a_parent_slice_binds_a_service_whose_own_group_says_max()
    {
        Write("proc/self/cgroup", "0::/system.slice/tern.service\n");
        Write("sys/fs/cgroup/system.slice/tern.service/memory.max", "max\n");
        Write("sys/fs/cgroup/system.slice/memory.max", "201326592\n");
        Write("sys/fs/cgroup/memory.max", "max\n");

        var budget = MemoryBudget.Resolve(null, HostMemoryLimits.Read(_root));

        Assert.Equal(new MemoryBudget(201326592, BudgetSource.CgroupV2), budget);
    }

    [Fact]
    public void The_tightest_limit_on_the_way_up_wins()
    {
        Write("proc/self/cgroup", "0::/system.slice/tern.service\n");
        Write("sys/fs/cgroup/system.slice/tern.service/memory.max", "402653184\n");
        Write("sys/fs/cgroup/system.slice/memory.max", "268435456\n");

        Assert.Equal(268435456, MemoryBudget.Resolve(null, HostMemoryLimits.Read(_root)).Bytes);
    }

    [Fact]
    public void Hybrid_proc_self_cgroup_lines_of_v1_controllers_do_not_confuse_the_v2_group()
    {
        Write("proc/self/cgroup", "12:memory:/system.slice/tern.service\n5:cpu,cpuacct:/system.slice/tern.service\n0::/system.slice/tern.service\n");
        Write("sys/fs/cgroup/system.slice/tern.service/memory.max", "134217728");

        Assert.Equal(new MemoryBudget(128 * Mb, BudgetSource.CgroupV2), MemoryBudget.Resolve(null, HostMemoryLimits.Read(_root)));
    }

    [Fact]
    public void A_configured_budget_wins_over_every_limit_found()
    {
        Write("proc/self/cgroup", "0::/\n");
        Write("sys/fs/cgroup/memory.max", "268435456");
        Write("sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912");
        WriteMemInfo(8 * 1024 * 1024);

        var budget = MemoryBudget.Resolve(200 * Mb, HostMemoryLimits.Read(_root));

        Assert.Equal(new MemoryBudget(200 * Mb, BudgetSource.Configured), budget);
    }

    [Fact]
    public void A_small_machine_still_gets_the_minimum_budget()
    {
        WriteMemInfo(96 * 1024); // 96 MiB: half of it is below the minimum

        var budget = MemoryBudget.Resolve(null, HostMemoryLimits.Read(_root));

        Assert.Equal(new MemoryBudget(MemoryBudget.Minimum, BudgetSource.MachineShare), budget);
    }

    [Fact]
    public void Without_any_file_the_budget_comes_from_the_runtime_and_is_at_least_the_minimum()
    {
        var budget = MemoryBudget.Resolve(null, HostMemoryLimits.Read(_root));

        Assert.Equal(BudgetSource.MachineShare, budget.Source);
        Assert.True(budget.Bytes >= MemoryBudget.Minimum, $"{budget.Bytes} bytes");
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("-1")]
    [InlineData("0")]
    public void Unreadable_cgroup_files_are_ignored(string content)
    {
        Write("sys/fs/cgroup/memory.max", content);
        Write("sys/fs/cgroup/memory/memory.limit_in_bytes", content);
        WriteMemInfo(1024 * 1024);

        Assert.Null(HostMemoryLimits.ReadCgroupV2(_root));
        Assert.Null(HostMemoryLimits.ReadCgroupV1(_root));
        Assert.Equal(new MemoryBudget(512 * Mb, BudgetSource.MachineShare), MemoryBudget.Resolve(null, HostMemoryLimits.Read(_root)));
    }

    [Fact]
    public void MemTotal_is_read_in_kibibytes_wherever_it_is_in_the_file()
    {
        Write("proc/meminfo", "MemFree:          123456 kB\nMemTotal:        4000000 kB\n");

        Assert.Equal(4_000_000L * 1024, HostMemoryLimits.ReadMemTotal(_root));
    }

    [Theory]
    [InlineData(64L << 20, "64 MB")]
    [InlineData(1L << 30, "1 GB")]
    [InlineData(1536L << 20, "1536 MB")]
    [InlineData(3L << 10, "3 KB")]
    [InlineData(12L, "12 B")]
    public void Sizes_are_formatted_for_people(long bytes, string expected) => Assert.Equal(expected, MemoryBudget.Format(bytes));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
