using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tern.Core.Catalog;
using Tern.Core.Events;
using Tern.Core.Tenancy;
using Tern.Server.Configuration;

namespace Tern.Server.Api;

/// <summary>A tenant's webhook subscriptions and each one's delivery log.</summary>
internal static class WebhookEndpoints
{

    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapGet("/webhooks", async Task<IResult> (HttpContext context, ITenantStore store) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var hooks = await store.ListWebhooksAsync(tenant, context.RequestAborted);
            return Results.Json(hooks.Select(h => ToResponse(h, null)).ToArray(), ApiJsonContext.Default.IReadOnlyListWebhookResponse);
        });

        v1.MapPost("/webhooks", async Task<IResult> (HttpContext context, ITenantStore store, CatalogCache catalog, TernOptions options, TimeProvider time) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.WebhookRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            if (request.Url is null) ChannelEndpoints.Check(errors, "url", "is required");
            ChannelEndpoints.Check(errors, "url", CatalogRules.Url(request.Url, out var url));
            if (request.Events is null || request.Events.Count == 0) ChannelEndpoints.Check(errors, "events", $"at least one of: {string.Join(", ", TenantEvents.All)}");
            else
            {
                for (var i = 0; i < request.Events.Count; i++)
                {
                    if (!TenantEvents.All.Contains(request.Events[i])) ChannelEndpoints.Check(errors, $"events[{i}]", $"must be one of: {string.Join(", ", TenantEvents.All)}");
                }
            }
            ChannelEndpoints.Check(errors, "secret", CatalogRules.Secret(request.Secret));
            if (errors.Count > 0) return ApiProblems.Fields(errors);

            // A generated secret is shown once, in this answer.
            var secret = request.Secret ?? "whsec_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
            var id = "wh_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            var webhook = new WebhookSubscription(id, tenant, url!, secret, request.Events!.Distinct(StringComparer.Ordinal).ToArray(), time.GetUtcNow());
            await store.AddWebhookAsync(webhook, context.RequestAborted);
            await catalog.RefreshAsync(force: true, context.RequestAborted);
            return Results.Json(ToResponse(webhook, request.Secret is null ? secret : null), ApiJsonContext.Default.WebhookResponse, statusCode: StatusCodes.Status201Created);
        });

        v1.MapGet("/webhooks/{id}", async Task<IResult> (HttpContext context, string id, ITenantStore store) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var hook = await store.GetWebhookAsync(tenant, id, context.RequestAborted);
            return hook is null ? ApiProblems.NotFound($"No webhook '{id}'.") : Results.Json(ToResponse(hook, null), ApiJsonContext.Default.WebhookResponse);
        });

        v1.MapDelete("/webhooks/{id}", async Task<IResult> (HttpContext context, string id, ITenantStore store, CatalogCache catalog) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            if (!await store.RemoveWebhookAsync(tenant, id, context.RequestAborted)) return ApiProblems.NotFound($"No webhook '{id}'.");
            await catalog.RefreshAsync(force: true, context.RequestAborted);
            return Results.NoContent();
        });

        v1.MapGet("/webhooks/{id}/deliveries", async Task<IResult> (HttpContext context, string id, ITenantStore store, IMessageQueries queries) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            if (await store.GetWebhookAsync(tenant, id, context.RequestAborted) is null) return ApiProblems.NotFound($"No webhook '{id}'.");
            var query = context.Request.Query;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            var (page, pageSize) = ApiPaging.Read(query, errors);
            if (errors.Count > 0) return ApiProblems.Fields(errors);
            var result = await queries.WebhookDeliveriesAsync(tenant, id, page, pageSize, context.RequestAborted);
            return Results.Json(new WebhookDeliveryPage(
                result.Items.Select(d => new WebhookDeliveryResponse(d.Id, d.Type, d.OrderKey, d.Status, d.Attempts, d.LastError, d.CreatedAt, d.UpdatedAt)).ToArray(),
                result.Page, result.PageSize, result.Total), ApiJsonContext.Default.WebhookDeliveryPage);
        });
    }

    private static WebhookResponse ToResponse(WebhookSubscription h, string? secret) => new(h.Id, h.Url.ToString(), h.Events, h.CreatedAt, secret);
}
