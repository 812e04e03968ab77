using System.Net;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Postgres;

namespace Tern.Server.Tests.Postgres;

/// <summary><c>tern serve</c> on PostgreSQL: the webhook pipeline end to end, and the database going away under load.</summary>
[Collection(HeavyTests.Name)]
public sealed class PostgresServeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_webhook_pipeline_on_PostgreSQL_delivers_every_message_once_in_order_and_creates_no_SQLite_file()
    {
        const int Chats = 20, PerChat = 50;
        var server = await PrivatePostgres.SharedAsync();
        var database = await server.CreateDatabaseAsync(CancellationToken.None);
        try
        {
            var storage = $"--Tern:Storage:ConnectionString={database}";
            await using var receiver = await LoopbackReceiver.StartAsync();
            using var home = TernHome.Create();
            await AddPipelineAsync(home, receiver, storage);
            await using var tern = await home.StartInProcessAsync(storage, "--Tern:Sender:Concurrency=8");
            using var poster = new MessagePoster(tern.BaseUrl);

            var posted = await poster.PostManyAsync("pg", Chats, PerChat);

            Assert.Equal(Chats * PerChat, posted.Count(HttpStatusCode.Accepted));
            await Eventually.UntilAsync(() => receiver.DistinctMessages >= Chats * PerChat, TimeSpan.FromSeconds(120), receiver.Describe);
            await Eventually.UntilAsync(async () => (await tern.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), receiver.Describe);
            Assert.Empty(receiver.Missing(MessagePoster.AllIds("pg", Chats, PerChat)));
            Assert.Equal(0, receiver.DuplicatesBySource);
            Assert.Empty(receiver.OutOfOrderChats());
            Assert.Equal(0, receiver.BadSignatures);
            var ready = await tern.ReadyAsync();
            Assert.Equal((200, Chats * PerChat, Chats * PerChat), (ready.HttpStatus, ready.Received, ready.Delivered));
            Assert.False(File.Exists(home.DatabasePath), "a SQLite file was created although the storage is PostgreSQL");
        }
        finally
        {
            await server.DropDatabaseAsync(database, CancellationToken.None);
        }
    }

    [Fact]
    public async Task PostgreSQL_stopped_under_load_makes_Tern_not_ready_and_refuse_with_503_and_it_recovers_losing_nothing_acknowledged()
    {
        await using var server = await PrivatePostgres.StartAsync(CancellationToken.None);
        var database = await server.CreateDatabaseAsync(CancellationToken.None);
        var storage = $"--Tern:Storage:ConnectionString={database}";
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var home = TernHome.Create();
        await AddPipelineAsync(home, receiver, storage);
        await using var tern = await home.StartInProcessAsync(storage, "--Tern:Ingress:RetryAfter=2s");
        using var poster = new MessagePoster(tern.BaseUrl);

        // Posting goes on while the database goes away: the first 100 are answered, the rest wait half-sent until released.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var load = new PostSummary();
        var posting = poster.PostManyAsync("load", 10, 40, into: load, holdAfter: 100, released: release.Task);
        await Eventually.UntilAsync(() => load.AcceptedIds.Count >= 100, TimeSpan.FromSeconds(60), () => load.ToString());

        await server.StopAsync();
        var down = DateTime.UtcNow;
        await Eventually.UntilAsync(async () => (await tern.ReadyAsync()).HttpStatus == 503, TimeSpan.FromSeconds(60), () => "still ready with the database stopped");
        release.SetResult();
        // Nothing can be committed: nothing is acknowledged, and the answer says when to come back.
        var refused = new List<HttpResponseMessage>();
        for (var i = 0; i < 5; i++) refused.Add(await poster.PostAsync(MessagePoster.Body($"down-{i}", "down-chat", "while down")));
        foreach (var response in refused)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(2), response.Headers.RetryAfter?.Delta);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            response.Dispose();
        }
        await Eventually.UntilAsync(() => load.Count(HttpStatusCode.ServiceUnavailable) >= 8, TimeSpan.FromSeconds(60), () => load.ToString());
        output.WriteLine($"not ready and refusing after {(DateTime.UtcNow - down).TotalSeconds:0.0} s; {load}");

        await server.StartAgainAsync();
        await Eventually.UntilAsync(async () => (await tern.ReadyAsync()).HttpStatus == 200, TimeSpan.FromSeconds(60), () => $"not ready again after the database came back; log: {Tail(tern.Log)}");
        await posting;
        var after = await poster.PostManyAsync("again", 10, 20);
        Assert.Equal(200, after.Count(HttpStatusCode.Accepted));
        // Every answer was an acknowledgement or a 503 to retry: never a 500, never a lost connection.
        Assert.Equal(400, load.Count(HttpStatusCode.Accepted) + load.Count(HttpStatusCode.ServiceUnavailable));

        var acknowledged = load.AcceptedIds.Concat(after.AcceptedIds).ToList();
        await Eventually.UntilAsync(() => receiver.DistinctMessages >= acknowledged.Count, TimeSpan.FromSeconds(120), receiver.Describe);
        Assert.Empty(receiver.Missing(acknowledged));
        Assert.Empty(receiver.OutOfOrderChats());
        Assert.DoesNotContain("has thrown an unhandled exception", tern.Log, StringComparison.Ordinal);
        Assert.All(Enumerable.Range(0, 5), i => Assert.False(receiver.HasAccepted($"down-{i}"), $"down-{i} was refused yet delivered"));
    }

    private static string Tail(string log) => log.Length > 4000 ? log[^4000..] : log;

    private static async Task AddPipelineAsync(TernHome home, LoopbackReceiver receiver, string storage)
    {
        await home.RunOkAsync("channels", "add", "--id", TernHome.InboundChannel, "--secret", TernHome.InboundSecret, storage);
        await home.RunOkAsync("channels", "add", "--id", TernHome.OutboundChannel, "--url", receiver.Url.ToString(), "--secret", receiver.Secret, storage);
        await home.RunOkAsync("routes", "add", "--id", TernHome.RouteId, "--from", TernHome.InboundChannel, "--to", TernHome.OutboundChannel, storage);
    }
}
