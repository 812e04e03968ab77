using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tern.Core.Pipeline;

namespace Tern.Server.Hosting;

/// <summary>
/// Any request that meets a database it cannot reach (<see cref="StorageUnavailableException"/>) is answered 503 with
/// <c>Retry-After</c> instead of 500: a sender retries, and what it sends is committed once the database is back.
/// </summary>
internal static partial class StorageUnavailableAnswer
{
    private static long s_lastLoggedAt = long.MinValue;

    public static void UseStorageUnavailableAnswer(this WebApplication app, TimeSpan retryAfter)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Tern.Storage");
        var seconds = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context).ConfigureAwait(false);
            }
            catch (StorageUnavailableException ex) when (!context.Response.HasStarted)
            {
                // One line every 30 s at most: under load every request meets it, /health/ready says it too.
                var now = Environment.TickCount64;
                var last = Interlocked.Read(ref s_lastLoggedAt);
                if (now - last > 30_000 && Interlocked.CompareExchange(ref s_lastLoggedAt, now, last) == last) LogUnavailable(logger, ex.Message);
                context.Response.Clear();
                context.Response.Headers.RetryAfter = seconds;
                await Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Storage unavailable",
                    detail: "The database cannot be reached now; nothing was acknowledged. Try again after Retry-After.").ExecuteAsync(context).ConfigureAwait(false);
            }
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Answering 503 while the database cannot be reached: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}
