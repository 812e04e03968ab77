using System.Text.RegularExpressions;

namespace Tern.Core.Routing;

/// <summary>A route's options made ready to run: patterns compiled, lists turned into sets. Built once per catalog version.</summary>
public sealed class RouteRules
{
    private readonly string[] _allowContains;
    private readonly Regex[] _allowRegex;
    private readonly string[] _denyContains;
    private readonly Regex[] _denyRegex;
    private readonly StringComparison _comparison;
    private readonly HashSet<string>? _media;
    private readonly HashSet<string>? _denyMedia;
    private readonly SenderSet? _senders;
    private readonly SenderSet? _denySenders;
    private readonly (Regex Pattern, string With)[] _replace;
    private readonly MessageTemplate? _template;

    private RouteRules(RouteOptions options)
    {
        Options = options;
        _comparison = options.IgnoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        _allowContains = options.Text?.Contains.ToArray() ?? [];
        _allowRegex = options.Text?.Regex.Select(r => RouteOptions.CompileRegex(r, options.IgnoreCase)).ToArray() ?? [];
        _denyContains = options.DenyText?.Contains.ToArray() ?? [];
        _denyRegex = options.DenyText?.Regex.Select(r => RouteOptions.CompileRegex(r, options.IgnoreCase)).ToArray() ?? [];
        _media = options.Media is null ? null : new HashSet<string>(options.Media, StringComparer.Ordinal);
        _denyMedia = options.DenyMedia is null ? null : new HashSet<string>(options.DenyMedia, StringComparer.Ordinal);
        _senders = options.Senders is null ? null : new SenderSet(options.Senders);
        _denySenders = options.DenySenders is null ? null : new SenderSet(options.DenySenders);
        _replace = options.Replace?.Select(r => (RouteOptions.CompileRegex(r.Pattern, r.IgnoreCase), r.With)).ToArray() ?? [];
        _template = options.Template is null ? null : MessageTemplate.Parse(options.Template);
    }

    public static RouteRules Default { get; } = new(RouteOptions.Default);

    public RouteOptions Options { get; }

    public bool HasTransform => Options.HasTransform;

    /// <summary>Compiles checked options (<see cref="RouteOptions.Parse(string, Dictionary{string, string[]}, string)"/>); throws for options that were never checked.</summary>
    public static RouteRules Compile(RouteOptions options) => options.IsDefault ? Default : new RouteRules(options);

    /// <summary>Whether a message with these facts goes through this route's filters.</summary>
    public bool Passes(in MessageFacts facts)
    {
        var text = facts.Text ?? "";
        if (_allowContains.Length > 0 || _allowRegex.Length > 0)
        {
            if (!Matches(text, _allowContains, _allowRegex)) return false;
        }
        if ((_denyContains.Length > 0 || _denyRegex.Length > 0) && Matches(text, _denyContains, _denyRegex)) return false;
        if (_media is not null && !facts.MediaTypes.Any(_media.Contains)) return false;
        if (_denyMedia is not null && facts.MediaTypes.Any(_denyMedia.Contains)) return false;
        if (_senders is not null && !_senders.Contains(facts.Sender, facts.SenderUsername)) return false;
        if (_denySenders is not null && _denySenders.Contains(facts.Sender, facts.SenderUsername)) return false;
        return true;
    }

    private bool Matches(string text, string[] contains, Regex[] patterns)
    {
        foreach (var needle in contains)
        {
            if (text.Contains(needle, _comparison)) return true;
        }
        foreach (var pattern in patterns)
        {
            try
            {
                if (pattern.IsMatch(text)) return true;
            }
            catch (RegexMatchTimeoutException)
            {
                // Too slow to decide: counts as no match, the same for every message, rather than stalling the worker.
            }
        }
        return false;
    }

    /// <summary>The copied text after replacements, template, header and footer (in that order).</summary>
    public string Transform(string? text, in MessageFacts facts)
    {
        var result = text ?? "";
        foreach (var (pattern, with) in _replace)
        {
            try
            {
                result = pattern.Replace(result, with);
            }
            catch (RegexMatchTimeoutException)
            {
                // A rule that times out leaves the text as it was.
            }
        }
        if (_template is not null) result = _template.Render(result, facts);
        if (Options.Header is not null) result = Options.Header + result;
        if (Options.Footer is not null) result += Options.Footer;
        return result;
    }

    /// <summary>Sender ids, and @usernames compared without case.</summary>
    private sealed class SenderSet(IEnumerable<string> entries)
    {
        private readonly HashSet<string> _ids = new(entries.Where(e => !e.StartsWith('@')).Select(e => e.Trim()), StringComparer.Ordinal);
        private readonly HashSet<string> _usernames = new(entries.Where(e => e.StartsWith('@')).Select(e => e[1..].Trim()), StringComparer.OrdinalIgnoreCase);

        public bool Contains(string? id, string? username) =>
            (id is not null && _ids.Contains(id)) || (username is not null && _usernames.Contains(username.TrimStart('@')));
    }
}
