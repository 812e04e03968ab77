using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;

namespace Tern.StandIns.Http;

/// <summary>How the receiver checks the signature on what it is sent (computed independently of Tern's code).</summary>
public enum SignatureScheme
{
    /// <summary>No check; <see cref="RecordedRequest.SignatureProblems"/> stays empty.</summary>
    None,

    /// <summary>
    /// Webhook channel deliveries and tenant events: Standard Webhooks, checked by the StandardWebhooks NuGet package (not Tern's
    /// code) with the receiver's secret, timestamp within 5 minutes. That package (1.1.2) looks only at the first of several
    /// space-separated signatures, so each is shown to it alone: one made with the receiver's secret is enough, as the spec says.
    /// </summary>
    StandardWebhooks,
}

/// <summary>What the receiver answers one request with.</summary>
public sealed record Reply(int Status = 200)
{
    public static Reply Ok { get; } = new();

    /// <summary>The body; none when null.</summary>
    public string? Body { get; init; }

    public string? ContentType { get; init; }

    public string? RetryAfter { get; init; }

    public string? Location { get; init; }

    /// <summary>Time to wait before answering (on top of <see cref="LoopbackReceiver.Delay"/>).</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>Never answers: waits until the client gives up (or the receiver is disposed).</summary>
    public bool Hang { get; init; }

    /// <summary>
    /// What an accepted (2xx) request counts as for <see cref="LoopbackReceiver.DistinctAccepted"/>, <see cref="LoopbackReceiver.PauseAt"/>
    /// and <see cref="LoopbackReceiver.TimesAccepted"/> (a message id, say); null counts every accepted request on its own.
    /// </summary>
    public string? Key { get; init; }

    public static Reply WithStatus(int status, string? retryAfter = null) => new(status) { RetryAfter = retryAfter };

    public static Reply Json(int status, string json) => new(status) { Body = json, ContentType = "application/json; charset=utf-8" };

    public static Reply Text(int status, string text) => new(status) { Body = text, ContentType = "text/plain" };
}

/// <summary>One request the receiver got, recorded when its body has been read (before it is answered).</summary>
public sealed class RecordedRequest
{
    private int _status;

    internal RecordedRequest(long sequence, string method, string path, string query, Dictionary<string, string> headers, byte[] body, DateTimeOffset at, IReadOnlyList<string> signatureProblems)
    {
        Sequence = sequence;
        Method = method;
        Path = path;
        Query = query;
        Headers = headers;
        Body = body;
        At = at;
        SignatureProblems = signatureProblems;
    }

    /// <summary>1 for the first request recorded, then 2, 3, …</summary>
    public long Sequence { get; }

    public string Method { get; }

    public string Path { get; }

    /// <summary>The query string with its leading '?', or "".</summary>
    public string Query { get; }

    /// <summary>Header values joined by commas, names compared case-insensitively.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    public byte[] Body { get; }

    public string BodyText => Encoding.UTF8.GetString(Body);

    /// <summary>When the body had been read (the receiver's wall clock).</summary>
    public DateTimeOffset At { get; }

    /// <summary>What is wrong with the signature under the receiver's <see cref="SignatureScheme"/>; empty when it is right (or not checked).</summary>
    public IReadOnlyList<string> SignatureProblems { get; }

    public bool SignatureValid => SignatureProblems.Count == 0;

    /// <summary>The status answered; 0 while not answered (held, slow, hanging, or abandoned by the client).</summary>
    public int Status
    {
        get => Volatile.Read(ref _status);
        internal set => Volatile.Write(ref _status, value);
    }

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>
/// A real HTTP receiver (Kestrel) on 127.0.0.1 with a port the kernel picks, standing in for whatever Tern POSTs to.
/// It records every request, checks signatures (<see cref="SignatureScheme"/>), answers by a script the test sets
/// (<see cref="Enqueue"/>, <see cref="FailNext"/>, then <see cref="Respond"/>), and holds work back until the test
/// releases it (<see cref="Pause"/>, <see cref="PauseAt"/>, <see cref="Resume"/>). It asserts nothing: tests look at
/// what it recorded. It can stop and listen again on the same port (a destination refusing connections for a while).
/// </summary>
public sealed class LoopbackReceiver : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly List<RecordedRequest> _requests = [];
    private readonly Queue<Reply> _script = new();
    private readonly Dictionary<string, int> _acceptsByKey = new(StringComparer.Ordinal);
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private readonly CancellationTokenSource _disposed = new();
    private readonly string? _path;
    private readonly string? _method;
    private TaskCompletionSource _open = Opened();
    private int _pauseAt = int.MaxValue;
    private WebApplication? _app;
    private int _port;
    private volatile string _secret;
    private long _arrived;
    private long _sequence;
    private int _inFlight;
    private int _maxInFlight;

    private LoopbackReceiver(SignatureScheme scheme, string secret, string? path, string? method)
    {
        Scheme = scheme;
        _secret = secret;
        _path = path;
        _method = method;
    }

    /// <summary>
    /// Starts listening. With <paramref name="path"/> (and <paramref name="method"/>), other paths are answered 404
    /// (other methods 405) and not recorded; without, every request is taken.
    /// </summary>
    public static async Task<LoopbackReceiver> StartAsync(
        string? path = null, string? method = null, SignatureScheme scheme = SignatureScheme.None, string secret = "")
    {
        var receiver = new LoopbackReceiver(scheme, secret, path, method);
        await receiver.ListenAsync(0);
        return receiver;
    }

    /// <summary><c>http://127.0.0.1:port/</c>.</summary>
    public Uri BaseUrl => new($"http://127.0.0.1:{_port.ToString(CultureInfo.InvariantCulture)}/");

    /// <summary>Where to send: <see cref="BaseUrl"/> with the receiver's path.</summary>
    public Uri Url => _path is null ? BaseUrl : new Uri(BaseUrl, _path.TrimStart('/'));

    public SignatureScheme Scheme { get; }

    /// <summary>The secret signatures are checked with; settable because a generated one may be learnt after the receiver starts.</summary>
    public string Secret
    {
        get => _secret;
        set => _secret = value;
    }

    /// <summary>Time spent on each request after its body is read, before it is answered (a slow destination).</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>
    /// The status a request with a bad signature is answered, before <see cref="Respond"/> is asked; null lets
    /// <see cref="Respond"/> decide (it can look at <see cref="RecordedRequest.SignatureProblems"/>).
    /// </summary>
    public int? BadSignatureStatus { get; set; } = 401;

    /// <summary>The answer to a request the script (<see cref="Enqueue"/>) has no reply for; by default 200 with no body.</summary>
    public Func<RecordedRequest, Reply> Respond { get; set; } = _ => Reply.Ok;

    /// <summary>Requests that reached the receiver, held ones included.</summary>
    public long Arrived => Interlocked.Read(ref _arrived);

    public int InFlight => Volatile.Read(ref _inFlight);

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Every request recorded (its body read), in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_lock) return [.. _requests];
        }
    }

    /// <summary>Requests answered 2xx, in arrival order, repeats included.</summary>
    public IReadOnlyList<RecordedRequest> Accepted
    {
        get
        {
            lock (_lock) return [.. _requests.Where(r => r.Status is >= 200 and < 300)];
        }
    }

    /// <summary>Different keys (<see cref="Reply.Key"/>) accepted at least once.</summary>
    public int DistinctAccepted
    {
        get
        {
            lock (_lock) return _acceptsByKey.Count;
        }
    }

    /// <summary>Extra acceptances of a key already accepted.</summary>
    public int RepeatedAccepts
    {
        get
        {
            lock (_lock) return _acceptsByKey.Values.Sum(n => n - 1);
        }
    }

    public IReadOnlyList<RecordedRequest> RequestsTo(string path)
    {
        lock (_lock) return [.. _requests.Where(r => r.Path == path)];
    }

    public int CountAnswered(int status)
    {
        lock (_lock) return _requests.Count(r => r.Status == status);
    }

    public int TimesAccepted(string key)
    {
        lock (_lock) return _acceptsByKey.GetValueOrDefault(key);
    }

    public bool HasAccepted(string key)
    {
        lock (_lock) return _acceptsByKey.ContainsKey(key);
    }

    /// <summary>Keys of <paramref name="expected"/> never accepted.</summary>
    public IReadOnlyList<string> Missing(IEnumerable<string> expected)
    {
        lock (_lock) return [.. expected.Where(key => !_acceptsByKey.ContainsKey(key))];
    }

    /// <summary>Answers the next requests with these replies, in order, before <see cref="Respond"/> is asked again.</summary>
    public void Enqueue(params Reply[] replies)
    {
        lock (_lock)
        {
            foreach (var reply in replies) _script.Enqueue(reply);
        }
    }

    /// <summary>Answers the next <paramref name="times"/> requests with <paramref name="status"/> (and Retry-After, if given).</summary>
    public void FailNext(int times, int status = 500, string? retryAfter = null)
    {
        var reply = Reply.WithStatus(status, retryAfter);
        Enqueue([.. Enumerable.Repeat(reply, times)]);
    }

    /// <summary>Holds every request that arrives, before its body is read, until <see cref="Resume"/> (the sender sees its sends in flight).</summary>
    public void Pause()
    {
        lock (_lock)
        {
            if (_open.Task.IsCompleted) _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Lets held requests go on, and lifts a <see cref="PauseAt"/> ceiling.</summary>
    public void Resume()
    {
        lock (_lock)
        {
            _pauseAt = int.MaxValue;
            _open.TrySetResult();
        }
    }

    /// <summary>
    /// Pauses (as <see cref="Pause"/>) by itself the moment <paramref name="distinct"/> different keys are accepted:
    /// a ceiling, so a test that acts at a lower count finds work still undelivered however slow it is to act.
    /// Requests already past the pause go on. <see cref="Resume"/> opens it again and lifts the ceiling.
    /// </summary>
    public void PauseAt(int distinct)
    {
        lock (_lock)
        {
            _pauseAt = distinct;
            if (_acceptsByKey.Count >= distinct && _open.Task.IsCompleted) _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Completes once <paramref name="count"/> different keys have been accepted.</summary>
    public Task WhenDistinctAtLeast(int count)
    {
        lock (_lock)
        {
            if (_acceptsByKey.Count >= count) return Task.CompletedTask;
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, reached));
            return reached.Task;
        }
    }

    /// <summary>Stops listening: connections are refused until <see cref="StartAgainAsync"/>.</summary>
    public async Task StopAsync()
    {
        var app = _app;
        _app = null;
        if (app is null) return;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await app.StopAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
        }
        await app.DisposeAsync();
    }

    /// <summary>Listens again on the same port (retrying briefly while the port is not free yet).</summary>
    public async Task StartAgainAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ListenAsync(_port);
                return;
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException && attempt < 50)
            {
                await Task.Delay(100);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Resume();
        await _disposed.CancelAsync();
        await StopAsync();
        _disposed.Dispose();
    }

    /// <summary>An inbound hmac-sha256 signature (X-Hub-Signature-256): <c>sha256=</c> and the lowercase hex HMAC-SHA256 of the body.</summary>
    public static string Sign(string secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    /// <summary>Null when the StandardWebhooks package verifies the request with <paramref name="secret"/> (any one of its signatures), else its message.</summary>
    public static string? VerifyStandardWebhook(string secret, IReadOnlyDictionary<string, string> headers, byte[] body)
    {
        string? refusal = "no webhook-signature header";
        var text = Encoding.UTF8.GetString(body);
        foreach (var signature in (headers.GetValueOrDefault("webhook-signature") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var only = new HeaderDictionary { ["webhook-signature"] = signature };
            foreach (var name in (string[])["webhook-id", "webhook-timestamp"])
            {
                if (headers.GetValueOrDefault(name) is { } value) only[name] = value;
            }
            try
            {
                new StandardWebhook(secret).Verify(text, only);
                return null;
            }
            catch (WebhookVerificationException ex)
            {
                refusal = ex.Message;
            }
            catch (FormatException ex)
            {
                return "the secret is not whsec_ base64: " + ex.Message;
            }
        }
        return refusal;
    }

    /// <summary>The outbox delivery id in a webhook-id (<c>msg_42</c>), or null when it is not one.</summary>
    public static long? DeliveryIdOf(string? webhookId) =>
        webhookId is not null && webhookId.StartsWith("msg_", StringComparison.Ordinal)
        && long.TryParse(webhookId.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : null;

    private static TaskCompletionSource Opened()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    private async Task ListenAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, port);
        });
        var app = builder.Build();
        app.Run(HandleAsync);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        if (port == 0)
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            _port = new Uri(address).Port;
        }
        _app = app;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var http = context.Request;
        if (_path is not null && !string.Equals(http.Path.Value, _path, StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (_method is not null && !HttpMethods.Equals(http.Method, _method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }

        var inFlight = Interlocked.Increment(ref _inFlight);
        var max = Volatile.Read(ref _maxInFlight);
        while (inFlight > max && Interlocked.CompareExchange(ref _maxInFlight, inFlight, max) != max) max = Volatile.Read(ref _maxInFlight);
        Interlocked.Increment(ref _arrived);
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _disposed.Token);
        try
        {
            Task open;
            lock (_lock) open = _open.Task;
            await open.WaitAsync(aborted.Token);

            using var buffer = new MemoryStream();
            await http.Body.CopyToAsync(buffer, aborted.Token);
            var body = buffer.ToArray();
            var headers = http.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            var request = new RecordedRequest(
                Interlocked.Increment(ref _sequence), http.Method, http.Path.Value ?? "", http.QueryString.Value ?? "",
                headers, body, DateTimeOffset.UtcNow, CheckSignature(headers, body));
            lock (_lock) _requests.Add(request);

            if (Delay > TimeSpan.Zero) await Task.Delay(Delay, aborted.Token);

            Reply reply;
            if (!request.SignatureValid && BadSignatureStatus is { } refused)
            {
                reply = Reply.WithStatus(refused);
            }
            else
            {
                Reply? scripted;
                lock (_lock) scripted = _script.TryDequeue(out var next) ? next : null;
                reply = scripted ?? Respond(request);
            }

            if (reply.Delay > TimeSpan.Zero) await Task.Delay(reply.Delay, aborted.Token);
            if (reply.Hang) await Task.Delay(Timeout.Infinite, aborted.Token);

            Answered(request, reply);
            var response = context.Response;
            response.StatusCode = reply.Status;
            if (reply.RetryAfter is not null) response.Headers.RetryAfter = reply.RetryAfter;
            if (reply.Location is not null) response.Headers.Location = reply.Location;
            if (reply.Body is not null)
            {
                if (reply.ContentType is not null) response.ContentType = reply.ContentType;
                await response.WriteAsync(reply.Body, aborted.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or BadHttpRequestException)
        {
            // The client gave up on the request (or went away), or the receiver is closing: nothing accepted.
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private void Answered(RecordedRequest request, Reply reply)
    {
        List<TaskCompletionSource>? reached = null;
        lock (_lock)
        {
            request.Status = reply.Status;
            if (reply.Status is < 200 or >= 300) return;
            var key = reply.Key ?? "#" + request.Sequence.ToString(CultureInfo.InvariantCulture);
            _acceptsByKey[key] = _acceptsByKey.GetValueOrDefault(key) + 1;
            if (_acceptsByKey.Count >= _pauseAt && _open.Task.IsCompleted) _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_acceptsByKey.Count < _waiters[i].Count) continue;
                (reached ??= []).Add(_waiters[i].Reached);
                _waiters.RemoveAt(i);
            }
        }
        reached?.ForEach(r => r.TrySetResult());
    }

    private List<string> CheckSignature(Dictionary<string, string> headers, byte[] body)
    {
        var problems = new List<string>();
        if (Scheme == SignatureScheme.None) return problems;
        if (VerifyStandardWebhook(_secret, headers, body) is { } refusal) problems.Add(refusal);
        return problems;
    }
}
