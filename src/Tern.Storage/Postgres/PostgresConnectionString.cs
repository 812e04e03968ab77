using System.Globalization;
using System.Text;
using Npgsql;

namespace Tern.Storage.Postgres;

/// <summary>
/// <c>Tern:Storage:ConnectionString</c>: a <c>postgres://</c> (or <c>postgresql://</c>) URL as libpq and most hosting
/// providers write it, or Npgsql's <c>Host=…;Database=…</c> keywords. Read into one builder so the rest of Tern sees
/// one form; a bad value is an <see cref="FormatException"/> whose message never contains the password.
/// </summary>
public static class PostgresConnectionString
{
    public static NpgsqlConnectionStringBuilder Parse(string value)
    {
        var text = value.Trim();
        if (text.Length == 0) throw new FormatException("it is empty");
        var builder = text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
            ? FromUrl(text)
            : FromKeywords(text);
        if (string.IsNullOrEmpty(builder.Host)) throw new FormatException("it names no host");
        if (string.IsNullOrEmpty(builder.Database)) throw new FormatException("it names no database");
        return builder;
    }

    /// <summary>Host, port and database: where the data is, for logs and answers. Never the user or the password.</summary>
    public static string Describe(NpgsqlConnectionStringBuilder builder)
    {
        var host = builder.Host ?? "";
        var port = host.Contains(':', StringComparison.Ordinal) || host.Contains(',', StringComparison.Ordinal) ? "" : ":" + builder.Port.ToString(CultureInfo.InvariantCulture);
        return $"postgres://{host}{port}/{builder.Database}";
    }

    private static NpgsqlConnectionStringBuilder FromKeywords(string text)
    {
        try
        {
            return new NpgsqlConnectionStringBuilder(text);
        }
        catch (ArgumentException ex)
        {
            // Npgsql names the keyword it does not know, never a value.
            throw new FormatException(ex.Message.Split('(')[0].Trim());
        }
    }

    private static NpgsqlConnectionStringBuilder FromUrl(string url)
    {
        var builder = new NpgsqlConnectionStringBuilder();
        var rest = url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var query = "";
        var questionMark = rest.IndexOf('?', StringComparison.Ordinal);
        if (questionMark >= 0)
        {
            query = rest[(questionMark + 1)..];
            rest = rest[..questionMark];
        }
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var authority = slash >= 0 ? rest[..slash] : rest;
        if (slash >= 0) builder.Database = Decode(rest[(slash + 1)..]);

        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = authority[..at];
            authority = authority[(at + 1)..];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Decode(colon >= 0 ? userInfo[..colon] : userInfo);
            if (colon >= 0) builder.Password = Decode(userInfo[(colon + 1)..]);
        }
        if (authority.Length > 0) builder.Host = Hosts(authority, builder);

        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Decode(equals >= 0 ? pair[..equals] : pair);
            var value = equals >= 0 ? Decode(pair[(equals + 1)..]) : "";
            var keyword = key switch
            {
                // libpq's names for what Npgsql calls otherwise; anything else must be an Npgsql keyword.
                "sslmode" => "SSL Mode",
                "sslrootcert" => "Root Certificate",
                "sslcert" => "SSL Certificate",
                "sslkey" => "SSL Key",
                "connect_timeout" => "Timeout",
                "application_name" => "Application Name",
                "target_session_attrs" => "Target Session Attributes",
                "options" => "Options",
                "user" => "Username",
                "password" => "Password",
                "dbname" => "Database",
                "host" => "Host",
                "port" => "Port",
                _ => key,
            };
            if (keyword == "SSL Mode") value = SslMode(value);
            try
            {
                builder[keyword] = value;
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException)
            {
                throw new FormatException(keyword is "Password" ? "its password parameter is not valid" : $"its parameter '{key}' is not valid");
            }
        }
        return builder;
    }

    /// <summary>One host or several (<c>h1:5432,h2:5433</c>), IPv6 in brackets; a single port goes to Port.</summary>
    private static string Hosts(string authority, NpgsqlConnectionStringBuilder builder)
    {
        var hosts = authority.Split(',');
        if (hosts.Length == 1)
        {
            var (host, port) = HostAndPort(hosts[0]);
            if (port is { } p) builder.Port = p;
            return host;
        }
        var joined = new StringBuilder();
        foreach (var entry in hosts)
        {
            var (host, port) = HostAndPort(entry);
            if (joined.Length > 0) joined.Append(',');
            joined.Append(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host);
            if (port is { } p) joined.Append(':').Append(p.ToString(CultureInfo.InvariantCulture));
        }
        return joined.ToString();
    }

    private static (string Host, int? Port) HostAndPort(string entry)
    {
        string host;
        string? port = null;
        if (entry.StartsWith('['))
        {
            var close = entry.IndexOf(']', StringComparison.Ordinal);
            if (close < 0) throw new FormatException($"its host '{entry}' misses a ']'");
            host = entry[1..close];
            if (close + 1 < entry.Length)
            {
                if (entry[close + 1] != ':') throw new FormatException($"its host '{entry}' is not valid");
                port = entry[(close + 2)..];
            }
        }
        else
        {
            var colon = entry.LastIndexOf(':');
            host = colon >= 0 ? entry[..colon] : entry;
            port = colon >= 0 ? entry[(colon + 1)..] : null;
        }
        host = Decode(host);
        if (host.Length == 0) throw new FormatException("it names an empty host");
        if (port is null) return (host, null);
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
        {
            throw new FormatException($"its port '{port}' is not a number from 1 to 65535");
        }
        return (host, number);
    }

    private static string SslMode(string value) => value.ToLowerInvariant() switch
    {
        "disable" => "Disable",
        "allow" => "Allow",
        "prefer" => "Prefer",
        "require" => "Require",
        "verify-ca" => "VerifyCA",
        "verify-full" => "VerifyFull",
        _ => value,
    };

    private static string Decode(string text)
    {
        try
        {
            return Uri.UnescapeDataString(text);
        }
        catch (UriFormatException)
        {
            throw new FormatException("it has a bad %-escape");
        }
    }
}
