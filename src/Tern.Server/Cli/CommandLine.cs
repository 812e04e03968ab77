namespace Tern.Server.Cli;

/// <summary>A usage mistake on the command line: one line naming the bad value, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Splits <c>tern [verb [noun]] [--option value]… [--Tern:Key=value]…</c>. Settings (<c>--Tern:…</c>)
/// go to the configuration, like appsettings.json and TERN__ environment variables; everything else
/// belongs to the verb.
/// </summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, List<string>> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private CommandLine(IReadOnlyList<string> words, IReadOnlyList<string> settings)
    {
        Words = words;
        Settings = settings;
    }

    /// <summary>Positional words: the verb and its noun (e.g. "channels", "add").</summary>
    public IReadOnlyList<string> Words { get; }

    /// <summary>Arguments for the configuration's command-line provider.</summary>
    public IReadOnlyList<string> Settings { get; }

    public static CommandLine Parse(string[] args)
    {
        var words = new List<string>();
        var settings = new List<string>();
        var pending = new List<(string Name, string? Value)>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg.StartsWith("--tern:", StringComparison.OrdinalIgnoreCase) || arg.StartsWith("/tern:", StringComparison.OrdinalIgnoreCase))
            {
                settings.Add(arg);
                if (!arg.Contains('=', StringComparison.Ordinal))
                {
                    if (i + 1 >= args.Length) throw new UsageException($"{arg[2..]}: a value must follow");
                    settings.Add(args[++i]);
                }
                continue;
            }
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2)
            {
                var eq = arg.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    pending.Add((arg[2..eq], arg[(eq + 1)..]));
                }
                else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    pending.Add((arg[2..], args[++i]));
                }
                else
                {
                    pending.Add((arg[2..], null));
                }
                continue;
            }
            if (pending.Count > 0) throw new UsageException($"'{arg}': unexpected argument after options");
            words.Add(arg);
        }

        var line = new CommandLine(words, settings);
        foreach (var (name, value) in pending)
        {
            if (!line._options.TryGetValue(name, out var values)) line._options[name] = values = [];
            values.Add(value ?? "");
        }
        return line;
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        return _options.ContainsKey(name);
    }

    public string? Optional(string name)
    {
        _used.Add(name);
        if (!_options.TryGetValue(name, out var values)) return null;
        if (values.Count > 1) throw new UsageException($"--{name}: given more than once");
        if (values[0].Length == 0) throw new UsageException($"--{name}: a value must follow");
        return values[0];
    }

    public string Required(string name) => Optional(name) ?? throw new UsageException($"--{name} is required");

    public IReadOnlyList<string> Many(string name)
    {
        _used.Add(name);
        if (!_options.TryGetValue(name, out var values)) return [];
        foreach (var value in values)
        {
            if (value.Length == 0) throw new UsageException($"--{name}: a value must follow");
        }
        return values;
    }

    /// <summary>Throws for an option the verb did not ask for.</summary>
    public void RejectUnused()
    {
        foreach (var name in _options.Keys)
        {
            if (!_used.Contains(name)) throw new UsageException($"--{name}: unknown option");
        }
    }
}
