using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tern.Server.Tests.Api;

/// <summary>How a receiver checks the signature Tern puts on what it POSTs.</summary>
public enum SignatureScheme
{
    /// <summary>Webhook channel deliveries: <c>X-Tern-Signature: sha256=HMAC(secret, body)</c>.</summary>
    Body,

    /// <summary>Tenant events: <c>X-Tern-Signature: sha256=HMAC(secret, "{X-Tern-Timestamp}.{body}")</c>.</summary>
    Timestamped,
}

/// <summary>One request the receiver answered.</summary>
public sealed record ReceivedRequest(long DeliveryId, int Attempt, string Body, JsonElement Json, int Status, DateTimeOffset At)
{
    public string Type => Json.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";

    public JsonElement Data => Json.GetProperty("data");

    /// <summary>What a tenant event is about: the message id, or "channel:{id}" for channel.status (the order key Tern uses).</summary>
    public string Subject => Type == "channel.status" ? "channel:" + Data.GetProperty("channel").GetString() : Data.GetProperty("id").GetString() ?? "";
}

/// <summary>
/// A loopback HTTP receiver for API sends and tenant events (the shared <c>LoopbackReceiver</c> expects
/// routed messages with a <c>source.id</c>; API sends and events have other shapes). It verifies every
/// signature independently of Tern's code, records every request, answers what <see cref="Answer"/> says,
/// and can be stopped and started again on the same port (a receiver refusing connections for a while).
/// </summary>
public sealed class RecordingReceiver : IAsyncDisposable
{
    /// <summary>The replay window receivers are told to enforce (docs/api.md).</summary>
    public static readonly TimeSpan ReplayWindow = TimeSpan.FromMinutes(5);

    private readonly Lock _lock = new();
    private readonly List<ReceivedRequest> _requests = [];
    private readonly List<ReceivedRequest> _accepted = [];
    private readonly List<string> _problems = [];
    private readonly SignatureScheme _scheme;
    private WebApplication? _app;
    private int _port;
    private volatile string _secret;

    private RecordingReceiver(SignatureScheme scheme, string secret)
    {
        _scheme = scheme;
        _secret = secret;
    }

    /// <summary>Where Tern should POST.</summary>
    public Uri Url => new($"http://127.0.0.1:{_port.ToString(CultureInfo.InvariantCulture)}/receive");

    /// <summary>The secret signatures are checked with; settable because a generated one is learnt from the API after the receiver starts.</summary>
    public string Secret
    {
        get => _secret;
        set => _secret = value;
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

    public static async Task<RecordingReceiver> StartAsync(SignatureScheme scheme, string secret)
    {
        var receiver = new RecordingReceiver(scheme, secret);
        await receiver.ListenAsync(0);
        return receiver;
    }

    /// <summary>Stops listening: Tern's connections are refused until <see cref="StartAgainAsync"/>.</summary>
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

    /// <summary>Listens again on the same port (retrying briefly if the port is not free yet).</summary>
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
        app.MapPost("/receive", (Func<HttpContext, Task<IResult>>)HandleAsync);
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

    private async Task<IResult> HandleAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        try
        {
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            return Results.Empty;
        }
        var bytes = buffer.ToArray();
        var body = Encoding.UTF8.GetString(bytes);
        var headers = context.Request.Headers;

        var problems = new List<string>();
        if (!long.TryParse(headers["X-Tern-Delivery"], NumberStyles.None, CultureInfo.InvariantCulture, out var deliveryId)) problems.Add($"X-Tern-Delivery '{headers["X-Tern-Delivery"]}'");
        if (headers["Idempotency-Key"] != headers["X-Tern-Delivery"]) problems.Add($"Idempotency-Key '{headers["Idempotency-Key"]}' differs from X-Tern-Delivery");
        if (!int.TryParse(headers["X-Tern-Attempt"], NumberStyles.None, CultureInfo.InvariantCulture, out var attempt) || attempt < 1) problems.Add($"X-Tern-Attempt '{headers["X-Tern-Attempt"]}'");
        if (context.Request.ContentType?.StartsWith("application/json", StringComparison.Ordinal) != true) problems.Add($"Content-Type '{context.Request.ContentType}'");

        var signature = headers["X-Tern-Signature"].ToString();
        string expected;
        if (_scheme == SignatureScheme.Timestamped)
        {
            var timestamp = headers["X-Tern-Timestamp"].ToString();
            if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)) problems.Add($"X-Tern-Timestamp '{timestamp}'");
            else if ((DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > ReplayWindow) problems.Add($"X-Tern-Timestamp {timestamp} outside the replay window");
            expected = SignTimestamped(_secret, timestamp, bytes);
        }
        else
        {
            expected = Infrastructure.Hmac.Sign(_secret, bytes);
        }
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(signature), Encoding.ASCII.GetBytes(expected))) problems.Add($"bad signature on delivery {deliveryId}");

        JsonElement json = default;
        try
        {
            using var document = JsonDocument.Parse(bytes);
            json = document.RootElement.Clone();
            if (json.ValueKind != JsonValueKind.Object) problems.Add("body is not a JSON object");
        }
        catch (JsonException)
        {
            problems.Add("body is not JSON: " + body);
        }

        var request = new ReceivedRequest(deliveryId, attempt, body, json, 0, DateTimeOffset.UtcNow);
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
            ? Results.Json(new Dictionary<string, string> { ["id"] = "rcv-" + deliveryId.ToString(CultureInfo.InvariantCulture) })
            : Results.StatusCode(status);
    }

    /// <summary>The tenant event signature, computed the way docs/api.md tells receivers to.</summary>
    public static string SignTimestamped(string secret, string timestamp, byte[] body)
    {
        var signed = new byte[timestamp.Length + 1 + body.Length];
        Encoding.ASCII.GetBytes(timestamp, signed);
        signed[timestamp.Length] = (byte)'.';
        body.CopyTo(signed, timestamp.Length + 1);
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed));
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
