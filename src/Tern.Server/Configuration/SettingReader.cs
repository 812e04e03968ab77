using System.Globalization;
using Microsoft.Extensions.Configuration;
using Tern.Channels;

namespace Tern.Server.Configuration;

/// <summary>
/// Reads typed settings by hand rather than through the reflection binder (Tern is trimmed), and
/// turns every bad value into a <see cref="ConfigurationException"/> that names the key. It remembers
/// which keys it was asked about so unknown keys under <c>Tern:</c> (typos) can be reported too.
/// </summary>
public sealed class SettingReader(IConfiguration configuration) : IChannelSettingsReader
{
    private readonly HashSet<string> _known = new(StringComparer.OrdinalIgnoreCase);

    public string Text(string key, string fallback)
    {
        var raw = Raw(key);
        if (raw is null) return fallback;
        if (raw.Trim().Length == 0) throw new ConfigurationException(key, "must not be empty");
        return raw.Trim();
    }

    public string? OptionalString(string key)
    {
        var raw = Raw(key);
        return string.IsNullOrWhiteSpace(raw) ? null : raw.Trim();
    }

    public int WholeNumber(string key, int fallback, int min, int max)
    {
        var raw = Raw(key);
        if (raw is null) return fallback;
        if (!int.TryParse(raw.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new ConfigurationException(key, $"'{raw}' is not a whole number from {min} to {max}");
        }
        return value;
    }

    public TimeSpan Duration(string key, TimeSpan fallback, TimeSpan min, TimeSpan max)
    {
        var raw = Raw(key);
        if (raw is null) return fallback;
        if (!TryParseDuration(raw.Trim(), out var value) || value < min || value > max)
        {
            throw new ConfigurationException(key, $"'{raw}' is not a duration from {Format(min)} to {Format(max)} (e.g. 250ms, 5s, 2m, 1h or 00:00:05)");
        }
        return value;
    }

    public long Size(string key, long fallback, long min, long max)
    {
        var raw = Raw(key);
        if (raw is null) return fallback;
        if (!TryParseSize(raw.Trim(), out var value) || value < min || value > max)
        {
            throw new ConfigurationException(key, $"'{raw}' is not a size from {min} to {max} bytes (e.g. 262144, 256KB, 64MB)");
        }
        return value;
    }

    public TEnum Enum<TEnum>(string key, TEnum fallback) where TEnum : struct, Enum
    {
        var raw = Raw(key);
        if (raw is null) return fallback;
        if (!System.Enum.TryParse<TEnum>(raw.Trim(), ignoreCase: true, out var value) || !System.Enum.IsDefined(value) || int.TryParse(raw, out _))
        {
            throw new ConfigurationException(key, $"'{raw}' is not one of {string.Join(", ", System.Enum.GetNames<TEnum>())}");
        }
        return value;
    }

    /// <summary>true or false (any case).</summary>
    public bool Flag(string key, bool fallback)
    {
        var raw = Raw(key);
        if (raw is null) return fallback;
        return bool.TryParse(raw.Trim(), out var value) ? value : throw new ConfigurationException(key, $"'{raw}' is not true or false");
    }

    /// <summary>One of <paramref name="allowed"/> (compared ignoring case), returned as the allowed spelling.</summary>
    public string Choice(string key, string fallback, IReadOnlyCollection<string> allowed)
    {
        var raw = Text(key, fallback).Trim();
        return allowed.FirstOrDefault(a => string.Equals(a, raw, StringComparison.OrdinalIgnoreCase))
            ?? throw new ConfigurationException(key, $"'{raw}' is not one of {string.Join(", ", allowed)}");
    }

    public Uri HttpUrl(string key, string fallback)
    {
        var raw = Text(key, fallback);
        if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ConfigurationException(key, $"'{raw}' is not an absolute http:// or https:// URL");
        }
        return uri;
    }

    public Uri? OptionalHttpUrl(string key)
    {
        if (OptionalString(key) is null) return null;
        return HttpUrl(key, "");
    }

    /// <summary>Throws for the first key under <paramref name="prefix"/> that no one read: a typo, most likely.</summary>
    public void RejectUnknown(string prefix)
    {
        foreach (var pair in configuration.AsEnumerable())
        {
            if (pair.Value is null) continue;
            if (!pair.Key.StartsWith(prefix + ":", StringComparison.OrdinalIgnoreCase)) continue;
            if (!_known.Contains(pair.Key)) throw new ConfigurationException(pair.Key, "is not a setting Tern knows (check the spelling; see docs/configuration.md)");
        }
    }

    private string? Raw(string key)
    {
        _known.Add(key);
        return configuration[key];
    }

    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        if (text.Contains(':', StringComparison.Ordinal)) return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value);
        (string Suffix, double Ms)[] units = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)];
        foreach (var (suffix, ms) in units)
        {
            if (!text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) continue;
            var number = text[..^suffix.Length].Trim();
            if (suffix == "s" && number.EndsWith('m')) continue; // "ms"
            if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < 0 || double.IsInfinity(n)) return false;
            value = TimeSpan.FromMilliseconds(n * ms);
            return true;
        }
        return false;
    }

    public static bool TryParseSize(string text, out long bytes)
    {
        bytes = 0;
        (string Suffix, long Factor)[] units = [("KB", 1L << 10), ("MB", 1L << 20), ("GB", 1L << 30), ("K", 1L << 10), ("M", 1L << 20), ("G", 1L << 30), ("B", 1)];
        var factor = 1L;
        var number = text;
        foreach (var (suffix, f) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                factor = f;
                number = text[..^suffix.Length].Trim();
                break;
            }
        }
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < 0 || n * factor > long.MaxValue) return false;
        bytes = (long)(n * factor);
        return true;
    }

    private static string Format(TimeSpan span) =>
        span.TotalMilliseconds < 1000 ? $"{span.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms"
        : span.TotalSeconds < 120 ? $"{span.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s"
        : span.TotalMinutes < 120 ? $"{span.TotalMinutes.ToString(CultureInfo.InvariantCulture)}m"
        : $"{span.TotalHours.ToString(CultureInfo.InvariantCulture)}h";
}
