using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tern.Core.Cluster;
using Tern.Core.Delivery;
using Tern.Server.Api;
using Tern.Core.Memory;
using Tern.Core.Pipeline;
using Tern.Core.Scheduling;
using Tern.Server.Hosting;
using Tern.Storage;

namespace Tern.Server.Endpoints;

/// <summary>/memory and /metrics: what the process holds and how the pipeline flows.</summary>
internal static class OpsEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/memory", async (OpsState state, CancellationToken cancellationToken) =>
            Results.Json(await state.MemoryAsync(cancellationToken).ConfigureAwait(false), ServerJsonContext.Default.MemoryReport))
            .Operation(ApiResponses.OpsTag, "getMemory", "Memory: the budget, what the process holds, every bounded structure, the queues")
            .Produces<MemoryReport>();

        app.MapGet("/metrics", async (OpsState state, CancellationToken cancellationToken) =>
        {
            var report = await state.MemoryAsync(cancellationToken).ConfigureAwait(false);
            return Results.Text(PrometheusText.Write(report, state.Counters, state.Latency), "text/plain; version=0.0.4; charset=utf-8");
        }).Operation(ApiResponses.OpsTag, "getMetrics", "Prometheus metrics (text exposition format 0.0.4)").Produces<string>(contentType: "text/plain");
    }
}

/// <summary>Everything the ops endpoints read, gathered in one place.</summary>
internal sealed class OpsState(
    MemoryMonitor monitor,
    IMemoryReader reader,
    BoundedRegistry registry,
    RestartCoordinator restarts,
    JobScheduler scheduler,
    IInboxStore inbox,
    IOutboxStore outbox,
    Dispatcher dispatcher,
    DeliveryEngine engine,
    IngressGate gate,
    IStorageEngine storage,
    PipelineCounters counters,
    DeliveryLatency latency,
    ClusterOptions cluster,
    HeldLeases leases)
{
    public PipelineCounters Counters => counters;

    public DeliveryLatency Latency => latency;

    public async Task<MemoryReport> MemoryAsync(CancellationToken cancellationToken)
    {
        var sample = reader.Read();
        var plan = monitor.Plan;
        int restartsThisHour;
        try
        {
            restartsThisHour = await restarts.RestartsThisHourAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            restartsThisHour = -1;
        }
        return new MemoryReport(
            plan.Budget.Bytes,
            plan.Budget.Source.ToString(),
            plan.Profile.ToString(),
            plan.HeapHardLimit,
            GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
            sample.ResidentBytes,
            sample.PrivateBytes,
            sample.GcHeapBytes,
            sample.GcCommittedBytes,
            sample.GcFragmentedBytes,
            new GcCollections(sample.Gen0Collections, sample.Gen1Collections, sample.Gen2Collections),
            sample.Threads,
            monitor.Level.ToString().ToLowerInvariant(),
            new MemoryThresholds(plan.WarningBytes, plan.CriticalBytes, plan.RestartBytes),
            registry.Report(),
            new QueueDepths(inbox.PendingCount, outbox.PendingCount, dispatcher.Queued, dispatcher.Capacity, storage.WriteQueued, engine.InFlight, gate.Backlog, gate.MaxBacklog),
            restartsThisHour,
            restarts.MaxPerHour,
            restarts.Shedding,
            monitor.Trims,
            monitor.Compactions,
            Math.Round(monitor.Uptime.TotalSeconds, 1),
            scheduler.IsLeader,
            scheduler.Report(),
            new ClusterReport(cluster.Enabled, cluster.InstanceId, leases.Snapshot(), leases.Lost));
    }
}

/// <summary>The Prometheus text exposition format (version 0.0.4).</summary>
internal static class PrometheusText
{
    public static string Write(MemoryReport m, PipelineCounters counters, DeliveryLatency latency)
    {
        var text = new StringBuilder(4096);
        Gauge(text, "tern_memory_budget_bytes", "The memory budget every bound is derived from.", m.BudgetBytes);
        Gauge(text, "tern_process_resident_bytes", "Resident set size (VmRSS).", m.ResidentBytes);
        Gauge(text, "tern_process_private_bytes", "Private memory (smaps_rollup Private_Clean + Private_Dirty).", m.PrivateBytes);
        Gauge(text, "tern_gc_heap_bytes", "Managed heap in use.", m.GcHeapBytes);
        Gauge(text, "tern_gc_committed_bytes", "Memory committed by the GC.", m.GcCommittedBytes);
        Gauge(text, "tern_gc_fragmented_bytes", "Free space inside the managed heap.", m.GcFragmentedBytes);
        Header(text, "tern_gc_collections_total", "Garbage collections by generation.", "counter");
        Sample(text, "tern_gc_collections_total", "generation", "0", m.Collections.Gen0);
        Sample(text, "tern_gc_collections_total", "generation", "1", m.Collections.Gen1);
        Sample(text, "tern_gc_collections_total", "generation", "2", m.Collections.Gen2);
        Gauge(text, "tern_process_threads", "Threads of the process.", m.Threads);
        Gauge(text, "tern_memory_pressure_level", "0 normal, 1 warning, 2 critical, 3 restart.", (long)Enum.Parse<PressureLevel>(m.Pressure, ignoreCase: true));
        Gauge(text, "tern_memory_shedding", "1 while ingress sheds load (restart limit reached).", m.Shedding ? 1 : 0);
        Gauge(text, "tern_restarts_last_hour", "Memory restarts in the last hour.", m.RestartsThisHour);
        Gauge(text, "tern_uptime_seconds", "Seconds since start.", m.UptimeSeconds);

        Header(text, "tern_bounded_entries", "Entries held by a bounded structure.", "gauge");
        foreach (var s in m.Structures) Sample(text, "tern_bounded_entries", "structure", s.Name, s.Count);
        Header(text, "tern_bounded_capacity", "Capacity of a bounded structure.", "gauge");
        foreach (var s in m.Structures) Sample(text, "tern_bounded_capacity", "structure", s.Name, s.Capacity);
        Header(text, "tern_bounded_evictions_total", "Entries evicted from a bounded structure.", "counter");
        foreach (var s in m.Structures) Sample(text, "tern_bounded_evictions_total", "structure", s.Name, s.Evictions);

        Header(text, "tern_cache_hits_total", "Lookups a cache answered.", "counter");
        foreach (var s in m.Structures) if (s.Hits is { } hits) Sample(text, "tern_cache_hits_total", "structure", s.Name, hits);
        Header(text, "tern_cache_misses_total", "Lookups a cache could not answer.", "counter");
        foreach (var s in m.Structures) if (s.Misses is { } misses) Sample(text, "tern_cache_misses_total", "structure", s.Name, misses);

        Header(text, "tern_queue_depth", "Work waiting, by queue.", "gauge");
        Sample(text, "tern_queue_depth", "queue", "inbox", m.Queues.InboxPending);
        Sample(text, "tern_queue_depth", "queue", "outbox", m.Queues.OutboxPending);
        Sample(text, "tern_queue_depth", "queue", "dispatch", m.Queues.DispatchQueued);
        Sample(text, "tern_queue_depth", "queue", "write", m.Queues.WriteQueue);
        Gauge(text, "tern_sends_in_flight", "Deliveries being sent.", m.Queues.SendsInFlight);

        Counter(text, "tern_messages_received_total", "Inbound messages committed.", counters.Received);
        Counter(text, "tern_messages_duplicate_total", "Inbound redeliveries recognised and not stored again.", counters.Duplicates);
        Counter(text, "tern_messages_routed_total", "Inbound messages routed.", counters.Routed);
        Counter(text, "tern_deliveries_delivered_total", "Deliveries accepted by their destination.", counters.Delivered);
        Counter(text, "tern_deliveries_failed_total", "Deliveries that failed for good.", counters.Failed);
        Counter(text, "tern_deliveries_retried_total", "Delivery attempts that will be retried.", counters.Retried);

        Header(text, "tern_delivery_latency_seconds", "Time from routing to the destination's acceptance.", "histogram");
        var cumulative = latency.Cumulative();
        var bounds = DeliveryLatency.Bounds;
        for (var i = 0; i < bounds.Count; i++) Sample(text, "tern_delivery_latency_seconds_bucket", "le", Number(bounds[i]), cumulative[i]);
        Sample(text, "tern_delivery_latency_seconds_bucket", "le", "+Inf", cumulative[^1]);
        text.Append("tern_delivery_latency_seconds_sum ").Append(Number(latency.SumSeconds)).Append('\n');
        // From the same snapshot as the buckets: deliveries recorded meanwhile must not make _count differ from +Inf.
        text.Append("tern_delivery_latency_seconds_count ").Append(cumulative[^1].ToString(CultureInfo.InvariantCulture)).Append('\n');
        return text.ToString();
    }

    private static void Header(StringBuilder text, string name, string help, string type) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n').Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Gauge(StringBuilder text, string name, string help, double value)
    {
        Header(text, name, help, "gauge");
        text.Append(name).Append(' ').Append(Number(value)).Append('\n');
    }

    private static void Counter(StringBuilder text, string name, string help, long value)
    {
        Header(text, name, help, "counter");
        text.Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    private static void Sample(StringBuilder text, string name, string label, string labelValue, double value) =>
        text.Append(name).Append('{').Append(label).Append("=\"").Append(Escape(labelValue)).Append("\"} ").Append(Number(value)).Append('\n');

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
