using RouteOptions = Tern.Core.Routing.RouteOptions;
using Tern.Core.Routing;

namespace Tern.Server.Cli;

/// <summary>Route filters and transforms from <c>tern routes add</c> flags, checked one by one so a mistake names its flag.</summary>
internal static class RouteOptionFlags
{
    public const string Usage =
        "[--mode copy|forward] [--contains TEXT]… [--regex RE]… [--deny-contains TEXT]… [--deny-regex RE]… [--ignore-case] " +
        "[--media photo,video,…] [--deny-media …] [--senders ID,@name,…] [--deny-senders …] [--replace 'RE=>TEXT']… " +
        "[--header TEXT] [--footer TEXT] [--template TEXT] [--no-edits] [--callbacks] | [--options JSON]";

    /// <summary>The options the flags describe; null when none were given (the route copies everything as it is).</summary>
    public static RouteOptions? Read(CommandLine line)
    {
        var json = line.Optional("options");
        var mode = line.Optional("mode");
        var contains = line.Many("contains");
        var regex = line.Many("regex");
        var denyContains = line.Many("deny-contains");
        var denyRegex = line.Many("deny-regex");
        var ignoreCase = line.Flag("ignore-case");
        var media = line.Optional("media");
        var denyMedia = line.Optional("deny-media");
        var senders = line.Optional("senders");
        var denySenders = line.Optional("deny-senders");
        var replace = line.Many("replace");
        var header = line.Optional("header");
        var footer = line.Optional("footer");
        var template = line.Optional("template");
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
            return parsed;
        }
        if (!anyFlag) return null;

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
            Text = Match(contains, regex, ignoreCase, "contains", "regex"),
            DenyText = Match(denyContains, denyRegex, ignoreCase, "deny-contains", "deny-regex"),
            Media = MediaList(media, "media"),
            DenyMedia = MediaList(denyMedia, "deny-media"),
            Senders = List(senders, "senders"),
            DenySenders = List(denySenders, "deny-senders"),
            Replace = replace.Count == 0 ? null : replace.Select(Replace).ToArray(),
            Header = header,
            Footer = footer,
            Template = template is not null && MessageTemplate.Check(template) is { } problem ? throw new UsageException($"--template '{template}': {problem}") : template,
        };
        if (options.Mode == RouteMode.Forward && options.HasTransform)
        {
            throw new UsageException("--mode forward: a forwarded message cannot be changed; transforms (--replace, --header, --footer, --template) need --mode copy");
        }
        return options;
    }

    private static TextMatch? Match(IReadOnlyList<string> contains, IReadOnlyList<string> regex, bool ignoreCase, string containsFlag, string regexFlag)
    {
        if (contains.Count == 0 && regex.Count == 0) return null;
        foreach (var pattern in regex)
        {
            if (RouteOptions.CheckRegex(pattern, ignoreCase) is { } problem) throw new UsageException($"--{regexFlag} '{pattern}': {problem}");
        }
        _ = containsFlag;
        return new TextMatch(contains, regex);
    }

    private static string[]? MediaList(string? value, string flag)
    {
        var list = List(value, flag);
        if (list is null) return null;
        foreach (var type in list)
        {
            if (!RouteOptions.MediaTypes.Contains(type)) throw new UsageException($"--{flag} '{type}': must be one of {string.Join(", ", RouteOptions.MediaTypes)}");
        }
        return list;
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
        var pattern = rule[..arrow];
        if (RouteOptions.CheckRegex(pattern, false) is { } problem) throw new UsageException($"--replace '{rule}': {problem}");
        return new ReplaceRule(pattern, rule[(arrow + 2)..], false);
    }
}
