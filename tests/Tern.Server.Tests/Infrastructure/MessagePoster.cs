using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Tern.Server.Tests.Infrastructure;

/// <summary>How a batch of POSTs went.</summary>
public sealed class PostSummary
{
    private readonly ConcurrentDictionary<int, int> _byStatus = new();

    /// <summary>Ids answered 202 (newly stored).</summary>
    public ConcurrentBag<string> AcceptedIds { get; } = [];

    /// <summary>Retry-After values of 503 answers (null when the header was missing).</summary>
    public ConcurrentBag<string?> BusyRetryAfter { get; } = [];

    /// <summary>POSTs that got no answer (the connection failed); only counted when the caller tolerates that.</summary>
    public int Unanswered => _byStatus.GetValueOrDefault(0);

    public int Total => _byStatus.Values.Sum();

    public int Count(HttpStatusCode status) => _byStatus.GetValueOrDefault((int)status);

    internal void Record(HttpStatusCode status) => _byStatus.AddOrUpdate((int)status, 1, (_, n) => n + 1);

    internal void RecordUnanswered() => _byStatus.AddOrUpdate(0, 1, (_, n) => n + 1);

    public override string ToString() =>
        string.Join(", ", _byStatus.OrderBy(p => p.Key).Select(p => $"{p.Value}×{p.Key}"));
}

/// <summary>
/// Posts inbound messages to a webhook channel the way a busy platform would: several connections
/// at once, each chat's messages one after another (so "in order per chat" has a meaning).
/// </summary>
public sealed class MessagePoster : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _channelId;
    private readonly string? _secret;

    public MessagePoster(Uri baseUrl, string channelId = TernHome.InboundChannel, string? secret = "", int connections = 8)
    {
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(10) })
        {
            BaseAddress = baseUrl,
            Timeout = TimeSpan.FromSeconds(60),
        };
        _channelId = channelId;
        // "" is the default inbound secret (TernHome.InboundSecret, not a constant); null posts unsigned.
        _secret = secret == "" ? TernHome.InboundSecret : secret;
    }

    /// <summary>The id of message <paramref name="n"/> of chat <paramref name="chat"/>; ends in <c>-n</c> for the order check.</summary>
    public static string MessageId(string prefix, int chat, int n) => $"{prefix}-c{chat.ToString("D3", CultureInfo.InvariantCulture)}-{n.ToString(CultureInfo.InvariantCulture)}";

    public static string ChatName(string prefix, int chat) => $"{prefix}-chat-{chat.ToString("D3", CultureInfo.InvariantCulture)}";

    /// <summary>A well-formed inbound message body.</summary>
    public static byte[] Body(string? id, string chat, string text)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            if (id is not null) json.WriteString("id", id);
            json.WriteString("chat", chat);
            json.WriteString("sender", "tester");
            json.WriteString("text", text);
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    /// <summary>POSTs a raw body, signed with the channel secret unless <paramref name="signature"/> overrides it (empty: no header).</summary>
    public async Task<HttpResponseMessage> PostAsync(byte[] body, string? signature = null, string? channelId = null, CancellationToken cancellationToken = default)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return await SendAsync(content, body, signature, channelId, cancellationToken);
    }

    /// <summary>POSTs with the given content (e.g. chunked, without Content-Length); the signature is computed over <paramref name="body"/>.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpContent content, byte[] body, string? signature = null, string? channelId = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/hooks/webhook/{channelId ?? _channelId}", UriKind.Relative)) { Content = content };
        var header = signature ?? (_secret is null ? "" : Hmac.Sign(_secret, body));
        if (header.Length > 0) request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", header);
        return await _http.SendAsync(request, cancellationToken);
    }

    /// <summary>
    /// Posts <paramref name="perChat"/> messages to each of <paramref name="chats"/> chats with
    /// <paramref name="parallelism"/> concurrent posters; a chat belongs to one poster, which sends its
    /// messages in order and waits for each answer. With <paramref name="stopOnConnectionError"/>, a poster
    /// whose request fails (the server died) counts it as unanswered and stops; otherwise the error fails the test.
    /// Pass <paramref name="into"/> to watch the counts while posting goes on. With <paramref name="holdAfter"/>, the POSTs
    /// past the first that many send half their body and hold the rest until <paramref name="released"/>: they stay in
    /// flight, and posting cannot finish, until the test says so.
    /// </summary>
    public async Task<PostSummary> PostManyAsync(string prefix, int chats, int perChat, int parallelism = 8, int textLength = 32,
        bool stopOnConnectionError = false, PostSummary? into = null, int holdAfter = int.MaxValue, Task? released = null,
        CancellationToken cancellationToken = default)
    {
        var summary = into ?? new PostSummary();
        var started = 0;
        var padding = new string('x', Math.Max(0, textLength - 16));
        var posters = Enumerable.Range(0, parallelism).Select(poster => Task.Run(async () =>
        {
            var mine = Enumerable.Range(0, chats).Where(c => c % parallelism == poster).ToArray();
            for (var n = 0; n < perChat; n++)
            {
                foreach (var chat in mine)
                {
                    var id = MessageId(prefix, chat, n);
                    HttpResponseMessage response;
                    try
                    {
                        var body = Body(id, ChatName(prefix, chat), $"message {n} {padding}");
                        if (Interlocked.Increment(ref started) > holdAfter)
                        {
                            using var held = new HeldContent(body, released ?? Task.CompletedTask);
                            held.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                            response = await SendAsync(held, body, cancellationToken: cancellationToken);
                        }
                        else
                        {
                            response = await PostAsync(body, cancellationToken: cancellationToken);
                        }
                    }
                    catch (HttpRequestException) when (stopOnConnectionError)
                    {
                        summary.RecordUnanswered();
                        return;
                    }
                    using var answer = response;
                    summary.Record(response.StatusCode);
                    if (response.StatusCode == HttpStatusCode.Accepted) summary.AcceptedIds.Add(id);
                    else if (response.StatusCode == HttpStatusCode.ServiceUnavailable) summary.BusyRetryAfter.Add(response.Headers.RetryAfter?.ToString());
                }
            }
        }, cancellationToken)).ToArray();
        await Task.WhenAll(posters);
        return summary;
    }

    /// <summary>All ids <see cref="PostManyAsync"/> would post.</summary>
    public static IEnumerable<string> AllIds(string prefix, int chats, int perChat) =>
        from chat in Enumerable.Range(0, chats) from n in Enumerable.Range(0, perChat) select MessageId(prefix, chat, n);

    public void Dispose() => _http.Dispose();
}

/// <summary>A body of which the first half is sent at once and the rest once <paramref name="released"/> completes.</summary>
public sealed class HeldContent(byte[] body, Task released) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var half = body.Length / 2;
        await stream.WriteAsync(body.AsMemory(0, half), cancellationToken);
        await stream.FlushAsync(cancellationToken);
        await released.WaitAsync(cancellationToken);
        await stream.WriteAsync(body.AsMemory(half), cancellationToken);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = body.Length;
        return true;
    }
}

/// <summary>A body sent with chunked transfer encoding: no Content-Length, so the server only learns the size by reading.</summary>
public sealed class ChunkedContent(byte[] body) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        for (var offset = 0; offset < body.Length; offset += 1024)
        {
            await stream.WriteAsync(body.AsMemory(offset, Math.Min(1024, body.Length - offset)), cancellationToken);
            await stream.FlushAsync(cancellationToken);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
