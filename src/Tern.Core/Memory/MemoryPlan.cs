namespace Tern.Core.Memory;

public enum Profile
{
    /// <summary>One process, embedded SQLite.</summary>
    Lite,

    /// <summary>One process, PostgreSQL.</summary>
    Standard,
}

/// <summary>
/// Every bound Tern derives from its memory budget. The rule: after a fixed baseline (runtime,
/// ASP.NET Core, SQLite), each structure gets a share of the rest, divided by what one entry costs,
/// clamped to a range that is sane on any machine. An explicitly configured value overrides its
/// derived one (that happens where the options are read).
/// </summary>
public sealed record MemoryPlan
{
    /// <summary>What the runtime, ASP.NET Core and SQLite take before any message arrives.</summary>
    public const long Baseline = 40L << 20;

    public required MemoryBudget Budget { get; init; }
    public required Profile Profile { get; init; }

    /// <summary>Recommended GC heap hard limit (DOTNET_GCHeapHardLimit); the rest of the budget is native memory, stacks and SQLite.</summary>
    public required long HeapHardLimit { get; init; }

    public required long WarningBytes { get; init; }
    public required long CriticalBytes { get; init; }
    public required long RestartBytes { get; init; }

    public required int DispatchCapacity { get; init; }
    public required int DispatchWorkers { get; init; }
    public required int WriteQueue { get; init; }
    public required int DedupCapacity { get; init; }
    public required int AlbumGroups { get; init; }
    public required TimeSpan AlbumMaxAge { get; init; }
    public required int FailureRecords { get; init; }
    public required int SendWindowChats { get; init; }
    public required int ConversationStates { get; init; }
    public required TimeSpan ConversationTtl { get; init; }
    public required int HotReadEntries { get; init; }
    public required TimeSpan HotReadTtl { get; init; }
    public required int SenderConcurrency { get; init; }
    public required int PerChannelConcurrency { get; init; }
    public required int LaneBatch { get; init; }
    public required int HttpConnectionsPerServer { get; init; }
    public required int IngressConcurrency { get; init; }
    public required int DatabasePoolSize { get; init; }

    /// <summary>How long an idle pooled PostgreSQL connection is kept (Npgsql's Connection Idle Lifetime).</summary>
    public required TimeSpan DatabaseIdleLifetime { get; init; }

    /// <summary>How often the pool looks for idle connections to close (Npgsql's Connection Pruning Interval).</summary>
    public required TimeSpan DatabasePruningInterval { get; init; }
    public required long SqliteCacheBytes { get; init; }

    /// <summary>Percentages of the budget at which pressure levels start.</summary>
    public static MemoryPlan Derive(MemoryBudget budget, Profile profile = Profile.Lite, double warningPercent = 70, double criticalPercent = 85, double restartPercent = 95)
    {
        var bytes = Math.Max(budget.Bytes, MemoryBudget.Minimum);
        var work = Math.Max(16L << 20, bytes - Baseline);
        var mb = bytes >> 20;

        int Share(double fraction, long entryBytes, int min, int max) => (int)Math.Clamp((long)(work * fraction / entryBytes), min, max);

        var concurrency = (int)Math.Clamp(mb / 16, 4, 64);
        return new MemoryPlan
        {
            Budget = budget,
            Profile = profile,
            HeapHardLimit = bytes * 3 / 4,
            // Thresholds from the real budget even below the minimum: a 48 MB cgroup must restart before the kernel kills.
            WarningBytes = (long)(budget.Bytes * warningPercent / 100),
            CriticalBytes = (long)(budget.Bytes * criticalPercent / 100),
            RestartBytes = (long)(budget.Bytes * restartPercent / 100),
            // ~2 KB per queued inbox message (envelope, strings).
            DispatchCapacity = Share(0.01, 2048, 16, 2048),
            DispatchWorkers = profile == Profile.Lite ? 2 : Math.Clamp(Environment.ProcessorCount, 2, 8),
            // ~16 KB per queued write (a routed batch is the big one).
            WriteQueue = Share(0.02, 16 * 1024, 256, 8192),
            // ~160 B per remembered (channel, id) pair.
            DedupCapacity = Share(0.02, 160, 1024, 1_000_000),
            // ~20 KB per album in the buffer (up to 10 items).
            AlbumGroups = Share(0.01, 20 * 1024, 32, 4096),
            AlbumMaxAge = TimeSpan.FromSeconds(10),
            // ~400 B per failing chat remembered for the channel status.
            FailureRecords = Share(0.005, 400, 256, 100_000),
            // ~300 B per chat whose send window (a platform's per-chat rate limit) is kept (3–20 timestamps).
            SendWindowChats = Share(0.01, 300, 1024, 100_000),
            // ~512 B per conversation state.
            ConversationStates = Share(0.02, 512, 1024, 1_000_000),
            ConversationTtl = TimeSpan.FromHours(24),
            // ~1 KB per cached definition or key.
            HotReadEntries = Share(0.01, 1024, 256, 100_000),
            HotReadTtl = TimeSpan.FromSeconds(60),
            SenderConcurrency = concurrency,
            PerChannelConcurrency = Math.Max(1, concurrency / 2),
            LaneBatch = (int)Math.Clamp(work / (8L << 20), 8, 64),
            HttpConnectionsPerServer = concurrency,
            // Inbound requests in progress at once: each holds its body and parsed JSON until its commit.
            IngressConcurrency = concurrency,
            DatabasePoolSize = (int)Math.Clamp(mb / 32, 4, 32),
            // An idle PostgreSQL connection holds a server backend (a few MB there) and its buffers here; a small budget
            // hands them back sooner. Budget MB / 2 seconds, 30 s–5 min (Npgsql's default), looked at 6 times a lifetime.
            DatabaseIdleLifetime = IdleLifetime(mb),
            DatabasePruningInterval = TimeSpan.FromSeconds(Math.Clamp(Math.Floor(IdleLifetime(mb).TotalSeconds / 6), 5, 30)),
            SqliteCacheBytes = bytes < (256L << 20) ? 1L << 20 : 2L << 20,
        };
    }

    private static TimeSpan IdleLifetime(long budgetMb) => TimeSpan.FromSeconds(Math.Clamp(budgetMb / 2, 30, 300));
}
