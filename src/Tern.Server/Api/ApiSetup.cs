using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Tern.Channels.Webhook;
using Tern.Core.Memory;
using Tern.Core.Tenancy;
using Tern.Server.Configuration;

namespace Tern.Server.Api;

/// <summary>Authentication (Bearer API keys), rate limits and the /v1 endpoints.</summary>
public static class ApiSetup
{
    private const string CallerItem = "tern.caller";

    public static ApiCaller? Caller(this HttpContext context) => context.Items.TryGetValue(CallerItem, out var caller) ? caller as ApiCaller : null;

    /// <summary>The REST API: key cache, rate limits, the OpenAPI document. <paramref name="keyCheckInterval"/>: how often a cached key is checked against the store (revocations).</summary>
    public static IServiceCollection AddTernApi(this IServiceCollection services, ApiOptions options, IngressOptions ingress, TimeSpan keyCheckInterval)
    {
        services.AddSingleton(sp => new ApiKeyCache(sp.GetRequiredService<ITenantStore>(), options.KeyCacheCapacity, options.RateLimitPerMinute, options.AdminRateLimitPerMinute,
            sp.GetRequiredService<TimeProvider>(), keyCheckInterval));
        services.AddSingleton<IBoundedStructure>(sp => sp.GetRequiredService<ApiKeyCache>().Cache);
        services.AddOpenApi("v1", openApi => openApi.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Tern API";
            document.Info.Description = "Channels, routes, messages and webhooks of a tenant; tenants and keys for admins. Bearer API keys. See docs/api.md.";
            return Task.CompletedTask;
        }));
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                if (context.HttpContext.Request.Path.StartsWithSegments("/hooks"))
                {
                    // A platform push over the queue: "come back later", as for a full backlog.
                    var seconds = (int)Math.Ceiling(ingress.RetryAfter.TotalSeconds);
                    context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                    await Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Busy",
                            detail: $"Too many inbound requests in progress; retry after {seconds} s.")
                        .ExecuteAsync(context.HttpContext).ConfigureAwait(false);
                    return;
                }
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                        detail: $"Rate limit reached; retry after {retryAfter} s.")
                    .ExecuteAsync(context.HttpContext).ConfigureAwait(false);
            };
            limiter.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                // Per key: a fixed window of the tenant's requests per minute.
                PartitionedRateLimiter.Create<HttpContext, string>(context => context.Caller() is { } caller
                    ? RateLimitPartition.GetFixedWindowLimiter(caller.KeyId, _ => new FixedWindowRateLimiterOptions
                    {
                        PermitLimit = caller.RateLimitPerMinute,
                        Window = TimeSpan.FromMinutes(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    })
                    : RateLimitPartition.GetNoLimiter("")),
                // Over all keys: requests in progress at once, a short queue behind them; platform pushes likewise.
                PartitionedRateLimiter.Create<HttpContext, string>(context =>
                    context.Request.Path.StartsWithSegments("/v1")
                        ? RateLimitPartition.GetConcurrencyLimiter("v1", _ => new ConcurrencyLimiterOptions
                        {
                            PermitLimit = options.MaxConcurrentRequests,
                            QueueLimit = options.MaxConcurrentRequests,
                            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                        })
                        : context.Request.Path.StartsWithSegments("/hooks")
                            ? RateLimitPartition.GetConcurrencyLimiter("hooks", _ => new ConcurrencyLimiterOptions
                            {
                                PermitLimit = ingress.MaxConcurrentRequests,
                                QueueLimit = ingress.MaxConcurrentRequests * 8,
                                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                            })
                            : RateLimitPartition.GetNoLimiter("")));
        });
        return services;
    }

    /// <summary>Resolves the Bearer key of every /v1 request before the rate limiter sees it.</summary>
    public static void UseTernApi(this WebApplication app, ApiOptions options)
    {
        var adminHash = options.AdminKey is null ? null : ApiKeys.Hash(options.AdminKey);
        app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/v1"))
            {
                await next(context).ConfigureAwait(false);
                return;
            }
            var header = context.Request.Headers.Authorization.ToString();
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await ApiProblems.Unauthorized("Send Authorization: Bearer <API key>.").ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            var key = header["Bearer ".Length..].Trim();
            ApiCaller? caller;
            if (adminHash is not null && ApiKeys.Matches(key, adminHash))
            {
                caller = new ApiCaller("config-admin", null, options.AdminRateLimitPerMinute);
            }
            else
            {
                caller = await context.RequestServices.GetRequiredService<ApiKeyCache>().ResolveAsync(key, context.RequestAborted).ConfigureAwait(false);
            }
            if (caller is null)
            {
                context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
                await ApiProblems.Unauthorized("The API key is unknown or revoked.").ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            context.Items[CallerItem] = caller;
            await next(context).ConfigureAwait(false);
        });
        app.UseRateLimiter();

        var v1 = app.MapGroup("/v1");
        AdminEndpoints.Map(v1);
        ChannelEndpoints.Map(v1);
        RouteEndpoints.Map(v1);
        MessageEndpoints.Map(v1);
        WebhookEndpoints.Map(v1);
    }

    /// <summary>The calling tenant, or a problem: admin keys manage tenants and keys, not a tenant's resources.</summary>
    public static bool TryTenant(this HttpContext context, out string tenantId, out IResult? problem)
    {
        var caller = context.Caller();
        if (caller?.TenantId is { } id)
        {
            tenantId = id;
            problem = null;
            return true;
        }
        tenantId = "";
        problem = ApiProblems.Forbidden("This endpoint acts for a tenant: use a tenant key (admin keys manage tenants and keys).");
        return false;
    }
}
