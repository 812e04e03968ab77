using RouteOptions = Tern.Core.Routing.RouteOptions;
using Tern.Core.Routing;

namespace Tern.Server.Cli;

/// <summary>
/// Route filters and transforms from <c>tern routes add</c> flags, turned into the options object the API
/// takes, so the route service checks both the same way; its problems are mapped back to the flag that
/// gave the value. Only what is about the flags themselves (their syntax, flags that cannot go together) is checked here.
/// </summary>
internal sealed class RouteOptionFlags
{
    public const string Usage =
        "[--mode copy|forward] [--contains TEXT]… [--regex RE]… [--deny-contains TEXT]… [--deny-regex RE]… [--ignore-case] " +
        "[--media photo,video,…] [--deny-media …] [--senders ID,@name,…] [--deny-senders …] [--replace 'RE=>TEXT']… " +
        "[--header TEXT] [--footer TEXT] [--template TEXT] [--no-edits] [--callbacks] | [--options JSON]";

    private readonly Dictionary<string, IReadOnlyList<string>> _lists = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string?> _single = new(StringComparer.Ordinal);

    private RouteOptionFlags()
    {
    }

    /// <summary>The options the flags describe; null when none were given (the route copies everything as it is).</summary>
    public RouteOptions? Options { get; private set; }

    /// <summary>The options came as <c>--options JSON</c>.</summary>
    public bool FromJson { get; private set; }

    public static RouteOptionFlags Read(CommandLine line)
    {
        var flags = new RouteOptionFlags();
        var json = line.Optional("options");
        var mode = flags.One("mode", line.Optional("mode"));
        var contains = flags.ManyOf("contains", line.Many("contains"));
        var regex = flags.ManyOf("regex", line.Many("regex"));
        var denyContains = flags.ManyOf("deny-contains", line.Many("deny-contains"));
        var denyRegex = flags.ManyOf("deny-regex", line.Many("deny-regex"));
        var ignoreCase = line.Flag("ignore-case");
        var media = flags.ManyOf("media", List(line.Optional("media"), "media"));
        var denyMedia = flags.ManyOf("deny-media", List(line.Optional("deny-media"), "deny-media"));
        var senders = flags.ManyOf("senders", List(line.Optional("senders"), "senders"));
        var denySenders = flags.ManyOf("deny-senders", List(line.Optional("deny-senders"), "deny-senders"));
        var replace = flags.ManyOf("replace", line.Many("replace"));
        var header = flags.One("header", line.Optional("header"));
        var footer = flags.One("footer", line.Optional("footer"));
        var template = flags.One("template", line.Optional("template"));
        var noEdits = line.Flag("no-edits");
        var callbacks = line.Flag("callbacks");
        var anyFlag = mode is not null || contains.Count + regex.Count + denyContains.Count + denyRegex.Count + replace.Count > 0 || ignoreCase
            || media is not null || denyMedia is not null || senders is not null || denySenders is not null || header is not null || footer is not null
            || template is not null || noEdits || callbacks;

        if (json is not null)
        {
            if (anyFlag) throw new UsageException("--options: give either --options JSON or the filter and transform flags, not both");
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            var parsed = RouteOptions.Parse(json, errors);
            if (parsed is null)
            {
                var first = errors.First();
                throw new UsageException($"--options: {first.Key} {first.Value[0]}");
            }
            flags.Options = parsed;
            flags.FromJson = true;
            return flags;
        }
        if (!anyFlag) return flags;

        var options = new RouteOptions
        {
            Mode = mode switch
            {
                null or "copy" => RouteMode.Copy,
                "forward" => RouteMode.Forward,
                _ => throw new UsageException($"--mode '{mode}': must be copy or forward"),
            },
            Edits = !noEdits,
            Callbacks = callbacks,
            IgnoreCase = ignoreCase,
            Text = contains.Count == 0 && regex.Count == 0 ? null : new TextMatch(contains, regex),
            DenyText = denyContains.Count == 0 && denyRegex.Count == 0 ? null : new TextMatch(denyContains, denyRegex),
            Media = media,
            DenyMedia = denyMedia,
            Senders = senders,
            DenySenders = denySenders,
            Replace = replace.Count == 0 ? null : replace.Select(Replace).ToArray(),
            Header = header,
            Footer = footer,
            Template = template,
        };
        if (options.Mode == RouteMode.Forward && options.HasTransform)
        {
            throw new UsageException("--mode forward: a forwarded message cannot be changed; transforms (--replace, --header, --footer, --template) need --mode copy");
        }
        flags.Options = options;
        return flags;
    }

    /// <summary>The flag and value behind a field of the options object (<c>options.filters.text.regex[1]</c> → <c>--regex</c> and the second regex).</summary>
    public (string Flag, string? Value) FlagOf(string field)
    {
        if (FromJson) return ("--options", null);
        var (name, index, rest) = CliFailures.Split(field);
        var flag = name switch
        {
            "options.mode" or "options.transform" => "mode",
            "options.updates" => "no-edits",
            "options.filters.text" => "contains",
            "options.filters.text.contains" => "contains",
            "options.filters.text.regex" => "regex",
            "options.filters.deny_text" => "deny-contains",
            "options.filters.deny_text.contains" => "deny-contains",
            "options.filters.deny_text.regex" => "deny-regex",
            "options.filters.ignore_case" => "ignore-case",
            "options.filters.media" => "media",
            "options.filters.deny_media" => "deny-media",
            "options.filters.senders" => "senders",
            "options.filters.deny_senders" => "deny-senders",
            "options.transform.replace" => "replace",
            "options.transform.template" => "template",
            "options.transform.header" => "header",
            "options.transform.footer" => "footer",
            _ => null,
        };
        if (flag is null) return ("--options", null);
        if (_single.TryGetValue(flag, out var single)) return ("--" + flag, single);
        _lists.TryGetValue(flag, out var list);
        _ = rest;
        return ("--" + flag, CliFailures.At(list, index));
    }

    private string? One(string flag, string? value)
    {
        _single[flag] = value;
        return value;
    }

    private IReadOnlyList<string> ManyOf(string flag, IReadOnlyList<string> values)
    {
        _lists[flag] = values;
        return values;
    }

    private string[]? ManyOf(string flag, string[]? values)
    {
        if (values is not null) _lists[flag] = values;
        return values;
    }

    private static string[]? List(string? value, string flag)
    {
        if (value is null) return null;
        var items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items.Length == 0) throw new UsageException($"--{flag}: give a comma-separated list");
        return items;
    }

    private static ReplaceRule Replace(string rule)
    {
        var arrow = rule.IndexOf("=>", StringComparison.Ordinal);
        if (arrow <= 0) throw new UsageException($"--replace '{rule}': must be PATTERN=>REPLACEMENT");
        return new ReplaceRule(rule[..arrow], rule[(arrow + 2)..], false);
    }
}
