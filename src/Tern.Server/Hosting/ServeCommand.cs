using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tern.Channels;
using Tern.Channels.Telegram;
using Tern.Channels.Telegram.BotApi;
using Tern.Channels.Webhook;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Memory;
using Tern.Core.Pipeline;
using Tern.Core.Scheduling;
using Tern.Core.Tenancy;
using Tern.Server.Api;
using Tern.Server.Application;
using Tern.Server.Configuration;
using Tern.Server.Endpoints;
using Tern.Server.Logging;
using Tern.Storage.Sqlite;

namespace Tern.Server.Hosting;

/// <summary><c>tern serve</c>: opens (and migrates) the database, starts the pipeline and the HTTP surface.</summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(string[] settings)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = settings,
            ContentRootPath = Directory.GetCurrentDirectory(),
        });
        var options = TernOptions.Read(builder.Configuration);

        builder.WebHost.UseUrls(options.Url.GetLeftPart(UriPartial.Authority));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = Math.Max(options.Ingress.MaxBodyBytes + 1L, 1L << 20);
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.UseUtcTimestamp = true;
            console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        using var logFile = options.LogFile is null ? null : new RollingFileLoggerProvider(options.LogFile);
        if (logFile is not null) builder.Logging.AddProvider(logFile);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.TypeInfoResolverChain.Insert(0, ServerJsonContext.Default);
            json.SerializerOptions.TypeInfoResolverChain.Insert(1, ChannelsJsonContext.Default);
            json.SerializerOptions.TypeInfoResolverChain.Insert(2, ApiJsonContext.Default);
        });
        builder.Services.AddProblemDetails();

        await using var database = SqliteDatabase.Create(options.Storage);
        await database.OpenAsync(CancellationToken.None).ConfigureAwait(false);
        using var inbox = await SqliteInboxStore.OpenAsync(database, CancellationToken.None).ConfigureAwait(false);
        using var outbox = await SqliteOutboxStore.OpenAsync(database, inbox, CancellationToken.None).ConfigureAwait(false);
        using var catalog = new CatalogCache(new SqliteCatalogStore(database), TimeProvider.System, options.CatalogRefresh);
        await catalog.RefreshAsync(force: true, CancellationToken.None).ConfigureAwait(false);

        // Bounded like everything else: at most one connection per concurrent send.
        using var http = Http.CreateClient(options.Delivery.Concurrency);
        // Long polls hold a connection for their whole timeout: they get their own pool so they never starve sends.
        using var pollHttp = Http.CreateClient(256);
        var botApi = new BotApiClient(http);

        var runtime = new SqliteRuntimeStore(database);
        var exitCode = new ExitCode();
        var registry = new BoundedRegistry();
        var recent = new RecentInboundIds(options.DedupCapacity, TimeProvider.System);
        registry.Register(recent.Cache);
        registry.Register(new QueueGauge("write-queue", () => database.WriteQueued, () => database.WriteQueueCapacity));
        registry.Register(new QueueGauge("read-connections", () => database.ReadConnectionsInUse, () => database.ReadConnectionCapacity));
        if (logFile is not null) registry.Register(logFile);

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(registry);
        services.AddSingleton(recent);
        services.AddSingleton(exitCode);
        services.AddSingleton(options.Memory);
        services.AddSingleton(options.Monitor);
        services.AddSingleton<IMemoryReader, ProcessMemoryReader>();
        services.AddSingleton(sp => new RestartCoordinator(
            runtime, options.MaxRestartsPerHour, PressureActions.ExitVia(sp.GetRequiredService<IHostApplicationLifetime>(), exitCode),
            TimeProvider.System, sp.GetRequiredService<ILogger<RestartCoordinator>>()));
        services.AddSingleton<IPressureActions, PressureActions>();
        services.AddSingleton<MemoryMonitor>();
        services.AddSingleton(sp => new JobScheduler(
            runtime,
            MaintenanceJobs.Create(options, runtime, runtime, registry, sp.GetRequiredService<DeliveryEngine>(), sp.GetRequiredService<MemoryMonitor>(),
                inbox, outbox, sp.GetRequiredService<PipelineCounters>(), TimeProvider.System, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Tern.Scheduler")).ToArray(),
            $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}",
            TimeProvider.System,
            sp.GetRequiredService<ILogger<JobScheduler>>()));
        services.AddSingleton<OpsState>();
        services.AddSingleton(database);
        services.AddSingleton<IInboxStore>(inbox);
        services.AddSingleton<IOutboxStore>(outbox);
        services.AddSingleton(catalog);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<PipelineCounters>();
        services.AddSingleton<DeliveryLatency>();
        services.AddSingleton(options.Dispatcher);
        services.AddSingleton(options.Delivery);
        services.AddSingleton(options.Ingress);
        services.AddSingleton(sp => new IngressGate(inbox, outbox, options.MaxBacklog, sp.GetRequiredService<RestartCoordinator>()));
        services.AddSingleton<IChannelSender>(new WebhookSender(http, options.SendTimeout, TimeProvider.System));
        services.AddSingleton<IChannelSender>(WebhookSender.ForTenantEvents(http, options.SendTimeout, TimeProvider.System));
        var catalogStore = new SqliteCatalogStore(database);
        var channelState = new SqliteChannelState(database, catalogStore);
        var limiter = new SendLimiter(options.ChatLimitWindows, TimeProvider.System);
        registry.Register(limiter.ChatWindows);
        registry.Register(limiter.BotWindows);
        var ingressStatus = new IngressStatusBoard();
        services.AddSingleton(botApi);
        services.AddSingleton(ingressStatus);
        services.AddSingleton(limiter);
        services.AddSingleton<IMessageLinks>(channelState);
        services.AddSingleton<IChatMigrations>(channelState);
        services.AddSingleton(options.Telegram);
        services.AddSingleton(sp => new TelegramSender(botApi, catalog, limiter, channelState, channelState, options.SendTimeout, TimeProvider.System,
            sp.GetRequiredService<ILogger<TelegramSender>>()));
        services.AddSingleton<IChannelSender>(sp => sp.GetRequiredService<TelegramSender>());
        services.AddSingleton<TelegramInbound>();
        services.AddSingleton<TelegramWebhookIngress>();
        services.AddSingleton(sp => new TelegramIngressSupervisor(new BotApiClient(pollHttp), catalog, sp.GetRequiredService<TelegramInbound>(),
            sp.GetRequiredService<IngressGate>(), ingressStatus, outbox, options.Telegram, TimeProvider.System, sp.GetRequiredService<ILogger<TelegramIngressSupervisor>>()));
        var tenants = new SqliteTenantStore(database);
        using var keyCache = new ApiKeyCache(tenants, options.Api.KeyCacheCapacity, options.Api.RateLimitPerMinute, options.Api.AdminRateLimitPerMinute, TimeProvider.System, options.CatalogRefresh);
        registry.Register(keyCache.Cache);
        services.AddSingleton<ITenantStore>(tenants);
        services.AddSingleton<ICatalogStore>(catalogStore);
        services.AddSingleton<IMessageQueries>(new SqliteMessageQueries(database));
        services.AddSingleton(keyCache);
        services.AddTernApi(options.Api, options.Ingress);
        services.AddTernApplication(sp => KnownChannelTypes.Create(sp.GetRequiredService<BotApiClient>(), options.Telegram.CallTimeout));
        services.AddOpenApi("v1", openApi => openApi.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Tern API";
            document.Info.Description = "Channels, routes, messages and webhooks of a tenant; tenants and keys for admins. Bearer API keys. See docs/api.md.";
            return Task.CompletedTask;
        }));
        services.AddSingleton<Dispatcher>();
        services.AddSingleton<DeliveryEngine>();
        services.AddSingleton<WebhookIngress>();
        services.AddHostedService<DispatcherService>();
        services.AddHostedService<DeliveryService>();
        services.AddHostedService<MemoryMonitorService>();
        services.AddHostedService<SchedulerService>();
        services.AddHostedService<TelegramIngressService>();

        var app = builder.Build();
        var dispatcher = app.Services.GetRequiredService<Dispatcher>();
        registry.Register(new QueueGauge("dispatch", () => dispatcher.Queued, () => dispatcher.Capacity));
        registry.Register(dispatcher.Albums);
        var engine = app.Services.GetRequiredService<DeliveryEngine>();
        registry.Register(engine.Failures);
        registry.Register(new QueueGauge("cooldowns", () => engine.ParkedCount, () => Math.Max(1, catalog.Current.Channels.Count)));
        MapEndpoints(app);
        OpsEndpoints.Map(app);
        app.MapOpenApi("/openapi/{documentName}.json");
        app.UseTernApi(options.Api);

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Tern");
        logger.LogInformation("tern listening on {Url}; database {Path}; {Inbox} inbox and {Outbox} outbox rows pending; memory budget {Budget}",
            options.Url.GetLeftPart(UriPartial.Authority), database.Path, inbox.PendingCount, outbox.PendingCount, options.Memory.Budget);
        try
        {
            await app.RunAsync().ConfigureAwait(false);
        }
        catch (IOException ex) when (ex.InnerException is SocketException || ex.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
        {
            await Console.Error.WriteLineAsync($"tern: Tern:Http:Url: cannot listen on {options.Url}: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
        logger.LogInformation("tern stopped (exit code {ExitCode})", exitCode.Code);
        return exitCode.Code;
    }

    private static void MapEndpoints(WebApplication app)
    {
        app.MapGet("/health", () => Results.Json(new AliveReport("alive"), ServerJsonContext.Default.AliveReport));
        app.MapGet("/health/ready", ReadyAsync);
        app.MapPost("/hooks/webhook/{channelId}", (string channelId, HttpContext context, WebhookIngress ingress) => ingress.HandleAsync(channelId, context));
        app.MapPost("/hooks/telegram/{channelId}", (string channelId, HttpContext context, TelegramWebhookIngress ingress) => ingress.HandleAsync(channelId, context));
    }

    private static async Task<IResult> ReadyAsync(
        SqliteDatabase database, IInboxStore inbox, IOutboxStore outbox, Dispatcher dispatcher, DeliveryEngine engine, PipelineCounters counters, IngressStatusBoard ingress,
        CancellationToken cancellationToken)
    {
        string databaseState;
        string? error = null;
        try
        {
            await database.SchemaVersionAsync(cancellationToken).ConfigureAwait(false);
            databaseState = "ok";
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            databaseState = "unreachable";
            error = ex.Message;
        }
        var ready = databaseState == "ok" && dispatcher.Running && engine.Running;
        var report = new ReadyReport(
            ready ? "ready" : "not_ready", databaseState, dispatcher.Running, engine.Running,
            inbox.PendingCount, outbox.PendingCount, dispatcher.Queued, dispatcher.Capacity, engine.InFlight,
            counters.Received, counters.Delivered, counters.Failed, counters.Retried,
            GC.GetTotalMemory(forceFullCollection: false), Environment.WorkingSet, error,
            // Shown, not judged: a bot with a revoked token must not take the whole instance out of a load balancer.
            ingress.All.Count == 0 ? null : ingress.All.OrderBy(c => c.Key, StringComparer.Ordinal).ToDictionary(c => c.Key, c => $"{c.Value.Mode}: {c.Value.State}", StringComparer.Ordinal));
        return Results.Json(report, ServerJsonContext.Default.ReadyReport, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}
