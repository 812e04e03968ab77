using System.Globalization;
using System.Text.Json;
using Tern.StandIns.Http;

namespace Tern.Server.Tests.Api;

/// <summary>One request the receiver answered.</summary>
public sealed record ReceivedRequest(long DeliveryId, int Attempt, string Body, JsonElement Json, int Status, DateTimeOffset At)
{
    public string Type => Json.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";

    public JsonElement Data => Json.GetProperty("data");

    /// <summary>What a tenant event is about: the message id, or "channel:{id}" for channel.status (the order key Tern uses).</summary>
    public string Subject => Type == "channel.status" ? "channel:" + Data.GetProperty("channel").GetString() : Data.GetProperty("id").GetString() ?? "";
}

/// <summary>
/// The shared <see cref="LoopbackReceiver"/> read as a receiver of API sends and tenant events (the Infrastructure
/// <c>LoopbackReceiver</c> expects routed messages with a <c>source.id</c>; API sends and events have other shapes).
/// It verifies every signature independently of Tern's code (<see cref="SignatureScheme"/>), checks the delivery
/// headers, records every request it answers, answers what <see cref="Answer"/> says, and can be stopped and
/// started again on the same port (a receiver refusing connections for a while).
/// </summary>
public sealed class RecordingReceiver : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly List<ReceivedRequest> _requests = [];
    private readonly List<ReceivedRequest> _accepted = [];
    private readonly List<string> _problems = [];
    private readonly LoopbackReceiver _receiver;

    private RecordingReceiver(LoopbackReceiver receiver)
    {
        _receiver = receiver;
        receiver.BadSignatureStatus = null;
        receiver.Respond = Respond;
    }

    /// <summary>Where Tern should POST.</summary>
    public Uri Url => _receiver.Url;

    /// <summary>The secret signatures are checked with; settable because a generated one is learnt from the API after the receiver starts.</summary>
    public string Secret
    {
        get => _receiver.Secret;
        set => _receiver.Secret = value;
    }

    /// <summary>The status to answer a well-signed request with (default 200); may look at the request.</summary>
    public Func<ReceivedRequest, int> Answer { get; set; } = _ => 200;

    /// <summary>Every request answered (any status), in arrival order.</summary>
    public IReadOnlyList<ReceivedRequest> Requests
    {
        get
        {
            lock (_lock) return [.. _requests];
        }
    }

    /// <summary>Requests answered 2xx, in arrival order, duplicates included.</summary>
    public IReadOnlyList<ReceivedRequest> Accepted
    {
        get
        {
            lock (_lock) return [.. _accepted];
        }
    }

    /// <summary>Delivery ids accepted more than once.</summary>
    public IReadOnlyList<long> DuplicateDeliveries
    {
        get
        {
            lock (_lock) return _accepted.GroupBy(r => r.DeliveryId).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        }
    }

    /// <summary>Anything Tern sent that was not as promised (headers, signature, timestamp, JSON).</summary>
    public IReadOnlyList<string> Problems
    {
        get
        {
            lock (_lock) return [.. _problems];
        }
    }

    public int CountAnswered(int status)
    {
        lock (_lock) return _requests.Count(r => r.Status == status);
    }

    public string Describe()
    {
        lock (_lock)
        {
            return $"{_requests.Count} requests ({string.Join(", ", _requests.GroupBy(r => r.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()}×{g.Key}"))}), " +
                $"{_accepted.Count} accepted, {_problems.Count} problems{(_problems.Count > 0 ? ": " + _problems[0] : "")}";
        }
    }

    public static async Task<RecordingReceiver> StartAsync(SignatureScheme scheme, string secret) =>
        new(await LoopbackReceiver.StartAsync("/receive", "POST", scheme, secret));

    /// <summary>Stops listening: Tern's connections are refused until <see cref="StartAgainAsync"/>.</summary>
    public Task StopAsync() => _receiver.StopAsync();

    /// <summary>Listens again on the same port (retrying briefly if the port is not free yet).</summary>
    public Task StartAgainAsync() => _receiver.StartAgainAsync();

    public ValueTask DisposeAsync() => _receiver.DisposeAsync();

    private Reply Respond(RecordedRequest http)
    {
        var body = http.BodyText;
        var problems = new List<string>();
        var delivery = http.Header("webhook-id");
        var deliveryId = LoopbackReceiver.DeliveryIdOf(delivery) ?? 0;
        if (deliveryId == 0) problems.Add($"webhook-id '{delivery}'");
        if (http.Header("Idempotency-Key") != delivery) problems.Add($"Idempotency-Key '{http.Header("Idempotency-Key")}' differs from webhook-id");
        if (!int.TryParse(http.Header("X-Tern-Attempt"), NumberStyles.None, CultureInfo.InvariantCulture, out var attempt) || attempt < 1) problems.Add($"X-Tern-Attempt '{http.Header("X-Tern-Attempt")}'");
        var contentType = http.Header("Content-Type");
        if (contentType?.StartsWith("application/json", StringComparison.Ordinal) != true) problems.Add($"Content-Type '{contentType}'");
        problems.AddRange(http.SignatureProblems.Select(p => $"bad signature on delivery {deliveryId}: {p}"));

        JsonElement json = default;
        try
        {
            using var document = JsonDocument.Parse(http.Body);
            json = document.RootElement.Clone();
            if (json.ValueKind != JsonValueKind.Object) problems.Add("body is not a JSON object");
        }
        catch (JsonException)
        {
            problems.Add("body is not JSON: " + body);
        }

        var request = new ReceivedRequest(deliveryId, attempt, body, json, 0, http.At);
        var status = problems.Count > 0 ? 400 : Answer(request);
        request = request with { Status = status };
        lock (_lock)
        {
            _requests.Add(request);
            if (problems.Count > 0 && _problems.Count < 100) _problems.AddRange(problems);
            if (status is >= 200 and < 300)
            {
                _accepted.Add(request);
            }
        }
        return status == 200
            ? Reply.Json(200, $$"""{"id":"rcv-{{deliveryId.ToString(CultureInfo.InvariantCulture)}}"}""")
            : Reply.WithStatus(status);
    }
}
