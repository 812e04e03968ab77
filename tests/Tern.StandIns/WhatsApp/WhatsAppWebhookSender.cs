using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tern.StandIns.WhatsApp;

/// <summary>One POST the sender made: the exact bytes, the signature header, and the answer (or the network error).</summary>
public sealed record WhatsAppWebhookAttempt(int Number, byte[] Body, string? Signature, int? Status, string? Error, DateTimeOffset At)
{
    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>A delivery: every attempt of one body, until a 200 or the retry schedule ran out.</summary>
public sealed record WhatsAppWebhookDelivery(IReadOnlyList<WhatsAppWebhookAttempt> Attempts)
{
    /// <summary>Meta counts a delivery done only on HTTP 200.</summary>
    public bool Delivered => Attempts.Count > 0 && Attempts[^1].Status == 200;

    public int? FinalStatus => Attempts.Count > 0 ? Attempts[^1].Status : null;
}

/// <summary>
/// Posts webhooks to a URL the way Meta does: compact JSON, <c>Content-Type: application/json</c>,
/// <c>X-Hub-Signature-256: sha256=&lt;hex HMAC-SHA256 of the raw body with the app secret&gt;</c>, and retries
/// of anything but HTTP 200 with backoff, sending the same bytes again. It also does what Meta does now and then
/// (duplicates) and what an attacker does (no signature, a signature over other bytes), for negative tests.
/// </summary>
public sealed class WhatsAppWebhookSender : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _appSecret;
    private readonly Lock _lock = new();
    private readonly List<WhatsAppWebhookAttempt> _attempts = [];

    public WhatsAppWebhookSender(Uri url, string appSecret, TimeProvider? timeProvider = null)
    {
        Url = url;
        _appSecret = appSecret;
        TimeProvider = timeProvider ?? TimeProvider.System;
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("facebookexternalua");
    }

    public Uri Url { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>
    /// The waits before the 2nd, 3rd… attempt. Meta retries with decreasing frequency for up to 7 days; the default
    /// is short and doubling, and a test sets it as small as it likes (the attempts are counted, never timed).
    /// </summary>
    public IReadOnlyList<TimeSpan> RetrySchedule { get; set; } =
        [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(800)];

    /// <summary>Every POST made, in order.</summary>
    public IReadOnlyList<WhatsAppWebhookAttempt> Attempts
    {
        get
        {
            lock (_lock) return [.. _attempts];
        }
    }

    /// <summary><c>sha256=</c> and the lower-case hex HMAC-SHA256 of <paramref name="body"/> keyed with <paramref name="appSecret"/>.</summary>
    public static string Sign(byte[] body, string appSecret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(appSecret), body));

    /// <summary>Compact UTF-8 JSON, non-ASCII unescaped.</summary>
    public static byte[] Serialize(JsonNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, GraphApiStandIn.WriterOptions)) node.WriteTo(writer);
        return buffer.ToArray();
    }

    public Task<WhatsAppWebhookDelivery> PostAsync(WhatsAppWebhookBody body, CancellationToken cancellationToken = default) =>
        PostAsync((body ?? throw new ArgumentNullException(nameof(body))).ToBytes(), cancellationToken);

    public Task<WhatsAppWebhookDelivery> PostAsync(JsonNode body, CancellationToken cancellationToken = default) =>
        PostAsync(Serialize(body), cancellationToken);

    /// <summary>Signs the bytes and posts them, retrying anything but 200 on <see cref="RetrySchedule"/> with the same bytes and signature.</summary>
    public Task<WhatsAppWebhookDelivery> PostAsync(byte[] body, CancellationToken cancellationToken = default) =>
        DeliverAsync(body, Sign(body, _appSecret), retry: true, cancellationToken);

    /// <summary>The same bytes delivered twice (each with its own retries), as Meta does when it retries a delivery it thinks failed.</summary>
    public async Task<(WhatsAppWebhookDelivery First, WhatsAppWebhookDelivery Second)> PostTwiceAsync(byte[] body, CancellationToken cancellationToken = default)
    {
        var first = await PostAsync(body, cancellationToken);
        var second = await PostAsync(body, cancellationToken);
        return (first, second);
    }

    /// <summary>One POST with no X-Hub-Signature-256 header, no retries.</summary>
    public Task<WhatsAppWebhookDelivery> PostUnsignedAsync(byte[] body, CancellationToken cancellationToken = default) =>
        DeliverAsync(body, null, retry: false, cancellationToken);

    /// <summary>One POST with the header given (a wrong secret's signature, garbage, "sha1=…"), no retries.</summary>
    public Task<WhatsAppWebhookDelivery> PostWithSignatureAsync(byte[] body, string signatureHeader, CancellationToken cancellationToken = default) =>
        DeliverAsync(body, signatureHeader, retry: false, cancellationToken);

    /// <summary>
    /// One POST of the compact bytes signed over a re-serialization (indented) of the same JSON: what a receiver that
    /// parses and re-serializes before checking would compute. A receiver must check the raw bytes and refuse this.
    /// </summary>
    public Task<WhatsAppWebhookDelivery> PostSignedOverReserializedAsync(JsonNode body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        var sent = Serialize(body);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true })) body.WriteTo(writer);
        var other = buffer.ToArray();
        return DeliverAsync(sent, Sign(other, _appSecret), retry: false, cancellationToken);
    }

    /// <summary>
    /// The GET verification handshake: <c>?hub.mode=subscribe&amp;hub.verify_token=…&amp;hub.challenge=…</c>.
    /// Meta expects HTTP 200 with the challenge as the body.
    /// </summary>
    public async Task<(int Status, string Body)> VerifyAsync(string verifyToken, string challenge, string mode = "subscribe", CancellationToken cancellationToken = default)
    {
        var query = "hub.mode=" + Uri.EscapeDataString(mode) + "&hub.verify_token=" + Uri.EscapeDataString(verifyToken) + "&hub.challenge=" + Uri.EscapeDataString(challenge);
        var builder = new UriBuilder(Url) { Query = string.IsNullOrEmpty(Url.Query) ? query : Url.Query.TrimStart('?') + "&" + query };
        using var response = await _http.GetAsync(builder.Uri, cancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
    }

    private async Task<WhatsAppWebhookDelivery> DeliverAsync(byte[] body, string? signature, bool retry, CancellationToken cancellationToken)
    {
        List<WhatsAppWebhookAttempt> attempts = [];
        for (var number = 1; ; number++)
        {
            int? status = null;
            string? error = null;
            try
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var request = new HttpRequestMessage(HttpMethod.Post, Url) { Content = content };
                if (signature is not null) request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", signature);
                using var response = await _http.SendAsync(request, cancellationToken);
                status = (int)response.StatusCode;
            }
            catch (HttpRequestException e)
            {
                error = e.Message;
            }

            var attempt = new WhatsAppWebhookAttempt(number, body, signature, status, error, TimeProvider.GetUtcNow());
            attempts.Add(attempt);
            lock (_lock) _attempts.Add(attempt);
            if (status == 200 || !retry || number > RetrySchedule.Count) return new WhatsAppWebhookDelivery(attempts);
            await Task.Delay(RetrySchedule[number - 1], TimeProvider, cancellationToken);
        }
    }

    public void Dispose() => _http.Dispose();
}
