using Tern.Core.Catalog;
using Tern.Core.Tenancy;

namespace Tern.Server.Application;

/// <summary>Tenants of the REST API, for the CLI and the admin API.</summary>
public sealed class TenantService(ITenantStore store, TimeProvider time)
{
    public const int MaxRateLimit = 1_000_000;

    public Task<IReadOnlyList<Tenant>> ListAsync(CancellationToken cancellationToken) => store.ListTenantsAsync(cancellationToken);

    /// <summary>Adds a tenant; the first problem stops it (as the API has always answered).</summary>
    public async Task<Result<Tenant>> AddAsync(string? id, int? rateLimitPerMinute, CancellationToken cancellationToken)
    {
        if (CatalogRules.Id(id) is { } idProblem) return ValidationFailure.Invalid("id", idProblem);
        if (rateLimitPerMinute is < 1 or > MaxRateLimit) return ValidationFailure.Invalid("rate_limit_per_minute", $"must be from 1 to {MaxRateLimit}");
        var tenant = new Tenant(id!, rateLimitPerMinute, time.GetUtcNow());
        if (!await store.AddTenantAsync(tenant, cancellationToken).ConfigureAwait(false)) return ValidationFailure.Conflict("id", $"tenant '{id}' exists");
        return tenant;
    }
}
