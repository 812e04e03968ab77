using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tern.Channels;
using Tern.Core.Catalog;
using Tern.Core.Cluster;
using Tern.Core.Delivery;
using Tern.Core.Memory;
using Tern.Core.Pipeline;
using Tern.Server.Api;
using Tern.Server.Application;
using Tern.Server.Configuration;
using Tern.Server.Endpoints;
using Tern.Server.Logging;
using Tern.Storage;

namespace Tern.Server.Hosting;

/// <summary>
/// One Tern: the web host composed from the <c>AddTern…</c> registrations on an opened storage engine. <c>tern serve</c>
/// runs one; tests build one in their own process (a real Kestrel on a free port, a real database file).
/// </summary>
internal sealed class TernHost : IAsyncDisposable
{
    private readonly IStorageEngine _storage;
    private readonly PipelineStores _pipeline;
    private readonly RollingFileLoggerProvider? _logFile;

    private TernHost(WebApplication app, TernOptions options, ExitCode exitCode, IStorageEngine storage, PipelineStores pipeline, RollingFileLoggerProvider? logFile)
    {
        App = app;
        Options = options;
        ExitCode = exitCode;
        _storage = storage;
        _pipeline = pipeline;
        _logFile = logFile;
    }

    public WebApplication App { get; }

    public TernOptions Options { get; }

    public ExitCode ExitCode { get; }

    public IStorageEngine Storage => _storage;

    public PipelineStores Pipeline => _pipeline;

    /// <summary>Where Kestrel listens once started (the real port when <c>Tern:Http:Url</c> asked for port 0).</summary>
    public Uri ListeningUrl =>
        App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.Select(a => new Uri(a)).FirstOrDefault() ?? Options.Url;

    /// <summary>
    /// Reads the settings (throws <see cref="ConfigurationException"/> naming a bad key), opens and migrates the
    /// storage engine, composes the host. <paramref name="contentRoot"/>: where appsettings.json is read from.
    /// <paramref name="logging"/>: replaces the console log (tests send it to their output).
    /// </summary>
    public static async Task<TernHost> CreateAsync(string[] settings, string? contentRoot = null, Action<ILoggingBuilder>? logging = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = settings,
            ContentRootPath = contentRoot ?? Directory.GetCurrentDirectory(),
        });
        var options = TernOptions.Read(builder.Configuration);

        builder.WebHost.UseUrls(string.Join(';', options.Listen.Addresses));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = Math.Max(options.Ingress.MaxBodyBytes + 1L, 1L << 20);
        });
        builder.Logging.ClearProviders();
        if (logging is not null)
        {
            logging(builder.Logging);
        }
        else
        {
            builder.Logging.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.UseUtcTimestamp = true;
                console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            });
        }
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // The authentication handler's base class logs every challenge and forbid at Information: a 401 or 403 is an answer, not news.
        builder.Logging.AddFilter(typeof(ApiKeyAuthenticationHandler).FullName, LogLevel.Warning);
        var logFile = options.LogFile is null ? null : new RollingFileLoggerProvider(options.LogFile);
        if (logFile is not null) builder.Logging.AddProvider(logFile);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.TypeInfoResolverChain.Insert(0, ServerJsonContext.Default);
            json.SerializerOptions.TypeInfoResolverChain.Insert(1, ChannelsJsonContext.Default);
            json.SerializerOptions.TypeInfoResolverChain.Insert(2, ApiJsonContext.Default);
        });
        // Each channel type's settings shapes, for the OpenAPI document (answers are written from the types' own JSON).
        builder.Services.AddOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>().Configure<ChannelTypeRegistry>((json, types) =>
        {
            foreach (var type in types.All)
            {
                if (type.SettingsShape is { } shape) json.SerializerOptions.TypeInfoResolverChain.Add(shape.Types);
                if (type is IChannelSendOptions { SendOptionsShape: var sendShape } && !json.SerializerOptions.TypeInfoResolverChain.Contains(sendShape.Types))
                {
                    json.SerializerOptions.TypeInfoResolverChain.Add(sendShape.Types);
                }
            }
        });
        builder.Services.AddProblemDetails();

        var storage = StorageEngines.Create(options.Storage);
        PipelineStores pipeline;
        try
        {
            pipeline = await storage.OpenPipelineAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch
        {
            await storage.DisposeAsync().ConfigureAwait(false);
            logFile?.Dispose();
            throw;
        }
        var exitCode = new ExitCode();
        builder.Services
            .AddTernCore(options, exitCode)
            .AddTernStorage(storage, pipeline)
            .AddTernChannels(options)
            .AddTernApplication()
            .AddTernApi(options.Api, options.Ingress, options.CatalogRefresh)
            .AddTernOps();
        if (logFile is not null) builder.Services.AddSingleton<IBoundedStructure>(logFile);

        var app = builder.Build();
        await app.Services.GetRequiredService<CatalogCache>().RefreshAsync(force: true, CancellationToken.None).ConfigureAwait(false);
        app.UseStorageUnavailableAnswer(options.Ingress.RetryAfter);
        app.MapGet("/health", () => Results.Json(new AliveReport("alive"), ServerJsonContext.Default.AliveReport))
            .Operation(ApiResponses.OpsTag, "getHealth", "Liveness: the process answers").Produces<AliveReport>();
        app.MapGet("/health/ready", ReadyAsync)
            .Operation(ApiResponses.OpsTag, "getReadiness", "Readiness: the database answers and the pipeline runs (503 when not)")
            .Produces<ReadyReport>().Produces<ReadyReport>(StatusCodes.Status503ServiceUnavailable);
        app.MapChannelHooks();
        OpsEndpoints.Map(app);
        app.MapOpenApi("/openapi/{documentName}.json");
        app.UseTernApi();

        return new TernHost(app, options, exitCode, storage, pipeline, logFile);
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync().ConfigureAwait(false);
        _pipeline.Dispose();
        await _storage.DisposeAsync().ConfigureAwait(false);
        _logFile?.Dispose();
    }

    private static async Task<IResult> ReadyAsync(
        IStorageEngine storage, IInboxStore inbox, IOutboxStore outbox, Dispatcher dispatcher, DeliveryEngine engine, PipelineCounters counters, IngressStatusBoard ingress,
        ClusterOptions cluster, HeldLeases leases, CancellationToken cancellationToken)
    {
        string databaseState;
        string? error = null;
        try
        {
            await storage.SchemaVersionAsync(cancellationToken).ConfigureAwait(false);
            databaseState = "ok";
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            databaseState = "unreachable";
            error = ex.Message;
        }
        // In a cluster one instance routes (the router lease's holder); the others are ready to take messages in and send.
        var ready = databaseState == "ok" && (dispatcher.Running || cluster.Enabled) && engine.Running;
        var report = new ReadyReport(
            ready ? "ready" : "not_ready", databaseState, dispatcher.Running, engine.Running,
            inbox.PendingCount, outbox.PendingCount, dispatcher.Queued, dispatcher.Capacity, engine.InFlight,
            counters.Received, counters.Delivered, counters.Failed, counters.Retried,
            GC.GetTotalMemory(forceFullCollection: false), Environment.WorkingSet, error,
            // Shown, not judged: a bot with a revoked token must not take the whole instance out of a load balancer.
            ingress.All.Count == 0 ? null : ingress.All.OrderBy(c => c.Key, StringComparer.Ordinal).ToDictionary(c => c.Key, c => $"{c.Value.Mode}: {c.Value.State}", StringComparer.Ordinal),
            cluster.Enabled ? cluster.InstanceId : null,
            leases.Snapshot().Select(l => l.Name).ToArray());
        return Results.Json(report, ServerJsonContext.Default.ReadyReport, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}
