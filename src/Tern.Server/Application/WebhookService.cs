using System.Security.Cryptography;
using Tern.Channels.Http;
using Tern.Core.Catalog;
using Tern.Core.Events;
using Tern.Core.Tenancy;

namespace Tern.Server.Application;

/// <summary>A new subscription and, when Tern made the secret, that secret (shown once).</summary>
public sealed record CreatedWebhook(WebhookSubscription Webhook, string? GeneratedSecret);

/// <summary>A tenant's webhook subscriptions (signed tenant events).</summary>
public sealed class WebhookService(ITenantStore store, CatalogCache catalog, TimeProvider time, DestinationPolicy destinations)
{
    public Task<IReadOnlyList<WebhookSubscription>> ListAsync(string tenant, CancellationToken cancellationToken) => store.ListWebhooksAsync(tenant, cancellationToken);

    public Task<WebhookSubscription?> FindAsync(string tenant, string id, CancellationToken cancellationToken) => store.GetWebhookAsync(tenant, id, cancellationToken);

    public async Task<Result<CreatedWebhook>> AddAsync(string tenant, string? url, IReadOnlyList<string>? events, string? secret, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors();
        if (url is null) errors.Check("url", "is required");
        errors.Check("url", CatalogRules.Url(url, out var parsed));
        // Tern POSTs events to it: not to the host's own network (unless the operator allows it).
        if (parsed is not null) errors.Check("url", await destinations.CheckAsync(parsed, cancellationToken).ConfigureAwait(false));
        if (events is null || events.Count == 0)
        {
            errors.Check("events", $"at least one of: {string.Join(", ", TenantEvents.All)}");
        }
        else
        {
            for (var i = 0; i < events.Count; i++)
            {
                if (!TenantEvents.All.Contains(events[i])) errors.Check($"events[{i}]", $"must be one of: {string.Join(", ", TenantEvents.All)}");
            }
        }
        errors.Check("secret", CatalogRules.Secret(secret));
        if (errors.Count > 0) return errors.ToFailure();

        // A generated secret is shown once, in the answer that creates the subscription.
        var generated = secret is null ? "whsec_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)) : null;
        var id = "wh_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var webhook = new WebhookSubscription(id, tenant, parsed!, secret ?? generated!, events!.Distinct(StringComparer.Ordinal).ToArray(), time.GetUtcNow());
        await store.AddWebhookAsync(webhook, cancellationToken).ConfigureAwait(false);
        await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return new CreatedWebhook(webhook, generated);
    }

    public async Task<Result<string>> RemoveAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        if (!await store.RemoveWebhookAsync(tenant, id, cancellationToken).ConfigureAwait(false)) return ValidationFailure.NotFound("id", "no such webhook", $"No webhook '{id}'.");
        await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return id;
    }
}
