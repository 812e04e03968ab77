using System.Security.Cryptography;
using System.Text;

namespace Tern.Storage.Secrets;

/// <summary>
/// Seals secrets (tokens, app secrets, webhook secrets) with AES-256-GCM before they are written and unseals them
/// when read, so a copy of the database alone gives none of them away. A sealed value is text:
/// <c>sealed:v1:&lt;key id&gt;:&lt;base64(nonce | ciphertext | tag)&gt;</c>; anything else is a plain value from before
/// sealing. The associated data is the value's place (<c>channels.secret:&lt;id&gt;</c>), so a sealed value moved to
/// another row or column does not open.
/// </summary>
public sealed class SecretSealer
{
    public const int KeyBytes = 32;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private const string Prefix = "sealed:";
    private const string Version = "v1";

    private readonly byte[] _key;

    private SecretSealer(byte[] key)
    {
        _key = key;
        KeyId = IdOf(key);
    }

    /// <summary>A short, public name of the key (8 hex digits of a hash of it): which key sealed a value, never the key.</summary>
    public string KeyId { get; }

    /// <summary>A sealer for a 256-bit key (copied).</summary>
    public static SecretSealer FromKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeyBytes) throw new ArgumentException($"a secret key is {KeyBytes} bytes", nameof(key));
        return new SecretSealer(key.ToArray());
    }

    /// <summary>A sealer for a key written as base64 (what <c>Tern:Secrets:Key</c> and the key file hold); null when it is not one.</summary>
    public static SecretSealer? FromBase64(string text)
    {
        Span<byte> key = stackalloc byte[KeyBytes + 3];
        var trimmed = text.Trim();
        if (!Convert.TryFromBase64String(trimmed, key, out var written) || written != KeyBytes) return null;
        return FromKey(key[..KeyBytes]);
    }

    /// <summary>A new random key.</summary>
    public static SecretSealer NewKey() => new(RandomNumberGenerator.GetBytes(KeyBytes));

    /// <summary>The key as base64, for the key file or for <c>Tern:Secrets:Key</c>. Never log it.</summary>
    public string KeyBase64() => Convert.ToBase64String(_key);

    public static bool IsSealed(string? value) => value is not null && value.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>The key id a sealed value names, or null for a plain value.</summary>
    public static string? KeyIdOf(string value)
    {
        if (!IsSealed(value)) return null;
        var parts = value.Split(':');
        return parts.Length == 4 ? parts[2] : null;
    }

    /// <summary>Seals <paramref name="plain"/> for the place <paramref name="place"/> (table.column:row id).</summary>
    public string Seal(string plain, string place)
    {
        var plainBytes = Encoding.UTF8.GetBytes(plain);
        var sealedBytes = new byte[NonceBytes + plainBytes.Length + TagBytes];
        var nonce = sealedBytes.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(_key, TagBytes))
        {
            aes.Encrypt(nonce, plainBytes, sealedBytes.AsSpan(NonceBytes, plainBytes.Length), sealedBytes.AsSpan(NonceBytes + plainBytes.Length), AssociatedData(place));
        }
        CryptographicOperations.ZeroMemory(plainBytes);
        return $"{Prefix}{Version}:{KeyId}:{Convert.ToBase64String(sealedBytes)}";
    }

    /// <summary>
    /// The plain value of <paramref name="stored"/> at <paramref name="place"/>: a plain (not yet sealed) value as it is,
    /// a sealed one opened. Throws <see cref="SealedSecretException"/> when it was sealed with another key, for another
    /// place, or changed — never returns garbage.
    /// </summary>
    public string Unseal(string stored, string place)
    {
        if (!IsSealed(stored)) return stored;
        var parts = stored.Split(':');
        if (parts.Length != 4 || parts[1] != Version) throw new SealedSecretException(place, $"is sealed in a format this Tern does not know ({(parts.Length > 1 ? parts[1] : "?")})", null);
        if (parts[2] != KeyId) throw new SealedSecretException(place, $"was sealed with key {parts[2]}, not with this key ({KeyId})", parts[2]);
        byte[] sealedBytes;
        try
        {
            sealedBytes = Convert.FromBase64String(parts[3]);
        }
        catch (FormatException)
        {
            throw new SealedSecretException(place, "is damaged (not base64)", parts[2]);
        }
        if (sealedBytes.Length < NonceBytes + TagBytes) throw new SealedSecretException(place, "is damaged (too short)", parts[2]);
        var length = sealedBytes.Length - NonceBytes - TagBytes;
        var plainBytes = new byte[length];
        try
        {
            using var aes = new AesGcm(_key, TagBytes);
            aes.Decrypt(sealedBytes.AsSpan(0, NonceBytes), sealedBytes.AsSpan(NonceBytes, length), sealedBytes.AsSpan(NonceBytes + length), plainBytes, AssociatedData(place));
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new SealedSecretException(place, "does not open with this key (changed, moved from another row, or sealed with another key)", parts[2]);
        }
        var plain = Encoding.UTF8.GetString(plainBytes);
        CryptographicOperations.ZeroMemory(plainBytes);
        return plain;
    }

    /// <summary>A sealed value or null for null (nullable columns).</summary>
    public string? SealOrNull(string? plain, string place) => plain is null ? null : Seal(plain, place);

    public string? UnsealOrNull(string? stored, string place) => stored is null ? null : Unseal(stored, place);

    private static byte[] AssociatedData(string place) => Encoding.UTF8.GetBytes("tern:" + place);

    private static string IdOf(byte[] key)
    {
        Span<byte> hash = stackalloc byte[32];
        var input = new byte["tern-key-id:".Length + key.Length];
        Encoding.ASCII.GetBytes("tern-key-id:", input);
        key.CopyTo(input, "tern-key-id:".Length);
        SHA256.HashData(input, hash);
        CryptographicOperations.ZeroMemory(input);
        return Convert.ToHexStringLower(hash[..4]);
    }

    public override string ToString() => $"SecretSealer {{ KeyId = {KeyId} }}";
}

/// <summary>A sealed value that does not open: the wrong key, or a changed value. The message names the place, never a value.</summary>
public sealed class SealedSecretException(string place, string problem, string? sealedWithKeyId)
    : Exception($"{place} {problem}")
{
    public string Place { get; } = place;

    /// <summary>The key id the value says it was sealed with, when it says.</summary>
    public string? SealedWithKeyId { get; } = sealedWithKeyId;
}
