using Tern.Core.Memory;

namespace Tern.Core.Tests.Memory;

public sealed class PressurePolicyTests
{
    private const long Mb = 1L << 20;

    // 100 MB budget: warning 70 MB, critical 85 MB, restart 95 MB; the hysteresis margin is 5% = 5 MB.
    private static readonly MemoryPlan Plan = MemoryPlan.Derive(new MemoryBudget(100 * Mb, BudgetSource.Configured));
    private static readonly long Margin = 5 * Mb;

    [Theory]
    [InlineData(0, PressureLevel.Normal)]
    [InlineData(69, PressureLevel.Normal)]
    [InlineData(70, PressureLevel.Warning)]
    [InlineData(84, PressureLevel.Warning)]
    [InlineData(85, PressureLevel.Critical)]
    [InlineData(94, PressureLevel.Critical)]
    [InlineData(95, PressureLevel.Restart)]
    [InlineData(200, PressureLevel.Restart)]
    public void From_normal_each_level_starts_at_its_threshold(int residentPercent, PressureLevel expected)
    {
        var policy = new PressurePolicy(Plan);

        Assert.Equal(expected, policy.Next(PressureLevel.Normal, Plan.Budget.Bytes * residentPercent / 100));
    }

    [Fact]
    public void Exactly_at_a_threshold_counts_as_reached_and_one_byte_below_does_not()
    {
        var policy = new PressurePolicy(Plan);

        Assert.Equal(PressureLevel.Warning, policy.Next(PressureLevel.Normal, Plan.WarningBytes));
        Assert.Equal(PressureLevel.Normal, policy.Next(PressureLevel.Normal, Plan.WarningBytes - 1));
        Assert.Equal(PressureLevel.Critical, policy.Next(PressureLevel.Warning, Plan.CriticalBytes));
        Assert.Equal(PressureLevel.Restart, policy.Next(PressureLevel.Critical, Plan.RestartBytes));
    }

    [Fact]
    public void Levels_go_up_at_once_even_skipping_levels()
    {
        var policy = new PressurePolicy(Plan);

        Assert.Equal(PressureLevel.Restart, policy.Next(PressureLevel.Normal, Plan.RestartBytes + 1));
        Assert.Equal(PressureLevel.Critical, policy.Next(PressureLevel.Normal, Plan.CriticalBytes));
    }

    [Fact]
    public void Hovering_around_a_threshold_by_less_than_the_margin_does_not_flap()
    {
        var policy = new PressurePolicy(Plan);
        foreach (var threshold in new[] { PressureLevel.Warning, PressureLevel.Critical, PressureLevel.Restart })
        {
            var at = policy.Threshold(threshold);
            var level = policy.Next(threshold - 1, at);
            Assert.Equal(threshold, level);
            var changes = 0;
            var previous = level;
            // A noisy reading: up to just under the margin either side of the threshold, for a while.
            long[] wiggle = [-(Margin - 1), Margin / 2, -Margin / 2, -(Margin - 1), 1, -1, Margin - 1, -(Margin * 9 / 10), 0];
            for (var round = 0; round < 20; round++)
            {
                foreach (var delta in wiggle)
                {
                    level = policy.Next(level, at + delta);
                    if (level != previous) changes++;
                    previous = level;
                }
            }
            Assert.Equal(0, changes);
            Assert.Equal(threshold, level);
        }
    }

    [Fact]
    public void A_level_is_left_only_once_memory_is_a_margin_below_its_threshold()
    {
        var policy = new PressurePolicy(Plan);

        Assert.Equal(PressureLevel.Critical, policy.Next(PressureLevel.Critical, Plan.CriticalBytes - Margin));
        Assert.Equal(PressureLevel.Warning, policy.Next(PressureLevel.Critical, Plan.CriticalBytes - Margin - 1));
        Assert.Equal(PressureLevel.Warning, policy.Next(PressureLevel.Warning, Plan.WarningBytes - Margin));
        Assert.Equal(PressureLevel.Normal, policy.Next(PressureLevel.Warning, Plan.WarningBytes - Margin - 1));
        Assert.Equal(PressureLevel.Restart, policy.Next(PressureLevel.Restart, Plan.RestartBytes - Margin));
        Assert.Equal(PressureLevel.Critical, policy.Next(PressureLevel.Restart, Plan.RestartBytes - Margin - 1));
    }

    [Fact]
    public void A_big_drop_steps_down_through_every_level_it_is_clear_of()
    {
        var policy = new PressurePolicy(Plan);

        Assert.Equal(PressureLevel.Normal, policy.Next(PressureLevel.Restart, 10 * Mb));
        // Clear of restart and critical by the margin, but within the margin of warning: stays at warning.
        Assert.Equal(PressureLevel.Warning, policy.Next(PressureLevel.Restart, Plan.WarningBytes - Margin / 2));
        // Below restart's margin but still above critical itself: critical.
        Assert.Equal(PressureLevel.Critical, policy.Next(PressureLevel.Restart, Plan.CriticalBytes + 1));
    }

    [Fact]
    public void A_full_cycle_up_and_down_passes_every_level_once()
    {
        var policy = new PressurePolicy(Plan);
        var level = PressureLevel.Normal;
        var seen = new List<PressureLevel> { level };
        long[] readings = [50, 60, 71, 80, 86, 90, 96, 97, 93, 91, 89, 85, 79, 75, 72, 66, 64, 40];
        foreach (var mb in readings)
        {
            var next = policy.Next(level, mb * Mb);
            if (next != level) seen.Add(next);
            level = next;
        }

        PressureLevel[] expected = [PressureLevel.Normal, PressureLevel.Warning, PressureLevel.Critical, PressureLevel.Restart, PressureLevel.Critical, PressureLevel.Warning, PressureLevel.Normal];
        Assert.Equal(expected, seen);
    }
}
