using System.Security.Cryptography;
using System.Text;
using Tern.Core.Tenancy;

namespace Tern.Server.Api;

/// <summary>
/// API keys look like <c>tern_{id}_{secret}</c>: the id finds the stored record without scanning, the
/// secret is 32 random bytes, and only the SHA-256 of the whole key is stored. A fast hash is right
/// here: the secret has 256 bits of entropy, so there is nothing for a slow hash to protect.
/// </summary>
public static class ApiKeys
{
    private const string Prefix = "tern_";
    private const string IdAlphabet = "abcdefghijkmnopqrstuvwxyz23456789";

    public static (string Key, ApiKeyRecord Record) Create(string? tenantId, string? name, DateTimeOffset now)
    {
        var id = RandomNumberGenerator.GetString(IdAlphabet, 12);
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var key = $"{Prefix}{id}_{secret}";
        return (key, new ApiKeyRecord(id, tenantId, Hash(key), name, now, null));
    }

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>The id part of a well-formed key; null otherwise.</summary>
    public static string? IdOf(string key)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal) || key.Length > 200) return null;
        var rest = key.AsSpan(Prefix.Length);
        var underscore = rest.IndexOf('_');
        if (underscore != 12 || rest.Length - underscore - 1 < 32) return null;
        return rest[..underscore].ToString();
    }

    /// <summary>Compares a presented key with a stored hash in constant time.</summary>
    public static bool Matches(string key, string storedHash)
    {
        Span<byte> presented = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), presented);
        Span<byte> stored = stackalloc byte[32];
        return Convert.FromHexString(storedHash, stored, out _, out var written) == System.Buffers.OperationStatus.Done
            && written == 32
            && CryptographicOperations.FixedTimeEquals(presented, stored);
    }
}

/// <summary>Who is calling: resolved from the Bearer key once per request.</summary>
public sealed record ApiCaller(string KeyId, string? TenantId, int RateLimitPerMinute)
{
    public bool IsAdmin => TenantId is null;
}
