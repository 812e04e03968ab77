using System.Globalization;
using static System.FormattableString;

namespace Tern.Bench;

internal sealed class BenchOptions
{
    public const string Webhook = "webhook";
    public const string Telegram = "telegram";
    public const string WhatsApp = "whatsapp";
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    public const string Usage = """
        Tern.Bench [--scenario webhook|telegram|whatsapp] --target NAME=PATH [--target …] --n N [--n …] [--concurrency 64] [--chats 100] [--batch 1]
                   [--storage sqlite|postgres] [--instances 1]
                   [--setting Tern:Key=value …] [--env NAME=VALUE …] [--stall-timeout 60] [--wait-quiet SECONDS] [--keep]
          --scenario      webhook (default): POSTs to a webhook channel, delivered to a loopback receiver here;
                          telegram: a getUpdates backlog forwarded bot → bot through the Bot API stand-in here;
                          whatsapp: signed WhatsApp webhook POSTs ingested (Graph API stand-in here, no route)
          --target        a tern binary (apphost or single file) and the name to print for it
          --n             messages per run; every target runs once per N
          --concurrency   HTTP requests in flight against the webhook ingress (webhook and whatsapp scenarios)
          --batch         messages per WhatsApp webhook POST (whatsapp scenario; 1 to 1000)
          --chats         distinct chats the messages are spread over (delivery is ordered per chat)
          --storage       sqlite (default): tern's database in the run's directory; postgres: a private PostgreSQL
                          server started by the driver (tests/Tern.StandIns), a fresh database per run
          --instances     tern serve processes per run (default 1); more than 1 needs --storage postgres and runs
                          them as a cluster (Tern:Cluster:Enabled=true, InstanceId bench-0, bench-1, …)
          --setting       passed to `tern serve` as --Tern:Key=value (repeatable)
          --env           an environment variable for `tern serve` only (repeatable), e.g. DOTNET_GCHeapHardLimit=0xC000000
          --stall-timeout give up when no new delivery arrives for this many seconds
          --wait-quiet    before each load, wait up to this long for a 5 s window in which other
                          processes use under 10 % of the machine's CPU (a shared machine skews results)
          --keep          keep each run's directory (database, tern.log)
        """;

    public string Scenario { get; private set; } = Webhook;

    public List<Target> Targets { get; } = [];

    public List<int> Counts { get; } = [];

    public int Concurrency { get; private set; } = 64;

    public int Chats { get; private set; } = 100;

    public int Batch { get; private set; } = 1;

    public string Storage { get; private set; } = Sqlite;

    public int Instances { get; private set; } = 1;

    public List<string> Settings { get; } = [];

    public TimeSpan StallTimeout { get; private set; } = TimeSpan.FromSeconds(60);

    public bool Keep { get; private set; }

    public TimeSpan WaitQuiet { get; private set; }

    /// <summary>Environment variables for `tern serve` only (not the driver), e.g. DOTNET_GCHeapHardLimit.</summary>
    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]}: a value must follow");
            switch (args[i])
            {
                case "--scenario":
                    {
                        var value = Value();
                        options.Scenario = value is Webhook or Telegram or WhatsApp ? value : throw new ArgumentException($"--scenario '{value}': expected {Webhook}, {Telegram} or {WhatsApp}");
                        break;
                    }
                case "--target":
                    {
                        var value = Value();
                        var eq = value.IndexOf('=', StringComparison.Ordinal);
                        if (eq <= 0) throw new ArgumentException($"--target '{value}': expected NAME=PATH");
                        var path = System.IO.Path.GetFullPath(value[(eq + 1)..]);
                        if (!File.Exists(path)) throw new ArgumentException($"--target '{value}': no file {path}");
                        options.Targets.Add(new Target(value[..eq], path));
                        break;
                    }
                case "--n":
                    options.Counts.Add(Positive("--n", Value()));
                    break;
                case "--concurrency":
                    options.Concurrency = Positive("--concurrency", Value());
                    break;
                case "--chats":
                    options.Chats = Positive("--chats", Value());
                    break;
                case "--batch":
                    // Meta batches at most 1,000 messages per POST.
                    options.Batch = Positive("--batch", Value()) is var batch and <= 1000 ? batch : throw new ArgumentException("--batch: at most 1000 messages per POST");
                    break;
                case "--storage":
                    {
                        var value = Value();
                        options.Storage = value is Sqlite or Postgres ? value : throw new ArgumentException($"--storage '{value}': expected {Sqlite} or {Postgres}");
                        break;
                    }
                case "--instances":
                    options.Instances = Positive("--instances", Value());
                    break;
                case "--setting":
                    {
                        var value = Value();
                        if (!value.StartsWith("Tern:", StringComparison.OrdinalIgnoreCase) || !value.Contains('=', StringComparison.Ordinal))
                        {
                            throw new ArgumentException($"--setting '{value}': expected Tern:Key=value");
                        }
                        options.Settings.Add(value);
                        break;
                    }
                case "--stall-timeout":
                    options.StallTimeout = TimeSpan.FromSeconds(Positive("--stall-timeout", Value()));
                    break;
                case "--keep":
                    options.Keep = true;
                    break;
                case "--env":
                    {
                        var value = Value();
                        var eq = value.IndexOf('=', StringComparison.Ordinal);
                        if (eq <= 0) throw new ArgumentException($"--env '{value}': expected NAME=VALUE");
                        options.Environment[value[..eq]] = value[(eq + 1)..];
                        break;
                    }
                case "--wait-quiet":
                    options.WaitQuiet = TimeSpan.FromSeconds(Positive("--wait-quiet", Value()));
                    break;
                default:
                    throw new ArgumentException($"'{args[i]}': unknown argument");
            }
        }
        if (options.Targets.Count == 0) throw new ArgumentException("at least one --target is required");
        if (options.Counts.Count == 0) throw new ArgumentException("at least one --n is required");
        if (options.Instances > 1 && options.Storage != Postgres)
        {
            throw new ArgumentException(Invariant($"--instances {options.Instances}: several instances share one PostgreSQL database; add --storage {Postgres}"));
        }
        return options;
    }

    private static int Positive(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"{name} '{value}': expected a positive whole number");
}
