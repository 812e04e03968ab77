using Tern.Core.Memory;
using Tern.Core.Tenancy;

namespace Tern.Server.Api;

/// <summary>
/// The hot read of every API request: key id → caller. Bounded (hit and miss counts in /memory),
/// dropped whole when the keys version moves (a revocation by the CLI is seen within
/// <c>checkInterval</c>) and invalidated at once on a revocation through the API.
/// </summary>
public sealed class ApiKeyCache(ITenantStore store, int capacity, int defaultRateLimit, int adminRateLimit, TimeProvider time, TimeSpan checkInterval) : IDisposable
{
    private readonly SemaphoreSlim _versionLock = new(1, 1);
    private long _version = -1;
    private long _nextCheck;

    public BoundedLruCache<string, Entry> Cache { get; } = new("api-keys", capacity, TimeSpan.FromMinutes(5), time, StringComparer.Ordinal);

    /// <summary>The caller for a presented key; null when unknown, malformed or revoked.</summary>
    public async Task<ApiCaller?> ResolveAsync(string key, CancellationToken cancellationToken)
    {
        var id = ApiKeys.IdOf(key);
        if (id is null) return null;
        await CheckVersionAsync(cancellationToken).ConfigureAwait(false);
        if (!Cache.TryGet(id, out var entry))
        {
            var record = await store.GetKeyAsync(id, cancellationToken).ConfigureAwait(false);
            int? limit = null;
            if (record?.TenantId is { } tenantId) limit = (await store.GetTenantAsync(tenantId, cancellationToken).ConfigureAwait(false))?.RateLimitPerMinute;
            // Admin keys onboard tenants in bursts: they get their own, larger allowance.
            entry = new Entry(record, record is { TenantId: null } ? adminRateLimit : limit ?? defaultRateLimit);
            Cache.Set(id, entry);
        }
        if (entry.Record is not { RevokedAt: null } record1 || !ApiKeys.Matches(key, record1.Hash)) return null;
        return new ApiCaller(record1.Id, record1.TenantId, entry.RateLimit);
    }

    public void Invalidate(string keyId) => Cache.Remove(keyId);

    public void Dispose() => _versionLock.Dispose();

    private async Task CheckVersionAsync(CancellationToken cancellationToken)
    {
        if (time.GetTimestamp() < Interlocked.Read(ref _nextCheck)) return;
        await _versionLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (time.GetTimestamp() < Interlocked.Read(ref _nextCheck)) return;
            var version = await store.GetKeysVersionAsync(cancellationToken).ConfigureAwait(false);
            if (version != _version)
            {
                Cache.Trim(0);
                _version = version;
            }
            Interlocked.Exchange(ref _nextCheck, time.GetTimestamp() + (long)(checkInterval.TotalSeconds * time.TimestampFrequency));
        }
        finally
        {
            _versionLock.Release();
        }
    }

    /// <summary>A cached lookup; a null record remembers an unknown id so a flood of bad keys stays off the database.</summary>
    public sealed record Entry(ApiKeyRecord? Record, int RateLimit);
}
