using System.Net;
using System.Text;
using System.Text.Json;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests;

/// <summary>One server for the bad-input tests that share its settings (they do not change its state).</summary>
public sealed class BadInputServer : IAsyncLifetime
{
    public const int MaxBodyBytes = 4096;
    private int _good;

    public LoopbackReceiver Receiver { get; private set; } = null!;

    public TernHome Home { get; } = TernHome.Create();

    public TernProcess Tern { get; private set; } = null!;

    public MessagePoster Poster { get; private set; } = null!;

    public string NextGoodId() => "good-after-" + Interlocked.Increment(ref _good).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public async Task InitializeAsync()
    {
        Receiver = await LoopbackReceiver.StartAsync();
        await Home.AddWebhookPipelineAsync(Receiver);
        // A process of its own: "never a crash" means the process is still there.
        Tern = await Home.StartAsync(null, $"--Tern:Ingress:MaxBodyBytes={MaxBodyBytes}");
        Poster = new MessagePoster(Tern.BaseUrl);
    }

    public async Task DisposeAsync()
    {
        Poster?.Dispose();
        if (Tern is not null) await Tern.DisposeAsync();
        if (Receiver is not null) await Receiver.DisposeAsync();
        Home.Dispose();
    }
}

/// <summary>Every way an inbound POST can be wrong: the right status, problem+json, nothing stored, and the server keeps serving.</summary>
public sealed class BadInputTests(BadInputServer server, ITestOutputHelper output) : IClassFixture<BadInputServer>
{
    private const int MaxBodyBytes = BadInputServer.MaxBodyBytes;

    public static TheoryData<string, string, string> MalformedBodies => new()
    {
        // name, body, field the problem must name
        { "malformed JSON", """{"chat": "a", "text": "unterminated""", "body" },
        { "not JSON at all", "hello", "body" },
        { "an array, not an object", """[{"chat": "a", "text": "x"}]""", "body" },
        { "a string, not an object", "\"just text\"", "body" },
        { "empty body", "", "body" },
        { "missing chat", """{"text": "no chat"}""", "chat" },
        { "null chat", """{"chat": null, "text": "x"}""", "chat" },
        { "chat is an object", """{"chat": {"id": 1}, "text": "x"}""", "chat" },
        { "chat is a boolean", """{"chat": true, "text": "x"}""", "chat" },
        { "chat is empty", """{"chat": "", "text": "x"}""", "chat" },
        { "chat is a fraction", """{"chat": 1.5, "text": "x"}""", "chat" },
        { "id is an array", """{"id": [1], "chat": "a", "text": "x"}""", "id" },
        { "id is too long", "{\"id\": \"" + new string('i', 300) + "\", \"chat\": \"a\", \"text\": \"x\"}", "id" },
        { "sender is a number with a fraction", """{"chat": "a", "sender": 2.5, "text": "x"}""", "sender" },
        { "text is a number", """{"chat": "a", "text": 42}""", "text" },
        { "text is an object", """{"chat": "a", "text": {"body": "x"}}""", "text" },
        { "neither text nor attachments", """{"chat": "a"}""", "text" },
        { "attachments is an object", """{"chat": "a", "attachments": {"url": "x"}}""", "attachments" },
        { "attachment is a number", """{"chat": "a", "attachments": [7]}""", "attachments[0]" },
    };

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public async Task A_malformed_body_gets_400_problem_naming_the_field_and_stores_nothing(string name, string body, string field)
    {
        var (inboxBefore, outboxBefore) = Counts();
        using var response = await server.Poster.PostAsync(Encoding.UTF8.GetBytes(body));
        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest, name);
        Assert.True(problem.TryGetProperty("errors", out var errors), $"{name}: no errors in {problem}");
        Assert.True(errors.TryGetProperty(field, out var messages), $"{name}: errors do not name '{field}': {errors}");
        Assert.True(messages.GetArrayLength() > 0 && messages[0].GetString()!.Length > 0, $"{name}: empty message for '{field}'");
        output.WriteLine($"{name}: {errors}");

        await AssertNothingStoredAndStillServingAsync(inboxBefore, outboxBefore);
    }

    [Fact]
    public async Task Signature_problems_get_401_and_store_nothing()
    {
        var (inboxBefore, outboxBefore) = Counts();
        var poster = server.Poster;
        var body = MessagePoster.Body("sig-1", "chat-a", "hello");

        var cases = new (string Name, string Header)[]
        {
            ("missing signature", ""),
            ("signed with another secret", Hmac.Sign("some-other-secret-0000", body)),
            ("signature of another body", Hmac.Sign(TernHome.InboundSecret, MessagePoster.Body("sig-1", "chat-a", "hellO"))),
            ("not hex", "sha256=" + new string('z', 64)),
            ("too short", Hmac.Sign(TernHome.InboundSecret, body)[..^2]),
            ("wrong scheme", "sha1=" + Hmac.Sign(TernHome.InboundSecret, body)["sha256=".Length..]),
            ("bare hex without scheme", Hmac.Sign(TernHome.InboundSecret, body)["sha256=".Length..]),
        };
        foreach (var (name, header) in cases)
        {
            using var response = await poster.PostAsync(body, signature: header);
            await ReadProblemAsync(response, HttpStatusCode.Unauthorized, name);
            Assert.Equal(inboxBefore, server.Home.Database.InboxCount());
        }
        await AssertNothingStoredAndStillServingAsync(inboxBefore, outboxBefore);

        // The same body correctly signed is accepted: the rejections above were about the signature alone.
        using (var good = await poster.PostAsync(body))
        {
            Assert.Equal(HttpStatusCode.Accepted, good.StatusCode);
        }
        await Eventually.UntilAsync(() => server.Receiver.HasAccepted("sig-1"), TimeSpan.FromSeconds(30), server.Receiver.Describe);
        Assert.Equal(inboxBefore + 2, server.Home.Database.InboxCount());
    }

    [Fact]
    public async Task An_unknown_channel_gets_404_and_stores_nothing()
    {
        var (inboxBefore, outboxBefore) = Counts();
        using (var response = await server.Poster.PostAsync(MessagePoster.Body("u-1", "chat-a", "hello"), channelId: "no-such-channel"))
        {
            await ReadProblemAsync(response, HttpStatusCode.NotFound, "unknown channel");
        }
        // A channel id that could not even be a channel id.
        using (var response = await server.Poster.PostAsync(MessagePoster.Body("u-2", "chat-a", "hello"), channelId: "..%2F..%2Fetc"))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
        await AssertNothingStoredAndStillServingAsync(inboxBefore, outboxBefore);
    }

    [Fact]
    public async Task An_oversized_body_gets_413_with_or_without_Content_Length_and_stores_nothing()
    {
        var (inboxBefore, outboxBefore) = Counts();
        var poster = server.Poster;
        var big = MessagePoster.Body("big-1", "chat-a", new string('x', MaxBodyBytes * 3));
        var justOver = MessagePoster.Body("big-2", "chat-a", new string('x', MaxBodyBytes));

        foreach (var body in new[] { big, justOver })
        {
            using (var withLength = await poster.PostAsync(body))
            {
                await ReadProblemAsync(withLength, HttpStatusCode.RequestEntityTooLarge, $"{body.Length} bytes with Content-Length");
                // The unread rest of the body makes the connection unusable; the server says so.
                Assert.True(withLength.Headers.ConnectionClose == true, "a 413 should close the connection");
            }
            using var content = new ChunkedContent(body);
            Assert.Null(content.Headers.ContentLength);
            using (var chunked = await poster.SendAsync(content, body))
            {
                await ReadProblemAsync(chunked, HttpStatusCode.RequestEntityTooLarge, $"{body.Length} bytes chunked");
                Assert.True(chunked.Headers.ConnectionClose == true, "a 413 should close the connection");
            }
        }

        // Beyond what the server will read and discard (1 MB) it answers 413 and closes the connection; a
        // client still sending may see the connection cut instead of the answer (TCP reset drops it).
        // Either way nothing may be stored and the server must keep serving.
        var huge = MessagePoster.Body("big-4", "chat-a", new string('x', 3 << 20));
        foreach (var chunkedEncoding in new[] { false, true })
        {
            try
            {
                using var content = chunkedEncoding ? (HttpContent)new ChunkedContent(huge) : new ByteArrayContent(huge);
                using var response = await poster.SendAsync(content, huge);
                await ReadProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, $"{huge.Length} bytes{(chunkedEncoding ? " chunked" : "")}");
            }
            catch (HttpRequestException ex)
            {
                output.WriteLine($"{huge.Length} bytes{(chunkedEncoding ? " chunked" : "")}: connection cut while sending ({ex.Message})");
            }
        }
        await AssertNothingStoredAndStillServingAsync(inboxBefore, outboxBefore);

        // A body of exactly the limit is fine (the bound is inclusive), chunked or not.
        var exact = FillTo(MaxBodyBytes, "big-3");
        using (var atLimit = await poster.SendAsync(new ChunkedContent(exact), exact))
        {
            Assert.Equal(HttpStatusCode.Accepted, atLimit.StatusCode);
        }
        await Eventually.UntilAsync(() => server.Receiver.HasAccepted("big-3"), TimeSpan.FromSeconds(30), server.Receiver.Describe);
    }

    [Fact]
    public async Task Over_the_backlog_bound_gets_503_with_Retry_After_stores_nothing_and_recovers()
    {
        const int bound = 3;
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var home = TernHome.Create();
        await home.AddWebhookPipelineAsync(receiver);
        await using var tern = await home.StartInProcessAsync($"--Tern:Ingress:MaxBacklog={bound}", "--Tern:Ingress:RetryAfter=2s");
        using var poster = new MessagePoster(tern.BaseUrl);

        receiver.Pause();
        for (var i = 0; i < bound; i++)
        {
            using var accepted = await poster.PostAsync(MessagePoster.Body($"b-{i}", "chat-a", "fill"));
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }
        for (var i = 0; i < 3; i++)
        {
            using var busy = await poster.PostAsync(MessagePoster.Body($"over-{i}", "chat-b", "one too many"));
            await ReadProblemAsync(busy, HttpStatusCode.ServiceUnavailable, "backlog at bound");
            Assert.Equal(TimeSpan.FromSeconds(2), busy.Headers.RetryAfter?.Delta);
        }
        Assert.Equal(bound, home.Database.InboxCount());
        Assert.Equal(HttpStatusCode.OK, await tern.HealthAsync());

        // Once the destination drains the backlog, the same message is accepted.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        receiver.Resume();
        // Drained means delivered: an outbox with nothing pending may only mean the inbox is not routed yet.
        await Eventually.UntilAsync(async () =>
        {
            var ready = await tern.ReadyAsync();
            return receiver.DistinctMessages == bound && ready.InboxPending == 0 && ready.OutboxPending == 0;
        }, TimeSpan.FromSeconds(30), receiver.Describe);
        output.WriteLine($"backlog drained {clock.ElapsedMilliseconds} ms after the receiver resumed; {receiver.Describe()}");
        using (var retry = await poster.PostAsync(MessagePoster.Body("over-0", "chat-b", "one too many")))
        {
            Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        }
        await Eventually.UntilAsync(() => receiver.HasAccepted("over-0"), TimeSpan.FromSeconds(30), receiver.Describe);
        Assert.Equal(bound + 1, receiver.DistinctMessages);
        Assert.Equal(bound + 1, home.Database.InboxCount());
    }

    private static byte[] FillTo(int size, string id)
    {
        var empty = MessagePoster.Body(id, "chat-a", "");
        return MessagePoster.Body(id, "chat-a", new string('y', size - empty.Length));
    }

    private static async Task<JsonElement> ReadProblemAsync(HttpResponseMessage response, HttpStatusCode expected, string name)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{name}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json",
            $"{name}: content type {response.Content.Headers.ContentType}: {text}");
        using var document = JsonDocument.Parse(text);
        var problem = document.RootElement.Clone();
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()), $"{name}: problem without a title: {text}");
        return problem;
    }

    private (long Inbox, long Outbox) Counts() => (server.Home.Database.InboxCount(), server.Home.Database.OutboxCount());

    /// <summary>Nothing new in the inbox or outbox; /health answers; a good message is still accepted and delivered.</summary>
    private async Task AssertNothingStoredAndStillServingAsync(long inboxBefore, long outboxBefore)
    {
        Assert.Equal(inboxBefore, server.Home.Database.InboxCount());
        Assert.Equal(outboxBefore, server.Home.Database.OutboxCount());
        Assert.False(server.Tern.HasExited, "tern exited");
        Assert.Equal(HttpStatusCode.OK, await server.Tern.HealthAsync());

        var id = server.NextGoodId();
        using (var good = await server.Poster.PostAsync(MessagePoster.Body(id, "chat-z", "still here")))
        {
            Assert.Equal(HttpStatusCode.Accepted, good.StatusCode);
        }
        await Eventually.UntilAsync(() => server.Receiver.HasAccepted(id), TimeSpan.FromSeconds(30), server.Receiver.Describe);
        Assert.Equal(inboxBefore + 1, server.Home.Database.InboxCount());
    }
}
