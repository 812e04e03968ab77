namespace Tern.Server.Configuration;

/// <summary>
/// Where Kestrel listens: <c>Tern:Http:Url</c>, or the ASP.NET Core way — <c>urls</c> in the configuration, which is what
/// <c>--urls</c> on the command line, <c>ASPNETCORE_URLS</c> in the environment and <c>"urls"</c> in appsettings.json set.
/// Either takes one address or several separated by <c>;</c>; <c>*</c> and <c>+</c> as the host mean every interface.
/// </summary>
public sealed record ListenUrls(IReadOnlyList<string> Addresses, Uri First)
{
    public const string Key = "Tern:Http:Url";
    public const string AspNetCoreKey = "urls";
    public const string Default = "http://127.0.0.1:8080";

    /// <summary>Reads and checks them; both keys given with different values is a mistake, not a precedence puzzle.</summary>
    public static ListenUrls Read(SettingReader settings)
    {
        var tern = settings.OptionalString(Key);
        var aspNetCore = settings.OptionalString(AspNetCoreKey);
        if (tern is not null && aspNetCore is not null && !string.Equals(tern.TrimEnd('/'), aspNetCore.TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
        {
            throw new ConfigurationException(AspNetCoreKey, $"'{aspNetCore}' (--urls, ASPNETCORE_URLS) and {Key} '{tern}' disagree; give one of them");
        }
        var (key, raw) = tern is not null ? (Key, tern) : aspNetCore is not null ? (AspNetCoreKey, aspNetCore) : (Key, Default);

        var addresses = new List<string>();
        Uri? first = null;
        foreach (var part in raw.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var uri = Parse(key, part);
            first ??= uri;
            addresses.Add(part.TrimEnd('/'));
        }
        if (first is null) throw new ConfigurationException(key, "must name at least one address");
        return new ListenUrls(addresses, first);
    }

    private static Uri Parse(string key, string address)
    {
        // Kestrel's wildcard hosts are not URI hosts; check the rest of the address with a stand-in.
        var checkable = address.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal);
        if (!Uri.TryCreate(checkable, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ConfigurationException(key, $"'{address}' is not an absolute http:// or https:// URL");
        }
        if (uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
        {
            throw new ConfigurationException(key, $"'{address}' has more than a scheme, host and port (Kestrel listens on an address, not a path)");
        }
        return uri;
    }
}
