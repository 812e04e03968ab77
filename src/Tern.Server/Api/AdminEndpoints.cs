using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tern.Core.Catalog;
using Tern.Core.Tenancy;
using Tern.Server.Configuration;

namespace Tern.Server.Api;

/// <summary>Tenants and API keys: admin keys only; a tenant key may list and revoke its own keys.</summary>
internal static class AdminEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapPost("/tenants", async Task<IResult> (HttpContext context, ITenantStore store, TernOptions options, TimeProvider time) =>
        {
            if (context.Caller() is not { IsAdmin: true }) return ApiProblems.Forbidden("Only an admin key can create tenants.");
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.CreateTenantRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            if (!Identifiers.IsValid(request.Id)) return ApiProblems.Field("id", $"must be {Identifiers.Rule}");
            if (request.RateLimitPerMinute is < 1 or > 1_000_000) return ApiProblems.Field("rate_limit_per_minute", "must be from 1 to 1000000");
            var tenant = new Tenant(request.Id!, request.RateLimitPerMinute, time.GetUtcNow());
            if (!await store.AddTenantAsync(tenant, context.RequestAborted)) return ApiProblems.Conflict("id", $"tenant '{request.Id}' exists");
            return Results.Json(ToResponse(tenant, options), ApiJsonContext.Default.TenantResponse, statusCode: StatusCodes.Status201Created);
        });

        v1.MapGet("/tenants", async Task<IResult> (HttpContext context, ITenantStore store, TernOptions options) =>
        {
            if (context.Caller() is not { IsAdmin: true }) return ApiProblems.Forbidden("Only an admin key can list tenants.");
            var tenants = await store.ListTenantsAsync(context.RequestAborted);
            return Results.Json(tenants.Select(t => ToResponse(t, options)).ToArray(), ApiJsonContext.Default.IReadOnlyListTenantResponse);
        });

        v1.MapPost("/keys", async Task<IResult> (HttpContext context, ITenantStore store, TernOptions options, TimeProvider time) =>
        {
            if (context.Caller() is not { IsAdmin: true }) return ApiProblems.Forbidden("Only an admin key can create keys.");
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.CreateKeyRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            if (request.Admin == true && request.Tenant is not null) return ApiProblems.Field("tenant", "an admin key has no tenant");
            if (request.Admin != true && request.Tenant is null) return ApiProblems.Field("tenant", "is required (or admin: true)");
            if (request.Tenant is not null && await store.GetTenantAsync(request.Tenant, context.RequestAborted) is null) return ApiProblems.Field("tenant", $"no tenant '{request.Tenant}'");
            if (request.Name is { Length: > 100 }) return ApiProblems.Field("name", "must be at most 100 characters");
            var (key, record) = ApiKeys.Create(request.Tenant, request.Name, time.GetUtcNow());
            await store.AddKeyAsync(record, context.RequestAborted);
            return Results.Json(ToResponse(record, key), ApiJsonContext.Default.KeyResponse, statusCode: StatusCodes.Status201Created);
        });

        v1.MapGet("/keys", async Task<IResult> (HttpContext context, ITenantStore store, string? tenant) =>
        {
            var caller = context.Caller()!;
            // A tenant sees its own keys; an admin sees all, or one tenant's.
            var scope = caller.IsAdmin ? tenant : caller.TenantId;
            var keys = await store.ListKeysAsync(scope, context.RequestAborted);
            return Results.Json(keys.Select(k => ToResponse(k, null)).ToArray(), ApiJsonContext.Default.IReadOnlyListKeyResponse);
        });

        v1.MapDelete("/keys/{id}", async Task<IResult> (HttpContext context, string id, ITenantStore store, ApiKeyCache cache, TimeProvider time) =>
        {
            var caller = context.Caller()!;
            var record = await store.GetKeyAsync(id, context.RequestAborted);
            // Another tenant's key is not found, not forbidden: its existence is not the caller's business.
            if (record is null || (!caller.IsAdmin && record.TenantId != caller.TenantId)) return ApiProblems.NotFound($"No key '{id}'.");
            await store.RevokeKeyAsync(id, time.GetUtcNow(), context.RequestAborted);
            cache.Invalidate(id);
            return Results.NoContent();
        });
    }

    private static TenantResponse ToResponse(Tenant tenant, TernOptions options) =>
        new(tenant.Id, tenant.RateLimitPerMinute ?? options.Api.RateLimitPerMinute, tenant.CreatedAt);

    internal static KeyResponse ToResponse(ApiKeyRecord record, string? key) =>
        new(record.Id, record.TenantId, record.IsAdmin, record.Name, record.CreatedAt, record.RevokedAt, key);
}
