using Tern.Core.Cluster;
using Tern.Core.Memory;
using Tern.Core.Scheduling;

namespace Tern.Server.Endpoints;

public sealed record MemoryThresholds(long WarningBytes, long CriticalBytes, long RestartBytes);

public sealed record GcCollections(int Gen0, int Gen1, int Gen2);

public sealed record QueueDepths(long InboxPending, long OutboxPending, int DispatchQueued, int DispatchCapacity, int WriteQueue, int SendsInFlight, long Backlog, long MaxBacklog);

/// <summary>GET /memory: the budget, the figures, the level, every bound and what it holds.</summary>
public sealed record MemoryReport(
    long BudgetBytes,
    string BudgetSource,
    string Profile,
    long HeapHardLimitRecommendedBytes,
    long GcAvailableBytes,
    long ResidentBytes,
    long PrivateBytes,
    long GcHeapBytes,
    long GcCommittedBytes,
    long GcFragmentedBytes,
    GcCollections Collections,
    int Threads,
    string Pressure,
    MemoryThresholds Thresholds,
    IReadOnlyList<BoundedStructureReport> Structures,
    QueueDepths Queues,
    int RestartsThisHour,
    int MaxRestartsPerHour,
    bool Shedding,
    long Trims,
    long Compactions,
    double UptimeSeconds,
    bool SchedulerLeader,
    IReadOnlyList<JobReport> Jobs,
    ClusterReport Cluster);

/// <summary>This instance in its cluster: its id and the leases it holds now (the scheduler's also outside a cluster).</summary>
public sealed record ClusterReport(bool Enabled, string Instance, IReadOnlyList<HeldLease> Leases, long LeasesLost);
