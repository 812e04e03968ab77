using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
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
internal static class WebhookBench
{
    public static async Task<int> RunAsync(BenchOptions options, BenchStorage storage)
    {
        await using var receiver = await Receiver.StartAsync();
        Console.WriteLine(Invariant($"receiver on {receiver.BaseUrl}; concurrency {options.Concurrency}; chats {options.Chats}; storage {options.Storage}; instances {options.Instances}; tern settings: {string.Join(" ", options.Settings)}; tern environment: {string.Join(" ", options.Environment.Select(e => e.Key + "=" + e.Value))}"));
        Runs.PrintMachine();

        // JIT the driver's own client and receiver paths first, so the first run is not the driver's warm-up.
        await receiver.WarmUpAsync(options.Concurrency);

        return await Runs.RunAllAsync(options, WebhookResult.Header, WebhookResult.Rule, (target, n) => WebhookRun.ExecuteAsync(target, n, options, receiver, storage));
    }
}

internal sealed record WebhookResult(
    string Build,
    string Storage,
    int Instances,
    int N,
    double Seconds,
    double IngestSeconds,
    double PeakRssMb,
    double SumRssMb,
    double PeakPrivateMb,
    double HwmMb,
    double EndRssMb,
    double IdleRssMb,
    long Lost,
    long Duplicated,
    double CpuSeconds,
    double PostgresCpuSeconds,
    long? Connections,
    double OthersCpuPercent,
    long Busy503,
    long Errors,
    int ExitCode) : IRunResult
{
    public const string Header = "| build | storage | instances | N | seconds | msg/s | peak RSS MB | sum RSS MB | peak private MB | lost | duplicated | VmHWM MB | end RSS MB | idle RSS MB | ingest msg/s | tern CPU ms/msg | postgres CPU ms/msg | connections used | others' CPU % | 503s | errors | exit |";
    public const string Rule = "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

    public string Row => Invariant(
        $"| {Build} | {Storage} | {Instances} | {N} | {Seconds:F1} | {N / Seconds:F0} | {PeakRssMb:F1} | {SumRssMb:F1} | {PeakPrivateMb:F1} | {Lost} | {Duplicated} | {HwmMb:F1} | {EndRssMb:F1} | {IdleRssMb:F1} | {N / IngestSeconds:F0} | {CpuSeconds * 1000 / N:F2} | {Runs.PostgresCpu(Storage, PostgresCpuSeconds, N)} | {Runs.Connections(Connections)} | {OthersCpuPercent:F0} | {Busy503} | {Errors} | {ExitCode} |");

    public bool Passed => Lost == 0 && ExitCode == 0;
}

/// <summary>One target × one N.</summary>
internal static class WebhookRun
{
    public static async Task<WebhookResult> ExecuteAsync(Target target, int n, BenchOptions options, Receiver receiver, BenchStorage storage)
    {
        var home = Runs.NewHome();
        var runId = receiver.Reset(n);
        await using var database = await storage.NewRunAsync(home);
        try
        {
            var db = database.Settings;
            await TernProcess.RunToEndAsync(target.Path, home, ["channels", "add", "--id", "in", .. db]);
            await TernProcess.RunToEndAsync(target.Path, home, ["channels", "add", "--id", "out", "--url", receiver.UrlFor(runId), .. db]);
            await TernProcess.RunToEndAsync(target.Path, home, ["routes", "add", "--id", "bench", "--from", "in", "--to", "out", .. db]);

            await using var tern = TernInstances.Start(target.Path, home, options.Instances,
                url => ["serve", "--Tern:Http:Url=" + url, .. options.Settings.Select(s => "--" + s), .. db], "tern.log", options.Environment);

            using var handler = new SocketsHttpHandler
            {
                MaxConnectionsPerServer = options.Concurrency,
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
                UseCookies = false,
                UseProxy = false,
                AllowAutoRedirect = false,
            };
            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
            await tern.WaitReadyAsync(http);
            Console.WriteLine(await TernHttp.MemoryPlanAsync(http, tern.BaseUrls[0]));
            // In a cluster the inbox is routed by the router lease's holder: the load starts once somebody holds it.
            if (options.Instances > 1 && !await database.WaitForLeaseAsync("router")) Console.WriteLine("no instance took the router lease within 60 s");

            // Idle: after start-up work settles.
            await Task.Delay(TimeSpan.FromSeconds(2));
            var idle = tern.Ids.Select(ProcMemory.Read).ToList();
            if (options.Instances > 1) Console.WriteLine("leases before the load: " + await database.LeasesAsync());

            if (options.WaitQuiet > TimeSpan.Zero) await Cpu.WaitQuietAsync(tern.Ids, options.WaitQuiet, storage.PostgresPid);
            using var sampler = new MemorySamplers(tern.Ids, TimeSpan.FromMilliseconds(100));
            await using var connections = await database.StartConnectionSamplerAsync();
            var cpuBefore = Cpu.Snapshot(tern.Ids, storage.PostgresPid);
            using var stopProgress = new CancellationTokenSource();
            var progress = Progress.RunAsync(tern.Ids, n, () => receiver.Snapshot().Distinct, null, stopProgress.Token);
            var load = await LoadAsync(http, tern.BaseUrls, n, options);
            var delivered = await receiver.WaitForAllAsync(options.StallTimeout);
            var cpuAfter = Cpu.Snapshot(tern.Ids, storage.PostgresPid);
            if (connections is not null) await connections.StopAsync();
            await stopProgress.CancelAsync();
            await progress;
            // A moment for late duplicates to show up.
            await Task.Delay(TimeSpan.FromSeconds(1));
            var final = tern.Ids.Select(ProcMemory.Read).ToList();
            sampler.Observe(final);
            await sampler.StopAsync();

            var ready = new List<string>();
            foreach (var url in tern.BaseUrls) ready.Add(await TernHttp.ReadyCountersAsync(http, url + "/health/ready"));
            var leases = options.Instances > 1 ? await database.LeasesAsync() : null;
            var dbBytes = await database.BytesAsync();
            var exit = await tern.TerminateAsync(TimeSpan.FromSeconds(30));

            var (distinct, duplicates, lastTicks) = receiver.Snapshot();
            var seconds = delivered
                ? Stopwatch.GetElapsedTime(load.StartTicks, lastTicks).TotalSeconds
                : Stopwatch.GetElapsedTime(load.StartTicks).TotalSeconds;
            Console.WriteLine(Invariant($"ingest {load.Seconds:F1} s; delivered {distinct}/{n} in {seconds:F1} s; db {dbBytes / 1048576.0:F0} MB; {sampler.Samples} samples, RSS peaked {sampler.PeakRssAt.TotalSeconds:F1} s into the load; peak RSS per instance {sampler.PerInstance}; ") +
                Invariant($"tern CPU {cpuAfter.TernSeconds - cpuBefore.TernSeconds:F1} s; postgres CPU {cpuAfter.PostgresSeconds - cpuBefore.PostgresSeconds:F1} s; connections used (max of {connections?.Samples ?? 0} samples) {Runs.Connections(connections?.Max)}"));
            for (var k = 0; k < ready.Count; k++) Console.WriteLine(Invariant($"ready (instance {k}): {ready[k]}"));
            if (leases is not null) Console.WriteLine("leases at the end: " + leases);

            return new WebhookResult(
                target.Name, options.Storage, options.Instances, n, seconds, load.Seconds,
                sampler.PeakRssKb / 1024.0,
                sampler.SumOfPeakRssKb / 1024.0,
                sampler.PeakPrivateKb / 1024.0,
                final.Max(m => m.HwmKb) / 1024.0,
                final.Max(m => m.RssKb) / 1024.0,
                idle.Max(m => m.RssKb) / 1024.0,
                n - distinct, duplicates, cpuAfter.TernSeconds - cpuBefore.TernSeconds, cpuAfter.PostgresSeconds - cpuBefore.PostgresSeconds, connections?.Max,
                Cpu.OthersPercent(cpuBefore, cpuAfter), load.Busy, load.Errors, exit);
        }
        finally
        {
            receiver.Reset(0);
            Runs.Finish(home, options.Keep);
        }
    }

    private sealed record LoadResult(long StartTicks, double Seconds, long Busy, long Errors);

    /// <summary>N POSTs at the fixed concurrency; chat c always goes to instance c mod (instances), so each chat's order is one instance's.</summary>
    private static async Task<LoadResult> LoadAsync(HttpClient http, IReadOnlyList<string> baseUrls, int n, BenchOptions options)
    {
        var uris = baseUrls.Select(url => new Uri(url + "/hooks/webhook/in")).ToArray();
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
                var chat = i % options.Chats;
                var uri = uris[chat % uris.Length];
                var body = Encoding.UTF8.GetBytes(Invariant($$"""{"id":"m{{i}}","chat":"c{{chat}}","sender":"bench","text":"{{i}}"}"""));
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
