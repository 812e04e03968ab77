using System.Net;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests;

[Collection(HeavyTests.Name)]
public sealed class CrashTests(ITestOutputHelper output)
{
    private const int SenderConcurrency = 8;

    [Fact]
    public async Task SIGKILL_halfway_through_20000_deliveries_loses_nothing_and_duplicates_at_most_the_sender_concurrency()
    {
        const int chats = 50, perChat = 400, total = chats * perChat;
        // The receiver holds the first sends while all 20,000 are posted; a long send timeout keeps
        // those from timing out into retries (and, repeated, into parking the channel).
        string[] settings = [$"--Tern:Sender:Concurrency={SenderConcurrency}", $"--Tern:Sender:PerChannelConcurrency={SenderConcurrency}", "--Tern:Sender:Timeout=5m"];
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var home = TernHome.Create();
        await home.AddWebhookPipelineAsync(receiver);

        // Closed until every message is acknowledged, so all 20,000 are Tern's responsibility before the kill.
        receiver.Pause();
        var first = await home.StartAsync(output, settings);
        try
        {
            using var poster = new MessagePoster(first.BaseUrl);
            var posted = await Eventually.WithinAsync(poster.PostManyAsync("k", chats, perChat), TimeSpan.FromSeconds(180), () => $"posting; {home.Database.Describe()}");
            Assert.Equal(total, posted.Count(HttpStatusCode.Accepted));
            output.WriteLine($"all {total} acknowledged; {home.Database.Describe()}");

            var half = receiver.WhenDistinctAtLeast(total / 2);
            receiver.Resume();
            // The kill comes at half; however late it comes, the receiver takes no more than three quarters.
            receiver.PauseAt(total * 3 / 4);
            await Eventually.WithinAsync(half, TimeSpan.FromSeconds(120), () => $"half of the messages at the receiver; {receiver.Describe()}");
            first.Kill();
            var exit = await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
            output.WriteLine($"SIGKILLed with {receiver.DistinctMessages} of {total} delivered (exit code {exit}); {receiver.Describe()}");
            Assert.InRange(receiver.DistinctMessages, total / 2, total - 1);
        }
        finally
        {
            await first.DisposeAsync();
        }

        // Everything acknowledged is on disk.
        Assert.Equal(total, home.Database.InboxCount());
        receiver.Resume();

        await using var second = await home.StartAsync(output, settings);
        await Eventually.UntilAsync(() => receiver.DistinctMessages >= total, TimeSpan.FromSeconds(180),
            () => $"{receiver.Describe()}; {home.Database.Describe()}");
        await Eventually.UntilAsync(async () => (await second.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), () => home.Database.Describe());

        var duplicates = receiver.DuplicatesBySource;
        output.WriteLine($"after restart: {receiver.Describe()}");
        output.WriteLine($"DUPLICATES after SIGKILL: {duplicates} (by delivery id: {receiver.DuplicatesByDelivery}); bound = Tern:Sender:Concurrency = {SenderConcurrency}");

        Assert.Empty(receiver.Missing(MessagePoster.AllIds("k", chats, perChat)));
        Assert.InRange(duplicates, 0, SenderConcurrency);
        Assert.Equal(duplicates, receiver.DuplicatesByDelivery);
        Assert.Empty(receiver.OutOfOrderChats());
        Assert.Empty(receiver.Problems);
        Assert.Equal(total, home.Database.InboxCount(TernDatabase.InboxRouted));
        Assert.Equal(total, home.Database.OutboxCount());
        Assert.Equal(total, home.Database.OutboxCount(TernDatabase.OutboxSent));
    }

    [Fact]
    public async Task SIGKILL_while_messages_are_being_posted_keeps_every_acknowledged_one()
    {
        const int chats = 40, perChat = 250, killAfter = 3000;
        string[] settings = [$"--Tern:Sender:Concurrency={SenderConcurrency}", $"--Tern:Sender:PerChannelConcurrency={SenderConcurrency}"];
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var home = TernHome.Create();
        await home.AddWebhookPipelineAsync(receiver);

        var posted = new PostSummary();
        // Past twice killAfter, every POST holds half its body back until after the kill: however slowly the kill
        // follows, posting has not finished, and a poster that gets there keeps a POST in flight for the kill to cut off.
        var afterKill = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = await home.StartAsync(output, settings);
        try
        {
            using var poster = new MessagePoster(first.BaseUrl);
            var posting = poster.PostManyAsync("i", chats, perChat, stopOnConnectionError: true, into: posted, holdAfter: 2 * killAfter, released: afterKill.Task);
            await Eventually.UntilAsync(() => posted.AcceptedIds.Count >= killAfter || posting.IsCompleted, TimeSpan.FromSeconds(120), () => posted.ToString());
            first.Kill();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
            afterKill.SetResult();
            await Eventually.WithinAsync(posting, TimeSpan.FromSeconds(60), () => $"posters stopping after the kill; {posted}");
        }
        finally
        {
            await first.DisposeAsync();
        }
        output.WriteLine($"SIGKILLed during ingress: {posted}; {receiver.Describe()}");
        Assert.InRange(posted.AcceptedIds.Count, killAfter, chats * perChat - 1);
        Assert.True(posted.Unanswered > 0, "no POST was cut off by the kill; it came too late to test anything");

        // Every acknowledged message is on disk; the ones cut off may or may not be (they were never acknowledged).
        var stored = home.Database.InboxIds(TernHome.InboundChannel);
        var lost = posted.AcceptedIds.Where(id => !stored.Contains(id)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged messages are not in the inbox, e.g. {string.Join(", ", lost.Take(5))}");
        Assert.InRange(stored.Count, posted.AcceptedIds.Count, posted.AcceptedIds.Count + posted.Unanswered);

        // And after a restart every stored message is delivered.
        await using var second = await home.StartAsync(output, settings);
        await Eventually.UntilAsync(() => receiver.DistinctMessages >= stored.Count, TimeSpan.FromSeconds(120),
            () => $"{receiver.Describe()}; {home.Database.Describe()}");
        await Eventually.UntilAsync(async () => (await second.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), () => home.Database.Describe());
        output.WriteLine($"after restart: {receiver.Describe()}");
        Assert.Empty(receiver.Missing(stored));
        Assert.InRange(receiver.DuplicatesBySource, 0, SenderConcurrency);
        Assert.Empty(receiver.OutOfOrderChats());
        Assert.Empty(receiver.Problems);
    }
}
