using Tern.Core.Catalog;
using Tern.Core.Tenancy;
using Tern.Server.Api;

namespace Tern.Server.Application;

/// <summary>A new key: the key itself (shown once) and what is stored of it.</summary>
public sealed record CreatedKey(string Key, ApiKeyRecord Record);

/// <summary>API keys for the CLI and the API: made here, stored hashed.</summary>
public sealed class KeyService(ITenantStore store, TimeProvider time)
{
    public const int MaxNameLength = 100;

    /// <summary>
    /// A tenant key (<paramref name="tenant"/>) or an admin key (<paramref name="admin"/>). With
    /// <paramref name="createTenant"/> (the CLI's one-command onboarding) a tenant that does not exist is made
    /// first; otherwise it must exist.
    /// </summary>
    public async Task<Result<CreatedKey>> CreateAsync(string? tenant, bool admin, string? name, bool createTenant, CancellationToken cancellationToken)
    {
        if (admin && tenant is not null) return ValidationFailure.Invalid("tenant", "an admin key has no tenant");
        if (!admin && tenant is null) return ValidationFailure.Invalid("tenant", "is required (or admin: true)");
        if (tenant is not null)
        {
            if (createTenant)
            {
                if (CatalogRules.Id(tenant) is { } problem) return ValidationFailure.Invalid("tenant", problem);
                await store.AddTenantAsync(new Tenant(tenant, null, time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
            }
            else if (await store.GetTenantAsync(tenant, cancellationToken).ConfigureAwait(false) is null)
            {
                return ValidationFailure.Invalid("tenant", $"no tenant '{tenant}'");
            }
        }
        if (name is { Length: > MaxNameLength }) return ValidationFailure.Invalid("name", $"must be at most {MaxNameLength} characters");
        var (key, record) = ApiKeys.Create(tenant, name, time.GetUtcNow());
        await store.AddKeyAsync(record, cancellationToken).ConfigureAwait(false);
        return new CreatedKey(key, record);
    }

    /// <summary>Keys of one tenant, or all with null.</summary>
    public Task<IReadOnlyList<ApiKeyRecord>> ListAsync(string? tenant, CancellationToken cancellationToken) => store.ListKeysAsync(tenant, cancellationToken);

    /// <summary>
    /// Revokes a key; <paramref name="owner"/> is the caller's tenant (null: an admin or the operator, who may revoke any).
    /// The value is false when the key was revoked already.
    /// </summary>
    public async Task<Result<bool>> RevokeAsync(string? owner, string id, CancellationToken cancellationToken)
    {
        var record = await store.GetKeyAsync(id, cancellationToken).ConfigureAwait(false);
        // Another tenant's key is not found, not forbidden: its existence is not the caller's business.
        if (record is null || (owner is not null && record.TenantId != owner)) return ValidationFailure.NotFound("id", "no such key, or revoked already", $"No key '{id}'.");
        return await store.RevokeKeyAsync(id, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
    }
}
