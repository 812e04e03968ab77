using System.Globalization;
using System.Text.Json.Nodes;

namespace Tern.Core.Catalog;

/// <summary>
/// The settings object a channel type's <c>tern channels add</c> flags describe: each flag's value as a string under its
/// field, and a <c>--limits name=number,…</c> flag as an object of numbers. Only the flag syntax is judged here; the
/// ranges are the type's, checked with the settings.
/// </summary>
public static class ChannelFlagSettings
{
    public const string LimitsField = "limits";

    /// <param name="limitNames">The names <c>--limits</c> takes.</param>
    /// <param name="fractionalLimits">The limits that may be fractions (the rest are whole numbers).</param>
    public static JsonObject? FromFlags(
        IReadOnlyList<ChannelFlag> flags, IReadOnlyDictionary<string, string> values, IReadOnlyList<string> limitNames, IReadOnlyList<string> fractionalLimits,
        List<FieldError> errors)
    {
        var settings = new JsonObject();
        foreach (var flag in flags)
        {
            if (!values.TryGetValue(flag.Flag, out var value)) continue;
            if (flag.Field != LimitsField)
            {
                settings[flag.Field] = JsonValue.Create(value);
                continue;
            }
            var limits = new JsonObject();
            foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var eq = part.IndexOf('=', StringComparison.Ordinal);
                var name = eq < 0 ? part : part[..eq];
                if (!double.TryParse(eq < 0 ? "" : part[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                {
                    errors.Add(new FieldError(LimitsField, $"'{part}': expected name=number"));
                    return null;
                }
                if (!limitNames.Contains(name))
                {
                    errors.Add(new FieldError(LimitsField, $"'{name}': not a limit (known: {string.Join(", ", limitNames)})"));
                    return null;
                }
                limits[name] = fractionalLimits.Contains(name) ? JsonValue.Create(number) : JsonValue.Create((int)number);
            }
            settings[LimitsField] = limits;
        }
        return settings;
    }
}
