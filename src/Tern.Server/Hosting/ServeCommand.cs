using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tern.Channels;
using Tern.Channels.Telegram;
using Tern.Channels.Webhook;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Memory;
using Tern.Core.Pipeline;
using Tern.Server.Api;
using Tern.Server.Configuration;
using Tern.Server.Endpoints;
using Tern.Server.Logging;
using Tern.Storage;

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

        await using var storage = StorageEngines.Create(options.Storage);
        using var pipeline = await storage.OpenPipelineAsync(CancellationToken.None).ConfigureAwait(false);
        var exitCode = new ExitCode();
        builder.Services
            .AddTernCore(options, exitCode)
            .AddTernStorage(storage, pipeline)
            .AddWebhookChannel(options.SendTimeout)
            .AddTelegramChannel(options.Telegram, options.ChatLimitWindows, options.SendTimeout)
            .AddTernApi(options.Api, options.Ingress, options.CatalogRefresh)
            .AddTernOps();
        if (logFile is not null) builder.Services.AddSingleton<IBoundedStructure>(logFile);

        var app = builder.Build();
        await app.Services.GetRequiredService<CatalogCache>().RefreshAsync(force: true, CancellationToken.None).ConfigureAwait(false);
        app.MapGet("/health", () => Results.Json(new AliveReport("alive"), ServerJsonContext.Default.AliveReport));
        app.MapGet("/health/ready", ReadyAsync);
        app.MapChannelHooks();
        OpsEndpoints.Map(app);
        app.MapOpenApi("/openapi/{documentName}.json");
        app.UseTernApi(options.Api);

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Tern");
        logger.LogInformation("tern listening on {Url}; database {Path}; {Inbox} inbox and {Outbox} outbox rows pending; memory budget {Budget}",
            options.Url.GetLeftPart(UriPartial.Authority), storage.Location, pipeline.Inbox.PendingCount, pipeline.Outbox.PendingCount, options.Memory.Budget);
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

    private static async Task<IResult> ReadyAsync(
        IStorageEngine storage, IInboxStore inbox, IOutboxStore outbox, Dispatcher dispatcher, DeliveryEngine engine, PipelineCounters counters, IngressStatusBoard ingress,
        CancellationToken cancellationToken)
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
