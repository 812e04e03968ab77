using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tern.Core.Routing;

/// <summary>Copy sends a new message (transforms allowed); forward shows "forwarded from" and keeps the message as it is.</summary>
public enum RouteMode
{
    Copy,
    Forward,
}

/// <summary>Text conditions: a message matches when its text or caption contains one of the strings or matches one of the patterns.</summary>
public sealed record TextMatch(IReadOnlyList<string> Contains, IReadOnlyList<string> Regex)
{
    public bool IsEmpty => Contains.Count == 0 && Regex.Count == 0;
}

/// <summary>A regular-expression replacement in copied text (.NET substitution syntax: $1, ${name}).</summary>
public sealed record ReplaceRule(string Pattern, string With, bool IgnoreCase);

/// <summary>
/// A route's filters and transforms, as stored (JSON in the route's options) and as written by the CLI
/// and the API. <see cref="Parse(string, Dictionary{string, string[]}, string)"/> checks everything
/// once, when the route is written, so routing never meets an invalid pattern.
/// </summary>
public sealed record RouteOptions
{
    public const int MaxListItems = 100;
    public const int MaxPatternLength = 1000;
    public const int MaxTextLength = 4096;

    /// <summary>Media types a filter can name; "text" is a message without media.</summary>
    public static IReadOnlyList<string> MediaTypes { get; } =
        ["text", "photo", "video", "document", "audio", "voice", "sticker", "animation", "video_note", "location", "venue", "contact", "poll", "dice", "other"];

    /// <summary>Placeholders a template can use.</summary>
    public static IReadOnlyList<string> TemplateFields { get; } =
        ["text", "sender", "sender_name", "sender_username", "chat", "chat_title", "channel", "message_id", "date"];

    public static RouteOptions Default { get; } = new();

    public RouteMode Mode { get; init; } = RouteMode.Copy;

    /// <summary>Edits of a source message edit its copies.</summary>
    public bool Edits { get; init; } = true;

    /// <summary>Button presses (callback queries) are delivered too; only to destinations whose chats can show one (<see cref="Catalog.ChannelCapabilities.ButtonPresses"/>).</summary>
    public bool Callbacks { get; init; }

    public TextMatch? Text { get; init; }
    public TextMatch? DenyText { get; init; }
    public bool IgnoreCase { get; init; }
    public IReadOnlyList<string>? Media { get; init; }
    public IReadOnlyList<string>? DenyMedia { get; init; }
    public IReadOnlyList<string>? Senders { get; init; }
    public IReadOnlyList<string>? DenySenders { get; init; }

    public IReadOnlyList<ReplaceRule>? Replace { get; init; }
    public string? Template { get; init; }
    public string? Header { get; init; }
    public string? Footer { get; init; }

    public bool HasTransform => Replace is { Count: > 0 } || Template is not null || Header is not null || Footer is not null;

    public bool IsDefault => this == Default || ToJson() == "{}";

    /// <summary>Parses and checks stored or submitted options; problems go to <paramref name="errors"/> by field path.</summary>
    public static RouteOptions? Parse(string json, Dictionary<string, string[]> errors, string prefix = "options")
    {
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
            return Parse(document.RootElement, errors, prefix);
        }
        catch (JsonException ex)
        {
            errors[prefix] = [$"is not valid JSON ({ex.Message.Split(". ")[0]})"];
            return null;
        }
    }

    public static RouteOptions? Parse(JsonElement root, Dictionary<string, string[]> errors, string prefix = "options")
    {
        var before = errors.Count;
        if (root.ValueKind == JsonValueKind.Null) return Default;
        if (root.ValueKind != JsonValueKind.Object)
        {
            errors[prefix] = ["must be a JSON object"];
            return null;
        }

        var options = new RouteOptions();
        foreach (var property in root.EnumerateObject())
        {
            var path = prefix + "." + property.Name;
            var value = property.Value;
            switch (property.Name)
            {
                case "mode":
                    options = value.ValueKind == JsonValueKind.String && value.GetString() is "copy" or "forward"
                        ? options with { Mode = value.GetString() == "forward" ? RouteMode.Forward : RouteMode.Copy }
                        : Fail(options, errors, path, "must be \"copy\" or \"forward\"");
                    break;
                case "updates":
                    {
                        var updates = Strings(value, errors, path, 3, 16);
                        if (updates is null) break;
                        foreach (var (u, i) in updates.Select((u, i) => (u, i)))
                        {
                            if (u is not ("message" or "edit" or "callback")) errors[$"{path}[{i}]"] = ["must be one of: message, edit, callback"];
                        }
                        if (!updates.Contains("message")) errors[path] = ["must include \"message\""];
                        options = options with { Edits = updates.Contains("edit"), Callbacks = updates.Contains("callback") };
                        break;
                    }
                case "filters":
                    options = ParseFilters(options, value, errors, path);
                    break;
                case "transform":
                    options = ParseTransform(options, value, errors, path);
                    break;
                default:
                    errors[path] = ["is not a route option (known: mode, updates, filters, transform)"];
                    break;
            }
        }

        if (options.Mode == RouteMode.Forward && options.HasTransform && !errors.ContainsKey(prefix + ".transform"))
        {
            errors[prefix + ".transform"] = ["needs mode \"copy\": a forwarded message cannot be changed"];
        }
        return errors.Count > before ? null : options;
    }

    private static RouteOptions ParseFilters(RouteOptions options, JsonElement value, Dictionary<string, string[]> errors, string prefix)
    {
        if (value.ValueKind != JsonValueKind.Object) return Fail(options, errors, prefix, "must be a JSON object");
        var ignoreCase = value.TryGetProperty("ignore_case", out var ic) && ic.ValueKind == JsonValueKind.True;
        foreach (var property in value.EnumerateObject())
        {
            var path = prefix + "." + property.Name;
            var v = property.Value;
            switch (property.Name)
            {
                case "text":
                    options = options with { Text = ParseTextMatch(v, errors, path, ignoreCase) };
                    break;
                case "deny_text":
                    options = options with { DenyText = ParseTextMatch(v, errors, path, ignoreCase) };
                    break;
                case "ignore_case":
                    if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) errors[path] = ["must be true or false"];
                    options = options with { IgnoreCase = ignoreCase };
                    break;
                case "media":
                    options = options with { Media = MediaList(v, errors, path) };
                    break;
                case "deny_media":
                    options = options with { DenyMedia = MediaList(v, errors, path) };
                    break;
                case "senders":
                    options = options with { Senders = SenderList(v, errors, path) };
                    break;
                case "deny_senders":
                    options = options with { DenySenders = SenderList(v, errors, path) };
                    break;
                default:
                    errors[path] = ["is not a filter (known: text, deny_text, ignore_case, media, deny_media, senders, deny_senders)"];
                    break;
            }
        }
        return options;
    }

    private static RouteOptions ParseTransform(RouteOptions options, JsonElement value, Dictionary<string, string[]> errors, string prefix)
    {
        if (value.ValueKind != JsonValueKind.Object) return Fail(options, errors, prefix, "must be a JSON object");
        foreach (var property in value.EnumerateObject())
        {
            var path = prefix + "." + property.Name;
            var v = property.Value;
            switch (property.Name)
            {
                case "replace":
                    {
                        if (v.ValueKind != JsonValueKind.Array) { errors[path] = ["must be an array of {pattern, with, ignore_case?}"]; break; }
                        var rules = new List<ReplaceRule>();
                        var i = 0;
                        foreach (var item in v.EnumerateArray())
                        {
                            var itemPath = $"{path}[{i++}]";
                            if (rules.Count == MaxListItems) { errors[path] = [$"at most {MaxListItems} rules"]; break; }
                            if (item.ValueKind != JsonValueKind.Object) { errors[itemPath] = ["must be an object {pattern, with, ignore_case?}"]; continue; }
                            string? pattern = null, with = null;
                            var ruleIgnoreCase = false;
                            foreach (var p in item.EnumerateObject())
                            {
                                switch (p.Name)
                                {
                                    case "pattern": pattern = ReadText(p.Value, errors, itemPath + ".pattern", MaxPatternLength); break;
                                    case "with": with = ReadText(p.Value, errors, itemPath + ".with", MaxTextLength, allowEmpty: true); break;
                                    case "ignore_case":
                                        if (p.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) errors[itemPath + ".ignore_case"] = ["must be true or false"];
                                        ruleIgnoreCase = p.Value.ValueKind == JsonValueKind.True;
                                        break;
                                    default: errors[itemPath + "." + p.Name] = ["is not a replace field (known: pattern, with, ignore_case)"]; break;
                                }
                            }
                            if (pattern is null && !errors.ContainsKey(itemPath + ".pattern")) errors[itemPath + ".pattern"] = ["is required"];
                            if (with is null && !errors.ContainsKey(itemPath + ".with")) errors[itemPath + ".with"] = ["is required (may be empty)"];
                            if (pattern is not null && CheckRegex(pattern, ruleIgnoreCase) is { } problem) errors[itemPath + ".pattern"] = [problem];
                            if (pattern is not null && with is not null) rules.Add(new ReplaceRule(pattern, with, ruleIgnoreCase));
                        }
                        options = options with { Replace = rules };
                        break;
                    }
                case "template":
                    {
                        var template = ReadText(v, errors, path, MaxTextLength);
                        if (template is not null && MessageTemplate.Check(template) is { } problem) errors[path] = [problem];
                        options = options with { Template = template };
                        break;
                    }
                case "header":
                    options = options with { Header = ReadText(v, errors, path, MaxTextLength) };
                    break;
                case "footer":
                    options = options with { Footer = ReadText(v, errors, path, MaxTextLength) };
                    break;
                default:
                    errors[path] = ["is not a transform (known: replace, template, header, footer)"];
                    break;
            }
        }
        return options;
    }

    private static TextMatch? ParseTextMatch(JsonElement value, Dictionary<string, string[]> errors, string prefix, bool ignoreCase)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            errors[prefix] = ["must be an object {contains?: [..], regex?: [..]}"];
            return null;
        }
        List<string> contains = [], regex = [];
        foreach (var property in value.EnumerateObject())
        {
            var path = prefix + "." + property.Name;
            switch (property.Name)
            {
                case "contains":
                    contains = Strings(property.Value, errors, path, MaxListItems, MaxPatternLength) ?? [];
                    break;
                case "regex":
                    regex = Strings(property.Value, errors, path, MaxListItems, MaxPatternLength) ?? [];
                    for (var i = 0; i < regex.Count; i++)
                    {
                        if (CheckRegex(regex[i], ignoreCase) is { } problem) errors[$"{path}[{i}]"] = [problem];
                    }
                    break;
                default:
                    errors[path] = ["is not a text condition (known: contains, regex)"];
                    break;
            }
        }
        var match = new TextMatch(contains, regex);
        if (match.IsEmpty && !errors.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal))) errors[prefix] = ["give contains or regex (or leave it out)"];
        return match;
    }

    private static List<string>? MediaList(JsonElement value, Dictionary<string, string[]> errors, string path)
    {
        var list = Strings(value, errors, path, MediaTypes.Count, 32);
        if (list is null) return null;
        for (var i = 0; i < list.Count; i++)
        {
            if (!MediaTypes.Contains(list[i])) errors[$"{path}[{i}]"] = [$"must be one of: {string.Join(", ", MediaTypes)}"];
        }
        return list;
    }

    private static List<string>? SenderList(JsonElement value, Dictionary<string, string[]> errors, string path)
    {
        var list = Strings(value, errors, path, 10_000, 256);
        if (list is null) return null;
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Trim().Length == 0 || list[i] == "@") errors[$"{path}[{i}]"] = ["must be a sender id or @username"];
        }
        return list;
    }

    private static List<string>? Strings(JsonElement value, Dictionary<string, string[]> errors, string path, int maxItems, int maxLength)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            errors[path] = ["must be an array of strings"];
            return null;
        }
        var list = new List<string>();
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (list.Count == maxItems)
            {
                errors[path] = [$"at most {maxItems} items"];
                return null;
            }
            if (ReadText(item, errors, $"{path}[{i}]", maxLength) is { } text) list.Add(text);
            i++;
        }
        return list;
    }

    private static string? ReadText(JsonElement value, Dictionary<string, string[]> errors, string path, int maxLength, bool allowEmpty = false)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            errors[path] = ["must be a string"];
            return null;
        }
        var text = value.GetString()!;
        if ((!allowEmpty && text.Length == 0) || text.Length > maxLength)
        {
            errors[path] = [$"must be {(allowEmpty ? 0 : 1)} to {maxLength} characters"];
            return null;
        }
        return text;
    }

    /// <summary>Null when the pattern compiles; otherwise what is wrong with it.</summary>
    public static string? CheckRegex(string pattern, bool ignoreCase)
    {
        try
        {
            _ = CompileRegex(pattern, ignoreCase);
            return null;
        }
        catch (ArgumentException ex)
        {
            return "is not a valid regular expression: " + ex.Message;
        }
    }

    /// <summary>
    /// Interpreted (not compiled to IL: the binary is trimmed) with a match timeout, so a
    /// pathological pattern costs at most the timeout per message instead of hanging a worker.
    /// </summary>
    internal static Regex CompileRegex(string pattern, bool ignoreCase) =>
        new(pattern, RegexOptions.CultureInvariant | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None), TimeSpan.FromMilliseconds(50));

    private static RouteOptions Fail(RouteOptions options, Dictionary<string, string[]> errors, string path, string problem)
    {
        errors[path] = [problem];
        return options;
    }

    /// <summary>The canonical JSON form (defaults left out), as stored in the route's options.</summary>
    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (Mode == RouteMode.Forward) json.WriteString("mode", "forward");
            if (!Edits || Callbacks)
            {
                json.WriteStartArray("updates");
                json.WriteStringValue("message");
                if (Edits) json.WriteStringValue("edit");
                if (Callbacks) json.WriteStringValue("callback");
                json.WriteEndArray();
            }
            var hasFilters = Text is not null || DenyText is not null || IgnoreCase || Media is not null || DenyMedia is not null || Senders is not null || DenySenders is not null;
            if (hasFilters)
            {
                json.WriteStartObject("filters");
                WriteMatch(json, "text", Text);
                WriteMatch(json, "deny_text", DenyText);
                if (IgnoreCase) json.WriteBoolean("ignore_case", true);
                WriteList(json, "media", Media);
                WriteList(json, "deny_media", DenyMedia);
                WriteList(json, "senders", Senders);
                WriteList(json, "deny_senders", DenySenders);
                json.WriteEndObject();
            }
            if (HasTransform)
            {
                json.WriteStartObject("transform");
                if (Replace is { Count: > 0 })
                {
                    json.WriteStartArray("replace");
                    foreach (var rule in Replace)
                    {
                        json.WriteStartObject();
                        json.WriteString("pattern", rule.Pattern);
                        json.WriteString("with", rule.With);
                        if (rule.IgnoreCase) json.WriteBoolean("ignore_case", true);
                        json.WriteEndObject();
                    }
                    json.WriteEndArray();
                }
                if (Template is not null) json.WriteString("template", Template);
                if (Header is not null) json.WriteString("header", Header);
                if (Footer is not null) json.WriteString("footer", Footer);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteMatch(Utf8JsonWriter json, string name, TextMatch? match)
    {
        if (match is null) return;
        json.WriteStartObject(name);
        WriteList(json, "contains", match.Contains.Count > 0 ? match.Contains : null);
        WriteList(json, "regex", match.Regex.Count > 0 ? match.Regex : null);
        json.WriteEndObject();
    }

    private static void WriteList(Utf8JsonWriter json, string name, IReadOnlyList<string>? list)
    {
        if (list is null) return;
        json.WriteStartArray(name);
        foreach (var item in list) json.WriteStringValue(item);
        json.WriteEndArray();
    }

    /// <summary>A one-line summary for CLI listings.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (Mode == RouteMode.Forward) parts.Add("forward");
        if (Text is not null) parts.Add("text");
        if (DenyText is not null) parts.Add("deny-text");
        if (Media is not null) parts.Add("media=" + string.Join('|', Media));
        if (DenyMedia is not null) parts.Add("deny-media=" + string.Join('|', DenyMedia));
        if (Senders is not null) parts.Add(Senders.Count.ToString(CultureInfo.InvariantCulture) + " senders");
        if (DenySenders is not null) parts.Add(DenySenders.Count.ToString(CultureInfo.InvariantCulture) + " denied senders");
        if (HasTransform) parts.Add("transform");
        if (!Edits) parts.Add("no-edits");
        if (Callbacks) parts.Add("callbacks");
        return parts.Count == 0 ? "-" : string.Join(',', parts);
    }
}
