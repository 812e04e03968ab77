using System.Globalization;
using Tern.Core.Memory;
using Tern.Server.Configuration;

namespace Tern.Server.Cli;

/// <summary><c>tern plan --ram 512M [--profile lite|standard] [--budget 200M]</c>: what a machine size gives, before anything runs.</summary>
internal static class PlanCommand
{
    private const long Mb = 1L << 20;

    public static int Run(CommandLine line, TextWriter output)
    {
        var rawRam = line.Required("ram");
        if (!SettingReader.TryParseSize(rawRam, out var ram) || ram < 128 * Mb || ram > (1L << 42)) throw new UsageException($"--ram '{rawRam}': must be a size from 128M to 4096G (e.g. 512M, 2G)");
        var rawProfile = line.Optional("profile") ?? "lite";
        if (!Enum.TryParse<Profile>(rawProfile, ignoreCase: true, out var profile) || !Enum.IsDefined(profile) || int.TryParse(rawProfile, out _))
        {
            throw new UsageException($"--profile '{rawProfile}': must be lite or standard");
        }
        long? budget = null;
        if (line.Optional("budget") is { } rawBudget)
        {
            if (!SettingReader.TryParseSize(rawBudget, out var b) || b < MemoryBudget.Minimum || b > ram) throw new UsageException($"--budget '{rawBudget}': must be a size from 64M to the RAM");
            budget = b;
        }
        line.RejectUnused();

        var plan = SizingPlan.For(ram, profile, budget);
        var p = plan.Tern;
        output.WriteLine($"tern plan: {Size(ram)} RAM, {profile.ToString().ToLowerInvariant()} profile");
        output.WriteLine();
        output.WriteLine($"Memory budget {Size(p.Budget.Bytes)} ({(budget is null ? $"{(profile == Profile.Lite ? 50 : 25)}% of RAM" : "given")}); derived values (set the key to override):");
        Row(output, "setting", "value", "derived as");
        Row(output, "DOTNET_GCHeapHardLimit (env)", $"{p.HeapHardLimit:X} ({Size(p.HeapHardLimit)})", "75% of the budget, hex without 0x (native AOT reads no 0x)");
        Row(output, "Tern:Memory:WarningPercent", $"70 ({Size(p.WarningBytes)})", "resident memory: log once");
        Row(output, "Tern:Memory:CriticalPercent", $"85 ({Size(p.CriticalBytes)})", "trim caches, compact, shrink pools");
        Row(output, "Tern:Memory:RestartPercent", $"95 ({Size(p.RestartBytes)})", "drain and exit 75 (max 2/hour, then shed load)");
        Row(output, "Tern:Dispatcher:Capacity", N(p.DispatchCapacity), "1% of the working budget / 2 KB");
        Row(output, "Tern:Dispatcher:Workers", N(p.DispatchWorkers), profile == Profile.Lite ? "2 (one SQLite writer)" : "cores, 2–8");
        Row(output, "Tern:Storage:WriteQueue", N(p.WriteQueue), "2% / 16 KB");
        Row(output, "Tern:Storage:CacheSize", Size(p.SqliteCacheBytes), "per connection");
        Row(output, "Tern:Memory:DedupCapacity", N(p.DedupCapacity), "2% / 160 B");
        Row(output, "Tern:Memory:AlbumGroups", N(p.AlbumGroups), $"1% / 20 KB, max age {p.AlbumMaxAge.TotalSeconds} s");
        Row(output, "Tern:Memory:FailureRecords", N(p.FailureRecords), "0.5% / 400 B, forgotten after 24 h");
        Row(output, "Tern:Memory:ChatLimitWindows", N(p.SendWindowChats), "1% / 300 B (chats with a send window)");
        Row(output, "conversation states", N(p.ConversationStates), $"2% / 512 B, TTL {p.ConversationTtl.TotalHours} h");
        Row(output, "hot-read cache", N(p.HotReadEntries), $"1% / 1 KB, TTL {p.HotReadTtl.TotalSeconds} s");
        Row(output, "Tern:Sender:Concurrency", N(p.SenderConcurrency), "budget MB / 16, 4–64");
        Row(output, "Tern:Sender:PerChannelConcurrency", N(p.PerChannelConcurrency), "half of the above");
        Row(output, "Tern:Sender:LaneBatch", N(p.LaneBatch), "working budget / 8 MB, 8–64");
        Row(output, "HTTP connections per host", N(p.HttpConnectionsPerServer), "= sender concurrency");
        Row(output, "Tern:Ingress:MaxConcurrentRequests", N(p.IngressConcurrency), "= sender concurrency; 8x queued, then 503");
        if (profile == Profile.Lite)
        {
            Row(output, "Tern:Storage:ReadConnections", N(p.DatabasePoolSize), "budget MB / 32, 4–32 (each with its page cache)");
        }
        else
        {
            Row(output, "Tern:Storage:ReadConnections", N(p.DatabasePoolSize), $"budget MB / 32, 4–32; Npgsql pool {N(p.DatabasePoolSize + 1)} with the writer");
            Row(output, "Tern:Storage:ConnectionIdleLifetime", Seconds(p.DatabaseIdleLifetime), "budget MB / 2 s, 30 s–5 min (an idle backend is handed back)");
            Row(output, "Tern:Storage:ConnectionPruningInterval", Seconds(p.DatabasePruningInterval), "a sixth of the idle lifetime, 5–30 s");
        }
        output.WriteLine();
        output.WriteLine($"Sizing for a {Size(ram)} machine:");
        Row(output, "component", "memory", "settings");
        foreach (var row in plan.Rows) Row(output, row.Component, Size(row.Bytes), row.Settings);
        return 0;
    }

    private static void Row(TextWriter output, string a, string b, string c) => output.WriteLine($"  {a,-36} {b,-24} {c}");

    private static string Seconds(TimeSpan value) => value.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s";

    private static string N(int value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Size(long bytes) => bytes < 0 ? "-" + MemoryBudget.Format(-bytes) : MemoryBudget.Format(bytes);
}
