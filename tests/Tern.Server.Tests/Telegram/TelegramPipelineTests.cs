using System.Globalization;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Telegram;

namespace Tern.Server.Tests.Telegram;

/// <summary>Telegram → Telegram forwarding through a real tern process, against the Bot API stand-in: volume, crashes, faults.</summary>
[Collection(HeavyTests.Name)]
public sealed class TelegramPipelineTests(ITestOutputHelper output)
{
    private const long SourceBotId = 710001, DestinationBotId = 710002, User = 5150;

    private static string Text(long chat, int i) => $"{chat.ToString(CultureInfo.InvariantCulture)}/{i.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Source bot polls chats 1..chats (private chats of users); every message goes through the destination bot to the same chat id.</summary>
    private static async Task<(TelegramRig Rig, StandInBot Source, StandInBot Destination, long[] Chats)> ForwarderAsync(int chats, StandInOptions options, params string[] destinationExtra)
    {
        var rig = await TelegramRig.StartAsync(options);
        var source = rig.AddBot(SourceBotId, "source_bot");
        var destination = rig.AddBot(DestinationBotId, "destination_bot");
        var ids = Enumerable.Range(1, chats).Select(i => 900_000L + i).ToArray();
        foreach (var chat in ids) rig.Telegram.AddChat(chat, ChatKind.Private, "user " + chat);
        await rig.AddChannelAsync("src", source);
        await rig.AddChannelAsync("dst", destination, ["--limits", TelegramRig.NoLimits, .. destinationExtra]);
        await rig.AddRouteAsync("fwd", "src", "--to", "dst");
        return (rig, source, destination, ids);
    }

    private static List<string> Expected(long chat, int count) => Enumerable.Range(0, count).Select(i => Text(chat, i)).ToList();

    [Fact]
    public async Task A_20000_update_backlog_is_forwarded_by_polling_with_none_lost_none_duplicated_in_order()
    {
        const int chats = 20, perChat = 1000;
        var (rig, source, destination, ids) = await ForwarderAsync(chats, new StandInOptions { EnforceLimits = false });
        await using var _ = rig;
        foreach (var chat in ids) rig.Telegram.EnqueueMany(source, chat, chat, perChat, i => Text(chat, i));
        Assert.Equal(chats * perChat, rig.Telegram.PendingUpdates(source));

        await using var tern = await rig.StartTernAsync(output);
        await Eventually.UntilAsync(() => rig.Telegram.Sent.Count(m => m.Bot == destination.Username) >= chats * perChat, TimeSpan.FromSeconds(240),
            () => $"{rig.Telegram.Sent.Count} sent; {rig.Telegram.PendingUpdates(source)} updates unconfirmed; {rig.Home.Database.Describe()}");
        await Eventually.UntilAsync(async () => (await tern.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), rig.Home.Database.Describe);
        // The last page is confirmed by the next getUpdates.
        await Eventually.UntilAsync(() => rig.Telegram.PendingUpdates(source) == 0, TimeSpan.FromSeconds(30), () => $"{rig.Telegram.PendingUpdates(source)} unconfirmed");

        foreach (var chat in ids)
        {
            var (missing, duplicates, inOrder) = TelegramRig.Compare(Expected(chat, perChat), rig.TextsIn(chat, destination));
            Assert.True(missing.Count == 0, $"chat {chat}: {missing.Count} lost, e.g. {string.Join(", ", missing.Take(3))}");
            Assert.Equal(0, duplicates);
            Assert.True(inOrder, $"chat {chat} out of order");
        }
        Assert.Equal(chats * perChat, rig.Home.Database.InboxCount(TernDatabase.InboxRouted));
        Assert.Equal(chats * perChat, rig.Home.Database.OutboxCount(TernDatabase.OutboxSent));
        Assert.All(rig.Telegram.Sent, m => Assert.Equal("sendMessage", m.Method));
    }

    [Fact]
    public async Task SIGKILL_mid_run_and_a_restart_lose_nothing_and_duplicate_at_most_the_sends_in_flight()
    {
        const int chats = 20, perChat = 500, total = chats * perChat, concurrency = 8;
        // A long send timeout: sends whose answers the stand-in holds must not time out into retries (more duplicates).
        string[] settings = [$"--Tern:Sender:Concurrency={concurrency}", $"--Tern:Sender:PerChannelConcurrency={concurrency}", "--Tern:Sender:Timeout=5m"];
        var (rig, source, destination, ids) = await ForwarderAsync(chats, new StandInOptions { EnforceLimits = false });
        await using var _ = rig;

        // Updates keep arriving while tern runs: a wave (25 a chat) whenever tern has taken most of the last one, for
        // the first 14 waves; one more once the answers to sends are held, one more once confirmations are held; the
        // last four waves (a fifth of the updates) only after the kill, when the test says so.
        const int wave = 25, waves = perChat / wave, gated = 14, beforeKill = gated + 2;
        var answersHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var confirmationsHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var produced = 0;
        var producer = Task.Run(async () =>
        {
            for (var w = 0; w < waves; w++)
            {
                if (w < gated)
                {
                    while (rig.Telegram.PendingUpdates(source) >= chats * wave) await Task.Delay(20);
                }
                else
                {
                    await (w == gated ? answersHeld.Task : w == gated + 1 ? confirmationsHeld.Task : killed.Task);
                }

                foreach (var chat in ids)
                {
                    var from = w * wave;
                    rig.Telegram.EnqueueMany(source, chat, chat, wave, n => Text(chat, from + n));
                }
                Volatile.Write(ref produced, (w + 1) * wave * chats);
            }
        });

        var first = await rig.StartTernAsync(output, settings);
        try
        {
            // Half is sent out of the first 14 waves (7,000 updates): then updates are still to come.
            await Eventually.UntilAsync(() => rig.Telegram.Sent.Count >= total / 2 || producer.IsFaulted, TimeSpan.FromSeconds(180),
                () => $"{rig.Telegram.Sent.Count} sent of {Volatile.Read(ref produced)} produced; {rig.Home.Database.Describe()}");
            Assert.False(producer.IsFaulted, producer.Exception?.ToString());

            // Sends in flight at the kill: Telegram has made them, tern has not heard back. The next wave makes sure
            // there is something to send.
            rig.Telegram.HoldAnswers(destination);
            answersHeld.SetResult();
            await Eventually.UntilAsync(() => rig.Telegram.HeldAnswers(destination) >= 1, TimeSpan.FromSeconds(120),
                () => $"no send in flight; {rig.Telegram.Sent.Count} sent; {rig.Home.Database.Describe()}");

            // And between a getUpdates and its commit at Telegram: tern has stored a page and asks for the next one with
            // an offset that would confirm it, and Telegram holds that call back. The next wave makes sure there is a page.
            rig.Telegram.HoldConfirmations(source);
            confirmationsHeld.SetResult();
            await Eventually.UntilAsync(() => rig.Telegram.HeldGetUpdates(source) >= 1, TimeSpan.FromSeconds(120),
                () => $"no confirming getUpdates held; {rig.Telegram.PendingUpdates(source)} unconfirmed; {rig.Home.Database.Describe()}");
            first.Kill();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            await first.DisposeAsync();
        }
        // The held calls went with the process: the getUpdates confirmed nothing, the sends stay made.
        await Eventually.UntilAsync(() => rig.Telegram.HeldGetUpdates(source) == 0 && rig.Telegram.HeldAnswers(destination) == 0, TimeSpan.FromSeconds(30),
            () => "the stand-in still holds a call of the killed process");
        var sentAtKill = rig.Telegram.Sent.Count;
        var producedAtKill = Volatile.Read(ref produced);
        var unconfirmedAtKill = rig.Telegram.PendingUpdates(source);
        output.WriteLine($"SIGKILLed with {sentAtKill} of {total} sent, {producedAtKill} produced; {unconfirmedAtKill} updates unconfirmed at Telegram; {rig.Home.Database.Describe()}");
        Assert.Equal(beforeKill * wave * chats, producedAtKill);
        Assert.InRange(sentAtKill, total / 2, producedAtKill);
        Assert.True(unconfirmedAtKill > 0, "the kill did not land between a getUpdates and its confirmation");
        rig.Telegram.ReleaseConfirmations(source);
        rig.Telegram.ReleaseAnswers(destination);
        killed.SetResult();
        await producer;
        Assert.Equal(total, Volatile.Read(ref produced));

        await using var second = await rig.StartTernAsync(output, settings);
        await Eventually.UntilAsync(() => ids.All(chat => rig.TextsIn(chat, destination).Distinct().Count() >= perChat), TimeSpan.FromSeconds(240),
            () => $"{rig.Telegram.Sent.Count} sent; {rig.Telegram.PendingUpdates(source)} unconfirmed; {rig.Home.Database.Describe()}");
        await Eventually.UntilAsync(async () => (await second.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), rig.Home.Database.Describe);

        var duplicates = 0;
        foreach (var chat in ids)
        {
            var (missing, dup, inOrder) = TelegramRig.Compare(Expected(chat, perChat), rig.TextsIn(chat, destination));
            Assert.True(missing.Count == 0, $"chat {chat}: {missing.Count} lost, e.g. {string.Join(", ", missing.Take(3))}");
            Assert.True(inOrder, $"chat {chat} out of order");
            duplicates += dup;
        }
        output.WriteLine($"DUPLICATES after SIGKILL: {duplicates}; bound = sends in flight = Tern:Sender:Concurrency = {concurrency}");
        // At least one send was made and not answered when the kill came; tern sends it again, and no more than that.
        Assert.InRange(duplicates, 1, concurrency);
        // Every update was stored once, whatever Telegram redelivered after the kill.
        Assert.Equal(total, rig.Home.Database.InboxCount());
    }

    [Fact]
    public async Task With_5_percent_429_and_2_percent_502_nothing_is_lost_or_duplicated()
    {
        const int chats = 20, perChat = 100;
        var options = new StandInOptions { EnforceLimits = false, TooManyRequestsRate = 0.05, RetryAfterSeconds = 1, BadGatewayRate = 0.02, Seed = 7 };
        var (rig, source, destination, ids) = await ForwarderAsync(chats, options);
        await using var _ = rig;
        foreach (var chat in ids) rig.Telegram.EnqueueMany(source, chat, chat, perChat, i => Text(chat, i));

        await using var tern = await rig.StartTernAsync(output, "--Tern:Sender:BackoffBase=200ms", "--Tern:Sender:BackoffMax=2s");
        await Eventually.UntilAsync(() => rig.Telegram.Sent.Count >= chats * perChat, TimeSpan.FromSeconds(240),
            () => $"{rig.Telegram.Sent.Count} sent; {rig.Home.Database.Describe()}");
        await Eventually.UntilAsync(async () => (await tern.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), rig.Home.Database.Describe);

        var refused = rig.Telegram.Calls.Count(c => c.HttpStatus is 429);
        var badGateway = rig.Telegram.Calls.Count(c => c.HttpStatus is 502);
        output.WriteLine($"stand-in answered {refused} × 429 and {badGateway} × 502 of {rig.Telegram.Calls.Count} calls; {rig.Home.Database.OutboxRetried()} deliveries retried");
        Assert.True(refused > 20 && badGateway > 5, "the faults were not injected");
        foreach (var chat in ids)
        {
            var (missing, duplicates, inOrder) = TelegramRig.Compare(Expected(chat, perChat), rig.TextsIn(chat, destination));
            Assert.Empty(missing);
            Assert.Equal(0, duplicates);
            Assert.True(inOrder, $"chat {chat} out of order");
        }
        Assert.Equal(0, rig.Home.Database.OutboxCount(TernDatabase.OutboxFailed));
    }

    [Fact]
    public async Task At_default_limits_the_stand_in_counts_no_limit_violation()
    {
        // Private chats, groups and a supergroup, through one bot at Tern's default limits: the bot's
        // 30/s, a chat's burst of 3 in 3 s and a group's 20 a minute all come into play.
        await using var rig = await TelegramRig.StartAsync(new StandInOptions());
        var source = rig.AddBot(SourceBotId, "source_bot");
        var destination = rig.AddBot(DestinationBotId, "destination_bot");
        var privateChats = Enumerable.Range(1, 40).Select(i => 800_000L + i).ToArray();
        long[] groups = [-4001, -4002, -1009001];
        foreach (var chat in privateChats) rig.Telegram.AddChat(chat, ChatKind.Private, "p" + chat);
        rig.Telegram.AddChat(-4001, ChatKind.Group, "g1");
        rig.Telegram.AddChat(-4002, ChatKind.Group, "g2");
        rig.Telegram.AddChat(-1009001, ChatKind.Supergroup, "sg");
        await rig.AddChannelAsync("src", source);
        await rig.AddChannelAsync("dst", destination);
        await rig.AddRouteAsync("fwd", "src", "--to", "dst");
        const int perPrivate = 6, perGroup = 24;
        foreach (var chat in privateChats) rig.Telegram.EnqueueMany(source, chat, chat, perPrivate, i => Text(chat, i));
        foreach (var chat in groups) rig.Telegram.EnqueueMany(source, chat, User, perGroup, i => Text(chat, i));
        var total = privateChats.Length * perPrivate + groups.Length * perGroup;

        await using var tern = await rig.StartTernAsync(output);
        // 24 to a group at 20 a minute: the last four wait for the window, so this takes a minute and a bit.
        await Eventually.UntilAsync(() => rig.Telegram.Sent.Count >= total, TimeSpan.FromSeconds(180),
            () => $"{rig.Telegram.Sent.Count} of {total} sent; violations {rig.Telegram.Violations.Total}; {rig.Home.Database.Describe()}");

        var violations = rig.Telegram.Violations;
        output.WriteLine($"violations: per chat {violations.PerChat}, per group {violations.PerGroup}, per bot {violations.PerBot}; calls {rig.Telegram.Calls.Count}");
        Assert.Equal(0, violations.PerChat);
        Assert.Equal(0, violations.PerGroup);
        Assert.Equal(0, violations.PerBot);
        foreach (var chat in privateChats) Assert.Equal(Expected(chat, perPrivate), rig.TextsIn(chat, destination).Select(t => t ?? ""));
        foreach (var chat in groups) Assert.Equal(Expected(chat, perGroup), rig.TextsIn(chat, destination).Select(t => t ?? ""));
    }
}
