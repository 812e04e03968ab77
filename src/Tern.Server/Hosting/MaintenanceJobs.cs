using Microsoft.Extensions.Logging;
using Tern.Core.Delivery;
using Tern.Core.Memory;
using Tern.Core.Pipeline;
using Tern.Core.Scheduling;
using Tern.Server.Configuration;

namespace Tern.Server.Hosting;

/// <summary>The periodic jobs the scheduler runs.</summary>
internal static partial class MaintenanceJobs
{
    private const int PurgeBatch = 5000;

    public static IEnumerable<ScheduledJob> Create(
        TernOptions options,
        IRetentionStore retention,
        IDatabaseMaintenance maintenance,
        BoundedRegistry registry,
        DeliveryEngine engine,
        MemoryMonitor monitor,
        IInboxStore inbox,
        IOutboxStore outbox,
        PipelineCounters counters,
        DeliveryReceipts receipts,
        TimeProvider time,
        ILogger logger)
    {
        yield return new ScheduledJob("expiry", TimeSpan.FromSeconds(30), _ =>
        {
            // Conversation states, caches with a TTL, and destination cooldowns that are over.
            foreach (var structure in registry.Structures)
            {
                if (structure is IExpiring expiring) expiring.RemoveExpired();
            }
            engine.ExpireCooldowns();
            return Task.CompletedTask;
        });

        yield return new ScheduledJob("retention", options.RetentionInterval, async cancellationToken =>
        {
            var cutoff = time.GetUtcNow() - options.RetainFinished;
            long inboxDeleted = 0, outboxDeleted = 0;
            for (var round = 0; round < 100; round++)
            {
                var (i, o) = await retention.PurgeAsync(cutoff, PurgeBatch, cancellationToken).ConfigureAwait(false);
                inboxDeleted += i;
                outboxDeleted += o;
                if (i < PurgeBatch && o < PurgeBatch) break;
            }
            if (inboxDeleted + outboxDeleted > 0) LogPurged(logger, inboxDeleted, outboxDeleted, options.RetainFinished);

            var linkCutoff = time.GetUtcNow() - options.RetainMessageLinks;
            long linksDeleted = 0;
            for (var round = 0; round < 100; round++)
            {
                var deleted = await retention.PurgeLinksAsync(linkCutoff, PurgeBatch, cancellationToken).ConfigureAwait(false);
                linksDeleted += deleted;
                if (deleted < PurgeBatch) break;
            }
            if (linksDeleted > 0) LogLinksPurged(logger, linksDeleted, options.RetainMessageLinks);
        });

        // Receipts that came before their send's answer and were not applied when it was recorded (a crash in between), and ones
        // for messages that never were Tern's: applied or, after the platform's 7 days, dropped.
        yield return new ScheduledJob("early-receipts", TimeSpan.FromMinutes(1), async cancellationToken =>
        {
            if (receipts.EarlyCount == 0) return;
            await receipts.ReconcileEarlyAsync((time.GetUtcNow() - TimeSpan.FromDays(7)).ToUnixTimeMilliseconds(), cancellationToken).ConfigureAwait(false);
        });

        yield return new ScheduledJob("database-maintenance", TimeSpan.FromHours(1), maintenance.MaintainAsync);

        yield return new ScheduledJob("stats", options.StatsInterval, _ =>
        {
            var sample = monitor.Last;
            LogStats(logger, monitor.Level, sample.ResidentBytes >> 20, monitor.Plan.Budget.Bytes >> 20, sample.GcHeapBytes >> 20,
                sample.Gen0Collections, sample.Gen1Collections, sample.Gen2Collections, sample.Threads,
                inbox.PendingCount, outbox.PendingCount, counters.Received, counters.Delivered, counters.Failed, counters.Retried);
            return Task.CompletedTask;
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: deleted {Inbox} inbox and {Outbox} outbox rows finished more than {Age} ago")]
    private static partial void LogPurged(ILogger logger, long inbox, long outbox, TimeSpan age);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: deleted {Links} message links made more than {Age} ago (edits of those messages no longer reach their copies)")]
    private static partial void LogLinksPurged(ILogger logger, long links, TimeSpan age);

    [LoggerMessage(Level = LogLevel.Information, Message =
        "stats: pressure={Level} rss={RssMb}MB/{BudgetMb}MB heap={HeapMb}MB gc={Gen0}/{Gen1}/{Gen2} threads={Threads} " +
        "inbox_pending={InboxPending} outbox_pending={OutboxPending} received={Received} delivered={Delivered} failed={Failed} retried={Retried}")]
    private static partial void LogStats(ILogger logger, PressureLevel level, long rssMb, long budgetMb, long heapMb, int gen0, int gen1, int gen2, int threads,
        long inboxPending, long outboxPending, long received, long delivered, long failed, long retried);
}
