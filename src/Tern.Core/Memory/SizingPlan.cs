namespace Tern.Core.Memory;

/// <summary>One row of the machine sizing table.</summary>
public sealed record SizingRow(string Component, long Bytes, string Settings);

/// <summary>
/// How a VPS of a given size is shared between the OS, Tern, PostgreSQL (standard profile) and nginx,
/// in the spirit of the sizing tables operators use (pgtune-style settings for PostgreSQL).
/// </summary>
public sealed record SizingPlan(long RamBytes, Profile Profile, MemoryPlan Tern, IReadOnlyList<SizingRow> Rows)
{
    private const long Mb = 1L << 20;

    /// <summary>Tern's share of the machine: all but the OS and nginx on lite; a quarter beside PostgreSQL on standard.</summary>
    public static long TernShare(long ramBytes, Profile profile) =>
        Math.Max(MemoryBudget.Minimum, profile == Profile.Lite ? ramBytes / 2 : ramBytes / 4);

    public static SizingPlan For(long ramBytes, Profile profile, long? budgetBytes = null)
    {
        var budget = new MemoryBudget(budgetBytes ?? TernShare(ramBytes, profile), budgetBytes is null ? BudgetSource.MachineShare : BudgetSource.Configured);
        var tern = MemoryPlan.Derive(budget, profile);
        var os = Math.Clamp(ramBytes / 8, 64 * Mb, 512 * Mb);
        var nginx = ramBytes <= 1024 * Mb ? 16 * Mb : 32 * Mb;
        var rows = new List<SizingRow>
        {
            new("OS, sshd, journald", os, "vm.swappiness=10; a 512 MB–1 GB swap file as a safety net"),
            new("Tern", budget.Bytes, $"Tern:Memory:Budget={budget.Bytes / Mb}MB; systemd MemoryMax={budget.Bytes * 110 / 100 / Mb}M; DOTNET_GCHeapHardLimit={tern.HeapHardLimit:X}"),
            new("nginx (TLS in front of Tern)", nginx, "worker_processes 1; worker_connections 512; proxy_buffering off for /hooks"),
        };
        if (profile == Profile.Standard)
        {
            var shared = Math.Clamp(ramBytes / 4, 32 * Mb, 8192 * Mb);
            var maxConnections = tern.DatabasePoolSize + 5;
            var workMem = Math.Clamp((ramBytes - shared) / (maxConnections * 4), 2 * Mb, 64 * Mb);
            var maintenance = Math.Clamp(ramBytes / 16, 16 * Mb, 1024 * Mb);
            // Typical peak: shared buffers, a quarter of connections sorting at once, one maintenance job, ~3 MB per backend.
            var postgres = shared + (workMem * maxConnections / 4) + maintenance + (maxConnections * 3 * Mb);
            rows.Add(new SizingRow("PostgreSQL", postgres,
                $"shared_buffers={shared / Mb}MB effective_cache_size={ramBytes / 2 / Mb}MB work_mem={workMem / Mb}MB " +
                $"maintenance_work_mem={maintenance / Mb}MB max_connections={maxConnections} wal_buffers={Math.Clamp(shared * 3 / 100, 1 * Mb, 16 * Mb) / Mb}MB"));
        }
        var used = rows.Sum(r => r.Bytes);
        rows.Add(new SizingRow("headroom (page cache, spikes)", ramBytes - used, ramBytes - used < ramBytes / 10 ? "TOO LITTLE: pick a smaller budget or a bigger machine" : "SQLite and PostgreSQL read through the page cache"));
        return new SizingPlan(ramBytes, profile, tern, rows);
    }
}
