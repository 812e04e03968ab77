namespace Tern.Core.Tenancy;

public sealed record Tenant(string Id, int? RateLimitPerMinute, DateTimeOffset CreatedAt);

/// <summary>A stored API key: never the key itself, only its hash.</summary>
/// <param name="Id">The public part of the key (<c>tern_{id}_{secret}</c>).</param>
/// <param name="TenantId">Null for an admin key.</param>
public sealed record ApiKeyRecord(string Id, string? TenantId, string Hash, string? Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    public bool IsAdmin => TenantId is null;

    public override string ToString() => $"ApiKeyRecord {{ Id = {Id}, Tenant = {TenantId ?? "(admin)"}, Revoked = {RevokedAt is not null} }}";
}

/// <summary>A tenant's webhook subscription. The secret signs deliveries and is never shown again.</summary>
/// <param name="PreviousSecret">The secret before the last rotation; it signs too until <paramref name="PreviousSecretUntil"/>.</param>
/// <param name="DisabledAt">When its receiver answered 410 Gone; no events are queued for it until it is enabled again.</param>
public sealed record WebhookSubscription(
    string Id, string TenantId, Uri Url, string Secret, IReadOnlyList<string> Events, DateTimeOffset CreatedAt,
    string? PreviousSecret = null, DateTimeOffset? PreviousSecretUntil = null, DateTimeOffset? DisabledAt = null, string? DisabledReason = null)
{
    public override string ToString() =>
        $"WebhookSubscription {{ Id = {Id}, Tenant = {TenantId}, Url = {Url}, Events = {string.Join(",", Events)}{(DisabledAt is null ? "" : ", disabled")} }}";
}

/// <summary>Tenants, API keys and webhook subscriptions.</summary>
public interface ITenantStore
{
    Task<bool> AddTenantAsync(Tenant tenant, CancellationToken cancellationToken);

    Task<Tenant?> GetTenantAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<Tenant>> ListTenantsAsync(CancellationToken cancellationToken);

    /// <summary>Stores a new key; an id that exists already throws <see cref="InvalidOperationException"/> and changes nothing.</summary>
    Task AddKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken);

    Task<ApiKeyRecord?> GetKeyAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(string? tenantId, CancellationToken cancellationToken);

    /// <summary>Revokes a key; false when there is no such key or it was revoked already.</summary>
    Task<bool> RevokeKeyAsync(string id, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Bumped on every key change; caches of keys compare it.</summary>
    Task<long> GetKeysVersionAsync(CancellationToken cancellationToken);

    Task<bool> AddWebhookAsync(WebhookSubscription webhook, CancellationToken cancellationToken);

    Task<IReadOnlyList<WebhookSubscription>> ListWebhooksAsync(string tenantId, CancellationToken cancellationToken);

    Task<WebhookSubscription?> GetWebhookAsync(string tenantId, string id, CancellationToken cancellationToken);

    Task<bool> RemoveWebhookAsync(string tenantId, string id, CancellationToken cancellationToken);

    /// <summary>A new secret; <paramref name="previousSecret"/> (the one it replaces) keeps signing until <paramref name="previousUntil"/>. False when there is no such subscription.</summary>
    Task<bool> RotateWebhookSecretAsync(string tenantId, string id, string secret, string previousSecret, DateTimeOffset previousUntil, CancellationToken cancellationToken);

    /// <summary>Queues events for a disabled subscription again. False when there is no such subscription.</summary>
    Task<bool> EnableWebhookAsync(string tenantId, string id, CancellationToken cancellationToken);
}
