using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tern.Server.Tests.Infrastructure;

/// <summary>
/// A real HTTP receiver on loopback (Kestrel in the test process) standing in for a webhook
/// destination. It checks what Tern sends (signature, delivery id and idempotency headers, body),
/// records every delivery it accepts, and can be paused, slow, or faulty by a deterministic rule.
/// A message accepted (answered 2xx) more than once is a duplicate.
/// </summary>
public sealed class LoopbackReceiver : IAsyncDisposable
{
    public const string Path = "/inbox";

    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _acceptsBySource = new(StringComparer.Ordinal);
    private readonly Dictionary<long, int> _acceptsByDelivery = [];
    private readonly Dictionary<string, List<string>> _firstAcceptsByChat = new(StringComparer.Ordinal);
    private readonly List<string> _problems = [];
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private TaskCompletionSource _open = Opened();
    private int _pauseAt = int.MaxValue;
    private long _requests;
    private long _accepted;
    private long _serverErrors;
    private long _tooManyRequests;
    private long _badSignatures;
    private long _badRequests;
    private int _inFlight;
    private int _maxInFlight;

    private LoopbackReceiver(WebApplication app, string secret)
    {
        _app = app;
        Secret = secret;
    }

    /// <summary>Where Tern should POST: <c>http://127.0.0.1:port/inbox</c>.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>The outbound channel's secret; every request must carry a valid signature with it.</summary>
    public string Secret { get; }

    /// <summary>Time spent on each request before answering (a slow destination).</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Injected failures; null accepts everything that is well-formed.</summary>
    public FaultRule? Faults { get; set; }

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Requests answered 2xx, duplicates included.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    public long ServerErrorsServed => Interlocked.Read(ref _serverErrors);

    public long TooManyRequestsServed => Interlocked.Read(ref _tooManyRequests);

    public long BadSignatures => Interlocked.Read(ref _badSignatures);

    /// <summary>Requests refused because headers or body were not what Tern promises.</summary>
    public long BadRequests => Interlocked.Read(ref _badRequests);

    public int InFlight => Volatile.Read(ref _inFlight);

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Different messages (by source id) accepted at least once.</summary>
    public int DistinctMessages
    {
        get
        {
            lock (_lock) return _acceptsBySource.Count;
        }
    }

    /// <summary>Extra acceptances of a message already accepted (by the inbound message id).</summary>
    public int DuplicatesBySource
    {
        get
        {
            lock (_lock) return _acceptsBySource.Values.Sum(n => n - 1);
        }
    }

    /// <summary>Extra acceptances of a delivery id already accepted.</summary>
    public int DuplicatesByDelivery
    {
        get
        {
            lock (_lock) return _acceptsByDelivery.Values.Sum(n => n - 1);
        }
    }

    public IReadOnlyList<string> Problems
    {
        get
        {
            lock (_lock) return [.. _problems];
        }
    }

    public static async Task<LoopbackReceiver> StartAsync(string secret = "outbound-secret-0123456789")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
        var app = builder.Build();
        var receiver = new LoopbackReceiver(app, secret);
        app.MapPost(Path, (Func<HttpContext, Task<IResult>>)receiver.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Url = new Uri(new Uri(address), Path);
        return receiver;
    }

    /// <summary>Holds every request until <see cref="Resume"/> (Tern sees its sends in flight).</summary>
    public void Pause()
    {
        lock (_lock)
        {
            if (_open.Task.IsCompleted) _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Resume()
    {
        lock (_lock)
        {
            _pauseAt = int.MaxValue;
            _open.TrySetResult();
        }
    }

    /// <summary>
    /// Pauses (as <see cref="Pause"/>) by itself the moment <paramref name="distinct"/> different messages are accepted:
    /// a ceiling, so a test that acts at a lower count finds messages still undelivered however slow it is to act.
    /// Requests already past the pause go on. <see cref="Resume"/> opens it again and lifts the ceiling.
    /// </summary>
    public void PauseAt(int distinct)
    {
        lock (_lock)
        {
            _pauseAt = distinct;
            if (_acceptsBySource.Count >= distinct && _open.Task.IsCompleted) _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Completes once <paramref name="count"/> different messages have been accepted.</summary>
    public Task WhenDistinctAtLeast(int count)
    {
        lock (_lock)
        {
            if (_acceptsBySource.Count >= count) return Task.CompletedTask;
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, reached));
            return reached.Task;
        }
    }

    public bool HasAccepted(string sourceId)
    {
        lock (_lock) return _acceptsBySource.ContainsKey(sourceId);
    }

    public int TimesAccepted(string sourceId)
    {
        lock (_lock) return _acceptsBySource.GetValueOrDefault(sourceId);
    }

    /// <summary>Source ids (of <paramref name="expected"/>) never accepted.</summary>
    public IReadOnlyList<string> Missing(IEnumerable<string> expected)
    {
        lock (_lock) return expected.Where(id => !_acceptsBySource.ContainsKey(id)).ToList();
    }

    /// <summary>
    /// Chats whose messages were first accepted out of order. Message ids end in <c>-&lt;n&gt;</c>, posted in
    /// increasing n within a chat; the first acceptance of each must follow that order.
    /// </summary>
    public IReadOnlyList<string> OutOfOrderChats()
    {
        var bad = new List<string>();
        lock (_lock)
        {
            foreach (var (chat, ids) in _firstAcceptsByChat)
            {
                long previous = -1;
                foreach (var id in ids)
                {
                    var n = SequenceOf(id);
                    if (n <= previous)
                    {
                        bad.Add($"{chat}: {id} after #{previous}");
                        break;
                    }
                    previous = n;
                }
            }
        }
        return bad;
    }

    public string Describe() =>
        $"receiver: {Requests} requests, {Accepted} accepted, {DistinctMessages} distinct messages, {DuplicatesBySource} duplicates, " +
        $"{ServerErrorsServed}×500, {TooManyRequestsServed}×429, {BadSignatures} bad signatures, {BadRequests} bad requests, {InFlight} in flight";

    private static long SequenceOf(string id) => long.Parse(id.AsSpan(id.LastIndexOf('-') + 1), NumberStyles.None, CultureInfo.InvariantCulture);

    private static TaskCompletionSource Opened()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    private async Task<IResult> HandleAsync(HttpContext context)
    {
        var inFlight = Interlocked.Increment(ref _inFlight);
        var max = Volatile.Read(ref _maxInFlight);
        while (inFlight > max && Interlocked.CompareExchange(ref _maxInFlight, inFlight, max) != max) max = Volatile.Read(ref _maxInFlight);
        Interlocked.Increment(ref _requests);
        try
        {
            var aborted = context.RequestAborted;
            Task open;
            lock (_lock) open = _open.Task;
            await open.WaitAsync(aborted);

            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, aborted);
            var body = buffer.ToArray();
            if (Delay > TimeSpan.Zero) await Task.Delay(Delay, aborted);

            var headers = context.Request.Headers;
            if (!long.TryParse(headers["X-Tern-Delivery"], NumberStyles.None, CultureInfo.InvariantCulture, out var deliveryId)
                || headers["Idempotency-Key"] != headers["X-Tern-Delivery"]
                || !int.TryParse(headers["X-Tern-Attempt"], NumberStyles.None, CultureInfo.InvariantCulture, out var attempt) || attempt < 1)
            {
                return Refuse(ref _badRequests, 400, $"bad delivery headers: delivery={headers["X-Tern-Delivery"]} key={headers["Idempotency-Key"]} attempt={headers["X-Tern-Attempt"]}");
            }
            if (headers["X-Tern-Signature"] != Hmac.Sign(Secret, body))
            {
                return Refuse(ref _badSignatures, 401, $"bad signature on delivery {deliveryId}");
            }

            switch (Faults?.StatusFor(deliveryId, attempt))
            {
                case 500:
                    Interlocked.Increment(ref _serverErrors);
                    return Results.StatusCode(500);
                case 429:
                    Interlocked.Increment(ref _tooManyRequests);
                    context.Response.Headers.RetryAfter = "1";
                    return Results.StatusCode(429);
            }

            if (!TryReadMessage(body, out var sourceId, out var sourceChat, out var chat) || chat != sourceChat)
            {
                return Refuse(ref _badRequests, 400, $"delivery {deliveryId}: body without source.id/source.chat/chat or chat mismatch: {System.Text.Encoding.UTF8.GetString(body)}");
            }

            Accept(deliveryId, sourceId, chat);
            return Results.Json(new Dictionary<string, string> { ["id"] = "rcv-" + deliveryId.ToString(CultureInfo.InvariantCulture) });
        }
        catch (OperationCanceledException)
        {
            // Tern gave up on the request (or went away): nothing accepted.
            return Results.Empty;
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private void Accept(long deliveryId, string sourceId, string chat)
    {
        List<TaskCompletionSource>? reached = null;
        lock (_lock)
        {
            _acceptsByDelivery[deliveryId] = _acceptsByDelivery.GetValueOrDefault(deliveryId) + 1;
            var times = _acceptsBySource[sourceId] = _acceptsBySource.GetValueOrDefault(sourceId) + 1;
            if (times == 1)
            {
                if (!_firstAcceptsByChat.TryGetValue(chat, out var ids)) _firstAcceptsByChat[chat] = ids = [];
                ids.Add(sourceId);
            }
            Interlocked.Increment(ref _accepted);
            if (_acceptsBySource.Count >= _pauseAt && _open.Task.IsCompleted) _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_acceptsBySource.Count < _waiters[i].Count) continue;
                (reached ??= []).Add(_waiters[i].Reached);
                _waiters.RemoveAt(i);
            }
        }
        reached?.ForEach(r => r.TrySetResult());
    }

    private IResult Refuse(ref long counter, int status, string problem)
    {
        Interlocked.Increment(ref counter);
        lock (_lock)
        {
            if (_problems.Count < 100) _problems.Add(problem);
        }
        return Results.StatusCode(status);
    }

    private static bool TryReadMessage(byte[] body, out string sourceId, out string sourceChat, out string chat)
    {
        sourceId = sourceChat = chat = "";
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (!root.TryGetProperty("source", out var source) || source.ValueKind != JsonValueKind.Object) return false;
            sourceId = source.GetProperty("id").GetString() ?? "";
            sourceChat = source.GetProperty("chat").GetString() ?? "";
            chat = root.GetProperty("chat").GetString() ?? "";
            return sourceId.Length > 0 && chat.Length > 0;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Resume();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
        }
        await _app.DisposeAsync();
    }
}
