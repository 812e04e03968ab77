using System.Security.Cryptography;
using System.Text;

namespace Tern.StandIns.Http;

/// <summary>Standard Webhooks secrets for tests: the same name gives the same valid <c>whsec_</c> secret in every process.</summary>
public static class TestSecrets
{
    /// <summary><c>whsec_</c> and the base64 of the 32 bytes SHA-256 makes of <paramref name="name"/>.</summary>
    public static string For(string name) => "whsec_" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(name)));
}
