using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Tern.Server.Tests.Memory;

public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string Label(string name) => Labels.TryGetValue(name, out var value) ? value : throw new KeyNotFoundException($"{Name} has no label {name}");
}

public sealed class PrometheusFamily(string name, string type)
{
    public string Name { get; } = name;

    public string Type { get; } = type;

    public string? Help { get; set; }

    public List<PrometheusSample> Samples { get; } = [];

    /// <summary>The one sample with this name and these labels.</summary>
    public double Value(string? sampleName = null, params (string Name, string Value)[] labels) =>
        Samples.Single(s => s.Name == (sampleName ?? Name) && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value)).Value;
}

/// <summary>
/// A strict reader of the Prometheus text exposition format 0.0.4, written from the format's
/// description rather than from Tern's writer: it throws <see cref="FormatException"/> (with the line
/// number) on anything a Prometheus server would reject or a careful reader would call wrong.
/// </summary>
public static partial class PrometheusTextParser
{
    private static readonly HashSet<string> Types = new(StringComparer.Ordinal) { "counter", "gauge", "histogram", "summary", "untyped" };

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();

    [GeneratedRegex(@"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")]
    private static partial Regex FloatNumber();

    [GeneratedRegex("^-?[0-9]+$")]
    private static partial Regex Timestamp();

    public static IReadOnlyDictionary<string, PrometheusFamily> Parse(string text)
    {
        if (text.Length == 0) throw new FormatException("the exposition is empty");
        if (!text.EndsWith('\n')) throw new FormatException("the exposition must end with a line feed");
        if (text.Contains('\r', StringComparison.Ordinal)) throw new FormatException("lines must end with \\n only, not \\r\\n");

        var families = new Dictionary<string, PrometheusFamily>(StringComparer.Ordinal);
        var sampled = new HashSet<string>(StringComparer.Ordinal);
        var finished = new HashSet<string>(StringComparer.Ordinal);
        var series = new HashSet<string>(StringComparer.Ordinal);
        var helps = new Dictionary<string, string>(StringComparer.Ordinal);
        string? current = null;
        var lines = text[..^1].Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var at = $"line {i + 1} [{line}]";
            if (line.Trim().Length == 0) continue;
            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4);
                if (parts.Length >= 3 && parts[0] == "#" && parts[1] is "HELP" or "TYPE")
                {
                    var name = parts[2];
                    if (!MetricName().IsMatch(name)) throw new FormatException($"{at}: bad metric name '{name}'");
                    if (finished.Contains(name)) throw new FormatException($"{at}: {parts[1]} for {name} after its group ended");
                    SwitchTo(name);
                    if (parts[1] == "TYPE")
                    {
                        if (parts.Length != 4 || !Types.Contains(parts[3])) throw new FormatException($"{at}: TYPE must be one of {string.Join(", ", Types)}");
                        if (families.ContainsKey(name)) throw new FormatException($"{at}: second TYPE for {name}");
                        if (sampled.Contains(name)) throw new FormatException($"{at}: TYPE for {name} after its first sample");
                        families[name] = new PrometheusFamily(name, parts[3]) { Help = helps.GetValueOrDefault(name) };
                    }
                    else
                    {
                        var help = parts.Length == 4 ? Unescape(parts[3], at) : "";
                        if (!helps.TryAdd(name, help)) throw new FormatException($"{at}: second HELP for {name}");
                        if (families.TryGetValue(name, out var family)) family.Help = help;
                    }
                }
                continue;
            }

            var sample = ParseSample(line, at);
            var familyName = FamilyOf(sample.Name, families)
                ?? throw new FormatException($"{at}: sample {sample.Name} has no TYPE line before it");
            var familyOfSample = families[familyName];
            if (finished.Contains(familyName)) throw new FormatException($"{at}: samples of {familyName} are not in one group");
            SwitchTo(familyName);
            sampled.Add(sample.Name);
            sampled.Add(familyName);
            var key = sample.Name + "{" + string.Join(",", sample.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
            if (!series.Add(key)) throw new FormatException($"{at}: the series {key} appears twice");
            CheckByType(familyOfSample, sample, at);
            familyOfSample.Samples.Add(sample);
        }

        foreach (var family in families.Values)
        {
            if (family.Type == "histogram") CheckHistogram(family);
        }
        return families;

        void SwitchTo(string name)
        {
            if (current == name) return;
            if (current is not null) finished.Add(current);
            current = name;
        }
    }

    private static string? FamilyOf(string sampleName, Dictionary<string, PrometheusFamily> families)
    {
        if (families.TryGetValue(sampleName, out var exact) && exact.Type is not "histogram") return sampleName;
        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (!sampleName.EndsWith(suffix, StringComparison.Ordinal)) continue;
            var baseName = sampleName[..^suffix.Length];
            if (families.TryGetValue(baseName, out var family) && (family.Type == "histogram" || (family.Type == "summary" && suffix != "_bucket"))) return baseName;
        }
        return null;
    }

    private static void CheckByType(PrometheusFamily family, PrometheusSample sample, string at)
    {
        switch (family.Type)
        {
            case "counter":
                if (sample.Name != family.Name) throw new FormatException($"{at}: counter sample name must be {family.Name}");
                if (double.IsNaN(sample.Value) || sample.Value < 0) throw new FormatException($"{at}: a counter cannot be negative or NaN");
                break;
            case "gauge":
            case "untyped":
                if (sample.Name != family.Name) throw new FormatException($"{at}: sample name must be {family.Name}");
                break;
            case "histogram":
                if (sample.Name == family.Name + "_bucket")
                {
                    if (!sample.Labels.TryGetValue("le", out var le)) throw new FormatException($"{at}: a bucket needs an le label");
                    if (ParseFloat(le) is not { } bound || double.IsNaN(bound)) throw new FormatException($"{at}: le=\"{le}\" is not a float");
                }
                else if (sample.Labels.ContainsKey("le"))
                {
                    throw new FormatException($"{at}: only buckets carry an le label");
                }
                if (double.IsNaN(sample.Value) || (sample.Name != family.Name + "_sum" && sample.Value < 0)) throw new FormatException($"{at}: bad histogram value");
                break;
        }
    }

    private static void CheckHistogram(PrometheusFamily family)
    {
        var byLabels = family.Samples.GroupBy(s => string.Join(",", s.Labels.Where(l => l.Key != "le").OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")));
        foreach (var group in byLabels)
        {
            var where = $"histogram {family.Name}{{{group.Key}}}";
            var buckets = group.Where(s => s.Name == family.Name + "_bucket").ToList();
            if (buckets.Count == 0) throw new FormatException($"{where}: no buckets");
            var bounds = buckets.Select(b => ParseFloat(b.Labels["le"])!.Value).ToList();
            for (var i = 1; i < buckets.Count; i++)
            {
                if (!(bounds[i] > bounds[i - 1])) throw new FormatException($"{where}: le {bounds[i]} does not follow {bounds[i - 1]} in increasing order");
                if (buckets[i].Value < buckets[i - 1].Value) throw new FormatException($"{where}: bucket le={bounds[i]} ({buckets[i].Value}) is below le={bounds[i - 1]} ({buckets[i - 1].Value}): not cumulative");
            }
            if (!double.IsPositiveInfinity(bounds[^1])) throw new FormatException($"{where}: the last bucket must be le=\"+Inf\"");
            var sum = group.Where(s => s.Name == family.Name + "_sum").ToList();
            var count = group.Where(s => s.Name == family.Name + "_count").ToList();
            if (sum.Count != 1) throw new FormatException($"{where}: needs exactly one _sum");
            if (count.Count != 1) throw new FormatException($"{where}: needs exactly one _count");
            if (count[0].Value != buckets[^1].Value) throw new FormatException($"{where}: _count {count[0].Value} differs from the +Inf bucket {buckets[^1].Value}");
        }
    }

    private static PrometheusSample ParseSample(string line, string at)
    {
        var i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ' && line[i] != '\t') i++;
        var name = line[..i];
        if (!MetricName().IsMatch(name)) throw new FormatException($"{at}: bad metric name '{name}'");
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i >= line.Length) throw new FormatException($"{at}: unterminated label set");
                if (line[i] == '}')
                {
                    i++;
                    break;
                }
                var start = i;
                while (i < line.Length && line[i] != '=') i++;
                var labelName = line[start..i];
                if (!LabelName().IsMatch(labelName)) throw new FormatException($"{at}: bad label name '{labelName}'");
                if (labelName.StartsWith("__", StringComparison.Ordinal)) throw new FormatException($"{at}: label names starting with __ are reserved");
                if (i + 1 >= line.Length || line[i + 1] != '"') throw new FormatException($"{at}: label {labelName} needs a quoted value");
                i += 2;
                var value = new StringBuilder();
                while (true)
                {
                    if (i >= line.Length) throw new FormatException($"{at}: unterminated value of label {labelName}");
                    var c = line[i];
                    if (c == '"') break;
                    if (c == '\\')
                    {
                        if (i + 1 >= line.Length) throw new FormatException($"{at}: dangling backslash");
                        value.Append(line[i + 1] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            var other => throw new FormatException($"{at}: unknown escape \\{other} in label {labelName}"),
                        });
                        i += 2;
                        continue;
                    }
                    value.Append(c);
                    i++;
                }
                i++; // closing quote
                if (!labels.TryAdd(labelName, value.ToString())) throw new FormatException($"{at}: label {labelName} twice");
                if (i < line.Length && line[i] == ',')
                {
                    i++;
                }
                else if (i >= line.Length || line[i] != '}')
                {
                    throw new FormatException($"{at}: expected , or }} after label {labelName}");
                }
            }
        }
        var rest = line[i..];
        if (rest.Length == 0 || (rest[0] != ' ' && rest[0] != '\t')) throw new FormatException($"{at}: expected a blank before the value");
        var tokens = rest.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (tokens.Length is < 1 or > 2) throw new FormatException($"{at}: expected a value and an optional timestamp");
        var number = ParseFloat(tokens[0]) ?? throw new FormatException($"{at}: '{tokens[0]}' is not a float");
        if (tokens.Length == 2 && !Timestamp().IsMatch(tokens[1])) throw new FormatException($"{at}: '{tokens[1]}' is not a timestamp");
        return new PrometheusSample(name, labels, number);
    }

    /// <summary>A float as the format writes it: decimal or exponent notation, NaN, +Inf, -Inf.</summary>
    public static double? ParseFloat(string text) => text switch
    {
        "NaN" => double.NaN,
        "+Inf" or "Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        _ when FloatNumber().IsMatch(text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
        _ => null,
    };

    /// <summary>HELP text escapes: only \\ and \n.</summary>
    private static string Unescape(string text, string at)
    {
        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\')
            {
                result.Append(text[i]);
                continue;
            }
            if (i + 1 >= text.Length) throw new FormatException($"{at}: dangling backslash");
            var next = text[++i];
            result.Append(next switch
            {
                '\\' => '\\',
                'n' => '\n',
                _ => throw new FormatException($"{at}: unknown escape \\{next}"),
            });
        }
        return result.ToString();
    }
}
