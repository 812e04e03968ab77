namespace Tern.Server.Tests.Infrastructure;

/// <summary>
/// A temporary working directory for <c>tern</c> with its SQLite file: runs the CLI verbs there and
/// starts servers on that database. Deleted on dispose.
/// </summary>
public sealed class TernHome : IDisposable
{
    public const string InboundChannel = "in";
    public const string OutboundChannel = "out";
    public const string RouteId = "in-to-out";
    public static readonly string InboundSecret = TestSecrets.For("inbound");

    /// <summary>
    /// Every stand-in and receiver is on loopback, which Tern refuses to call unless the operator allows it; every
    /// CLI run and server starts with this first. A test of the refusal passes <see cref="PublicOnly"/> after it.
    /// </summary>
    public const string LoopbackAllowed = "--Tern:Security:AllowedPrivateNetworks=127.0.0.0/8,::1/128";

    /// <summary>The default: public destinations only (the later setting wins).</summary>
    public const string PublicOnly = "--Tern:Security:AllowedPrivateNetworks=";

    private TernHome(string directory) => Directory = directory;

    public string Directory { get; }

    public string DatabasePath => Path.Combine(Directory, "data", "tern.db");

    public TernDatabase Database => new(DatabasePath);

    public static TernHome Create()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tern-tests", Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        return new TernHome(directory);
    }

    /// <summary>Runs <c>tern args…</c> in this directory on this database.</summary>
    public Task<CliResult> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var given = args.ToList();
        var allowList = given.Exists(a => a.StartsWith(PublicOnly, StringComparison.OrdinalIgnoreCase)) ? [] : new[] { LoopbackAllowed };
        return TernCli.RunAsync(Directory, [.. given, $"--Tern:Storage:Path={DatabasePath}", .. allowList], environment);
    }

    /// <summary>Runs a CLI verb that must succeed.</summary>
    public async Task<CliResult> RunOkAsync(params string[] args)
    {
        var result = await RunAsync(args);
        Assert.True(result.ExitCode == 0, $"`tern {string.Join(' ', args)}` failed: {result}");
        return result;
    }

    /// <summary>
    /// The pipeline most tests use: a signed inbound webhook channel <c>in</c>, an outbound channel
    /// <c>out</c> posting to <paramref name="receiver"/> (signed with its secret), and a route between them.
    /// </summary>
    public async Task AddWebhookPipelineAsync(LoopbackReceiver receiver, int? outboundMaxConcurrency = null)
    {
        await RunOkAsync("channels", "add", "--id", InboundChannel, "--secret", InboundSecret);
        List<string> add = ["channels", "add", "--id", OutboundChannel, "--url", receiver.Url.ToString(), "--secret", receiver.Secret];
        if (outboundMaxConcurrency is { } max) add.AddRange(["--max-concurrency", max.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await RunOkAsync([.. add]);
        await RunOkAsync("routes", "add", "--id", RouteId, "--from", InboundChannel, "--to", OutboundChannel);
    }

    /// <summary>Starts <c>tern serve</c> on this database with extra <c>--Tern:Key=value</c> settings.</summary>
    public Task<TernProcess> StartAsync(ITestOutputHelper? output, params string[] settings) => TernProcess.StartAsync(this, output, settings);

    /// <summary>Builds and starts a Tern host in the test process on this database (no child process; for what needs no SIGKILL or exit code).</summary>
    public Task<InProcessTern> StartInProcessAsync(params string[] settings) => InProcessTern.StartAsync(this, settings);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
