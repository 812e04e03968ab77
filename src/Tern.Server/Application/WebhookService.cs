using System.Security.Cryptography;
using Tern.Channels.Http;
using Tern.Core.Catalog;
using Tern.Core.Events;
using Tern.Core.Tenancy;

namespace Tern.Server.Application;

/// <summary>A new subscription and, when Tern made the secret, that secret (shown once).</summary>
public sealed record CreatedWebhook(WebhookSubscription Webhook, string? GeneratedSecret);

/// <summary>A tenant's webhook subscriptions (signed tenant events).</summary>
public sealed class WebhookService(ITenantStore store, CatalogCache catalog, TimeProvider time, DestinationPolicy destinations, SecretRotation rotation)
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
        errors.Check("secret", WebhookSecret.Check(secret));
        if (errors.Count > 0) return errors.ToFailure();

        // A generated secret is shown once, in the answer that creates the subscription.
        var generated = secret is null ? WebhookSecret.Generate() : null;
        var id = "wh_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var webhook = new WebhookSubscription(id, tenant, parsed!, secret ?? generated!, events!.Distinct(StringComparer.Ordinal).ToArray(), time.GetUtcNow());
        await store.AddWebhookAsync(webhook, cancellationToken).ConfigureAwait(false);
        await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return new CreatedWebhook(webhook, generated);
    }

    /// <summary>
    /// A new secret (the one given, or a generated one shown once); the replaced one keeps signing for <paramref name="overlapSeconds"/>
    /// (default <c>Tern:Webhooks:SecretOverlap</c>), so every delivery in between carries both signatures.
    /// </summary>
    public async Task<Result<CreatedWebhook>> RotateSecretAsync(string tenant, string id, string? secret, int? overlapSeconds, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors();
        errors.Check("secret", WebhookSecret.Check(secret));
        if (overlapSeconds is < 0 or > MaxOverlapSeconds) errors.Check("overlap_seconds", $"must be from 0 to {MaxOverlapSeconds} (30 days)");
        if (errors.Count > 0) return errors.ToFailure();
        var existing = await store.GetWebhookAsync(tenant, id, cancellationToken).ConfigureAwait(false);
        if (existing is null) return NotFound(id);
        if (secret == existing.Secret) return ValidationFailure.Invalid("secret", "is the current secret; give a new one or leave it out");

        var generated = secret is null ? WebhookSecret.Generate() : null;
        var until = time.GetUtcNow() + (overlapSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : rotation.Overlap);
        if (!await store.RotateWebhookSecretAsync(tenant, id, secret ?? generated!, existing.Secret, until, cancellationToken).ConfigureAwait(false)) return NotFound(id);
        await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return new CreatedWebhook(existing with { Secret = secret ?? generated!, PreviousSecret = existing.Secret, PreviousSecretUntil = until }, generated);
    }

    /// <summary>Queues events for a subscription its receiver disabled (410 Gone) again; events from while it was disabled are not sent.</summary>
    public async Task<Result<WebhookSubscription>> EnableAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        if (await store.GetWebhookAsync(tenant, id, cancellationToken).ConfigureAwait(false) is null) return NotFound(id);
        await store.EnableWebhookAsync(tenant, id, cancellationToken).ConfigureAwait(false);
        await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        var enabled = await store.GetWebhookAsync(tenant, id, cancellationToken).ConfigureAwait(false);
        return enabled is null ? NotFound(id) : enabled;
    }

    public const int MaxOverlapSeconds = 30 * 24 * 3600;

    private static ValidationFailure NotFound(string id) => ValidationFailure.NotFound("id", "no such webhook", $"No webhook '{id}'.");

    public async Task<Result<string>> RemoveAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        if (!await store.RemoveWebhookAsync(tenant, id, cancellationToken).ConfigureAwait(false)) return NotFound(id);
        await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return id;
    }
}
