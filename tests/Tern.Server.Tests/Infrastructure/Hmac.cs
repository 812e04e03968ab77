using System.Security.Cryptography;
using System.Text;

namespace Tern.Server.Tests.Infrastructure;

/// <summary>The signature scheme of the webhook channel, computed independently of Tern's own code.</summary>
public static class Hmac
{
    public static string Sign(string secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
}
