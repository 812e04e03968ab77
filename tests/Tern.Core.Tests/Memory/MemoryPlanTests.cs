using Tern.Core.Memory;

namespace Tern.Core.Tests.Memory;

public sealed class MemoryPlanTests
{
    private const long Mb = 1L << 20;
    private const long Gb = 1L << 30;

    public static TheoryData<long> Budgets => new() { 64 * Mb, 128 * Mb, 256 * Mb, 512 * Mb, 1 * Gb, 4 * Gb };

    private static readonly long[] AscendingBudgets = [64 * Mb, 128 * Mb, 256 * Mb, 512 * Mb, 1 * Gb, 4 * Gb];

    [Theory]
    [MemberData(nameof(Budgets))]
    public void Every_derived_value_is_within_its_clamp(long budget)
    {
        foreach (var profile in new[] { Profile.Lite, Profile.Standard })
        {
            var plan = MemoryPlan.Derive(new MemoryBudget(budget, BudgetSource.Configured), profile);

            Assert.Equal(budget, plan.Budget.Bytes);
            Assert.Equal(profile, plan.Profile);
            Assert.InRange(plan.DispatchCapacity, 16, 2048);
            Assert.InRange(plan.DispatchWorkers, 2, 8);
            Assert.InRange(plan.WriteQueue, 256, 8192);
            Assert.InRange(plan.DedupCapacity, 1024, 1_000_000);
            Assert.InRange(plan.AlbumGroups, 32, 4096);
            Assert.InRange(plan.ConversationStates, 1024, 1_000_000);
            Assert.InRange(plan.HotReadEntries, 256, 100_000);
            Assert.InRange(plan.SenderConcurrency, 4, 64);
            Assert.InRange(plan.PerChannelConcurrency, 1, plan.SenderConcurrency);
            Assert.InRange(plan.LaneBatch, 8, 64);
            Assert.InRange(plan.HttpConnectionsPerServer, 4, 64);
            Assert.InRange(plan.DatabasePoolSize, 4, 32);
            Assert.InRange(plan.SqliteCacheBytes, 1 * Mb, 2 * Mb);
            Assert.True(plan.AlbumMaxAge > TimeSpan.Zero);
            Assert.True(plan.ConversationTtl > TimeSpan.Zero);
            Assert.True(plan.HotReadTtl > TimeSpan.Zero);
            // The heap limit leaves room for native memory, stacks and SQLite inside the budget.
            Assert.InRange(plan.HeapHardLimit, budget / 2, budget - 1);
        }
    }

    [Theory]
    [MemberData(nameof(Budgets))]
    public void Thresholds_rise_from_warning_to_critical_to_restart_and_stay_inside_the_budget(long budget)
    {
        var plan = MemoryPlan.Derive(new MemoryBudget(budget, BudgetSource.CgroupV2));

        Assert.True(0 < plan.WarningBytes, "warning threshold is not positive");
        Assert.True(plan.WarningBytes < plan.CriticalBytes, $"warning {plan.WarningBytes} is not below critical {plan.CriticalBytes}");
        Assert.True(plan.CriticalBytes < plan.RestartBytes, $"critical {plan.CriticalBytes} is not below restart {plan.RestartBytes}");
        Assert.True(plan.RestartBytes <= budget, $"restart {plan.RestartBytes} is above the budget {budget}");
        // The defaults: 70 / 85 / 95 percent of the budget.
        Assert.Equal((long)(budget * 0.70), plan.WarningBytes);
        Assert.Equal((long)(budget * 0.85), plan.CriticalBytes);
        Assert.Equal((long)(budget * 0.95), plan.RestartBytes);
    }

    [Fact]
    public void Configured_percentages_move_the_thresholds()
    {
        var plan = MemoryPlan.Derive(new MemoryBudget(100 * Mb, BudgetSource.Configured), Profile.Lite, warningPercent: 10, criticalPercent: 15, restartPercent: 20);

        Assert.Equal(10 * Mb, plan.WarningBytes);
        Assert.Equal(15 * Mb, plan.CriticalBytes);
        Assert.Equal(20 * Mb, plan.RestartBytes);
    }

    [Fact]
    public void Every_derived_value_is_non_decreasing_with_the_budget()
    {
        foreach (var profile in new[] { Profile.Lite, Profile.Standard })
        {
            var plans = AscendingBudgets.Select(b => MemoryPlan.Derive(new MemoryBudget(b, BudgetSource.Configured), profile)).ToArray();
            var values = new (string Name, Func<MemoryPlan, double> Get)[]
            {
                ("HeapHardLimit", p => p.HeapHardLimit),
                ("WarningBytes", p => p.WarningBytes),
                ("CriticalBytes", p => p.CriticalBytes),
                ("RestartBytes", p => p.RestartBytes),
                ("DispatchCapacity", p => p.DispatchCapacity),
                ("DispatchWorkers", p => p.DispatchWorkers),
                ("WriteQueue", p => p.WriteQueue),
                ("DedupCapacity", p => p.DedupCapacity),
                ("AlbumGroups", p => p.AlbumGroups),
                ("AlbumMaxAge", p => p.AlbumMaxAge.TotalSeconds),
                ("FailureRecords", p => p.FailureRecords),
                ("SendWindowChats", p => p.SendWindowChats),
                ("ConversationStates", p => p.ConversationStates),
                ("ConversationTtl", p => p.ConversationTtl.TotalSeconds),
                ("HotReadEntries", p => p.HotReadEntries),
                ("HotReadTtl", p => p.HotReadTtl.TotalSeconds),
                ("SenderConcurrency", p => p.SenderConcurrency),
                ("PerChannelConcurrency", p => p.PerChannelConcurrency),
                ("LaneBatch", p => p.LaneBatch),
                ("HttpConnectionsPerServer", p => p.HttpConnectionsPerServer),
                ("IngressConcurrency", p => p.IngressConcurrency),
                ("DatabasePoolSize", p => p.DatabasePoolSize),
                ("DatabaseIdleLifetime", p => p.DatabaseIdleLifetime.TotalSeconds),
                ("DatabasePruningInterval", p => p.DatabasePruningInterval.TotalSeconds),
                ("SqliteCacheBytes", p => p.SqliteCacheBytes),
            };
            foreach (var (name, get) in values)
            {
                for (var i = 1; i < plans.Length; i++)
                {
                    Assert.True(get(plans[i]) >= get(plans[i - 1]),
                        $"{profile} {name}: {get(plans[i])} at {AscendingBudgets[i] / Mb} MB is below {get(plans[i - 1])} at {AscendingBudgets[i - 1] / Mb} MB");
                }
            }
        }
    }

    [Fact]
    public void A_bigger_budget_gives_strictly_bigger_caches_until_their_clamp()
    {
        var small = MemoryPlan.Derive(new MemoryBudget(128 * Mb, BudgetSource.Configured));
        var big = MemoryPlan.Derive(new MemoryBudget(1 * Gb, BudgetSource.Configured));

        Assert.True(big.DedupCapacity > small.DedupCapacity, $"dedup {small.DedupCapacity} -> {big.DedupCapacity}");
        Assert.True(big.ConversationStates > small.ConversationStates, $"conversations {small.ConversationStates} -> {big.ConversationStates}");
        Assert.True(big.DispatchCapacity > small.DispatchCapacity, $"dispatch {small.DispatchCapacity} -> {big.DispatchCapacity}");
        Assert.True(big.SenderConcurrency > small.SenderConcurrency, $"senders {small.SenderConcurrency} -> {big.SenderConcurrency}");
    }

    [Fact]
    public void The_smallest_budget_puts_the_costly_structures_at_their_minimum_and_lite_uses_two_workers()
    {
        // 64 MB leaves 24 MB after the baseline: too little for the per-entry cost of these at their floor.
        var plan = MemoryPlan.Derive(new MemoryBudget(MemoryBudget.Minimum, BudgetSource.Configured));

        Assert.Equal(2, plan.DispatchWorkers);
        Assert.Equal(256, plan.WriteQueue);
        Assert.Equal(32, plan.AlbumGroups);
        Assert.Equal(256, plan.HotReadEntries);
        Assert.Equal(8, plan.LaneBatch);
        Assert.Equal(4, plan.SenderConcurrency);
        Assert.Equal(4, plan.DatabasePoolSize);
        Assert.Equal(TimeSpan.FromSeconds(32), plan.DatabaseIdleLifetime);
        Assert.Equal(TimeSpan.FromSeconds(5), plan.DatabasePruningInterval);
        Assert.Equal(1L << 20, plan.SqliteCacheBytes);
    }

    [Fact]
    public void The_biggest_budgets_stop_at_the_maximum_of_each_clamp()
    {
        var plan = MemoryPlan.Derive(new MemoryBudget(1L << 40, BudgetSource.Configured), Profile.Standard);

        Assert.Equal(2048, plan.DispatchCapacity);
        Assert.Equal(8192, plan.WriteQueue);
        Assert.Equal(1_000_000, plan.DedupCapacity);
        Assert.Equal(4096, plan.AlbumGroups);
        Assert.Equal(1_000_000, plan.ConversationStates);
        Assert.Equal(100_000, plan.HotReadEntries);
        Assert.Equal(64, plan.SenderConcurrency);
        Assert.Equal(64, plan.LaneBatch);
        Assert.Equal(32, plan.DatabasePoolSize);
        Assert.Equal(TimeSpan.FromMinutes(5), plan.DatabaseIdleLifetime);
        Assert.Equal(TimeSpan.FromSeconds(30), plan.DatabasePruningInterval);
    }

    public static TheoryData<long, Profile> Machines => new()
    {
        { 128 * Mb, Profile.Lite },
        { 512 * Mb, Profile.Lite },
        { 1 * Gb, Profile.Lite },
        { 4 * Gb, Profile.Lite },
        { 512 * Mb, Profile.Standard },
        { 1 * Gb, Profile.Standard },
        { 2 * Gb, Profile.Standard },
        { 16 * Gb, Profile.Standard },
    };

    [Theory]
    [MemberData(nameof(Machines))]
    public void Sizing_rows_add_up_to_the_machine_with_headroom_as_the_rest(long ram, Profile profile)
    {
        var sizing = SizingPlan.For(ram, profile);

        Assert.Equal(ram, sizing.RamBytes);
        Assert.Equal(ram, sizing.Rows.Sum(r => r.Bytes));
        var headroom = sizing.Rows[^1];
        Assert.StartsWith("headroom", headroom.Component, StringComparison.Ordinal);
        Assert.Equal(ram - sizing.Rows.Take(sizing.Rows.Count - 1).Sum(r => r.Bytes), headroom.Bytes);
        Assert.All(sizing.Rows.SkipLast(1), r => Assert.True(r.Bytes > 0, $"{r.Component} takes {r.Bytes} bytes"));
        Assert.Contains(sizing.Rows, r => r.Component == "Tern" && r.Bytes == sizing.Tern.Budget.Bytes);
        Assert.Equal(profile == Profile.Standard, sizing.Rows.Any(r => r.Component == "PostgreSQL"));
        Assert.Equal(SizingPlan.TernShare(ram, profile), sizing.Tern.Budget.Bytes);
        Assert.Equal(profile, sizing.Tern.Profile);
    }

    [Fact]
    public void Tern_takes_half_the_machine_on_lite_and_a_quarter_on_standard()
    {
        Assert.Equal(256 * Mb, SizingPlan.TernShare(512 * Mb, Profile.Lite));
        Assert.Equal(512 * Mb, SizingPlan.TernShare(2 * Gb, Profile.Standard));
        Assert.Equal(MemoryBudget.Minimum, SizingPlan.TernShare(64 * Mb, Profile.Lite));
    }

    [Fact]
    public void A_given_budget_is_used_as_is_and_the_rows_still_add_up()
    {
        var sizing = SizingPlan.For(1 * Gb, Profile.Lite, 200 * Mb);

        Assert.Equal(200 * Mb, sizing.Tern.Budget.Bytes);
        Assert.Equal(BudgetSource.Configured, sizing.Tern.Budget.Source);
        Assert.Equal(1 * Gb, sizing.Rows.Sum(r => r.Bytes));
    }

    [Fact]
    public void A_machine_too_small_for_the_plan_is_flagged_in_the_headroom_row()
    {
        var tight = SizingPlan.For(128 * Mb, Profile.Standard);
        var roomy = SizingPlan.For(2 * Gb, Profile.Standard);

        Assert.Contains("TOO LITTLE", tight.Rows[^1].Settings, StringComparison.Ordinal);
        Assert.DoesNotContain("TOO LITTLE", roomy.Rows[^1].Settings, StringComparison.Ordinal);
        Assert.Equal(128 * Mb, tight.Rows.Sum(r => r.Bytes));
    }
}
