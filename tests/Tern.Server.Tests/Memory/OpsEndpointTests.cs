using System.Net;
using System.Text.Json;
using Tern.Core.Memory;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests.Memory;

/// <summary>One tern with a configured budget, a log file and a few delivered messages, shared by the ops endpoint tests.</summary>
public sealed class OpsFixture : IAsyncLifetime
{
    public const int Messages = 20;
    public const int DedupCapacity = 777;
    public const long Budget = 256L << 20;

    public LoopbackReceiver Receiver { get; private set; } = null!;

    public TernHome Home { get; } = TernHome.Create();

    public TernProcess Tern { get; private set; } = null!;

    public string LogPath => Path.Combine(Home.Directory, "logs", "tern.log");

    public async Task InitializeAsync()
    {
        Receiver = await LoopbackReceiver.StartAsync();
        await Home.AddWebhookPipelineAsync(Receiver);
        Tern = await Home.StartAsync(null,
            "--Tern:Memory:Budget=256MB",
            $"--Tern:Memory:DedupCapacity={DedupCapacity}",
            "--Tern:Logging:File:Path=logs/tern.log");
        using var poster = new MessagePoster(Tern.BaseUrl);
        var posted = await poster.PostManyAsync("ops", chats: 4, perChat: Messages / 4, parallelism: 2);
        Assert.True(posted.Count(HttpStatusCode.Accepted) == Messages, $"posting: {posted}");
        await Eventually.UntilAsync(() => Receiver.DistinctMessages >= Messages, TimeSpan.FromSeconds(60), Receiver.Describe);
        await Eventually.UntilAsync(async () => (await Tern.ReadyAsync()) is { OutboxPending: 0, Delivered: Messages }, TimeSpan.FromSeconds(30),
            () => Home.Database.Describe());
    }

    public async Task DisposeAsync()
    {
        await Tern.DisposeAsync();
        await Receiver.DisposeAsync();
        Home.Dispose();
    }
}

public sealed class OpsEndpointTests(OpsFixture ops) : IClassFixture<OpsFixture>
{
    private static readonly string[] MemoryFields =
    [
        "budget_bytes", "budget_source", "profile", "heap_hard_limit_recommended_bytes", "gc_available_bytes",
        "resident_bytes", "private_bytes", "gc_heap_bytes", "gc_committed_bytes", "gc_fragmented_bytes",
        "collections", "threads", "pressure", "thresholds", "structures", "queues",
        "restarts_this_hour", "max_restarts_per_hour", "shedding", "trims", "compactions", "uptime_seconds",
        "scheduler_leader", "jobs",
    ];

    [Fact]
    public async Task Memory_shows_every_figure_the_issue_lists()
    {
        var memory = await MemoryJson.GetAsync(ops.Tern);

        var missing = MemoryFields.Where(f => !memory.TryGetProperty(f, out _)).ToList();
        Assert.True(missing.Count == 0, $"/memory lacks {string.Join(", ", missing)}: {memory}");

        // Budget, as configured, and what it derives.
        Assert.Equal(OpsFixture.Budget, memory.GetProperty("budget_bytes").GetInt64());
        Assert.Equal("Configured", memory.GetProperty("budget_source").GetString());
        Assert.Equal("Lite", memory.GetProperty("profile").GetString());
        var plan = MemoryPlan.Derive(new MemoryBudget(OpsFixture.Budget, BudgetSource.Configured));
        Assert.Equal(plan.HeapHardLimit, memory.GetProperty("heap_hard_limit_recommended_bytes").GetInt64());
        var thresholds = memory.GetProperty("thresholds");
        Assert.Equal(plan.WarningBytes, thresholds.GetProperty("warning_bytes").GetInt64());
        Assert.Equal(plan.CriticalBytes, thresholds.GetProperty("critical_bytes").GetInt64());
        Assert.Equal(plan.RestartBytes, thresholds.GetProperty("restart_bytes").GetInt64());

        // Process and GC figures: real readings, not placeholders.
        var resident = memory.GetProperty("resident_bytes").GetInt64();
        Assert.InRange(resident, 8L << 20, 4L << 30);
        Assert.InRange(memory.GetProperty("private_bytes").GetInt64(), 1L << 20, 4L << 30);
        Assert.InRange(memory.GetProperty("gc_heap_bytes").GetInt64(), 1, 4L << 30);
        Assert.InRange(memory.GetProperty("gc_committed_bytes").GetInt64(), 1, 4L << 30);
        Assert.InRange(memory.GetProperty("gc_fragmented_bytes").GetInt64(), 0, 4L << 30);
        Assert.InRange(memory.GetProperty("gc_available_bytes").GetInt64(), 1, long.MaxValue);
        Assert.InRange(memory.GetProperty("threads").GetInt32(), 1, 10_000);
        var collections = memory.GetProperty("collections");
        var (gen0, gen1, gen2) = (collections.GetProperty("gen0").GetInt32(), collections.GetProperty("gen1").GetInt32(), collections.GetProperty("gen2").GetInt32());
        Assert.True(gen0 >= gen1 && gen1 >= gen2 && gen2 >= 0, $"collections {gen0}/{gen1}/{gen2}");
        Assert.Contains(memory.GetProperty("pressure").GetString(), new[] { "normal", "warning", "critical", "restart" });
        Assert.True(memory.GetProperty("trims").GetInt64() >= 0);
        Assert.True(memory.GetProperty("compactions").GetInt64() >= 0);

        // Every bounded structure as {name, count, capacity, evictions}; caches add {hits, misses}.
        foreach (var element in memory.GetProperty("structures").EnumerateArray())
        {
            var fields = element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
            var isCache = element.TryGetProperty("hits", out _);
            Assert.Equal(isCache ? ["capacity", "count", "evictions", "hits", "misses", "name"] : new[] { "capacity", "count", "evictions", "name" }, fields);
        }
        Assert.Contains(memory.GetProperty("structures").EnumerateArray(), e => e.GetProperty("name").GetString() == "dedup" && e.TryGetProperty("hits", out _));
        var structures = MemoryJson.Structures(memory);
        Assert.Equal(structures.Count, structures.Select(s => s.Name).Distinct().Count());
        foreach (var name in new[] { "dedup", "dispatch", "write-queue", "cooldowns", "log-queue" }) MemoryJson.Structure(memory, name);
        Assert.All(structures, s =>
        {
            Assert.True(s.Capacity > 0, $"{s.Name}: capacity {s.Capacity}");
            Assert.InRange(s.Count, 0, s.Capacity);
            Assert.True(s.Evictions >= 0, $"{s.Name}: evictions {s.Evictions}");
        });
        var dedup = MemoryJson.Structure(memory, "dedup");
        Assert.Equal(OpsFixture.DedupCapacity, dedup.Capacity);
        Assert.Equal(OpsFixture.Messages, dedup.Count);
        Assert.Equal(0, dedup.Evictions);

        // Queue depths.
        var queues = memory.GetProperty("queues");
        foreach (var name in new[] { "inbox_pending", "outbox_pending", "dispatch_queued", "dispatch_capacity", "write_queue", "sends_in_flight", "backlog", "max_backlog" })
        {
            Assert.True(queues.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.GetInt64() >= 0, $"queues.{name} in {queues}");
        }
        Assert.Equal(0, queues.GetProperty("inbox_pending").GetInt64());
        Assert.Equal(0, queues.GetProperty("outbox_pending").GetInt64());
        Assert.True(queues.GetProperty("dispatch_capacity").GetInt64() > 0);

        // Restarts, shedding, the scheduler.
        Assert.Equal(0, memory.GetProperty("restarts_this_hour").GetInt32());
        Assert.Equal(2, memory.GetProperty("max_restarts_per_hour").GetInt32());
        Assert.False(memory.GetProperty("shedding").GetBoolean());
        var jobs = memory.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("name").GetString()).ToList();
        Assert.Equal(new[] { "database-maintenance", "early-receipts", "expiry", "retention", "stats" }, jobs.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Uptime_grows_and_the_scheduler_takes_its_lease()
    {
        var first = (await MemoryJson.GetAsync(ops.Tern)).GetProperty("uptime_seconds").GetDouble();
        Assert.True(first > 0, $"uptime {first}");

        await Eventually.UntilAsync(async () => (await MemoryJson.GetAsync(ops.Tern)).GetProperty("uptime_seconds").GetDouble() > first,
            TimeSpan.FromSeconds(30), () => "uptime_seconds did not grow");
        await Eventually.UntilAsync(async () => (await MemoryJson.GetAsync(ops.Tern)).GetProperty("scheduler_leader").GetBoolean(),
            TimeSpan.FromSeconds(30), () => "the only instance never became the scheduler");
        var jobs = (await MemoryJson.GetAsync(ops.Tern)).GetProperty("jobs").EnumerateArray().ToList();
        Assert.All(jobs, j => Assert.Equal(0, j.GetProperty("failures").GetInt64()));
        await Eventually.UntilAsync(async () => (await MemoryJson.GetAsync(ops.Tern)).GetProperty("jobs").EnumerateArray().All(j => j.GetProperty("runs").GetInt64() >= 1),
            TimeSpan.FromSeconds(30), () => "every job runs once at start");
    }

    [Fact]
    public async Task Metrics_parse_as_Prometheus_text_and_carry_the_memory_and_pipeline_figures()
    {
        using var response = await ops.Tern.Http.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(response.Content.Headers.ContentType!.Parameters, p => p.Name == "version" && p.Value == "0.0.4");
        var text = await response.Content.ReadAsStringAsync();

        var families = PrometheusTextParser.Parse(text);

        string[] gauges =
        [
            "tern_memory_budget_bytes", "tern_process_resident_bytes", "tern_process_private_bytes", "tern_gc_heap_bytes",
            "tern_gc_committed_bytes", "tern_gc_fragmented_bytes", "tern_process_threads", "tern_memory_pressure_level",
            "tern_memory_shedding", "tern_restarts_last_hour", "tern_uptime_seconds", "tern_bounded_entries", "tern_bounded_capacity",
            "tern_queue_depth", "tern_sends_in_flight",
        ];
        string[] counters =
        [
            "tern_gc_collections_total", "tern_bounded_evictions_total", "tern_messages_received_total", "tern_messages_duplicate_total",
            "tern_messages_routed_total", "tern_deliveries_delivered_total", "tern_deliveries_failed_total", "tern_deliveries_retried_total",
        ];
        foreach (var name in gauges) Assert.True(families.TryGetValue(name, out var f) && f.Type == "gauge", $"{name} is missing or not a gauge");
        foreach (var name in counters) Assert.True(families.TryGetValue(name, out var f) && f.Type == "counter", $"{name} is missing or not a counter");
        Assert.All(families.Values, f => Assert.False(string.IsNullOrWhiteSpace(f.Help), $"{f.Name} has no HELP"));
        Assert.All(families.Values, f => Assert.NotEmpty(f.Samples));

        Assert.Equal(OpsFixture.Budget, families["tern_memory_budget_bytes"].Value());
        Assert.Equal(0, families["tern_memory_shedding"].Value());
        Assert.Equal(OpsFixture.DedupCapacity, families["tern_bounded_capacity"].Value(null, ("structure", "dedup")));
        Assert.Equal(OpsFixture.Messages, families["tern_bounded_entries"].Value(null, ("structure", "dedup")));
        Assert.Equal(new[] { "0", "1", "2" }, families["tern_gc_collections_total"].Samples.Select(s => s.Label("generation")).Order(StringComparer.Ordinal));
        Assert.Contains(families["tern_queue_depth"].Samples, s => s.Label("queue") == "inbox");
        Assert.True(families["tern_process_resident_bytes"].Value() > 0);

        Assert.Equal(OpsFixture.Messages, families["tern_messages_received_total"].Value());
        Assert.Equal(OpsFixture.Messages, families["tern_messages_routed_total"].Value());
        Assert.Equal(OpsFixture.Messages, families["tern_deliveries_delivered_total"].Value());
        Assert.Equal(0, families["tern_deliveries_failed_total"].Value());

        var latency = families["tern_delivery_latency_seconds"];
        Assert.Equal("histogram", latency.Type);
        Assert.Equal(OpsFixture.Messages, latency.Value("tern_delivery_latency_seconds_count"));
        Assert.Equal(OpsFixture.Messages, latency.Value("tern_delivery_latency_seconds_bucket", ("le", "+Inf")));
        Assert.True(latency.Value("tern_delivery_latency_seconds_sum") > 0);
        Assert.True(latency.Samples.Count(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal)) >= 5, "too few buckets to be useful");
    }

    [Fact]
    public async Task Metrics_pass_promtool_check_metrics()
    {
        // promtool is Prometheus's own linter (Debian's prometheus package; ./test.sh installs it): names, types, suffixes, HELP.
        var promtool = new[] { "/usr/bin/promtool", "/usr/local/bin/promtool" }.FirstOrDefault(File.Exists);
        Assert.True(promtool is not null, "promtool is not installed (apt-get install prometheus; ./test.sh does)");
        var text = await ops.Tern.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        var info = new System.Diagnostics.ProcessStartInfo(promtool, ["check", "metrics"])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(text);
        process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(deadline.Token);
        var said = (await stdout + await stderr).Trim();
        Assert.True(process.ExitCode == 0 && said.Length == 0, $"promtool check metrics exited {process.ExitCode}: {said}");
    }

    [Fact]
    public async Task The_log_file_gets_the_server_log_and_its_queue_is_a_bounded_structure()
    {
        await Eventually.UntilAsync(() => File.Exists(ops.LogPath) && ReadShared(ops.LogPath).Contains("tern listening on", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), () => $"{ops.LogPath}: {(File.Exists(ops.LogPath) ? ReadShared(ops.LogPath) : "missing")}");
        var logQueue = MemoryJson.Structure(await MemoryJson.GetAsync(ops.Tern), "log-queue");
        Assert.Equal(10_000, logQueue.Capacity);
        Assert.Equal(0, logQueue.Evictions);
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
