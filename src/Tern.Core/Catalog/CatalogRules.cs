namespace Tern.Core.Catalog;

/// <summary>What makes a channel or route setting valid: one set of rules for the CLI and the API. Each returns the problem, or null.</summary>
public static class CatalogRules
{
    public const int MinSecretLength = 16;

    public static string? Id(string? id) => Identifiers.IsValid(id) ? null : $"must be {Identifiers.Rule}";

    public static string? Url(string? url, out Uri? parsed)
    {
        parsed = null;
        if (url is null) return null;
        if (!Uri.TryCreate(url, UriKind.Absolute, out parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
        {
            parsed = null;
            return "must be an absolute http:// or https:// URL";
        }
        return null;
    }

    public static string? Secret(string? secret) => secret is { Length: < MinSecretLength } or { Length: > 256 } ? $"must be {MinSecretLength} to 256 characters" : null;

    public static string? MaxConcurrency(int? value) => value is < 1 or > 1024 ? "must be from 1 to 1024" : null;

    public static string? Chat(string? chat) => string.IsNullOrEmpty(chat) || chat.Length > 256 ? "must be 1 to 256 characters" : null;
}
