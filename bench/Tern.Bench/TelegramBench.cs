using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Tern.StandIns.Telegram;
using static System.FormattableString;

namespace Tern.Bench;

/// <summary>
/// The Telegram forwarding benchmark. For each tern binary and each N: the Bot API stand-in, hosted
/// here with its flood limits off, holds a getUpdates backlog of N text messages for a source bot,
/// spread round-robin over private chats; tern polls the source bot and forwards every message through
/// a destination bot (its limits lifted) to the same chat with sendMessage. Measures from the arrival
/// of tern's first getUpdates to the last new copy at the stand-in, the tern process's RSS and private
/// memory, and counts lost, duplicated and out-of-order copies per chat. Usage: see bench/telegram.sh.
/// </summary>
internal static class TelegramBench
{
    /// <summary>Tern's own send limits, all switched off on the destination channel for the measurement.</summary>
    public const string NoLimits = "bot_per_second=0,chat_per_second=0,group_per_minute=0";

    /// <summary>Passed to every `tern serve` before the user's settings: a short long poll, so SIGTERM is answered quickly.</summary>
    public const string PollTimeout = "Tern:Telegram:PollTimeout=5s";

    public static async Task<int> RunAsync(BenchOptions options, BenchStorage storage)
    {
        Console.WriteLine(Invariant($"Bot API stand-in in the driver (flood limits off); chats {options.Chats}; storage {options.Storage}; instances {options.Instances}; destination limits {NoLimits}; tern settings: {string.Join(" ", [PollTimeout, .. options.Settings])}; tern environment: {string.Join(" ", options.Environment.Select(e => e.Key + "=" + e.Value))}"));
        Runs.PrintMachine();

        // JIT the stand-in's getUpdates and sendMessage paths first, so the first run is not the driver's warm-up.
        await WarmUpAsync();

        return await Runs.RunAllAsync(options, TelegramResult.Header, TelegramResult.Rule, (target, n) => TelegramRun.ExecuteAsync(target, n, options, storage));
    }

    /// <summary>A throwaway stand-in: 20 pages of getUpdates and 3,000 sendMessage calls, JSON bodies as tern sends them.</summary>
    private static async Task WarmUpAsync()
    {
        await using var telegram = await BotApiStandIn.StartAsync(new StandInOptions { EnforceLimits = false });
        var bot = telegram.AddBot("1:warm-up", "warm_up_bot");
        telegram.AddChat(1, ChatKind.Private, "warm-up");
        telegram.EnqueueMany(bot, 1, 1, 2000, i => i.ToString(CultureInfo.InvariantCulture));
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 16, UseProxy = false });
        var json = new MediaTypeHeaderValue("application/json");
        var getUpdates = new Uri(telegram.BaseUrl, "./bot1:warm-up/getUpdates");
        var sendMessage = new Uri(telegram.BaseUrl, "./bot1:warm-up/sendMessage");

        long offset = 0;
        for (var page = 0; page < 20; page++)
        {
            using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(Invariant($$"""{"offset":{{offset}},"limit":100,"timeout":0}""")));
            content.Headers.ContentType = json;
            using var response = await http.PostAsync(getUpdates, content);
            using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var updates = answer.RootElement.GetProperty("result");
            if (updates.GetArrayLength() == 0) break;
            offset = updates[updates.GetArrayLength() - 1].GetProperty("update_id").GetInt64() + 1;
        }

        var next = -1;
        async Task WorkerAsync()
        {
            while (Interlocked.Increment(ref next) < 3000)
            {
                using var content = new ByteArrayContent("""{"chat_id":1,"text":"warm-up"}"""u8.ToArray());
                content.Headers.ContentType = json;
                using var response = await http.PostAsync(sendMessage, content);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(WorkerAsync)));
    }
}

internal sealed record TelegramResult(
    string Build,
    string Storage,
    int Instances,
    int N,
    double Seconds,
    double IngestSeconds,
    double PeakRssMb,
    double SumRssMb,
    double PeakPrivateMb,
    long Lost,
    long Duplicated,
    int OutOfOrderChats,
    double HwmMb,
    double EndRssMb,
    double IdleRssMb,
    double CpuSeconds,
    double PostgresCpuSeconds,
    long? Connections,
    double OthersCpuPercent,
    int ExitCode) : IRunResult
{
    public const string Header = "| build | storage | instances | N | seconds | msg/s | peak RSS MB | sum RSS MB | peak private MB | lost | duplicated | out-of-order chats | VmHWM MB | end RSS MB | idle RSS MB | ingest msg/s | tern CPU ms/msg | postgres CPU ms/msg | connections used | others' CPU % | exit |";
    public const string Rule = "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

    public string Row => Invariant(
        $"| {Build} | {Storage} | {Instances} | {N} | {Seconds:F1} | {N / Seconds:F0} | {PeakRssMb:F1} | {SumRssMb:F1} | {PeakPrivateMb:F1} | {Lost} | {Duplicated} | {OutOfOrderChats} | {HwmMb:F1} | {EndRssMb:F1} | {IdleRssMb:F1} | {N / IngestSeconds:F0} | {CpuSeconds * 1000 / N:F2} | {Runs.PostgresCpu(Storage, PostgresCpuSeconds, N)} | {Runs.Connections(Connections)} | {OthersCpuPercent:F0} | {ExitCode} |");

    public bool Passed => Lost == 0 && Duplicated == 0 && OutOfOrderChats == 0 && ExitCode == 0;
}

/// <summary>One target × one N, with a stand-in of its own.</summary>
internal static class TelegramRun
{
    private const long SourceBotId = 710001, DestinationBotId = 710002, FirstChat = 900_001;

    /// <summary>Message i of the backlog: its text is its index, and it is in chat <c>i mod chats</c>.</summary>
    public static string Text(int i) => i.ToString(CultureInfo.InvariantCulture);

    public static async Task<TelegramResult> ExecuteAsync(Target target, int n, BenchOptions options, BenchStorage storage)
    {
        var home = Runs.NewHome();
        await using var database = await storage.NewRunAsync(home);
        try
        {
            var db = database.Settings;
            await using var telegram = await BotApiStandIn.StartAsync(new StandInOptions { EnforceLimits = false });
            var source = telegram.AddBot(Invariant($"{SourceBotId}:bench-source-S3cret"), "bench_source_bot");
            var destination = telegram.AddBot(Invariant($"{DestinationBotId}:bench-destination-S3cret"), "bench_destination_bot");
            var chats = Enumerable.Range(0, options.Chats).Select(k => FirstChat + k).ToArray();
            foreach (var chat in chats) telegram.AddChat(chat, ChatKind.Private, Invariant($"user {chat}"));

            var baseUrl = telegram.BaseUrl.ToString();
            await TernProcess.RunToEndAsync(target.Path, home, ["channels", "add", "--id", "src", "--type", "telegram", "--token", source.Token, "--base-url", baseUrl, .. db]);
            await TernProcess.RunToEndAsync(target.Path, home, ["channels", "add", "--id", "dst", "--type", "telegram", "--token", destination.Token, "--base-url", baseUrl, "--limits", TelegramBench.NoLimits, .. db]);
            await TernProcess.RunToEndAsync(target.Path, home, ["routes", "add", "--id", "fwd", "--from", "src", "--to", "dst", .. db]);

            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(60) };

            // Idle: a first tern with nothing to poll, since the measured one finds its backlog at once.
            var idle = await IdleAsync(target, home, options, db, http);

            // The backlog, round-robin over the chats as messages from many users would arrive.
            for (var i = 0; i < n; i++)
            {
                var chat = chats[i % chats.Length];
                var text = Text(i);
                telegram.EnqueueMany(source, chat, chat, 1, _ => text);
            }
            if (telegram.PendingUpdates(source) != n) throw new InvalidOperationException(Invariant($"{telegram.PendingUpdates(source)} updates queued, not {n}"));
            var tally = new Tally(telegram, destination.Username, chats, n);

            // The previous run's stand-in is garbage now; collect it before the measurement, not during it.
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            if (options.WaitQuiet > TimeSpan.Zero) await Cpu.WaitQuietAsync([], options.WaitQuiet, storage.PostgresPid);

            var callsBefore = telegram.Calls.Count;
            var launched = Stopwatch.GetTimestamp();
            await using var tern = TernInstances.Start(target.Path, home, options.Instances, url => ServeArgs(url, options, db), "tern.log", options.Environment);
            var readyAt = ReadyAtAsync(http, tern);
            var firstPoll = await FirstPollAsync(telegram, source, callsBefore, tern);
            using var sampler = new MemorySamplers(tern.Ids, TimeSpan.FromMilliseconds(100));
            await using var connections = await database.StartConnectionSamplerAsync();
            var cpuBefore = Cpu.Snapshot(tern.Ids, storage.PostgresPid);
            var gcPauseBefore = GC.GetTotalPauseDuration();
            using var stopProgress = new CancellationTokenSource();
            var progress = Progress.RunAsync(tern.Ids, n, () => tally.Distinct,
                () => Invariant($"  unconfirmed {telegram.PendingUpdates(source),7}"), stopProgress.Token);

            var (delivered, ingestedTicks) = await WaitForAllAsync(telegram, source, tally, tern, options.StallTimeout);
            var cpuAfter = Cpu.Snapshot(tern.Ids, storage.PostgresPid);
            var gcPause = GC.GetTotalPauseDuration() - gcPauseBefore;
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
            var held = await TernHttp.MemoryHeldAsync(http, tern.BaseUrls[0]);
            var leases = options.Instances > 1 ? await database.LeasesAsync() : null;
            var dbBytes = await database.BytesAsync();
            var readyTicks = await readyAt;
            var exit = await tern.TerminateAsync(TimeSpan.FromSeconds(30));
            tally.Scan();

            var seconds = delivered ? Ticks.Seconds(firstPoll, tally.LastNewArrivedAt) : Stopwatch.GetElapsedTime(firstPoll).TotalSeconds;
            var ingestSeconds = ingestedTicks > 0 ? Ticks.Seconds(firstPoll, ingestedTicks) : double.NaN;
            var calls = telegram.Calls.Skip(callsBefore).ToList();
            var polls = calls.Count(c => c.Bot == source.Username && c.Method == "getUpdates");
            var sends = calls.Count(c => c.Bot == destination.Username && c.Method == "sendMessage" && c.HttpStatus == 200);
            var refused = calls.Where(c => c.HttpStatus != 200).GroupBy(c => Invariant($"{c.Method} {c.HttpStatus}")).Select(g => Invariant($"{g.Key} ×{g.Count()}")).ToList();
            var readyText = readyTicks > 0 ? Invariant($"{Ticks.Seconds(launched, readyTicks):F2} s") : "never";
            Console.WriteLine(
                Invariant($"first getUpdates {Ticks.Seconds(launched, firstPoll):F2} s after launch, /health/ready {readyText}; ") +
                Invariant($"all updates confirmed {ingestSeconds:F1} s and delivered {tally.Distinct}/{n} {seconds:F1} s after the first getUpdates; ") +
                Invariant($"stand-in answered {polls} getUpdates, {sends} sendMessage, refused: {(refused.Count == 0 ? "none" : string.Join(", ", refused))}; {telegram.PendingUpdates(source)} updates unconfirmed at the end"));
            Console.WriteLine(
                Invariant($"db {dbBytes / 1048576.0:F0} MB; {sampler.Samples} samples, RSS peaked {sampler.PeakRssAt.TotalSeconds:F1} s into the load; peak RSS per instance {sampler.PerInstance}; tern CPU {cpuAfter.TernSeconds - cpuBefore.TernSeconds:F1} s; ") +
                Invariant($"postgres CPU {cpuAfter.PostgresSeconds - cpuBefore.PostgresSeconds:F1} s; connections used (max of {connections?.Samples ?? 0} samples) {Runs.Connections(connections?.Max)}; ") +
                Invariant($"driver (stand-in) CPU {cpuAfter.DriverSeconds - cpuBefore.DriverSeconds:F1} s, GC pauses {gcPause.TotalSeconds:F2} s; stray copies {tally.Stray}"));
            for (var k = 0; k < ready.Count; k++) Console.WriteLine(Invariant($"ready (instance {k}): {ready[k]}"));
            if (leases is not null) Console.WriteLine("leases at the end: " + leases);
            Console.WriteLine("at the end (instance 0): " + held);
            if (tally.OutOfOrderChats > 0) Console.WriteLine(Invariant($"out of order: chats {string.Join(", ", tally.OutOfOrder.Take(10))}"));

            return new TelegramResult(
                target.Name, options.Storage, options.Instances, n, seconds, ingestSeconds,
                sampler.PeakRssKb / 1024.0,
                sampler.SumOfPeakRssKb / 1024.0,
                sampler.PeakPrivateKb / 1024.0,
                n - tally.Distinct, tally.Duplicates, tally.OutOfOrderChats,
                final.Max(m => m.HwmKb) / 1024.0,
                final.Max(m => m.RssKb) / 1024.0,
                idle / 1024.0,
                cpuAfter.TernSeconds - cpuBefore.TernSeconds, cpuAfter.PostgresSeconds - cpuBefore.PostgresSeconds, connections?.Max,
                Cpu.OthersPercent(cpuBefore, cpuAfter), exit);
        }
        finally
        {
            Runs.Finish(home, options.Keep);
        }
    }

    private static List<string> ServeArgs(string ternUrl, BenchOptions options, IReadOnlyList<string> db) =>
        ["serve", "--Tern:Http:Url=" + ternUrl, "--" + TelegramBench.PollTimeout, .. options.Settings.Select(s => "--" + s), .. db];

    /// <summary>
    /// Starts tern (every instance) with the run's channels and an empty queue, reads VmRSS 2 s after /health/ready, and
    /// stops it; the highest instance's VmRSS in KiB.
    /// </summary>
    private static async Task<long> IdleAsync(Target target, string home, BenchOptions options, IReadOnlyList<string> db, HttpClient http)
    {
        await using var tern = TernInstances.Start(target.Path, home, options.Instances, url => ServeArgs(url, options, db), "tern-idle.log", options.Environment);
        await tern.WaitReadyAsync(http);
        Console.WriteLine(await TernHttp.MemoryPlanAsync(http, tern.BaseUrls[0]));
        await Task.Delay(TimeSpan.FromSeconds(2));
        var idle = tern.Ids.Max(pid => ProcMemory.Read(pid).RssKb);
        var exit = await tern.TerminateAsync(TimeSpan.FromSeconds(30));
        if (exit != 0) Console.WriteLine(Invariant($"idle tern exit code {exit}"));
        return idle;
    }

    /// <summary>When /health/ready of every instance first answered 200 (a Stopwatch timestamp), or 0 when it did not within 30 s.</summary>
    private static async Task<long> ReadyAtAsync(HttpClient http, TernInstances tern)
    {
        try
        {
            await tern.WaitReadyAsync(http);
            return Stopwatch.GetTimestamp();
        }
        catch (InvalidOperationException)
        {
            return 0;
        }
    }

    /// <summary>The arrival of the source bot's first getUpdates after <paramref name="callsBefore"/> (a Stopwatch timestamp).</summary>
    private static async Task<long> FirstPollAsync(BotApiStandIn telegram, StandInBot source, int callsBefore, TernInstances tern)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            // A call is recorded when it is answered; with a backlog waiting, that is at once.
            var poll = telegram.Calls.Skip(callsBefore).FirstOrDefault(c => c.Bot == source.Username && c.Method == "getUpdates");
            if (poll is not null) return poll.ArrivedAt;
            if (tern.AnyExited) throw new InvalidOperationException("tern exited at start:\n" + tern.Tail(30));
            if (waited.Elapsed > TimeSpan.FromSeconds(60)) throw new InvalidOperationException("tern did not call getUpdates within 60 s:\n" + tern.Tail(30));
            await Task.Delay(5);
        }
    }

    /// <summary>
    /// Until every copy arrived (true), or none arrived for <paramref name="stall"/> or tern exited (false).
    /// Also returns when the stand-in first had no unconfirmed update: all of them committed by tern.
    /// </summary>
    private static async Task<(bool Delivered, long IngestedTicks)> WaitForAllAsync(BotApiStandIn telegram, StandInBot source, Tally tally, TernInstances tern, TimeSpan stall)
    {
        long ingested = 0, lastScan = 0;
        var seen = -1L;
        var since = Stopwatch.GetTimestamp();
        while (true)
        {
            if (ingested == 0 && telegram.PendingUpdates(source) == 0) ingested = Stopwatch.GetTimestamp();
            // A scan copies the chats' histories; a few a second are plenty, since the end time comes from the copies' arrival times.
            if (Stopwatch.GetElapsedTime(lastScan) >= TimeSpan.FromMilliseconds(250))
            {
                lastScan = Stopwatch.GetTimestamp();
                tally.Scan();
                var distinct = tally.Distinct;
                if (distinct >= tally.N) return (true, ingested);
                if (distinct != seen)
                {
                    seen = distinct;
                    since = Stopwatch.GetTimestamp();
                }
                else if (Stopwatch.GetElapsedTime(since) > stall)
                {
                    Console.WriteLine(Invariant($"no new copy for {stall.TotalSeconds} s; {distinct}/{tally.N} arrived"));
                    return (false, ingested);
                }
                if (tern.AnyExited)
                {
                    Console.WriteLine(Invariant($"tern exited with {distinct}/{tally.N} delivered"));
                    return (false, ingested);
                }
            }
            await Task.Delay(20);
        }
    }
}

/// <summary>
/// Counts what the destination bot sent with sendMessage, per chat at the stand-in: each expected text
/// (a backlog index that belongs to that chat) once, and in increasing order within its chat.
/// Scanned from one thread; the counters may be read from others.
/// </summary>
internal sealed class Tally(BotApiStandIn telegram, string bot, long[] chats, int n)
{
    private readonly int[] _counts = new int[n];
    private readonly int[] _scanned = new int[chats.Length];
    private readonly int[] _lastIndex = Enumerable.Repeat(-1, chats.Length).ToArray();
    private readonly bool[] _outOfOrder = new bool[chats.Length];
    private long _distinct;

    public int N => n;

    public long Distinct => Interlocked.Read(ref _distinct);

    public long Duplicates { get; private set; }

    /// <summary>Copies that are not an expected text of their chat (another bot or method, a wrong chat, an unknown text).</summary>
    public long Stray { get; private set; }

    /// <summary>The arrival (Stopwatch timestamp) of the latest first copy.</summary>
    public long LastNewArrivedAt { get; private set; }

    public int OutOfOrderChats => _outOfOrder.Count(o => o);

    public IEnumerable<long> OutOfOrder => chats.Where((_, k) => _outOfOrder[k]);

    public void Scan()
    {
        for (var k = 0; k < chats.Length; k++)
        {
            var rows = telegram.SentTo(chats[k]);
            for (var r = _scanned[k]; r < rows.Count; r++) Count(k, rows[r]);
            _scanned[k] = rows.Count;
        }
    }

    private void Count(int k, SentMessage row)
    {
        if (row.Bot != bot || row.Method != "sendMessage" || row.Edited
            || !int.TryParse(row.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var i) || i >= n || i % chats.Length != k)
        {
            Stray++;
            return;
        }

        if (++_counts[i] > 1)
        {
            Duplicates++;
            return;
        }

        Interlocked.Increment(ref _distinct);
        LastNewArrivedAt = Math.Max(LastNewArrivedAt, row.ArrivedAt);
        if (i < _lastIndex[k]) _outOfOrder[k] = true;
        _lastIndex[k] = i;
    }
}

internal static class Ticks
{
    public static double Seconds(long from, long to) => (to - from) / (double)Stopwatch.Frequency;
}
