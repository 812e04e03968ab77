using System.Globalization;
using System.Text.Json;
using Tern.StandIns.Http;
using Shared = Tern.StandIns.Http.LoopbackReceiver;

namespace Tern.Server.Tests.Infrastructure;

/// <summary>
/// The shared loopback receiver (<see cref="Shared"/>) standing in for a webhook destination of routed messages.
/// It checks what Tern sends (signature, delivery id and idempotency headers, body), records every delivery it
/// accepts, and can be paused, slow, or faulty by a deterministic rule. A message accepted (answered 2xx) more
/// than once is a duplicate.
/// </summary>
public sealed class LoopbackReceiver : IAsyncDisposable
{
    public const string Path = "/inbox";

    private readonly Shared _receiver;
    private readonly Lock _lock = new();
    private readonly HashSet<string> _acceptedSources = new(StringComparer.Ordinal);
    private readonly Dictionary<long, int> _acceptsByDelivery = [];
    private readonly Dictionary<string, List<string>> _firstAcceptsByChat = new(StringComparer.Ordinal);
    private readonly List<string> _problems = [];
    private long _accepted;
    private long _serverErrors;
    private long _tooManyRequests;
    private long _badSignatures;
    private long _badRequests;

    private LoopbackReceiver(Shared receiver)
    {
        _receiver = receiver;
        receiver.BadSignatureStatus = null;
        receiver.Respond = Respond;
    }

    /// <summary>Where Tern should POST: <c>http://127.0.0.1:port/inbox</c>.</summary>
    public Uri Url => _receiver.Url;

    /// <summary>The outbound channel's secret; every request must carry a valid signature with it.</summary>
    public string Secret => _receiver.Secret;

    /// <summary>Time spent on each request before answering (a slow destination).</summary>
    public TimeSpan Delay
    {
        get => _receiver.Delay;
        set => _receiver.Delay = value;
    }

    /// <summary>Injected failures; null accepts everything that is well-formed.</summary>
    public FaultRule? Faults { get; set; }

    /// <summary>Requests that reached the receiver, held ones included.</summary>
    public long Requests => _receiver.Arrived;

    /// <summary>Requests answered 2xx, duplicates included.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    public long ServerErrorsServed => Interlocked.Read(ref _serverErrors);

    public long TooManyRequestsServed => Interlocked.Read(ref _tooManyRequests);

    public long BadSignatures => Interlocked.Read(ref _badSignatures);

    /// <summary>Requests refused because headers or body were not what Tern promises.</summary>
    public long BadRequests => Interlocked.Read(ref _badRequests);

    public int InFlight => _receiver.InFlight;

    public int MaxInFlight => _receiver.MaxInFlight;

    /// <summary>Different messages (by source id) accepted at least once.</summary>
    public int DistinctMessages => _receiver.DistinctAccepted;

    /// <summary>Extra acceptances of a message already accepted (by the inbound message id).</summary>
    public int DuplicatesBySource => _receiver.RepeatedAccepts;

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

    public static async Task<LoopbackReceiver> StartAsync(string? secret = null) =>
        new(await Shared.StartAsync(Path, "POST", SignatureScheme.StandardWebhooks, secret ?? TestSecrets.For("outbound")));

    /// <summary>Holds every request until <see cref="Resume"/> (Tern sees its sends in flight).</summary>
    public void Pause() => _receiver.Pause();

    public void Resume() => _receiver.Resume();

    /// <summary>
    /// Pauses (as <see cref="Pause"/>) by itself the moment <paramref name="distinct"/> different messages are accepted:
    /// a ceiling, so a test that acts at a lower count finds messages still undelivered however slow it is to act.
    /// Requests already past the pause go on. <see cref="Resume"/> opens it again and lifts the ceiling.
    /// </summary>
    public void PauseAt(int distinct) => _receiver.PauseAt(distinct);

    /// <summary>Completes once <paramref name="count"/> different messages have been accepted.</summary>
    public Task WhenDistinctAtLeast(int count) => _receiver.WhenDistinctAtLeast(count);

    public bool HasAccepted(string sourceId) => _receiver.HasAccepted(sourceId);

    public int TimesAccepted(string sourceId) => _receiver.TimesAccepted(sourceId);

    /// <summary>Source ids (of <paramref name="expected"/>) never accepted.</summary>
    public IReadOnlyList<string> Missing(IEnumerable<string> expected) => _receiver.Missing(expected);

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

    public ValueTask DisposeAsync() => _receiver.DisposeAsync();

    private static long SequenceOf(string id) => long.Parse(id.AsSpan(id.LastIndexOf('-') + 1), NumberStyles.None, CultureInfo.InvariantCulture);

    private Reply Respond(RecordedRequest request)
    {
        var delivery = request.Header("webhook-id");
        var key = request.Header("Idempotency-Key");
        var attemptHeader = request.Header("X-Tern-Attempt");
        if (Tern.StandIns.Http.LoopbackReceiver.DeliveryIdOf(delivery) is not { } deliveryId
            || key != delivery
            || !int.TryParse(attemptHeader, NumberStyles.None, CultureInfo.InvariantCulture, out var attempt) || attempt < 1)
        {
            return Refuse(ref _badRequests, 400, $"bad delivery headers: delivery={delivery} key={key} attempt={attemptHeader}");
        }
        if (!request.SignatureValid)
        {
            return Refuse(ref _badSignatures, 401, $"bad signature on delivery {deliveryId}");
        }

        switch (Faults?.StatusFor(deliveryId, attempt))
        {
            case 500:
                Interlocked.Increment(ref _serverErrors);
                return Reply.WithStatus(500);
            case 429:
                Interlocked.Increment(ref _tooManyRequests);
                return Reply.WithStatus(429, retryAfter: "1");
        }

        if (!TryReadMessage(request.Body, out var sourceId, out var sourceChat, out var chat) || chat != sourceChat)
        {
            return Refuse(ref _badRequests, 400, $"delivery {deliveryId}: body without source.id/source.chat/chat or chat mismatch: {request.BodyText}");
        }

        lock (_lock)
        {
            _acceptsByDelivery[deliveryId] = _acceptsByDelivery.GetValueOrDefault(deliveryId) + 1;
            if (_acceptedSources.Add(sourceId))
            {
                if (!_firstAcceptsByChat.TryGetValue(chat, out var ids)) _firstAcceptsByChat[chat] = ids = [];
                ids.Add(sourceId);
            }
            Interlocked.Increment(ref _accepted);
        }
        // The shared receiver counts the source id as accepted (and closes a PauseAt ceiling) before it answers.
        return Reply.Json(200, JsonSerializer.Serialize(new Dictionary<string, string> { ["id"] = "rcv-" + deliveryId.ToString(CultureInfo.InvariantCulture) })) with { Key = sourceId };
    }

    private Reply Refuse(ref long counter, int status, string problem)
    {
        Interlocked.Increment(ref counter);
        lock (_lock)
        {
            if (_problems.Count < 100) _problems.Add(problem);
        }
        return Reply.WithStatus(status);
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
}
