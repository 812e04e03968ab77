using System.Net;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests;

[Collection(HeavyTests.Name)]
public sealed class FaultyReceiverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_receiver_failing_15_percent_of_calls_gets_everything_exactly_once()
    {
        const int chats = 50, perChat = 40, total = chats * perChat;
        await using var receiver = await LoopbackReceiver.StartAsync();
        receiver.Faults = new FaultRule(percentServerError: 10, percentTooManyRequests: 5);
        using var home = TernHome.Create();
        await home.AddWebhookPipelineAsync(receiver);
        await using var tern = await home.StartAsync(output,
            "--Tern:Sender:BackoffBase=50ms", "--Tern:Sender:BackoffMax=500ms", "--Tern:Sender:Cooldown=1s",
            "--Tern:Sender:Concurrency=16", "--Tern:Sender:PerChannelConcurrency=16", "--Tern:Sender:PollInterval=50ms");
        using var poster = new MessagePoster(tern.BaseUrl);

        var posted = await Eventually.WithinAsync(poster.PostManyAsync("f", chats, perChat), TimeSpan.FromSeconds(60), () => "posting");
        Assert.Equal(total, posted.Count(HttpStatusCode.Accepted));

        await Eventually.UntilAsync(() => receiver.DistinctMessages >= total, TimeSpan.FromSeconds(120),
            () => $"{receiver.Describe()}; {home.Database.Describe()}");
        await Eventually.UntilAsync(async () => (await tern.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), () => home.Database.Describe());
        var ready = await tern.ReadyAsync();
        output.WriteLine($"{receiver.Describe()}; tern counted {ready.Retried} retries");

        // The faults really happened, and Tern saw them as retries.
        Assert.True(receiver.ServerErrorsServed > total / 20, receiver.Describe());
        Assert.True(receiver.TooManyRequestsServed > total / 50, receiver.Describe());
        Assert.Equal(receiver.ServerErrorsServed + receiver.TooManyRequestsServed, ready.Retried);
        Assert.True(home.Database.OutboxRetried() > 0);

        Assert.Empty(receiver.Missing(MessagePoster.AllIds("f", chats, perChat)));
        Assert.Equal(0, receiver.DuplicatesBySource);
        Assert.Equal(0, receiver.DuplicatesByDelivery);
        Assert.Equal(total, receiver.Accepted);
        Assert.Empty(receiver.OutOfOrderChats());
        Assert.Empty(receiver.Problems);
        Assert.Equal(total, home.Database.OutboxCount(TernDatabase.OutboxSent));
        Assert.Equal(0, ready.Failed);
    }
}
