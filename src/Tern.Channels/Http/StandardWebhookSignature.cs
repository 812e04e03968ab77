using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tern.Channels.Http;

/// <summary>
/// Standard Webhooks (https://www.standardwebhooks.com): <c>webhook-id</c>, <c>webhook-timestamp</c> and
/// <c>webhook-signature: v1,&lt;base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"&gt;</c>, several space-separated
/// while a secret is being rotated. Written here over the raw body bytes (the StandardWebhooks package signs
/// strings, re-encoding the body, and reads the wall clock); the tests check Tern's output with that package and
/// with the npm one.
/// </summary>
public static class StandardWebhookSignature
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";

    /// <summary>How far a timestamp may be from now, either way, as the specification's verifiers allow.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    private const string Version = "v1,";

    /// <summary><c>v1,&lt;base64&gt;</c> for each key, space-separated: a receiver that knows any one of them accepts.</summary>
    public static string Sign(IReadOnlyList<byte[]> keys, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var signed = SignedContent(id, timestamp.ToString(CultureInfo.InvariantCulture), body, out var length);
        try
        {
            var header = new StringBuilder(keys.Count * 48);
            Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
            foreach (var key in keys)
            {
                HMACSHA256.HashData(key, signed.AsSpan(0, length), mac);
                if (header.Length > 0) header.Append(' ');
                header.Append(Version).Append(Convert.ToBase64String(mac));
            }
            return header.ToString();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(signed);
        }
    }

    /// <summary>
    /// Checks a received webhook: null when one of the <c>v1</c> signatures was made with one of the keys and the timestamp is
    /// within <see cref="Tolerance"/> of <paramref name="now"/>, else why not (for a 401's detail; it never says which part matched).
    /// Every candidate is compared in constant time.
    /// </summary>
    public static string? Verify(IReadOnlyList<byte[]> keys, string? id, string? timestamp, string? signatures, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signatures))
        {
            return $"the {IdHeader}, {TimestampHeader} and {SignatureHeader} headers are required";
        }
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return $"{TimestampHeader} must be Unix seconds";
        }
        if ((now - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > Tolerance)
        {
            return $"{TimestampHeader} is more than {Tolerance.TotalMinutes.ToString(CultureInfo.InvariantCulture)} minutes from now";
        }

        var signed = SignedContent(id, timestamp, body, out var length);
        try
        {
            Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes * 4];
            var expectedCount = Math.Min(keys.Count, 4);
            for (var k = 0; k < expectedCount; k++)
            {
                HMACSHA256.HashData(keys[k], signed.AsSpan(0, length), expected.Slice(k * HMACSHA256.HashSizeInBytes, HMACSHA256.HashSizeInBytes));
            }

            var matched = false;
            Span<byte> given = stackalloc byte[HMACSHA256.HashSizeInBytes];
            foreach (var range in signatures.AsSpan().Split(' '))
            {
                var candidate = signatures.AsSpan(range).Trim();
                if (!candidate.StartsWith(Version, StringComparison.Ordinal)) continue;
                if (!Convert.TryFromBase64Chars(candidate[Version.Length..], given, out var written) || written != given.Length) continue;
                for (var k = 0; k < expectedCount; k++)
                {
                    // No early exit: how many candidates or keys matched does not change the time taken.
                    matched |= CryptographicOperations.FixedTimeEquals(given, expected.Slice(k * HMACSHA256.HashSizeInBytes, HMACSHA256.HashSizeInBytes));
                }
            }
            return matched ? null : $"no {SignatureHeader} matches the channel's secret";
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(signed);
        }
    }

    /// <summary>"{id}.{timestamp}.{body}" in a pooled buffer; the caller returns it.</summary>
    private static byte[] SignedContent(string id, string timestamp, ReadOnlySpan<byte> body, out int length)
    {
        length = Encoding.UTF8.GetByteCount(id) + 1 + timestamp.Length + 1 + body.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        var at = Encoding.UTF8.GetBytes(id, buffer);
        buffer[at++] = (byte)'.';
        at += Encoding.ASCII.GetBytes(timestamp, buffer.AsSpan(at));
        buffer[at++] = (byte)'.';
        body.CopyTo(buffer.AsSpan(at));
        return buffer;
    }
}

/// <summary>
/// Webhook secrets in the Standard Webhooks format: <c>whsec_</c> and the base64 of 24–64 random bytes; the bytes are the HMAC key.
/// </summary>
public static class WebhookSecret
{
    public const string Prefix = "whsec_";
    public const int MinBytes = 24;
    public const int MaxBytes = 64;

    public const string Rule = "must be whsec_ followed by the base64 of 24 to 64 random bytes (leave it out and Tern makes one)";

    /// <summary>A new secret of 32 random bytes.</summary>
    public static string Generate() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>Null when <paramref name="secret"/> is a valid secret (or absent), else the rule.</summary>
    public static string? Check(string? secret) => secret is null || TryDecode(secret, out _) ? null : Rule;

    /// <summary>
    /// The HMAC key of a secret. One stored before secrets had this format (not <c>whsec_</c> base64) signs with its UTF-8 bytes,
    /// which is what the specification's libraries do with a "raw" secret; new ones are refused by <see cref="Check"/>.
    /// </summary>
    public static byte[] KeyOf(string secret) => TryDecode(secret, out var key) ? key : Encoding.UTF8.GetBytes(secret);

    private static bool TryDecode(string secret, out byte[] key)
    {
        key = [];
        if (!secret.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        var encoded = secret.AsSpan(Prefix.Length);
        Span<byte> decoded = stackalloc byte[MaxBytes + 3];
        if (encoded.Length > 4 * ((MaxBytes + 2) / 3) || !Convert.TryFromBase64Chars(encoded, decoded, out var written)) return false;
        if (written is < MinBytes or > MaxBytes) return false;
        key = decoded[..written].ToArray();
        return true;
    }
}
