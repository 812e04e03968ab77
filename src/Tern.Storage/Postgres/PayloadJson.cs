using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tern.Storage.Postgres;

/// <summary>
/// SQLite's <c>json_extract(payload, '$.a.b[0]')</c> for PostgreSQL, in .NET: the value at a path of a stored payload,
/// read from the payload the query returns anyway. Not <c>payload::jsonb</c> in SQL: jsonb (and json) refuse text that
/// JSON's grammar allows and SQLite reads, an escaped U+0000 or a surrogate escape without its pair (attachments and
/// meta pass through Tern verbatim, so a payload may hold one anywhere), and one such row would fail the whole listing.
/// </summary>
internal static class PayloadJson
{
    /// <summary>
    /// The value at <paramref name="jsonPath"/> as SQLite returns it: a string unescaped (a lone surrogate as U+FFFD),
    /// null where the path is missing or holds JSON null, true and false as 1 and 0, a
    /// number, object or array as its JSON text. A delivery payload's text and an event's type are strings.
    /// </summary>
    public static string? Extract(string? json, string jsonPath)
    {
        if (json is null) return null;
        var path = Parse(jsonPath);
        // Text that is not JSON at all throws, as json_extract does.
        using var document = JsonDocument.Parse(json);
        var element = document.RootElement;
        foreach (var step in path)
        {
            if (step.Name is { } name)
            {
                if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element)) return null;
            }
            else
            {
                if (element.ValueKind != JsonValueKind.Array || step.Index >= element.GetArrayLength()) return null;
                element = element[step.Index];
            }
        }
        return element.ValueKind switch
        {
            JsonValueKind.String => StringOf(element),
            JsonValueKind.True => "1",
            JsonValueKind.False => "0",
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => element.GetRawText(),
        };
    }

    private static string StringOf(JsonElement element)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // An escaped surrogate without its pair: .NET refuses to unescape it; as U+FFFD the rest still reads.
            return Unescape(element.GetRawText());
        }
    }

    /// <summary>A JSON string token (with its quotes) unescaped, a lone surrogate becoming U+FFFD.</summary>
    internal static string Unescape(string token)
    {
        var text = new StringBuilder(token.Length);
        for (var i = 1; i < token.Length - 1; i++)
        {
            var c = token[i];
            if (c != '\\')
            {
                text.Append(c);
                continue;
            }
            var escape = token[++i];
            switch (escape)
            {
                case 'b': text.Append('\b'); break;
                case 'f': text.Append('\f'); break;
                case 'n': text.Append('\n'); break;
                case 'r': text.Append('\r'); break;
                case 't': text.Append('\t'); break;
                case 'u':
                    var unit = (char)int.Parse(token.AsSpan(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
                    i += 4;
                    if (char.IsHighSurrogate(unit) && i + 6 < token.Length && token[i + 1] == '\\' && token[i + 2] == 'u'
                        && int.TryParse(token.AsSpan(i + 3, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var next) && char.IsLowSurrogate((char)next))
                    {
                        text.Append(unit).Append((char)next);
                        i += 6;
                    }
                    else
                    {
                        text.Append(char.IsSurrogate(unit) ? '\uFFFD' : unit);
                    }
                    break;
                default: text.Append(escape); break;   // " \ /
            }
        }
        return text.ToString();
    }

    private readonly record struct Step(string? Name, int Index);

    /// <summary>A SQL/JSON path of names and array indexes (<c>$.a.b[0]</c>), as SQLite's json_extract takes it.</summary>
    private static List<Step> Parse(string jsonPath)
    {
        if (!jsonPath.StartsWith('$')) throw new ArgumentException($"JSON path '{jsonPath}' does not start with $", nameof(jsonPath));
        var steps = new List<Step>();
        var i = 1;
        while (i < jsonPath.Length)
        {
            if (jsonPath[i] == '.')
            {
                var start = ++i;
                while (i < jsonPath.Length && (char.IsAsciiLetterOrDigit(jsonPath[i]) || jsonPath[i] == '_')) i++;
                if (i == start) throw new ArgumentException($"JSON path '{jsonPath}': only plain names (letters, digits, _) are supported", nameof(jsonPath));
                steps.Add(new Step(jsonPath[start..i], 0));
            }
            else if (jsonPath[i] == '[')
            {
                var start = ++i;
                while (i < jsonPath.Length && char.IsAsciiDigit(jsonPath[i])) i++;
                if (i == start || i == jsonPath.Length || jsonPath[i] != ']') throw new ArgumentException($"JSON path '{jsonPath}': only non-negative array indexes are supported", nameof(jsonPath));
                steps.Add(new Step(null, int.Parse(jsonPath.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture)));
                i++;
            }
            else
            {
                throw new ArgumentException($"JSON path '{jsonPath}': unexpected '{jsonPath[i]}'", nameof(jsonPath));
            }
        }
        return steps;
    }
}
