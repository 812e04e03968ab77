using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tern.Channels;
using Tern.Channels.Http;
using Tern.Core.Catalog;
using Tern.Core.Cluster;
using Tern.Core.Delivery;
using Tern.Core.Memory;
using Tern.Core.Pipeline;
using Tern.Core.Scheduling;
using Tern.Core.Tenancy;
using Tern.Server.Api;
using Tern.Server.Configuration;
using Tern.Server.Endpoints;
using Tern.Storage;

namespace Tern.Server.Hosting;

/// <summary>
/// The host is composed from these: the pipeline, one storage engine, each channel type (its own
/// <c>Add…Channel</c> in its folder), the API and the ops surface. Everything that grows registers its
/// <see cref="IBoundedStructure"/> here or in its channel's registration, and is listed in /memory.
/// </summary>
internal static class TernComposition
{
    /// <summary>The path every message travels (ingress gate, dispatcher, router, delivery engine), memory governance and the scheduler.</summary>
    public static IServiceCollection AddTernCore(this IServiceCollection services, TernOptions options, ExitCode exitCode)
    {
        services.AddSingleton(options);
        services.AddSingleton(exitCode);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(options.Memory);
        services.AddSingleton(options.Monitor);
        services.AddSingleton(options.Dispatcher);
        services.AddSingleton(options.Delivery);
        services.AddSingleton(options.Ingress);

        // Bounded like everything else: at most one connection per concurrent send, shared by every channel type's sender.
        services.AddSingleton(options.Destinations);
        services.AddKeyedSingleton(OutboundHttp.SendClient, (_, _) => OutboundHttp.CreateClient(options.Delivery.Concurrency, options.Destinations));

        services.AddSingleton(sp => new CatalogCache(sp.GetRequiredService<ICatalogStore>(), sp.GetRequiredService<TimeProvider>(), options.CatalogRefresh));
        services.AddSingleton(sp => new RecentInboundIds(options.DedupCapacity, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IBoundedStructure>(sp => sp.GetRequiredService<RecentInboundIds>().Cache);
        services.AddSingleton<InboundBatch>();
        services.AddSingleton<PipelineCounters>();
        services.AddSingleton<DeliveryLatency>();
        services.AddSingleton<IngressStatusBoard>();
        services.AddSingleton(sp => new IngressGate(
            sp.GetRequiredService<IInboxStore>(), sp.GetRequiredService<IOutboxStore>(), options.MaxBacklog, sp.GetRequiredService<RestartCoordinator>()));
        services.AddSingleton<Dispatcher>();
        services.AddSingleton(options.Cluster);
        services.AddSingleton(sp =>
        {
            var catalog = sp.GetRequiredService<CatalogCache>();
            return new HeldLeases(() => catalog.Current.Channels.Count);
        });
        services.AddSingleton<IBoundedStructure>(sp => sp.GetRequiredService<HeldLeases>());
        services.AddSingleton<LeaseRunner>();
        if (options.Cluster.Enabled) services.AddSingleton<ISendPermits, ClusterSendPermits>();
        services.AddSingleton<DeliveryReceipts>();
        services.AddSingleton<DeliveryEngine>();
        services.AddSingleton<IBoundedStructure>(sp =>
        {
            var dispatcher = sp.GetRequiredService<Dispatcher>();
            return new QueueGauge("dispatch", () => dispatcher.Queued, () => dispatcher.Capacity);
        });
        services.AddSingleton<IBoundedStructure>(sp => sp.GetRequiredService<Dispatcher>().Albums);
        services.AddSingleton<IBoundedStructure>(sp => sp.GetRequiredService<DeliveryEngine>().Failures);
        services.AddSingleton<IBoundedStructure>(sp =>
        {
            var engine = sp.GetRequiredService<DeliveryEngine>();
            var catalog = sp.GetRequiredService<CatalogCache>();
            return new QueueGauge("cooldowns", () => engine.ParkedCount, () => Math.Max(1, catalog.Current.Channels.Count));
        });

        // The registry is filled from every registered structure when it is first asked for, so a channel type's
        // registration only has to add its structures as IBoundedStructure.
        services.AddSingleton(sp =>
        {
            var registry = new BoundedRegistry();
            foreach (var structure in sp.GetServices<IBoundedStructure>()) registry.Register(structure);
            return registry;
        });
        services.AddSingleton<IMemoryReader, ProcessMemoryReader>();
        services.AddSingleton(sp => new RestartCoordinator(
            sp.GetRequiredService<IRestartLog>(), options.MaxRestartsPerHour, PressureActions.ExitVia(sp.GetRequiredService<IHostApplicationLifetime>(), exitCode),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RestartCoordinator>>()));
        services.AddSingleton<IPressureActions, PressureActions>();
        services.AddSingleton<MemoryMonitor>();
        services.AddSingleton(sp => new JobScheduler(
            sp.GetRequiredService<ILeaseStore>(),
            MaintenanceJobs.Create(options, sp.GetRequiredService<IRetentionStore>(), sp.GetRequiredService<IDatabaseMaintenance>(), sp.GetRequiredService<BoundedRegistry>(),
                sp.GetRequiredService<DeliveryEngine>(), sp.GetRequiredService<MemoryMonitor>(), sp.GetRequiredService<IInboxStore>(), sp.GetRequiredService<IOutboxStore>(),
                sp.GetRequiredService<PipelineCounters>(), sp.GetRequiredService<DeliveryReceipts>(), sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("Tern.Scheduler")).ToArray(),
            options.Cluster.InstanceId,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<JobScheduler>>(),
            held: sp.GetRequiredService<HeldLeases>(),
            clusterWide: options.Cluster.Enabled));

        if (options.Cluster.Enabled) services.AddHostedService<InstanceHeartbeatService>();
        services.AddHostedService<DispatcherService>();
        services.AddHostedService<DeliveryService>();
        services.AddHostedService<MemoryMonitorService>();
        services.AddHostedService<SchedulerService>();
        return services;
    }

    /// <summary>Every channel type of <see cref="TernChannels"/>, with the settings each read. The server and the CLI both take them from here.</summary>
    public static IServiceCollection AddTernChannels(this IServiceCollection services, TernOptions options)
    {
        var host = new ChannelHostOptions(options.SendTimeout, options.ChatLimitWindows);
        foreach (var module in options.Channels) module.Register(services, host);
        return services;
    }

    /// <summary>What the CLI and the API both need of an engine: everything but the pipeline's inbox and outbox.</summary>
    public static IServiceCollection AddTernCatalogStorage(this IServiceCollection services, IStorageEngine storage)
    {
        services.AddSingleton(storage);
        services.AddSingleton(storage.Catalog);
        services.AddSingleton(storage.Tenants);
        services.AddSingleton(storage.Messages);
        return services;
    }

    /// <summary>An opened engine's stores, as the interfaces the pipeline, the channels and the API take.</summary>
    public static IServiceCollection AddTernStorage(this IServiceCollection services, IStorageEngine storage, PipelineStores pipeline)
    {
        services.AddTernCatalogStorage(storage);
        services.AddSingleton(pipeline.Inbox);
        services.AddSingleton(pipeline.Outbox);
        services.AddSingleton(pipeline.Receipts);
        services.AddSingleton(storage.Links);
        services.AddSingleton<IChatMigrations>(new ChatMigrations(storage.ChatMoves, storage.Catalog));
        services.AddSingleton(storage.Restarts);
        services.AddSingleton(storage.Leases);
        services.AddSingleton(storage.Retention);
        services.AddSingleton(storage.Maintenance);
        foreach (var structure in storage.BoundedStructures) services.AddSingleton(structure);
        return services;
    }

    /// <summary>/health, /health/ready, /memory, /metrics.</summary>
    public static IServiceCollection AddTernOps(this IServiceCollection services)
    {
        services.AddSingleton<OpsState>();
        return services;
    }

    /// <summary>Every channel type's hooks, at <c>/hooks/{type}/{channel}</c>.</summary>
    public static void MapChannelHooks(this WebApplication app)
    {
        foreach (var hooks in app.Services.GetServices<ChannelHooks>())
        {
            var endpoint = app.MapMethods(hooks.Pattern, hooks.Methods, (string channelId, HttpContext context) => hooks.HandleAsync(channelId, context));
            if (hooks.Shape is { } shape) endpoint.DescribeHook(shape);
            else endpoint.WithTags(ApiResponses.HooksTag);
        }
    }
}
