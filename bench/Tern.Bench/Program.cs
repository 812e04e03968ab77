using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static System.FormattableString;

namespace Tern.Bench;

/// <summary>
/// The webhook → webhook benchmark. For each tern binary and each message count N: a fresh directory
/// with a webhook channel "in", a webhook channel "out" pointing at a loopback receiver hosted here,
/// and a route in → out; then N messages POSTed to /hooks/webhook/in with a fixed HTTP concurrency.
/// Measures the time from the first POST to the last new delivery at the receiver, the tern process's
/// RSS and private memory (sampled every 100 ms from /proc), and counts lost and duplicated messages.
/// Usage: see bench/webhook.sh.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync("Tern.Bench: " + ex.Message + "\n\n" + BenchOptions.Usage);
            return 2;
        }

        await using var receiver = await Receiver.StartAsync();
        Console.WriteLine(Invariant($"receiver on {receiver.BaseUrl}; concurrency {options.Concurrency}; chats {options.Chats}; tern settings: {string.Join(" ", options.Settings)}; tern environment: {string.Join(" ", options.Environment.Select(e => e.Key + "=" + e.Value))}"));
        Console.WriteLine(Invariant($"machine: {Environment.ProcessorCount} cores, {Machine.TotalMemoryMb()} MB RAM, {RuntimeInformation.OSDescription}, driver on .NET {Environment.Version}"));

        // JIT the driver's own client and receiver paths first, so the first run is not the driver's warm-up.
        await receiver.WarmUpAsync(options.Concurrency);

        var results = new List<RunResult>();
        foreach (var n in options.Counts)
        {
            foreach (var target in options.Targets)
            {
                Console.WriteLine(Invariant($"--- {target.Name}, N = {n}"));
                var result = await Run.ExecuteAsync(target, n, options, receiver);
                results.Add(result);
                Console.WriteLine(RunResult.Header);
                Console.WriteLine(result.Row);
            }
        }

        Console.WriteLine();
        Console.WriteLine(RunResult.Header);
        Console.WriteLine(RunResult.Rule);
        foreach (var result in results) Console.WriteLine(result.Row);
        return results.All(r => r.Lost == 0 && r.ExitCode == 0) ? 0 : 1;
    }
}

internal sealed record Target(string Name, string Path);

internal sealed class BenchOptions
{
    public const string Usage = """
        Tern.Bench --target NAME=PATH [--target …] --n N [--n …] [--concurrency 64] [--chats 100]
                   [--setting Tern:Key=value …] [--env NAME=VALUE …] [--stall-timeout 60] [--wait-quiet SECONDS] [--keep]
          --target        a tern binary (apphost or single file) and the name to print for it
          --n             messages per run; every target runs once per N
          --concurrency   HTTP requests in flight against the webhook ingress
          --chats         distinct chats the messages are spread over (delivery is ordered per chat)
          --setting       passed to `tern serve` as --Tern:Key=value (repeatable)
          --env           an environment variable for `tern serve` only (repeatable), e.g. DOTNET_GCHeapHardLimit=0xC000000
          --stall-timeout give up when no new delivery arrives for this many seconds
          --wait-quiet    before each load, wait up to this long for a 5 s window in which other
                          processes use under 10 % of the machine's CPU (a shared machine skews results)
          --keep          keep each run's directory (database, tern.log)
        """;

    public List<Target> Targets { get; } = [];

    public List<int> Counts { get; } = [];

    public int Concurrency { get; private set; } = 64;

    public int Chats { get; private set; } = 100;

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
        return options;
    }

    private static int Positive(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"{name} '{value}': expected a positive whole number");
}

internal sealed record RunResult(
    string Build,
    int N,
    double Seconds,
    double IngestSeconds,
    double PeakRssMb,
    double PeakPrivateMb,
    double HwmMb,
    double EndRssMb,
    double IdleRssMb,
    long Lost,
    long Duplicated,
    double CpuSeconds,
    double OthersCpuPercent,
    long Busy503,
    long Errors,
    int ExitCode)
{
    public const string Header = "| build | N | seconds | msg/s | peak RSS MB | peak private MB | lost | duplicated | VmHWM MB | end RSS MB | idle RSS MB | ingest msg/s | tern CPU ms/msg | others' CPU % | 503s | errors | exit |";
    public const string Rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

    public string Row => Invariant(
        $"| {Build} | {N} | {Seconds:F1} | {N / Seconds:F0} | {PeakRssMb:F1} | {PeakPrivateMb:F1} | {Lost} | {Duplicated} | {HwmMb:F1} | {EndRssMb:F1} | {IdleRssMb:F1} | {N / IngestSeconds:F0} | {CpuSeconds * 1000 / N:F2} | {OthersCpuPercent:F0} | {Busy503} | {Errors} | {ExitCode} |");
}

/// <summary>One target × one N.</summary>
internal static class Run
{
    public static async Task<RunResult> ExecuteAsync(Target target, int n, BenchOptions options, Receiver receiver)
    {
        var home = Path.Combine(Path.GetTempPath(), "tern-bench-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(home);
        var runId = receiver.Reset(n);
        try
        {
            await TernProcess.RunToEndAsync(target.Path, home, ["channels", "add", "--id", "in"]);
            await TernProcess.RunToEndAsync(target.Path, home, ["channels", "add", "--id", "out", "--url", receiver.UrlFor(runId)]);
            await TernProcess.RunToEndAsync(target.Path, home, ["routes", "add", "--id", "bench", "--from", "in", "--to", "out"]);

            var port = Ports.Free();
            var baseUrl = Invariant($"http://127.0.0.1:{port}");
            List<string> serve = ["serve", "--Tern:Http:Url=" + baseUrl];
            serve.AddRange(options.Settings.Select(s => "--" + s));
            await using var tern = TernProcess.Start(target.Path, home, serve, Path.Combine(home, "tern.log"), options.Environment);

            using var handler = new SocketsHttpHandler
            {
                MaxConnectionsPerServer = options.Concurrency,
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
                UseCookies = false,
                UseProxy = false,
                AllowAutoRedirect = false,
            };
            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
            await WaitReadyAsync(http, baseUrl, tern);
            Console.WriteLine(await MemoryPlanAsync(http, baseUrl));

            // Idle: after start-up work settles.
            await Task.Delay(TimeSpan.FromSeconds(2));
            var idle = ProcMemory.Read(tern.Id);

            if (options.WaitQuiet > TimeSpan.Zero) await Cpu.WaitQuietAsync(tern.Id, options.WaitQuiet);
            using var sampler = new MemorySampler(tern.Id, TimeSpan.FromMilliseconds(100));
            var cpuBefore = Cpu.Snapshot(tern.Id);
            using var stopProgress = new CancellationTokenSource();
            var progress = ProgressAsync(tern.Id, n, receiver, stopProgress.Token);
            var load = await LoadAsync(http, baseUrl, n, options);
            var delivered = await receiver.WaitForAllAsync(options.StallTimeout);
            var cpuAfter = Cpu.Snapshot(tern.Id);
            await stopProgress.CancelAsync();
            await progress;
            // A moment for late duplicates to show up.
            await Task.Delay(TimeSpan.FromSeconds(1));
            var final = ProcMemory.Read(tern.Id);
            sampler.Observe(final);
            await sampler.StopAsync();

            var ready = await TryGetAsync(http, baseUrl + "/health/ready");
            var exit = await tern.TerminateAsync(TimeSpan.FromSeconds(30));

            var (distinct, duplicates, lastTicks) = receiver.Snapshot();
            var seconds = delivered
                ? Stopwatch.GetElapsedTime(load.StartTicks, lastTicks).TotalSeconds
                : Stopwatch.GetElapsedTime(load.StartTicks).TotalSeconds;
            var dbBytes = Directory.GetFiles(Path.Combine(home, "data")).Sum(f => new FileInfo(f).Length);
            Console.WriteLine(Invariant($"ingest {load.Seconds:F1} s; delivered {distinct}/{n} in {seconds:F1} s; db {dbBytes / 1048576.0:F0} MB; {sampler.Samples} samples, RSS peaked {sampler.PeakRssAt.TotalSeconds:F1} s into the load; tern CPU {cpuAfter.TernSeconds - cpuBefore.TernSeconds:F1} s; ready: {ready}"));
            if (exit != 0) Console.WriteLine($"tern exit code {exit}; last log lines:\n{tern.Tail(20)}");

            return new RunResult(
                target.Name, n, seconds, load.Seconds,
                sampler.PeakRssKb / 1024.0,
                sampler.PeakPrivateKb / 1024.0,
                final.HwmKb / 1024.0,
                final.RssKb / 1024.0,
                idle.RssKb / 1024.0,
                n - distinct, duplicates, cpuAfter.TernSeconds - cpuBefore.TernSeconds, Cpu.OthersPercent(cpuBefore, cpuAfter), load.Busy, load.Errors, exit);
        }
        finally
        {
            receiver.Reset(0);
            if (options.Keep) Console.WriteLine("kept " + home);
            else TryDelete(home);
        }
    }

    /// <summary>Every 10 s: deliveries so far and the memory figures, to see whether memory follows N or levels off.</summary>
    private static async Task ProgressAsync(int pid, int n, Receiver receiver, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(10));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var memory = ProcMemory.Read(pid);
                Console.WriteLine(Invariant(
                    $"  {Stopwatch.GetElapsedTime(start).TotalSeconds,5:F0} s  delivered {receiver.Snapshot().Distinct,7}/{n}  RSS {memory.RssKb / 1024.0,6:F1} MB  private {memory.PrivateKb / 1024.0,6:F1} MB"));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed record LoadResult(long StartTicks, double Seconds, long Busy, long Errors);

    private static async Task<LoadResult> LoadAsync(HttpClient http, string baseUrl, int n, BenchOptions options)
    {
        var uri = new Uri(baseUrl + "/hooks/webhook/in");
        var json = new MediaTypeHeaderValue("application/json");
        var next = -1;
        long busy = 0, errors = 0;
        var start = Stopwatch.GetTimestamp();

        async Task WorkerAsync()
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= n) return;
                var body = Encoding.UTF8.GetBytes(Invariant($$"""{"id":"m{{i}}","chat":"c{{i % options.Chats}}","sender":"bench","text":"{{i}}"}"""));
                for (var attempt = 0; ; attempt++)
                {
                    try
                    {
                        using var content = new ByteArrayContent(body);
                        content.Headers.ContentType = json;
                        using var response = await http.PostAsync(uri, content);
                        if (response.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK) break;
                        if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                        {
                            Interlocked.Increment(ref busy);
                            await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromMilliseconds(200));
                            continue;
                        }
                        Interlocked.Increment(ref errors);
                        if (Interlocked.Read(ref errors) <= 5)
                        {
                            Console.WriteLine(Invariant($"POST m{i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}"));
                        }
                        if (attempt >= 3) break;
                    }
                    catch (HttpRequestException ex)
                    {
                        Interlocked.Increment(ref errors);
                        if (Interlocked.Read(ref errors) <= 5) Console.WriteLine(Invariant($"POST m{i}: {ex.Message}"));
                        if (attempt >= 3) break;
                        await Task.Delay(100);
                    }
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(WorkerAsync)));
        return new LoadResult(start, Stopwatch.GetElapsedTime(start).TotalSeconds, busy, errors);
    }

    private static async Task WaitReadyAsync(HttpClient http, string baseUrl, TernProcess tern)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (tern.HasExited) throw new InvalidOperationException("tern exited at start:\n" + tern.Tail(30));
            try
            {
                using var response = await http.GetAsync(new Uri(baseUrl + "/health/ready"));
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new InvalidOperationException("tern was not ready within 30 s:\n" + tern.Tail(30));
    }

    private static async Task<string> TryGetAsync(HttpClient http, string url)
    {
        try
        {
            using var document = JsonDocument.Parse(await http.GetStringAsync(new Uri(url)));
            var root = document.RootElement;
            string Field(string name) => root.TryGetProperty(name, out var v) ? v.GetRawText() : "?";
            return $"received {Field("received")}, delivered {Field("delivered")}, failed {Field("failed")}, retried {Field("retried")}, " +
                $"managed heap {Field("managed_heap_bytes")} B";
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException)
        {
            return "unavailable: " + ex.Message;
        }
    }

    /// <summary>The memory budget and the bounds derived from it, from GET /memory (when the build has it).</summary>
    private static async Task<string> MemoryPlanAsync(HttpClient http, string baseUrl)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(baseUrl + "/memory"));
            if (!response.IsSuccessStatusCode) return Invariant($"GET /memory: {(int)response.StatusCode}");
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var root = document.RootElement;
            var text = new StringBuilder("budget ");
            if (root.TryGetProperty("budget_bytes", out var budget) && budget.TryGetInt64(out var bytes)) text.Append(Invariant($"{bytes / 1048576} MB"));
            if (root.TryGetProperty("budget_source", out var source)) text.Append(" (").Append(source.GetString()).Append(')');
            if (root.TryGetProperty("structures", out var structures) && structures.ValueKind == JsonValueKind.Array)
            {
                text.Append("; bounds:");
                foreach (var structure in structures.EnumerateArray())
                {
                    text.Append(' ').Append(structure.GetProperty("name").GetString()).Append('=').Append(structure.GetProperty("capacity").GetRawText());
                }
            }
            return text.ToString();
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException or TaskCanceledException)
        {
            return "GET /memory: " + ex.Message;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>
/// The loopback receiver: Kestrel answering 200 to POST /r/{run}. It reads the message index from the
/// delivery's "text" and counts each index, so lost and duplicated messages are exact.
/// </summary>
internal sealed class Receiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly object _gate = new();
    private int[] _counts = [];
    private int _run;
    private long _distinct;
    private long _duplicates;
    private long _lastNewTicks;

    private Receiver(WebApplication app)
    {
        _app = app;
    }

    public string BaseUrl { get; private set; } = "";

    public static async Task<Receiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
        var app = builder.Build();
        var receiver = new Receiver(app);
        app.MapPost("/r/{run:int}", receiver.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.BaseUrl = address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
        return receiver;
    }

    public string UrlFor(int run) => Invariant($"{BaseUrl}/r/{run}");

    /// <summary>POSTs a few thousand deliveries to itself (as run 0, which no run uses) to warm up the JIT.</summary>
    public async Task WarmUpAsync(int concurrency)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, UseProxy = false });
        var uri = new Uri(UrlFor(0));
        var next = -1;
        async Task WorkerAsync()
        {
            while (Interlocked.Increment(ref next) < 5000)
            {
                using var content = new StringContent("""{"chat":"c0","text":"0"}""", Encoding.UTF8, "application/json");
                using var response = await http.PostAsync(uri, content);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkerAsync)));
    }

    /// <summary>Starts counting a new run of <paramref name="n"/> messages; returns its id.</summary>
    public int Reset(int n)
    {
        lock (_gate)
        {
            _counts = new int[n];
            Interlocked.Exchange(ref _distinct, 0);
            Interlocked.Exchange(ref _duplicates, 0);
            Interlocked.Exchange(ref _lastNewTicks, 0);
            return ++_run;
        }
    }

    public (long Distinct, long Duplicates, long LastNewTicks) Snapshot() =>
        (Interlocked.Read(ref _distinct), Interlocked.Read(ref _duplicates), Interlocked.Read(ref _lastNewTicks));

    /// <summary>Waits until every message arrived; false when deliveries stalled for <paramref name="stall"/> first.</summary>
    public async Task<bool> WaitForAllAsync(TimeSpan stall)
    {
        var n = Volatile.Read(ref _counts).Length;
        var seen = -1L;
        var since = Stopwatch.GetTimestamp();
        while (true)
        {
            var distinct = Interlocked.Read(ref _distinct);
            if (distinct >= n) return true;
            if (distinct != seen)
            {
                seen = distinct;
                since = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(since) > stall)
            {
                Console.WriteLine(Invariant($"no new delivery for {stall.TotalSeconds} s; {distinct}/{n} arrived"));
                return false;
            }
            await Task.Delay(20);
        }
    }

    private async Task<IResult> HandleAsync(int run, HttpContext context)
    {
        var buffer = new byte[4096];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
            var read = await context.Request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted);
            if (read == 0) break;
            length += read;
        }
        var index = TextIndex(buffer.AsSpan(0, length));
        var counts = Volatile.Read(ref _counts);
        if (run == Volatile.Read(ref _run) && index >= 0 && index < counts.Length)
        {
            if (Interlocked.Increment(ref counts[index]) == 1)
            {
                Interlocked.Increment(ref _distinct);
                var now = Stopwatch.GetTimestamp();
                long last;
                do
                {
                    last = Interlocked.Read(ref _lastNewTicks);
                }
                while (now > last && Interlocked.CompareExchange(ref _lastNewTicks, now, last) != last);
            }
            else
            {
                Interlocked.Increment(ref _duplicates);
            }
        }
        return Results.Ok();
    }

    /// <summary>The top-level "text" property as a number (the benchmark's message index), or -1.</summary>
    private static int TextIndex(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("text"u8))
                {
                    reader.Read();
                    return reader.TokenType == JsonTokenType.String && int.TryParse(reader.ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : -1;
                }
            }
        }
        catch (JsonException)
        {
        }
        return -1;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A tern child process with its output going to a log file.</summary>
internal sealed class TernProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Queue<string> _tail = new();

    private TernProcess(Process process, StreamWriter log)
    {
        _process = process;
        _log = log;
        _process.OutputDataReceived += (_, e) => Write(e.Data);
        _process.ErrorDataReceived += (_, e) => Write(e.Data);
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public static TernProcess Start(string path, string workingDirectory, IEnumerable<string> args, string logPath, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(path)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("TERN__", StringComparison.OrdinalIgnoreCase)).ToList()) info.Environment.Remove(key);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        var log = new StreamWriter(logPath, append: true, Encoding.UTF8);
        var process = new Process { StartInfo = info };
        var tern = new TernProcess(process, log);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return tern;
    }

    public static async Task RunToEndAsync(string path, string workingDirectory, IEnumerable<string> args)
    {
        var argList = args.ToList();
        await using var tern = Start(path, workingDirectory, argList, Path.Combine(workingDirectory, "tern-cli.log"));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await tern._process.WaitForExitAsync(deadline.Token);
        tern._process.WaitForExit();
        if (tern._process.ExitCode != 0)
        {
            throw new InvalidOperationException($"`tern {string.Join(' ', argList)}` exited with {tern._process.ExitCode}:\n{tern.Tail(20)}");
        }
    }

    public string Tail(int lines)
    {
        lock (_tail) return string.Join('\n', _tail.TakeLast(lines));
    }

    /// <summary>SIGTERM, then the exit code (or -1 after killing it when it does not stop in time).</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        if (_process.HasExited) return _process.ExitCode;
        _ = Native.Kill(_process.Id, Native.SigTerm);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
            return -1;
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process.Dispose();
        lock (_tail) _log.Dispose();
    }

    private void Write(string? line)
    {
        if (line is null) return;
        lock (_tail)
        {
            _log.WriteLine(line);
            _tail.Enqueue(line);
            if (_tail.Count > 50) _tail.Dequeue();
        }
    }
}

internal static class Native
{
    public const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern int Kill(int pid, int signal);

    [DllImport("libc", EntryPoint = "sysconf")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern long SysConf(int name);

    public const int ScClkTck = 2;
}

/// <summary>One reading of a process's memory, in KiB.</summary>
internal readonly record struct MemoryReading(long RssKb, long HwmKb, long PrivateKb);

internal static class ProcMemory
{
    /// <summary>VmRSS and VmHWM from /proc/PID/status; Private_Clean + Private_Dirty from /proc/PID/smaps_rollup.</summary>
    public static MemoryReading Read(int pid)
    {
        long rss = 0, hwm = 0, privateKb = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb(line);
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = Kb(line);
            }
            foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/smaps_rollup"))
            {
                if (line.StartsWith("Private_Clean:", StringComparison.Ordinal) || line.StartsWith("Private_Dirty:", StringComparison.Ordinal)) privateKb += Kb(line);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The process is gone.
        }
        return new MemoryReading(rss, hwm, privateKb);
    }

    private static long Kb(string line)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? kb : 0;
    }
}

/// <summary>Samples a process's memory on a timer and keeps the peaks.</summary>
internal sealed class MemorySampler : IDisposable
{
    private readonly int _pid;
    private readonly PeriodicTimer _timer;
    private readonly Task _loop;
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _peakRss;
    private long _peakRssTicks;
    private long _peakPrivate;
    private int _samples;

    public MemorySampler(int pid, TimeSpan interval)
    {
        _pid = pid;
        _timer = new PeriodicTimer(interval);
        Observe(ProcMemory.Read(pid));
        _loop = Task.Run(LoopAsync);
    }

    public long PeakRssKb => Interlocked.Read(ref _peakRss);

    public long PeakPrivateKb => Interlocked.Read(ref _peakPrivate);

    public int Samples => Volatile.Read(ref _samples);

    /// <summary>When the highest RSS sample was taken, from the sampler's start.</summary>
    public TimeSpan PeakRssAt => Stopwatch.GetElapsedTime(_start, Interlocked.Read(ref _peakRssTicks));

    public void Observe(MemoryReading reading)
    {
        Interlocked.Increment(ref _samples);
        if (Max(ref _peakRss, reading.RssKb)) Interlocked.Exchange(ref _peakRssTicks, Stopwatch.GetTimestamp());
        Max(ref _peakPrivate, reading.PrivateKb);
    }

    public async Task StopAsync()
    {
        _timer.Dispose();
        await _loop;
    }

    private async Task LoopAsync()
    {
        while (await _timer.WaitForNextTickAsync()) Observe(ProcMemory.Read(_pid));
    }

    /// <summary>Raises <paramref name="field"/> to <paramref name="value"/>; true when it did.</summary>
    private static bool Max(ref long field, long value)
    {
        while (true)
        {
            var seen = Interlocked.Read(ref field);
            if (value <= seen) return false;
            if (Interlocked.CompareExchange(ref field, value, seen) == seen) return true;
        }
    }

    public void Dispose() => _timer.Dispose();
}

/// <summary>CPU accounting from /proc: tern's own time, the driver's, and everyone else's.</summary>
internal static class Cpu
{
    private static readonly double Hz = Native.SysConf(Native.ScClkTck) is > 0 and var hz ? hz : 100;

    public readonly record struct Reading(long Timestamp, double MachineBusySeconds, double TernSeconds, double DriverSeconds);

    public static Reading Snapshot(int ternPid) =>
        new(Stopwatch.GetTimestamp(), MachineBusySeconds(), ProcessSeconds(ternPid.ToString(CultureInfo.InvariantCulture)), ProcessSeconds("self"));

    /// <summary>CPU used by processes other than tern and the driver, as a share of the machine's capacity over the interval.</summary>
    public static double OthersPercent(Reading before, Reading after)
    {
        var wall = Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp).TotalSeconds;
        var others = (after.MachineBusySeconds - before.MachineBusySeconds) - (after.TernSeconds - before.TernSeconds) - (after.DriverSeconds - before.DriverSeconds);
        return wall <= 0 ? 0 : Math.Max(0, others) * 100 / (wall * Environment.ProcessorCount);
    }

    /// <summary>Waits until other processes leave the machine (nearly) idle for 5 s, or <paramref name="max"/> passes.</summary>
    public static async Task WaitQuietAsync(int ternPid, TimeSpan max)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var before = Snapshot(ternPid);
            await Task.Delay(TimeSpan.FromSeconds(5));
            var after = Snapshot(ternPid);
            var others = OthersPercent(before, after);
            if (others < 10)
            {
                if (waited.Elapsed > TimeSpan.FromSeconds(6)) Console.WriteLine(Invariant($"machine quiet after {waited.Elapsed.TotalSeconds:F0} s"));
                return;
            }
            if (waited.Elapsed > max)
            {
                Console.WriteLine(Invariant($"machine still busy ({others:F0} % CPU used by other processes) after {max.TotalSeconds:F0} s; running anyway"));
                return;
            }
        }
    }

    /// <summary>Busy time of all CPUs (everything but idle and iowait), from /proc/stat.</summary>
    private static double MachineBusySeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal [guest guest_nice: already counted in user/nice]
        var total = fields.Take(8).Sum();
        return (total - fields[3] - fields[4]) / Hz;
    }

    /// <summary>User + system CPU time of a process, from /proc/PID/stat; NaN when it is gone.</summary>
    private static double ProcessSeconds(string pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // After "pid (comm) " the state is field 3 of the man page; utime and stime (14, 15) are at 11 and 12 here.
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / Hz;
        }
        catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException)
        {
            return double.NaN;
        }
    }
}

internal static class Ports
{
    public static int Free()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

internal static class Machine
{
    public static long TotalMemoryMb()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or FormatException)
        {
            return 0;
        }
    }
}
