using System.Globalization;

namespace Tern.Core.Memory;

/// <summary>Where the budget came from, shown in /memory and `tern plan`.</summary>
public enum BudgetSource
{
    Configured,
    CgroupV2,
    CgroupV1,
    MachineShare,
}

/// <summary>What the machine says about memory: the cgroup limits (null when none) and the machine's RAM.</summary>
public readonly record struct MemoryLimits(long? CgroupV2, long? CgroupV1, long MachineTotal);

/// <summary>The one number every bound is derived from.</summary>
public readonly record struct MemoryBudget(long Bytes, BudgetSource Source)
{
    /// <summary>Share of the machine's RAM taken when nothing else says: Tern is the whole stack, but the OS and a database may share the box.</summary>
    public const double MachineShare = 0.5;

    /// <summary>Below this a .NET web process cannot do useful work.</summary>
    public const long Minimum = 64L << 20;

    /// <summary>
    /// Resolves the budget: the configured value, else the cgroup v2 or v1 limit, else a share of the
    /// machine's RAM. The host reads the limits (cgroup files, /proc/meminfo); Core only decides.
    /// </summary>
    public static MemoryBudget Resolve(long? configured, MemoryLimits limits)
    {
        if (configured is > 0) return new MemoryBudget(configured.Value, BudgetSource.Configured);
        if (limits.CgroupV2 is { } v2 && v2 > 0) return new MemoryBudget(v2, BudgetSource.CgroupV2);
        if (limits.CgroupV1 is { } v1 && v1 > 0) return new MemoryBudget(v1, BudgetSource.CgroupV1);
        return new MemoryBudget(Math.Max(Minimum, (long)(limits.MachineTotal * MachineShare)), BudgetSource.MachineShare);
    }

    public override string ToString() => $"{Format(Bytes)} ({Source})";

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 when bytes % (1L << 30) == 0 => $"{(bytes >> 30).ToString(CultureInfo.InvariantCulture)} GB",
        >= 1L << 20 => $"{(bytes / (double)(1L << 20)).ToString("0.#", CultureInfo.InvariantCulture)} MB",
        >= 1L << 10 => $"{(bytes / 1024.0).ToString("0.#", CultureInfo.InvariantCulture)} KB",
        _ => $"{bytes.ToString(CultureInfo.InvariantCulture)} B",
    };
}
