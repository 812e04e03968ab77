using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Tern.Channels.Webhook;
using Tern.Core.Memory;
using Tern.Core.Tenancy;
using Tern.Server.Configuration;

namespace Tern.Server.Api;

/// <summary>Authentication (Bearer API keys), authorization policies, rate limits and the /v1 endpoints.</summary>
public static class ApiSetup
{
    /// <summary>The REST API: key cache, the API key scheme and its policies, rate limits, the OpenAPI document. <paramref name="keyCheckInterval"/>: how often a cached key is checked against the store (revocations).</summary>
    public static IServiceCollection AddTernApi(this IServiceCollection services, ApiOptions options, IngressOptions ingress, TimeSpan keyCheckInterval)
    {
        services.AddSingleton(sp => new ApiKeyCache(sp.GetRequiredService<ITenantStore>(), options.KeyCacheCapacity, options.RateLimitPerMinute, options.AdminRateLimitPerMinute,
            sp.GetRequiredService<TimeProvider>(), keyCheckInterval));
        services.AddSingleton<IBoundedStructure>(sp => sp.GetRequiredService<ApiKeyCache>().Cache);
        // AddAuthenticationCore, not AddAuthentication: the latter also adds Data Protection, whose hosted service loads (and on
        // first start writes) an XML key ring under ~/.aspnet at start-up — about 12 MB of idle RSS and a file outside the data
        // directory, for cookies and tokens Tern does not issue. The API key handler needs only the core and a UrlEncoder.
        services.AddAuthenticationCore(authentication => authentication.DefaultScheme = ApiKeyAuthentication.Scheme);
        services.AddWebEncoders();
        new AuthenticationBuilder(services)
            .AddScheme<ApiKeyAuthenticationOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthentication.Scheme, scheme =>
            {
                scheme.AdminKeyHash = options.AdminKey is null ? null : ApiKeys.Hash(options.AdminKey);
                scheme.AdminRateLimitPerMinute = options.AdminRateLimitPerMinute;
            });
        services.AddAuthorizationBuilder().AddApiKeyPolicies();
        services.AddOpenApi("v1", openApi => openApi.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Tern API";
            document.Info.Description = "Channels, routes, messages and webhooks of a tenant; tenants and keys for admins. Bearer API keys. See docs/api.md.";
            ApiResponses.NullableIsOptional(document);
            return ApiResponses.DeclareSecurity(document);
        })
            .AddOperationTransformer(ApiResponses.DescribeOperation)
            .AddSchemaTransformer(ApiResponses.DescribeChannelSettings)
            .AddSchemaTransformer(ApiResponses.NullableIsOptional));
        // The HTTP JSON options are the API's (snake_case, nulls left out, numbers as numbers: as ApiJsonContext): TypedResults
        // write with them through ApiJsonContext in the resolver chain, and the OpenAPI schemas follow them.
        services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            json.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
            json.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        // Problems keep the traceId every problem of Tern has always carried under that name (the naming policy above would make it trace_id).
        services.Configure<ProblemDetailsOptions>(problems => problems.CustomizeProblemDetails += context =>
        {
            var extensions = context.ProblemDetails.Extensions;
            if (extensions.Remove("trace_id", out var traceId)) extensions["traceId"] = traceId;
        });
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
                // A /v1 request without a valid key is answered 401 outside every limit, as before a key was known.
                PartitionedRateLimiter.Create<HttpContext, string>(context =>
                    context.Request.Path.StartsWithSegments("/v1") && context.Caller() is not null
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

    /// <summary>
    /// Authentication first (the rate limiter partitions by the caller's key), then the rate limiter, then
    /// authorization (so a key of the wrong kind is refused within its own limit, as any other request of
    /// that key); the endpoints in route groups under the <c>tenant</c> and <c>admin</c> policies.
    /// </summary>
    public static void UseTernApi(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        // Every /v1 request needs a key, also where no endpoint matches (a 404, a 405): those carry no policy.
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/v1") && context.Caller() is null
                && context.GetEndpoint()?.Metadata.GetMetadata<IAuthorizeData>() is null)
            {
                await context.ChallengeAsync(ApiKeyAuthentication.Scheme).ConfigureAwait(false);
                return;
            }
            await next(context).ConfigureAwait(false);
        });

        // Any key: its own keys for a tenant key, all keys for an admin key.
        var v1 = app.MapGroup("/v1").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        var admin = v1.MapGroup("").RequireAuthorization(ApiKeyAuthentication.AdminPolicy)
            .ProducesProblem(StatusCodes.Status403Forbidden);
        var tenant = v1.MapGroup("").RequireAuthorization(ApiKeyAuthentication.TenantPolicy)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ForbiddenDetail("This endpoint acts for a tenant: use a tenant key (admin keys manage tenants and keys).");
        AdminEndpoints.Map(admin, v1);
        ChannelEndpoints.Map(tenant);
        RouteEndpoints.Map(tenant);
        MessageEndpoints.Map(tenant);
        WebhookEndpoints.Map(tenant);
    }
}
