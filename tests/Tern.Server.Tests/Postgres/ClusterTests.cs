using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Npgsql;
using Tern.Server.Tests.Infrastructure;
using Tern.Server.Tests.Telegram;
using Tern.StandIns.Postgres;
using Tern.StandIns.Telegram;

namespace Tern.Server.Tests.Postgres;

/// <summary>
/// Cluster mode: three <c>tern serve</c> processes on one PostgreSQL database, one of them SIGKILLed mid-run. Everything
/// a single process promises still holds across the cluster.
/// </summary>
[Collection(HeavyTests.Name)]
public sealed class ClusterTests(ITestOutputHelper output)
{
    private const long SourceBotId = 720001, DestinationBotId = 720002;
    private const int Concurrency = 8;
    private static readonly TimeSpan StatsInterval = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Three_instances_one_SIGKILLed_lose_nothing_keep_each_chats_order_run_jobs_once_per_period_and_hand_the_bot_over_within_30_s()
    {
        const int Chats = 100, PerChat = 500, Total = Chats * PerChat, HoldAfter = Total / 2;
        const int TelegramChats = 30, PerTelegramChat = 20, FirstHalf = PerTelegramChat / 2;
        var server = await PrivatePostgres.SharedAsync();
        var database = await server.CreateDatabaseAsync(CancellationToken.None);
        await using var rig = await TelegramRig.StartAsync(new StandInOptions());
        await using var receiver = await LoopbackReceiver.StartAsync();
        var instances = new List<TernProcess>();
        try
        {
            var storage = $"--Tern:Storage:ConnectionString={database}";
            var home = rig.Home;
            await home.RunOkAsync("channels", "add", "--id", TernHome.InboundChannel, "--secret", TernHome.InboundSecret, storage);
            await home.RunOkAsync("channels", "add", "--id", TernHome.OutboundChannel, "--url", receiver.Url.ToString(), "--secret", receiver.Secret, storage);
            await home.RunOkAsync("routes", "add", "--id", TernHome.RouteId, "--from", TernHome.InboundChannel, "--to", TernHome.OutboundChannel, storage);
            var source = rig.AddBot(SourceBotId, "cluster_source_bot");
            var destination = rig.AddBot(DestinationBotId, "cluster_destination_bot");
            var telegramChats = Enumerable.Range(1, TelegramChats).Select(i => 930_000L + i).ToArray();
            foreach (var chat in telegramChats) rig.Telegram.AddChat(chat, ChatKind.Private, "user " + chat);
            await rig.AddChannelAsync("src", source, storage);
            await rig.AddChannelAsync("dst", destination, storage);
            await rig.AddRouteAsync("fwd", "src", "--to", "dst", storage);
            // Half of the bot's backlog now, half after the kill: whoever holds the bot then must poll it.
            foreach (var chat in telegramChats) rig.Telegram.EnqueueMany(source, chat, chat, FirstHalf, i => Text(chat, i));

            // Telegram at its real limits (the stand-in counts every violation); sends in flight per instance bounded.
            string[] settings = [storage, "--Tern:Cluster:Enabled=true", $"--Tern:Sender:Concurrency={Concurrency}", $"--Tern:Logging:StatsInterval={StatsInterval.TotalSeconds}s"];
            // The first instance takes every lease; the kill goes to it, so each lease must be taken over.
            string[] everyLease = ["router", "scheduler", "channel/src", "channel/dst"];
            instances.Add(await rig.StartTernAsync(output, [.. settings, "--Tern:Cluster:InstanceId=node-0"]));
            await Eventually.UntilAsync(async () => everyLease.All((await LeasesAsync(instances[0])).Contains), TimeSpan.FromSeconds(60),
                () => "the first instance did not take every lease");
            foreach (var started in await Task.WhenAll(Enumerable.Range(1, 2).Select(i => rig.StartTernAsync(output, [.. settings, $"--Tern:Cluster:InstanceId=node-{i}"]))))
            {
                instances.Add(started);
            }

            // Posting through all three (a load balancer's round robin); a chat's messages in order, each answered before the next.
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var posting = new ClusterPoster(instances.Select(i => i.BaseUrl).ToArray());
            var posted = posting.PostAsync("cl", Chats, PerChat, parallelism: 24, holdAfter: HoldAfter, released: release.Task);

            // Mid-run on both paths: the kill goes to the instance polling the bot.
            await Eventually.UntilAsync(() => receiver.DistinctMessages >= Total / 4 && rig.Telegram.Sent.Count >= TelegramChats * FirstHalf / 2 || posted.IsFaulted,
                TimeSpan.FromSeconds(300), () => $"{receiver.Describe()}; telegram sent {rig.Telegram.Sent.Count}; {posting}");
            Assert.False(posted.IsFaulted, posted.Exception?.ToString());
            var victim = await HolderAsync(instances, "channel/src") ?? throw new InvalidOperationException("nobody holds the bot's lease");
            var victimLeases = await LeasesAsync(victim);
            Assert.All(everyLease, lease => Assert.Contains(lease, victimLeases));
            var inFlight = (await victim.ReadyAsync()).SendsInFlight;
            victim.Kill();
            await victim.WaitForExitAsync(TimeSpan.FromSeconds(30));
            var killedAt = Stopwatch.StartNew();
            var survivors = instances.Where(i => i != victim).ToList();
            output.WriteLine($"SIGKILLed {victim.BaseUrl} holding [{string.Join(", ", victimLeases)}] with {inFlight} sends in flight; " +
                $"{receiver.DistinctMessages} webhook messages and {rig.Telegram.Sent.Count} Telegram messages delivered");

            foreach (var lease in everyLease)
            {
                var heir = await EventuallyHolderAsync(survivors, lease, TimeSpan.FromSeconds(60));
                var takeover = killedAt.Elapsed;
                output.WriteLine($"lease {lease} taken over by {heir.BaseUrl} within {takeover.TotalSeconds:0.0} s of the kill");
                Assert.True(takeover <= TimeSpan.FromSeconds(30), $"lease {lease} was taken over after {takeover.TotalSeconds:0.0} s");
            }
            foreach (var chat in telegramChats) rig.Telegram.EnqueueMany(source, chat, chat, PerTelegramChat - FirstHalf, i => Text(chat, FirstHalf + i));
            release.SetResult();
            var summary = await posted;
            Assert.Equal(Total, summary.Acknowledged.Count);

            await Eventually.UntilAsync(() => receiver.DistinctMessages >= Total && telegramChats.All(c => rig.TextsIn(c, destination).Distinct().Count() >= PerTelegramChat),
                TimeSpan.FromSeconds(300), () => $"{receiver.Describe()}; telegram sent {rig.Telegram.Sent.Count}, {rig.Telegram.PendingUpdates(source)} updates unconfirmed");
            await Eventually.UntilAsync(async () => await ScalarAsync(database, "SELECT COUNT(*) FROM outbox WHERE state = 0") == 0, TimeSpan.FromSeconds(60), () => "deliveries still pending");

            // Nothing lost; a chat's messages in order on both paths.
            Assert.Empty(receiver.Missing(ClusterPoster.AllIds("cl", Chats, PerChat)));
            Assert.Empty(receiver.OutOfOrderChats());
            var telegramDuplicates = 0;
            foreach (var chat in telegramChats)
            {
                var (missing, duplicates, inOrder) = TelegramRig.Compare(Expected(chat, PerTelegramChat), rig.TextsIn(chat, destination));
                Assert.True(missing.Count == 0, $"chat {chat}: {missing.Count} lost, e.g. {string.Join(", ", missing.Take(3))}");
                Assert.True(inOrder, $"Telegram chat {chat} out of order");
                telegramDuplicates += duplicates;
            }
            // Duplicates only from the killed instance's sends in flight; every message stored once.
            output.WriteLine($"duplicates: {receiver.DuplicatesBySource} webhook, {telegramDuplicates} Telegram; bound = the killed instance's sends in flight ≤ {Concurrency}");
            Assert.InRange(receiver.DuplicatesBySource + telegramDuplicates, 0, Concurrency);
            Assert.Equal(Total + TelegramChats * PerTelegramChat, await ScalarAsync(database, "SELECT COUNT(*) FROM inbox"));

            // Per-bot and per-chat limits held across the cluster.
            var violations = rig.Telegram.Violations;
            Assert.Equal((0, 0, 0), (violations.PerChat, violations.PerGroup, violations.PerBot));

            // One scheduler: the stats job of all three logs never ran twice within one period.
            var runs = instances.SelectMany(i => StatsRuns(i.Stdout)).Order().ToList();
            var gaps = runs.Zip(runs.Skip(1), (a, b) => b - a).ToList();
            output.WriteLine($"stats job ran {runs.Count} times across the cluster; shortest gap {gaps.Min().TotalSeconds:0.000} s, longest {gaps.Max().TotalSeconds:0.0} s");
            Assert.True(runs.Count >= 5, $"the stats job ran {runs.Count} times");
            Assert.All(gaps, gap => Assert.True(gap >= StatsInterval * 0.9, $"the stats job ran twice within {gap.TotalSeconds:0.000} s"));
            Assert.Contains(runs, r => r > DateTimeOffset.UtcNow - killedAt.Elapsed);

            // Each survivor says what it holds; every lease is held by exactly one of them.
            var held = new List<string>();
            foreach (var survivor in survivors) held.AddRange(await LeasesAsync(survivor));
            foreach (var lease in everyLease) Assert.Equal(1, held.Count(l => l == lease));
            foreach (var survivor in survivors)
            {
                // Ready whether or not it routes (a standby takes messages in and sends); /memory says what it holds and since when.
                Assert.Equal(200, (await survivor.ReadyAsync()).HttpStatus);
                using var memory = JsonDocument.Parse(await survivor.Http.GetStringAsync(new Uri("/memory", UriKind.Relative)));
                var cluster = memory.RootElement.GetProperty("cluster");
                Assert.True(cluster.GetProperty("enabled").GetBoolean());
                var listed = cluster.GetProperty("leases").EnumerateArray().Select(l => l.GetProperty("name").GetString()!).ToList();
                Assert.Equal(await LeasesAsync(survivor), listed);
                Assert.Contains(LeaseNamesOf(cluster.GetProperty("instance").GetString()!), listed);
            }
            foreach (var survivor in survivors) Assert.DoesNotContain("has thrown an unhandled exception", survivor.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var instance in instances) await instance.DisposeAsync();
            await server.DropDatabaseAsync(database, CancellationToken.None);
        }
    }

    private static string LeaseNamesOf(string instance) => "instance/" + instance;

    private static string Text(long chat, int i) => $"{chat.ToString(CultureInfo.InvariantCulture)}/{i.ToString(CultureInfo.InvariantCulture)}";

    private static List<string> Expected(long chat, int count) => Enumerable.Range(0, count).Select(i => Text(chat, i)).ToList();

    /// <summary>When the stats job ran: its log line's timestamp (the console logger writes one per line, UTC).</summary>
    private static IEnumerable<DateTimeOffset> StatsRuns(string log) =>
        log.Split('\n').Where(l => l.Contains(" stats: pressure=", StringComparison.Ordinal))
            .Select(l => DateTimeOffset.ParseExact(l[..24], "yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal));

    private static async Task<IReadOnlyList<string>> LeasesAsync(TernProcess instance)
    {
        using var response = await instance.Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.TryGetProperty("leases", out var leases) ? leases.EnumerateArray().Select(l => l.GetString()!).ToArray() : [];
    }

    private static async Task<TernProcess?> HolderAsync(IEnumerable<TernProcess> instances, string lease)
    {
        foreach (var instance in instances)
        {
            if ((await LeasesAsync(instance)).Contains(lease)) return instance;
        }
        return null;
    }

    private static async Task<TernProcess> EventuallyHolderAsync(IReadOnlyList<TernProcess> instances, string lease, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (await HolderAsync(instances, lease) is { } holder) return holder;
            if (waited.Elapsed > timeout) Assert.Fail($"nobody took over lease {lease} within {timeout.TotalSeconds} s");
            await Task.Delay(100);
        }
    }

    private static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Posts each chat's messages in order through the instances, as a load balancer with retries would: a chat starts on one
    /// instance; when it cannot answer (killed: the connection fails), the same message goes to the next one. A 503 is retried
    /// after its Retry-After. A message is acknowledged by a 202, or by a 200 that says the cluster has it already.
    /// </summary>
    private sealed class ClusterPoster(Uri[] instances)
    {
        private readonly MessagePoster[] _posters = instances.Select(u => new MessagePoster(u, connections: 16)).ToArray();
        private int _failovers;
        private int _busy;

        public ConcurrentBag<string> Acknowledged { get; } = [];

        public static IEnumerable<string> AllIds(string prefix, int chats, int perChat) => MessagePoster.AllIds(prefix, chats, perChat);

        public override string ToString() => $"{Acknowledged.Count} acknowledged, {_failovers} failovers, {_busy} busy answers";

        public async Task<ClusterPoster> PostAsync(string prefix, int chats, int perChat, int parallelism, int holdAfter, Task released)
        {
            var started = 0;
            await Task.WhenAll(Enumerable.Range(0, parallelism).Select(worker => Task.Run(async () =>
            {
                var mine = Enumerable.Range(0, chats).Where(c => c % parallelism == worker).ToArray();
                var target = worker % _posters.Length;
                for (var n = 0; n < perChat; n++)
                {
                    foreach (var chat in mine)
                    {
                        if (Interlocked.Increment(ref started) > holdAfter) await released;
                        var id = MessagePoster.MessageId(prefix, chat, n);
                        var body = MessagePoster.Body(id, MessagePoster.ChatName(prefix, chat), $"message {n}");
                        for (var attempt = 0; ; attempt++)
                        {
                            if (attempt > 100) throw new InvalidOperationException($"{id}: no instance acknowledged it after 100 attempts");
                            try
                            {
                                using var response = await _posters[target].PostAsync(body);
                                if (response.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK)
                                {
                                    Acknowledged.Add(id);
                                    break;
                                }
                                if (response.StatusCode != HttpStatusCode.ServiceUnavailable) throw new InvalidOperationException($"{id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                                Interlocked.Increment(ref _busy);
                                await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                            }
                            catch (HttpRequestException)
                            {
                                Interlocked.Increment(ref _failovers);
                                target = (target + 1) % _posters.Length;
                            }
                        }
                    }
                }
            })));
            return this;
        }
    }
}
