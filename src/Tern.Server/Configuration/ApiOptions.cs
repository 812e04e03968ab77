namespace Tern.Server.Configuration;

/// <param name="AdminKey">An admin key from configuration (besides admin keys made with `tern keys create --admin`); compared by hash.</param>
/// <param name="RateLimitPerMinute">Requests per key per minute unless the tenant has its own limit.</param>
/// <param name="AdminRateLimitPerMinute">Requests per admin key per minute.</param>
/// <param name="MaxConcurrentRequests">API requests served at once, over all keys.</param>
/// <param name="MaxBodyBytes">Largest API request body.</param>
/// <param name="KeyCacheCapacity">API keys kept in memory.</param>
public sealed record ApiOptions(string? AdminKey, int RateLimitPerMinute, int AdminRateLimitPerMinute, int MaxConcurrentRequests, int MaxBodyBytes, int KeyCacheCapacity)
{
    public override string ToString() =>
        $"ApiOptions {{ AdminKey = {(AdminKey is null ? "none" : "***")}, RateLimitPerMinute = {RateLimitPerMinute}, MaxConcurrentRequests = {MaxConcurrentRequests} }}";
}
