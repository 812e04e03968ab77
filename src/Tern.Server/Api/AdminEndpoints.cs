using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Tern.Core.Catalog;
using Tern.Core.Tenancy;
using Tern.Server.Application;
using Tern.Server.Configuration;

namespace Tern.Server.Api;

/// <summary>Tenants and API keys: admin keys only (<paramref name="admin"/> group); a tenant key may list and revoke its own keys.</summary>
internal static class AdminEndpoints
{
    public static void Map(RouteGroupBuilder admin, RouteGroupBuilder anyKey)
    {
        admin.MapPost("/tenants", async Task<Results<Created<TenantResponse>, ProblemHttpResult>> (HttpContext context, TenantService tenants, TernOptions options) =>
        {
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.CreateTenantRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var added = await tenants.AddAsync(body.Value!.Id, body.Value.RateLimitPerMinute, context.RequestAborted);
            return added.IsOk
                ? TypedResults.Created((string?)null, ToResponse(added.Value, options))
                : ApiProblems.From(added.Failure!);
        }).Operation("tenants", "createTenant", "Create a tenant").ForbiddenDetail("Only an admin key can create tenants.").ReadsJson<CreateTenantRequest>().ProducesConflict();

        admin.MapGet("/tenants", async Task<Ok<TenantResponse[]>> (HttpContext context, ITenantStore store, TernOptions options) =>
        {
            var tenants = await store.ListTenantsAsync(context.RequestAborted);
            return TypedResults.Ok(tenants.Select(t => ToResponse(t, options)).ToArray());
        }).Operation("tenants", "listTenants", "List tenants").ForbiddenDetail("Only an admin key can list tenants.");

        admin.MapPost("/keys", async Task<Results<Created<KeyResponse>, ProblemHttpResult>> (HttpContext context, KeyService keys, TernOptions options) =>
        {
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.CreateKeyRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            var created = await keys.CreateAsync(request.Tenant, request.Admin == true, request.Name, createTenant: false, context.RequestAborted);
            return created.IsOk
                ? TypedResults.Created((string?)null, ToResponse(created.Value.Record, created.Value.Key))
                : ApiProblems.From(created.Failure!);
        }).Operation("keys", "createKey", "Create an API key").ForbiddenDetail("Only an admin key can create keys.").ReadsJson<CreateKeyRequest>();

        anyKey.MapGet("/keys", async Task<Ok<KeyResponse[]>> (HttpContext context, ITenantStore store, string? tenant) =>
        {
            var caller = context.Caller()!;
            // A tenant sees its own keys; an admin sees all, or one tenant's.
            var scope = caller.IsAdmin ? tenant : caller.TenantId;
            var keys = await store.ListKeysAsync(scope, context.RequestAborted);
            return TypedResults.Ok(keys.Select(k => ToResponse(k, null)).ToArray());
        }).Operation("keys", "listKeys", "List API keys");

        anyKey.MapDelete("/keys/{id}", async Task<Results<NoContent, ProblemHttpResult>> (HttpContext context, string id, KeyService keys, ApiKeyCache cache) =>
        {
            var caller = context.Caller()!;
            var revoked = await keys.RevokeAsync(caller.IsAdmin ? null : caller.TenantId, id, context.RequestAborted);
            if (!revoked.IsOk) return ApiProblems.From(revoked.Failure!);
            cache.Invalidate(id);
            return TypedResults.NoContent();
        }).Operation("keys", "revokeKey", "Revoke an API key").ProducesNotFound();
    }

    private static TenantResponse ToResponse(Tenant tenant, TernOptions options) =>
        new(tenant.Id, tenant.RateLimitPerMinute ?? options.Api.RateLimitPerMinute, tenant.CreatedAt);

    internal static KeyResponse ToResponse(ApiKeyRecord record, string? key) =>
        new(record.Id, record.TenantId, record.IsAdmin, record.Name, record.CreatedAt, record.RevokedAt, key);
}
