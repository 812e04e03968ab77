using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Tenancy;
using Tern.Server.Configuration;

namespace Tern.Server.Api;

/// <summary>A tenant's channels. Secrets are write-only: answers say whether one is set, never what it is.</summary>
internal static class ChannelEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapGet("/channels", async Task<IResult> (HttpContext context, CatalogCache catalog) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var snapshot = await catalog.RefreshAsync(force: false, context.RequestAborted);
            var channels = snapshot.Channels.Values.Where(c => c.TenantId == tenant && c.Type != ChannelTypes.TenantWebhook).OrderBy(c => c.Id, StringComparer.Ordinal);
            return Results.Json(channels.Select(ToResponse).ToArray(), ApiJsonContext.Default.IReadOnlyListChannelResponse);
        });

        v1.MapPost("/channels", async Task<IResult> (HttpContext context, CatalogCache catalog, ICatalogStore store, TernOptions options) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.ChannelRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            Check(errors, "id", CatalogRules.Id(request.Id));
            Check(errors, "type", CatalogRules.Type(request.Type ?? ChannelTypes.Webhook));
            Check(errors, "url", CatalogRules.Url(request.Url, out var url));
            Check(errors, "secret", CatalogRules.Secret(request.Secret));
            Check(errors, "max_concurrency", CatalogRules.MaxConcurrency(request.MaxConcurrency));
            if (errors.Count > 0) return ApiProblems.Fields(errors);

            var channel = new ChannelDefinition(request.Id!, request.Type ?? ChannelTypes.Webhook, request.Secret, url, request.MaxConcurrency, tenant);
            // Channel ids are global (they are in the inbound URL), so a taken id is a conflict whoever owns it.
            if (!await store.AddChannelAsync(channel, context.RequestAborted)) return ApiProblems.Conflict("id", $"channel id '{request.Id}' is taken");
            await catalog.RefreshAsync(force: true, context.RequestAborted);
            return Results.Json(ToResponse(channel), ApiJsonContext.Default.ChannelResponse, statusCode: StatusCodes.Status201Created);
        });

        v1.MapGet("/channels/{id}", async Task<IResult> (HttpContext context, string id, CatalogCache catalog) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var channel = await FindAsync(catalog, tenant, id, context.RequestAborted);
            return channel is null ? ApiProblems.NotFound($"No channel '{id}'.") : Results.Json(ToResponse(channel), ApiJsonContext.Default.ChannelResponse);
        });

        v1.MapMethods("/channels/{id}", ["PATCH"], async Task<IResult> (HttpContext context, string id, CatalogCache catalog, ICatalogStore store, TernOptions options) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var channel = await FindAsync(catalog, tenant, id, context.RequestAborted);
            if (channel is null) return ApiProblems.NotFound($"No channel '{id}'.");
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.ChannelRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            if (request.Id is not null && request.Id != id) Check(errors, "id", "cannot be changed");
            if (request.Type is not null && request.Type != channel.Type) Check(errors, "type", "cannot be changed");
            Check(errors, "url", CatalogRules.Url(request.Url, out var url));
            Check(errors, "secret", CatalogRules.Secret(request.Secret));
            Check(errors, "max_concurrency", CatalogRules.MaxConcurrency(request.MaxConcurrency));
            if (errors.Count > 0) return ApiProblems.Fields(errors);

            var updated = channel with
            {
                Url = url ?? channel.Url,
                Secret = request.Secret ?? channel.Secret,
                MaxConcurrency = request.MaxConcurrency ?? channel.MaxConcurrency,
            };
            await store.UpdateChannelAsync(updated, context.RequestAborted);
            await catalog.RefreshAsync(force: true, context.RequestAborted);
            return Results.Json(ToResponse(updated), ApiJsonContext.Default.ChannelResponse);
        });

        v1.MapDelete("/channels/{id}", async Task<IResult> (HttpContext context, string id, CatalogCache catalog, ICatalogStore store) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var channel = await FindAsync(catalog, tenant, id, context.RequestAborted);
            if (channel is null) return ApiProblems.NotFound($"No channel '{id}'.");
            var users = catalog.Current.Routes.Where(r => r.SourceChannel == id || r.Destinations.Any(d => d.ChannelId == id)).Select(r => r.Id).ToArray();
            if (users.Length > 0) return ApiProblems.Conflict("id", $"routes use this channel: {string.Join(", ", users)}; delete them first");
            await store.RemoveChannelAsync(id, context.RequestAborted);
            await catalog.RefreshAsync(force: true, context.RequestAborted);
            return Results.NoContent();
        });

        v1.MapGet("/channels/{id}/status", async Task<IResult> (HttpContext context, string id, CatalogCache catalog, IMessageQueries queries, DeliveryEngine engine, TimeProvider time) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var channel = await FindAsync(catalog, tenant, id, context.RequestAborted);
            if (channel is null) return ApiProblems.NotFound($"No channel '{id}'.");
            var status = await queries.ChannelStatusAsync(id, time.GetUtcNow().ToUnixTimeMilliseconds(), context.RequestAborted);
            engine.ParkedChannels.TryGetValue(id, out var parkedUntil);
            return Results.Json(
                new ChannelStatusResponse(id, status.Pending, status.Failed, status.Sent, status.LagSeconds, status.LastError, status.LastErrorAt,
                    parkedUntil == default ? null : parkedUntil),
                ApiJsonContext.Default.ChannelStatusResponse);
        });
    }

    /// <summary>The tenant's channel; another tenant's is "not found", not "forbidden".</summary>
    internal static async Task<ChannelDefinition?> FindAsync(CatalogCache catalog, string tenant, string id, CancellationToken cancellationToken)
    {
        var snapshot = await catalog.GetAsync(cancellationToken);
        if (!snapshot.Channels.TryGetValue(id, out var channel)) snapshot = await catalog.RefreshAsync(force: true, cancellationToken);
        return snapshot.Channels.TryGetValue(id, out channel) && channel.TenantId == tenant && channel.Type != ChannelTypes.TenantWebhook ? channel : null;
    }

    internal static void Check(Dictionary<string, string[]> errors, string field, string? problem)
    {
        if (problem is not null && !errors.ContainsKey(field)) errors[field] = [problem];
    }

    private static ChannelResponse ToResponse(ChannelDefinition c) =>
        new(c.Id, c.Type, c.Url?.ToString(), c.Secret is not null, c.MaxConcurrency, $"/hooks/{c.Type}/{c.Id}");
}
