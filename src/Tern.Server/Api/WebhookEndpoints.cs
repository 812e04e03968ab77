using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Tern.Core.Tenancy;
using Tern.Server.Application;
using Tern.Server.Configuration;

namespace Tern.Server.Api;

/// <summary>A tenant's webhook subscriptions and each one's delivery log.</summary>
internal static class WebhookEndpoints
{
    public static void Map(RouteGroupBuilder group)
    {
        group.MapGet("/webhooks", async Task<Ok<WebhookResponse[]>> (HttpContext context, WebhookService webhooks) =>
        {
            var tenant = context.TenantId();
            var hooks = await webhooks.ListAsync(tenant, context.RequestAborted);
            return TypedResults.Ok(hooks.Select(h => ToResponse(h, null)).ToArray());
        }).Operation("webhooks", "listWebhooks", "List webhook subscriptions");

        group.MapPost("/webhooks", async Task<Results<Created<WebhookResponse>, ProblemHttpResult>> (HttpContext context, WebhookService webhooks, TernOptions options) =>
        {
            var tenant = context.TenantId();
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.WebhookRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            var added = await webhooks.AddAsync(tenant, request.Url, request.Events, request.Secret, context.RequestAborted);
            return added.IsOk
                ? TypedResults.Created((string?)null, ToResponse(added.Value.Webhook, added.Value.GeneratedSecret))
                : ApiProblems.From(added.Failure!);
        }).Operation("webhooks", "createWebhook", "Subscribe a webhook to tenant events").ReadsJson<WebhookRequest>();

        group.MapGet("/webhooks/{id}", async Task<Results<Ok<WebhookResponse>, ProblemHttpResult>> (HttpContext context, string id, WebhookService webhooks) =>
        {
            var tenant = context.TenantId();
            var hook = await webhooks.FindAsync(tenant, id, context.RequestAborted);
            return hook is null ? ApiProblems.NotFound($"No webhook '{id}'.") : TypedResults.Ok(ToResponse(hook, null));
        }).Operation("webhooks", "getWebhook", "Get a webhook subscription").ProducesNotFound();

        group.MapPost("/webhooks/{id}/rotate-secret", async Task<Results<Ok<WebhookResponse>, ProblemHttpResult>> (HttpContext context, string id, WebhookService webhooks, TernOptions options) =>
        {
            var tenant = context.TenantId();
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.RotateSecretRequest, options.Api.MaxBodyBytes, emptyIsDefault: true);
            if (body.Problem is not null) return body.Problem;
            var rotated = await webhooks.RotateSecretAsync(tenant, id, body.Value?.Secret, body.Value?.OverlapSeconds, context.RequestAborted);
            return rotated.IsOk ? TypedResults.Ok(ToResponse(rotated.Value.Webhook, rotated.Value.GeneratedSecret)) : ApiProblems.From(rotated.Failure!);
        }).Operation("webhooks", "rotateWebhookSecret", "Rotate a webhook's secret",
            "The new secret signs from now on; the replaced one signs too until previous_secret_expires_at, so every delivery in between carries both signatures.")
            .ReadsJson<RotateSecretRequest>().ProducesNotFound();

        group.MapPost("/webhooks/{id}/enable", async Task<Results<Ok<WebhookResponse>, ProblemHttpResult>> (HttpContext context, string id, WebhookService webhooks) =>
        {
            var tenant = context.TenantId();
            var enabled = await webhooks.EnableAsync(tenant, id, context.RequestAborted);
            return enabled.IsOk ? TypedResults.Ok(ToResponse(enabled.Value, null)) : ApiProblems.From(enabled.Failure!);
        }).Operation("webhooks", "enableWebhook", "Enable a disabled webhook",
            "A subscription whose receiver answered 410 Gone is disabled; this queues events for it again (events from while it was disabled are not sent).")
            .ProducesNotFound();

        group.MapDelete("/webhooks/{id}", async Task<Results<NoContent, ProblemHttpResult>> (HttpContext context, string id, WebhookService webhooks) =>
        {
            var tenant = context.TenantId();
            var removed = await webhooks.RemoveAsync(tenant, id, context.RequestAborted);
            return removed.IsOk ? TypedResults.NoContent() : ApiProblems.From(removed.Failure!);
        }).Operation("webhooks", "deleteWebhook", "Delete a webhook subscription").ProducesNotFound();

        group.MapGet("/webhooks/{id}/deliveries", async Task<Results<Ok<WebhookDeliveryPage>, ProblemHttpResult>> (HttpContext context, string id, ITenantStore store, IMessageQueries queries) =>
        {
            var tenant = context.TenantId();
            if (await store.GetWebhookAsync(tenant, id, context.RequestAborted) is null) return ApiProblems.NotFound($"No webhook '{id}'.");
            var query = context.Request.Query;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            var (page, pageSize) = ApiPaging.Read(query, errors);
            if (errors.Count > 0) return ApiProblems.Fields(errors);
            var result = await queries.WebhookDeliveriesAsync(tenant, id, page, pageSize, context.RequestAborted);
            return TypedResults.Ok(new WebhookDeliveryPage(
                result.Items.Select(d => new WebhookDeliveryResponse(d.Id, d.Type, d.OrderKey, d.Status, d.Attempts, d.LastError, d.CreatedAt, d.UpdatedAt)).ToArray(),
                result.Page, result.PageSize, result.Total));
        }).Operation("webhooks", "listWebhookDeliveries", "List a webhook's deliveries").ReadsPaging().ProducesNotFound().ProducesValidationProblem();
    }

    private static WebhookResponse ToResponse(WebhookSubscription h, string? secret) =>
        new(h.Id, h.Url.ToString(), h.Events, h.CreatedAt, secret, h.DisabledAt is null ? "active" : "disabled", h.DisabledAt, h.DisabledReason,
            h.PreviousSecret is not null && h.PreviousSecretUntil > DateTimeOffset.UtcNow ? h.PreviousSecretUntil : null);
}
