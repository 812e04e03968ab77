using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Tern.StandIns.WhatsApp;
using static System.FormattableString;

namespace Tern.Bench;

/// <summary>
/// The WhatsApp webhook ingest benchmark. For each tern binary and each N: the Graph API stand-in hosted here, a fresh
/// directory with a WhatsApp channel "wa" (added with the CLI, which checks the token at the stand-in), and N inbound
/// text messages POSTed to /hooks/whatsapp/wa in bodies of <c>--batch</c> messages, each signed with X-Hub-Signature-256,
/// at a fixed HTTP concurrency. A 200 means the body's messages are committed, so ingest ends at the last 200. No route:
/// this measures ingest only. Usage: see bench/whatsapp.sh.
/// </summary>
internal static class WhatsAppBench
{
    public static async Task<int> RunAsync(BenchOptions options, BenchStorage storage)
    {
        Console.WriteLine(Invariant($"Graph API stand-in in the driver; batch {options.Batch} messages per POST; concurrency {options.Concurrency}; storage {options.Storage}; tern settings: {string.Join(" ", options.Settings)}; tern environment: {string.Join(" ", options.Environment.Select(e => e.Key + "=" + e.Value))}"));
        if (options.Instances > 1) throw new ArgumentException("--scenario whatsapp runs one instance");
        Runs.PrintMachine();
        return await Runs.RunAllAsync(options, WhatsAppResult.Header, WhatsAppResult.Rule, (target, n) => WhatsAppRun.ExecuteAsync(target, n, options, storage));
    }
}

internal sealed record WhatsAppResult(
    string Build,
    string Storage,
    int Batch,
    int Concurrency,
    int N,
    int Posts,
    double IngestSeconds,
    double PeakRssMb,
    double PeakPrivateMb,
    double HwmMb,
    double EndRssMb,
    double IdleRssMb,
    long Stored,
    long Duplicates,
    double CpuSeconds,
    double OthersCpuPercent,
    long Busy503,
    long Errors,
    int ExitCode) : IRunResult
{
    public const string Header = "| build | storage | batch | concurrency | N | POSTs | ingest s | ingest msg/s | peak RSS MB | peak private MB | VmHWM MB | end RSS MB | idle RSS MB | stored | lost | duplicates | tern CPU ms/msg | others' CPU % | 503s | errors | exit |";
    public const string Rule = "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

    public string Row => Invariant(
        $"| {Build} | {Storage} | {Batch} | {Concurrency} | {N} | {Posts} | {IngestSeconds:F1} | {N / IngestSeconds:F0} | {PeakRssMb:F1} | {PeakPrivateMb:F1} | {HwmMb:F1} | {EndRssMb:F1} | {IdleRssMb:F1} | {Stored} | {N - Stored} | {Duplicates} | {CpuSeconds * 1000 / N:F2} | {OthersCpuPercent:F0} | {Busy503} | {Errors} | {ExitCode} |");

    public bool Passed => Stored == N && Duplicates == 0 && Errors == 0 && ExitCode == 0;
}

/// <summary>One target × one N, with a stand-in of its own.</summary>
internal static class WhatsAppRun
{
    private const string ChannelId = "wa", Alice = "16505551234", AppSecret = "benchappsecret0123456789abcdef";

    public static async Task<WhatsAppResult> ExecuteAsync(Target target, int n, BenchOptions options, BenchStorage storage)
    {
        var home = Runs.NewHome();
        await using var database = await storage.NewRunAsync(home);
        try
        {
            var db = database.Settings;
            await using var graph = await GraphApiStandIn.StartAsync();
            var phone = graph.AddPhoneNumber("106540358800001", "+1 555-880-0001", "EAAJBbench" + Guid.NewGuid().ToString("N"));
            await TernProcess.RunToEndAsync(target.Path, home, ["channels", "add", "--id", ChannelId, "--type", "whatsapp", "--phone-number-id", phone.Id,
                "--access-token", phone.AccessToken, "--app-secret", AppSecret, "--verify-token", "bench-verify-token", "--base-url", graph.BaseUrl.ToString(), .. db]);
            // The CLI's channels belong to the tenant "default": its key reads the count back over the API.
            var key = (await TernProcess.RunToEndAsync(target.Path, home, ["keys", "create", "--tenant", "default", .. db])).Trim().Split('\n')[^1].Trim();

            // Built and signed before the clock starts: that is Meta's work, not tern's.
            var bodies = Bodies(phone, n, options.Batch);

            await using var tern = TernInstances.Start(target.Path, home, 1,
                url => ["serve", "--Tern:Http:Url=" + url, .. options.Settings.Select(s => "--" + s), .. db], "tern.log", options.Environment);
            using var handler = new SocketsHttpHandler
            {
                MaxConnectionsPerServer = options.Concurrency,
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
                UseCookies = false,
                UseProxy = false,
                AllowAutoRedirect = false,
            };
            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(120) };
            await tern.WaitReadyAsync(http);
            Console.WriteLine(await TernHttp.MemoryPlanAsync(http, tern.BaseUrls[0]));

            // Idle: after start-up work settles.
            await Task.Delay(TimeSpan.FromSeconds(2));
            var idle = ProcMemory.Read(tern.Ids[0]);

            if (options.WaitQuiet > TimeSpan.Zero) await Cpu.WaitQuietAsync(tern.Ids, options.WaitQuiet, storage.PostgresPid);
            using var sampler = new MemorySamplers(tern.Ids, TimeSpan.FromMilliseconds(100));
            var cpuBefore = Cpu.Snapshot(tern.Ids, storage.PostgresPid);
            var load = await LoadAsync(http, new Uri(tern.BaseUrls[0] + "/hooks/whatsapp/" + ChannelId), bodies, options.Concurrency);
            var cpuAfter = Cpu.Snapshot(tern.Ids, storage.PostgresPid);
            var final = ProcMemory.Read(tern.Ids[0]);
            sampler.Observe([final]);
            await sampler.StopAsync();

            var stored = await StoredAsync(http, tern.BaseUrls[0], key);
            var ready = await TernHttp.ReadyCountersAsync(http, tern.BaseUrls[0] + "/health/ready");
            var dbBytes = await database.BytesAsync();
            var exit = await tern.TerminateAsync(TimeSpan.FromSeconds(30));
            Console.WriteLine(Invariant($"ingest {load.Seconds:F1} s; answers: {load.Messages} new, {load.Duplicates} redeliveries; stored (GET /v1/messages total) {stored}/{n}; db {dbBytes / 1048576.0:F0} MB; ") +
                Invariant($"{sampler.Samples} samples, RSS peaked {sampler.PeakRssAt.TotalSeconds:F1} s into the load; tern CPU {cpuAfter.TernSeconds - cpuBefore.TernSeconds:F1} s; ready: {ready}"));

            return new WhatsAppResult(
                target.Name, options.Storage, options.Batch, options.Concurrency, n, bodies.Count, load.Seconds,
                sampler.PeakRssKb / 1024.0, sampler.PeakPrivateKb / 1024.0, final.HwmKb / 1024.0, final.RssKb / 1024.0, idle.RssKb / 1024.0,
                stored, load.Duplicates, cpuAfter.TernSeconds - cpuBefore.TernSeconds, Cpu.OthersPercent(cpuBefore, cpuAfter), load.Busy, load.Errors, exit);
        }
        finally
        {
            Runs.Finish(home, options.Keep);
        }
    }

    private sealed record Body(byte[] Bytes, string Signature);

    /// <summary>N texts in bodies of <paramref name="batch"/>, from one user; wamid and text name the message's index.</summary>
    private static List<Body> Bodies(WhatsAppPhoneNumber phone, int n, int batch)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var bodies = new List<Body>();
        for (var first = 0; first < n; first += batch)
        {
            var change = new WhatsAppChange(phone).Contact(Alice, "Alice");
            for (var i = first; i < Math.Min(n, first + batch); i++)
            {
                change.Message(WhatsAppInbound.Text(Alice, i.ToString(CultureInfo.InvariantCulture), id: Invariant($"wamid.bench-{run}-{i}")));
            }
            var bytes = new WhatsAppWebhookBody().Entry(phone.WabaId, change).ToBytes();
            bodies.Add(new Body(bytes, WhatsAppWebhookSender.Sign(bytes, AppSecret)));
        }
        return bodies;
    }

    private sealed record LoadResult(double Seconds, long Messages, long Duplicates, long Busy, long Errors);

    /// <summary>Every body POSTed once at the fixed concurrency (a 503 is retried after Retry-After, as Meta would), until the last 200.</summary>
    private static async Task<LoadResult> LoadAsync(HttpClient http, Uri hook, List<Body> bodies, int concurrency)
    {
        var json = new MediaTypeHeaderValue("application/json");
        var next = -1;
        long messages = 0, duplicates = 0, busy = 0, errors = 0;
        var start = Stopwatch.GetTimestamp();

        async Task WorkerAsync()
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= bodies.Count) return;
                for (var attempt = 0; ; attempt++)
                {
                    try
                    {
                        using var content = new ByteArrayContent(bodies[i].Bytes);
                        content.Headers.ContentType = json;
                        using var request = new HttpRequestMessage(HttpMethod.Post, hook) { Content = content };
                        request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", bodies[i].Signature);
                        using var response = await http.SendAsync(request);
                        var text = await response.Content.ReadAsStringAsync();
                        if (response.StatusCode == HttpStatusCode.OK)
                        {
                            using var answer = JsonDocument.Parse(text);
                            Interlocked.Add(ref messages, answer.RootElement.GetProperty("messages").GetInt32());
                            Interlocked.Add(ref duplicates, answer.RootElement.GetProperty("duplicates").GetInt32());
                            break;
                        }
                        if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                        {
                            Interlocked.Increment(ref busy);
                            await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromMilliseconds(200));
                            continue;
                        }
                        if (Interlocked.Increment(ref errors) <= 5) Console.WriteLine(Invariant($"POST {i}: {(int)response.StatusCode} {text}"));
                        if (attempt >= 3) break;
                    }
                    catch (HttpRequestException ex)
                    {
                        if (Interlocked.Increment(ref errors) <= 5) Console.WriteLine(Invariant($"POST {i}: {ex.Message}"));
                        if (attempt >= 3) break;
                        await Task.Delay(100);
                    }
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkerAsync)));
        return new LoadResult(Stopwatch.GetElapsedTime(start).TotalSeconds, messages, duplicates, busy, errors);
    }

    /// <summary>The channel's inbound messages as the API counts them (one row per stored message).</summary>
    private static async Task<long> StoredAsync(HttpClient http, string baseUrl, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUrl + $"/v1/messages?direction=in&channel={ChannelId}&page_size=10"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException(Invariant($"GET /v1/messages: {(int)response.StatusCode} {text}"));
        using var page = JsonDocument.Parse(text);
        return page.RootElement.GetProperty("total").GetInt64();
    }
}
