using System.Net;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests;

[Collection(HeavyTests.Name)]
public sealed class DeliveryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Ten_thousand_messages_are_each_delivered_exactly_once_in_order_per_chat()
    {
        const int chats = 50, perChat = 200;
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var home = TernHome.Create();
        await home.AddWebhookPipelineAsync(receiver);
        await using var tern = await home.StartInProcessAsync("--Tern:Sender:Concurrency=16", "--Tern:Sender:PerChannelConcurrency=16");
        using var poster = new MessagePoster(tern.BaseUrl);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var posted = await Eventually.WithinAsync(poster.PostManyAsync("d", chats, perChat), TimeSpan.FromSeconds(120), () => $"posting; {receiver.Describe()}");
        output.WriteLine($"posted {posted.Total} in {clock.Elapsed.TotalSeconds:0.0} s: {posted}");
        Assert.Equal(chats * perChat, posted.Count(HttpStatusCode.Accepted));

        await Eventually.UntilAsync(() => receiver.DistinctMessages >= chats * perChat, TimeSpan.FromSeconds(120),
            () => $"{receiver.Describe()}; {home.Database.Describe()}");
        await Eventually.UntilAsync(async () => (await tern.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), () => home.Database.Describe());
        output.WriteLine($"delivered in {clock.Elapsed.TotalSeconds:0.0} s; {receiver.Describe()}; CPU of the test process (tern in it): {System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds:0.0} s");

        Assert.Empty(receiver.Missing(MessagePoster.AllIds("d", chats, perChat)));
        Assert.Equal(0, receiver.DuplicatesBySource);
        Assert.Equal(0, receiver.DuplicatesByDelivery);
        Assert.Equal(chats * perChat, receiver.Accepted);
        Assert.Empty(receiver.OutOfOrderChats());
        Assert.Empty(receiver.Problems);
        Assert.Equal(0, receiver.BadSignatures);

        var db = home.Database;
        Assert.Equal(chats * perChat, db.InboxCount(TernDatabase.InboxRouted));
        Assert.Equal(chats * perChat, db.OutboxCount(TernDatabase.OutboxSent));
        Assert.Equal(chats * perChat, db.OutboxCount());
        var ready = await tern.ReadyAsync();
        Assert.Equal(chats * perChat, ready.Received);
        Assert.Equal(chats * perChat, ready.Delivered);
        Assert.Equal(0, ready.Failed);
    }

    [Fact]
    public async Task The_same_inbound_id_posted_twice_is_stored_once_and_delivered_once()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var home = TernHome.Create();
        await home.AddWebhookPipelineAsync(receiver);
        await using var tern = await home.StartInProcessAsync();
        using var poster = new MessagePoster(tern.BaseUrl);

        var body = MessagePoster.Body("twice-1", "chat-a", "hello");
        using (var first = await poster.PostAsync(body))
        {
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
            Assert.Contains("\"duplicate\":false", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        // The redelivery may differ in everything but the id (platforms resend the same update).
        using (var second = await poster.PostAsync(MessagePoster.Body("twice-1", "chat-a", "hello again")))
        {
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
            Assert.Contains("\"duplicate\":true", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        // A later message of the same chat: once it has arrived, anything the duplicate could have caused would have arrived before it (one lane, in order).
        using (var later = await poster.PostAsync(MessagePoster.Body("twice-2", "chat-a", "after")))
        {
            Assert.Equal(HttpStatusCode.Accepted, later.StatusCode);
        }
        using (var third = await poster.PostAsync(body))
        {
            Assert.Equal(HttpStatusCode.OK, third.StatusCode);
        }

        // The same new id from several connections at once: exactly one of them stores it.
        var racing = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            using var response = await poster.PostAsync(MessagePoster.Body("race-1", "chat-b", "at once"));
            return response.StatusCode;
        }));
        Assert.Equal(1, racing.Count(s => s == HttpStatusCode.Accepted));
        Assert.Equal(7, racing.Count(s => s == HttpStatusCode.OK));

        await Eventually.UntilAsync(() => receiver.HasAccepted("twice-2") && receiver.HasAccepted("race-1"), TimeSpan.FromSeconds(30), receiver.Describe);
        await Eventually.UntilAsync(async () => (await tern.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), () => home.Database.Describe());

        Assert.Equal(1, home.Database.InboxCountWithId(TernHome.InboundChannel, "twice-1"));
        Assert.Equal(1, home.Database.OutboxCountForInboxId(TernHome.InboundChannel, "twice-1"));
        Assert.Equal(1, home.Database.InboxCountWithId(TernHome.InboundChannel, "race-1"));
        Assert.Equal(3, home.Database.InboxCount());
        Assert.Equal(3, home.Database.OutboxCount());
        Assert.Equal(1, receiver.TimesAccepted("twice-1"));
        Assert.Equal(1, receiver.TimesAccepted("race-1"));
        Assert.Equal(3, receiver.Accepted);
        var ready = await tern.ReadyAsync();
        Assert.Equal(3, ready.Received);
    }
}
