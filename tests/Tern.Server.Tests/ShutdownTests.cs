using System.Diagnostics;
using System.Net;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests;

[Collection(HeavyTests.Name)]
public sealed class ShutdownTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SIGTERM_with_deliveries_in_flight_exits_0_in_time_and_a_restart_delivers_the_rest()
    {
        const int chats = 30, perChat = 10, total = chats * perChat;
        var shutdownTimeout = TimeSpan.FromSeconds(6);
        // A long send timeout keeps the sends held while posting from timing out into retries.
        string[] settings = ["--Tern:Sender:Concurrency=8", "--Tern:Sender:PerChannelConcurrency=8", "--Tern:Sender:Timeout=5m", $"--Tern:Shutdown:Timeout={shutdownTimeout.TotalSeconds}s"];
        await using var receiver = await LoopbackReceiver.StartAsync();
        receiver.Delay = TimeSpan.FromMilliseconds(300);
        using var home = TernHome.Create();
        await home.AddWebhookPipelineAsync(receiver);

        // Closed while posting, so delivering starts only when all are posted; and however slowly the SIGTERM follows,
        // the receiver takes no more than half: messages are still to deliver when it takes effect.
        receiver.Pause();
        await using (var first = await home.StartAsync(output, settings))
        {
            using var poster = new MessagePoster(first.BaseUrl);
            var posted = await Eventually.WithinAsync(poster.PostManyAsync("g", chats, perChat), TimeSpan.FromSeconds(60), () => "posting");
            Assert.Equal(total, posted.Count(HttpStatusCode.Accepted));
            receiver.Resume();
            receiver.PauseAt(total / 2);
            await Eventually.UntilAsync(() => receiver.Accepted >= 16 && receiver.InFlight >= 4, TimeSpan.FromSeconds(30), receiver.Describe);

            var inFlight = receiver.InFlight;
            var clock = Stopwatch.StartNew();
            first.Terminate();
            var exitCode = await first.WaitForExitAsync(shutdownTimeout + TimeSpan.FromSeconds(10));
            clock.Stop();
            output.WriteLine($"SIGTERM with {inFlight} sends in flight: exit code {exitCode} after {clock.Elapsed.TotalSeconds:0.00} s; {receiver.Describe()}");

            Assert.True(exitCode == 0, $"exit code {exitCode}; stderr: {first.Stderr}; stdout: {first.Stdout}");
            Assert.True(clock.Elapsed < shutdownTimeout + TimeSpan.FromSeconds(2), $"took {clock.Elapsed.TotalSeconds:0.0} s to stop; the shutdown timeout is {shutdownTimeout.TotalSeconds} s");
            Assert.Contains("tern stopped", first.Stdout, StringComparison.Ordinal);
            Assert.True(receiver.DistinctMessages < total, "everything was delivered before the SIGTERM took effect; the test proves nothing");
            // A send that was let finish is not still hanging at the receiver.
            await Eventually.UntilAsync(() => receiver.InFlight == 0, TimeSpan.FromSeconds(5), receiver.Describe);
        }

        // Nothing acknowledged was lost, and the in-flight sends were let finish (so no duplicates).
        Assert.Equal(total, home.Database.InboxCount());
        var deliveredBefore = receiver.DistinctMessages;
        Assert.Equal(deliveredBefore, home.Database.OutboxCount(TernDatabase.OutboxSent));

        receiver.Delay = TimeSpan.Zero;
        receiver.Resume();
        await using var second = await home.StartAsync(output, settings);
        await Eventually.UntilAsync(() => receiver.DistinctMessages >= total, TimeSpan.FromSeconds(60), () => $"{receiver.Describe()}; {home.Database.Describe()}");
        await Eventually.UntilAsync(async () => (await second.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), () => home.Database.Describe());

        Assert.Empty(receiver.Missing(MessagePoster.AllIds("g", chats, perChat)));
        Assert.Equal(0, receiver.DuplicatesBySource);
        Assert.Empty(receiver.OutOfOrderChats());
        Assert.Empty(receiver.Problems);
        Assert.Equal(total, home.Database.OutboxCount(TernDatabase.OutboxSent));
    }

    [Fact]
    public async Task SIGTERM_with_sends_that_never_finish_releases_them_within_the_timeout_and_loses_nothing()
    {
        const int chats = 10, perChat = 5, total = chats * perChat;
        var shutdownTimeout = TimeSpan.FromSeconds(3);
        string[] settings = ["--Tern:Sender:Concurrency=4", "--Tern:Sender:PerChannelConcurrency=4", $"--Tern:Shutdown:Timeout={shutdownTimeout.TotalSeconds}s"];
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var home = TernHome.Create();
        await home.AddWebhookPipelineAsync(receiver);

        // The destination takes every request and never answers while paused.
        receiver.Pause();
        await using (var first = await home.StartAsync(output, settings))
        {
            using var poster = new MessagePoster(first.BaseUrl);
            var posted = await Eventually.WithinAsync(poster.PostManyAsync("h", chats, perChat), TimeSpan.FromSeconds(60), () => "posting");
            Assert.Equal(total, posted.Count(HttpStatusCode.Accepted));
            await Eventually.UntilAsync(() => receiver.InFlight == 4, TimeSpan.FromSeconds(30), receiver.Describe);

            var clock = Stopwatch.StartNew();
            first.Terminate();
            var exitCode = await first.WaitForExitAsync(shutdownTimeout + TimeSpan.FromSeconds(15));
            clock.Stop();
            output.WriteLine($"SIGTERM with 4 sends hanging: exit code {exitCode} after {clock.Elapsed.TotalSeconds:0.00} s; {receiver.Describe()}");

            Assert.True(exitCode == 0, $"exit code {exitCode}; stderr: {first.Stderr}; stdout: {first.Stdout}");
            Assert.True(clock.Elapsed < shutdownTimeout + TimeSpan.FromSeconds(2), $"took {clock.Elapsed.TotalSeconds:0.0} s to stop; the shutdown timeout is {shutdownTimeout.TotalSeconds} s");
            // The abandoned sends were cancelled, not left hanging at the receiver.
            await Eventually.UntilAsync(() => receiver.InFlight == 0, TimeSpan.FromSeconds(5), receiver.Describe);
            Assert.Equal(0, receiver.Accepted);
        }

        Assert.Equal(total, home.Database.InboxCount());
        Assert.Equal(total, home.Database.OutboxCount(TernDatabase.OutboxPending));

        receiver.Resume();
        await using var second = await home.StartAsync(output, settings);
        await Eventually.UntilAsync(() => receiver.DistinctMessages >= total, TimeSpan.FromSeconds(60), () => $"{receiver.Describe()}; {home.Database.Describe()}");
        await Eventually.UntilAsync(async () => (await second.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), () => home.Database.Describe());
        Assert.Empty(receiver.Missing(MessagePoster.AllIds("h", chats, perChat)));
        Assert.Equal(0, receiver.DuplicatesBySource);
        Assert.Empty(receiver.OutOfOrderChats());
        Assert.Equal(total, home.Database.OutboxCount(TernDatabase.OutboxSent));
    }
}
