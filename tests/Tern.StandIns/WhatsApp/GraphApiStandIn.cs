using System.Globalization;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tern.StandIns.WhatsApp;

/// <summary>
/// A loopback stand-in of the WhatsApp Business Cloud API (Meta's Graph API), started in-process for Tern's
/// tests. It answers as Meta documents: bearer tokens per business phone number, <c>GET /{version}/{phone-number-id}</c>,
/// <c>POST /{version}/{phone-number-id}/messages</c> with Meta's validation and error codes, the 24-hour window,
/// the throughput and pair-rate limits, media ids that expire, and the delivery statuses of what it sent.
/// It is not a mock that answers ok to everything: a client that is wrong about WhatsApp should fail against it.
/// </summary>
public sealed partial class GraphApiStandIn : IAsyncDisposable
{
    internal static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, WhatsAppPhoneNumber> _phones = new(StringComparer.Ordinal);
    private readonly Dictionary<string, bool> _expiredTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Phone, string To), bool> _windows = [];
    private readonly Dictionary<string, Queue<(int Code, int? HttpStatus)>> _scripted = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MediaItem> _media = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string MediaId, DateTimeOffset ExpiresAt)> _mediaUrls = new(StringComparer.Ordinal);
    private readonly List<WhatsAppSentMessage> _sent = [];
    private readonly Dictionary<string, List<WhatsAppSentMessage>> _sentTo = new(StringComparer.Ordinal);
    private readonly Dictionary<string, WhatsAppSentMessage> _byWamid = new(StringComparer.Ordinal);
    private readonly List<WhatsAppReadMark> _reads = [];
    private readonly List<WhatsAppCall> _calls = [];
    private readonly List<WhatsAppLimitViolation> _violations = [];
    private readonly List<WhatsAppInjectedError> _injected = [];
    private readonly WhatsAppLimiter _limiter = new();
    private readonly CancellationTokenSource _disposing = new();
    private TaskCompletionSource? _answerHold;
    private int _heldAnswers;
    private long _nextWamid;
    private long _nextTrace;
    private int _disposed;

    private GraphApiStandIn(WebApplication app, GraphApiOptions options)
    {
        _app = app;
        Options = options;
    }

    /// <summary>The Graph root: <c>{BaseUrl}{version}/{phone-number-id}/messages</c>, like <c>https://graph.facebook.com/</c>.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    public GraphApiOptions Options { get; }

    private DateTimeOffset Now => Options.TimeProvider.GetUtcNow();

    /// <summary>Starts Kestrel on <c>http://127.0.0.1:&lt;free port&gt;</c>.</summary>
    public static async Task<GraphApiStandIn> StartAsync(GraphApiOptions? options = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 8L * 1024 * 1024;
        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        var standIn = new GraphApiStandIn(app, options ?? new GraphApiOptions());
        app.Run(standIn.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        standIn.BaseUrl = new Uri(address.TrimEnd('/') + "/");
        return standIn;
    }

    /// <summary>Adds a business phone number that <paramref name="accessToken"/> may use.</summary>
    public WhatsAppPhoneNumber AddPhoneNumber(string id, string displayNumber, string accessToken,
        string verifiedName = "Tern Test", string qualityRating = "GREEN", string wabaId = "102290129340398")
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentException.ThrowIfNullOrEmpty(accessToken);
        if (!id.All(char.IsAsciiDigit)) throw new ArgumentException("Phone number ids are digits.", nameof(id));
        var phone = new WhatsAppPhoneNumber(id, displayNumber, accessToken, verifiedName, qualityRating, wabaId);
        lock (_gate)
        {
            if (_phones.ContainsKey(id)) throw new InvalidOperationException($"Phone number {id} exists.");
            _phones[id] = phone;
        }

        return phone;
    }

    /// <summary>From now on the token is answered 190 with subcode 463 (expired).</summary>
    public void ExpireToken(string accessToken)
    {
        lock (_gate) _expiredTokens[accessToken] = true;
    }

    /// <summary>A new token for the phone number (the old one is no longer its token): what an operator does after a 190.</summary>
    public WhatsAppPhoneNumber ReplaceToken(string phoneNumberId, string accessToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(accessToken);
        lock (_gate)
        {
            var phone = _phones.TryGetValue(phoneNumberId, out var known) ? known : throw new InvalidOperationException($"Phone number {phoneNumberId} was not added.");
            return _phones[phoneNumberId] = phone with { AccessToken = accessToken };
        }
    }

    /// <summary>The recipient wrote to the phone number: free-form messages may go to them (until <see cref="CloseWindow"/>).</summary>
    public void OpenWindow(string phoneNumberId, string recipient)
    {
        lock (_gate) _windows[(phoneNumberId, WaIdOf(recipient))] = true;
    }

    /// <summary>More than 24 hours since the recipient last wrote: only templates go (131047 for the rest).</summary>
    public void CloseWindow(string phoneNumberId, string recipient)
    {
        lock (_gate) _windows[(phoneNumberId, WaIdOf(recipient))] = false;
    }

    /// <summary>The next <paramref name="count"/> sends to <paramref name="recipient"/> are answered with Meta's error <paramref name="code"/>.</summary>
    public void InjectError(string recipient, int code, int count = 1) => Script(recipient, code, null, count);

    /// <summary>The next <paramref name="count"/> sends to <paramref name="recipient"/> are answered HTTP <paramref name="httpStatus"/> (5xx).</summary>
    public void InjectHttpError(string recipient, int httpStatus, int count = 1)
    {
        if (httpStatus is < 500 or > 599) throw new ArgumentOutOfRangeException(nameof(httpStatus), "5xx only; use InjectError for Meta's codes.");
        Script(recipient, 0, httpStatus, count);
    }

    private void Script(string recipient, int code, int? httpStatus, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        lock (_gate)
        {
            var key = WaIdOf(recipient);
            if (!_scripted.TryGetValue(key, out var queue)) _scripted[key] = queue = new Queue<(int, int?)>();
            for (var i = 0; i < count; i++) queue.Enqueue((code, httpStatus));
        }
    }

    /// <summary>Media the stand-in holds (as if a user sent it, or it was uploaded), from now until <see cref="GraphApiOptions.MediaLifetime"/>.</summary>
    public void AddMedia(string id, byte[] bytes, string mimeType)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentNullException.ThrowIfNull(bytes);
        lock (_gate) _media[id] = new MediaItem(id, bytes, mimeType, Convert.ToHexStringLower(SHA256.HashData(bytes)), Now);
    }

    /// <summary>Every accepted message in arrival order.</summary>
    public IReadOnlyList<WhatsAppSentMessage> Sent
    {
        get
        {
            lock (_gate) return [.. _sent];
        }
    }

    /// <summary>The accepted messages to one recipient (phone number in any format, or user id), in arrival order.</summary>
    public IReadOnlyList<WhatsAppSentMessage> SentTo(string recipient)
    {
        lock (_gate) return _sentTo.TryGetValue(WaIdOf(recipient), out var list) ? [.. list] : [];
    }

    public IReadOnlyList<WhatsAppReadMark> ReadMarks
    {
        get
        {
            lock (_gate) return [.. _reads];
        }
    }

    public IReadOnlyList<WhatsAppCall> Calls
    {
        get
        {
            lock (_gate) return [.. _calls];
        }
    }

    /// <summary>Sends over a limit (refused or, without <see cref="GraphApiOptions.RejectViolations"/>, only counted). Not the injected errors.</summary>
    public IReadOnlyList<WhatsAppLimitViolation> Violations
    {
        get
        {
            lock (_gate) return [.. _violations];
        }
    }

    /// <summary>Errors answered because the test scripted them.</summary>
    public IReadOnlyList<WhatsAppInjectedError> InjectedErrors
    {
        get
        {
            lock (_gate) return [.. _injected];
        }
    }

    public WhatsAppPhoneNumber PhoneNumber(string id)
    {
        lock (_gate) return _phones.TryGetValue(id, out var phone) ? phone : throw new InvalidOperationException($"Phone number {id} was not added.");
    }

    /// <summary>
    /// From now on an accepted send is done (in <see cref="Sent"/>, with its wamid) but not answered until
    /// <see cref="ReleaseAnswers"/>: the client has a send in flight that Meta has made.
    /// </summary>
    public void HoldAnswers()
    {
        lock (_gate) _answerHold ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void ReleaseAnswers()
    {
        TaskCompletionSource? hold;
        lock (_gate)
        {
            hold = _answerHold;
            _answerHold = null;
        }

        hold?.TrySetResult();
    }

    /// <summary>Sends done but kept unanswered by <see cref="HoldAnswers"/> now.</summary>
    public int HeldAnswers => Volatile.Read(ref _heldAnswers);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _disposing.CancelAsync();
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            await _app.StopAsync(stop.Token);
        }

        await _app.DisposeAsync();
        _disposing.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var status = 200;
        int? code = null;
        try
        {
            if (segments is ["whatsapp_business", "attachments"] && HttpMethods.IsGet(context.Request.Method))
            {
                await DownloadAsync(context);
                return;
            }

            var token = BearerToken(context.Request);
            if (segments.Length is < 2 or > 3 || !VersionPattern().IsMatch(segments[0]))
            {
                Authenticate(token);
                throw new GraphErrorException(400, 2500, "Unknown path components: " + path, type: "OAuthException");
            }

            var id = segments[1];
            JsonObject answer;
            if (segments.Length == 2 && HttpMethods.IsGet(context.Request.Method))
            {
                answer = GetObject(token, id);
            }
            else if (segments.Length == 3 && segments[2] == "messages" && HttpMethods.IsPost(context.Request.Method))
            {
                var phone = AuthenticateFor(token, id, "post");
                var body = await ReadJsonAsync(context.Request, context.RequestAborted);
                (answer, var accepted) = Send(phone, body);
                if (accepted) await WhileAnswersHeldAsync(context.RequestAborted);
            }
            else
            {
                Authenticate(token);
                throw GraphErrorException.NoSuchObject(id, context.Request.Method.ToLowerInvariant());
            }

            await WriteAsync(context, 200, answer);
        }
        catch (GraphErrorException error)
        {
            status = error.HttpStatus;
            code = error.Code;
            await WriteAsync(context, error.HttpStatus, error.ToJson(NextTrace()));
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested || _disposing.IsCancellationRequested)
        {
            status = 499;
        }
        finally
        {
            lock (_gate) _calls.Add(new WhatsAppCall(context.Request.Method, path, status, code, Now));
        }
    }

    private JsonObject GetObject(string? token, string id)
    {
        lock (_gate)
        {
            if (_phones.ContainsKey(id))
            {
                var phone = AuthenticateFor(token, id, "get");
                return new JsonObject
                {
                    ["verified_name"] = phone.VerifiedName,
                    ["code_verification_status"] = "VERIFIED",
                    ["display_phone_number"] = phone.DisplayPhoneNumber,
                    ["quality_rating"] = phone.QualityRating,
                    ["platform_type"] = "CLOUD_API",
                    ["throughput"] = new JsonObject { ["level"] = "STANDARD" },
                    ["id"] = phone.Id,
                };
            }

            Authenticate(token);
            if (!_media.TryGetValue(id, out var media) || Now - media.CreatedAt >= Options.MediaLifetime)
            {
                throw GraphErrorException.NoSuchObject(id, "get");
            }

            var hash = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            var expires = Now + Options.MediaUrlLifetime;
            _mediaUrls[hash] = (id, expires);
            var url = new Uri(BaseUrl, string.Create(CultureInfo.InvariantCulture,
                $"whatsapp_business/attachments/?mid={Uri.EscapeDataString(id)}&ext={expires.ToUnixTimeSeconds()}&hash={hash}"));
            return new JsonObject
            {
                ["messaging_product"] = "whatsapp",
                ["url"] = url.AbsoluteUri,
                ["mime_type"] = media.MimeType,
                ["sha256"] = media.Sha256,
                ["file_size"] = media.Bytes.Length,
                ["id"] = media.Id,
            };
        }
    }

    private async Task DownloadAsync(HttpContext context)
    {
        var token = BearerToken(context.Request);
        var hash = context.Request.Query["hash"].ToString();
        var mid = context.Request.Query["mid"].ToString();
        MediaItem media;
        lock (_gate)
        {
            Authenticate(token);
            if (!_mediaUrls.TryGetValue(hash, out var link) || link.MediaId != mid || Now >= link.ExpiresAt
                || !_media.TryGetValue(mid, out var item) || Now - item.CreatedAt >= Options.MediaLifetime)
            {
                throw new GraphErrorException(404, 100, "URL signature expired or media not found", type: "OAuthException");
            }

            media = item;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = media.MimeType;
        context.Response.ContentLength = media.Bytes.Length;
        await context.Response.Body.WriteAsync(media.Bytes, context.RequestAborted);
    }

    /// <summary>Any token the stand-in knows that has not expired.</summary>
    private void Authenticate(string? token)
    {
        lock (_gate)
        {
            if (token is null || !_phones.Values.Any(p => p.AccessToken == token))
            {
                throw new GraphErrorException(401, 190, "Invalid OAuth access token - Cannot parse access token");
            }

            if (_expiredTokens.ContainsKey(token))
            {
                throw GraphErrorException.ForCode(190);
            }
        }
    }

    /// <summary>The phone number, when the token is valid and is the phone number's; else Graph's 190 or 100/33.</summary>
    private WhatsAppPhoneNumber AuthenticateFor(string? token, string phoneNumberId, string verb)
    {
        lock (_gate)
        {
            Authenticate(token);
            if (!_phones.TryGetValue(phoneNumberId, out var phone) || phone.AccessToken != token)
            {
                throw GraphErrorException.NoSuchObject(phoneNumberId, verb);
            }

            return phone;
        }
    }

    private static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string prefix = "Bearer ";
        if (header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && header.Length > prefix.Length) return header[prefix.Length..].Trim();
        // Graph also takes ?access_token=…
        var query = request.Query["access_token"].ToString();
        return query.Length > 0 ? query : null;
    }

    private async Task WhileAnswersHeldAsync(CancellationToken aborted)
    {
        Task released;
        lock (_gate)
        {
            if (_answerHold is not { } hold) return;
            released = hold.Task;
        }

        Interlocked.Increment(ref _heldAnswers);
        try
        {
            await released.WaitAsync(aborted).WaitAsync(_disposing.Token);
        }
        finally
        {
            Interlocked.Decrement(ref _heldAnswers);
        }
    }

    private static async Task<JsonObject> ReadJsonAsync(HttpRequest request, CancellationToken aborted)
    {
        try
        {
            if (request.HasFormContentType)
            {
                // Graph takes form fields too; JSON-typed ones are JSON text.
                var form = await request.ReadFormAsync(aborted);
                var fromForm = new JsonObject();
                foreach (var (key, value) in form)
                {
                    var text = value.ToString();
                    fromForm[key] = text.StartsWith('{') || text.StartsWith('[') ? JsonNode.Parse(text) : text;
                }

                return fromForm;
            }

            var node = await JsonNode.ParseAsync(request.Body, cancellationToken: aborted);
            return node as JsonObject ?? throw GraphErrorException.InvalidParameter("The request body must be a JSON object.");
        }
        catch (JsonException)
        {
            throw GraphErrorException.InvalidParameter("The request body is not valid JSON.");
        }
    }

    private static async Task WriteAsync(HttpContext context, int status, JsonObject body)
    {
        if (context.Response.HasStarted) return;
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=UTF-8";
        var writer = new Utf8JsonWriter(context.Response.BodyWriter, WriterOptions);
        await using (writer.ConfigureAwait(false))
        {
            body.WriteTo(writer);
            await writer.FlushAsync();
        }
    }

    private string NextTrace() =>
        "A" + Convert.ToBase64String(BitConverter.GetBytes(Interlocked.Increment(ref _nextTrace) * 2654435761L)).TrimEnd('=').Replace('+', '_').Replace('/', '-');

    /// <summary>The recipient as a wa_id: a phone number's digits, or a business-scoped user id as given.</summary>
    internal static string WaIdOf(string recipient)
    {
        var trimmed = recipient.Trim();
        if (UserIdPattern().IsMatch(trimmed)) return trimmed;
        return new string([.. trimmed.Where(char.IsAsciiDigit)]);
    }

    [GeneratedRegex(@"^v\d+\.\d+$")]
    private static partial Regex VersionPattern();

    /// <summary>A business-scoped user id: a two-letter country code, a period, alphanumerics (e.g. US.13491208655302741918).</summary>
    [GeneratedRegex(@"^[A-Z]{2}\.[A-Za-z0-9.]{1,160}$")]
    internal static partial Regex UserIdPattern();

    [GeneratedRegex(@"^\+?[\d\s\-().]{7,24}$")]
    private static partial Regex PhonePattern();

    private sealed record MediaItem(string Id, byte[] Bytes, string MimeType, string Sha256, DateTimeOffset CreatedAt);
}
