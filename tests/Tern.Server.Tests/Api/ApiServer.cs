using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Http;

namespace Tern.Server.Tests.Api;

/// <summary>The light API tests share one server (they run one after another, each with its own tenants).</summary>
[CollectionDefinition(Name)]
public sealed class ApiGroup : ICollectionFixture<ApiServer>
{
    public const string Name = "tern api (one shared server)";
}

/// <summary>A tenant and one of its keys.</summary>
public sealed record TenantHandle(string Id, string Key)
{
    public string KeyId => ApiServer.KeyIdOf(Key);
}

/// <summary>
/// One Tern host (in the test process) for the light API tests, prepared with the CLI the way an operator would:
/// tenants with a high rate limit (<c>tenants add --rate-limit</c>), their keys, an admin key, and a
/// tenant on the default limit for the rate-limit test. Outbound channels post to <see cref="Destination"/>.
/// </summary>
public sealed class ApiServer : IAsyncLifetime
{
    public const string ConfigAdminKey = "config-admin-key-0123456789-abcdefghijkl";
    public const int MaxBodyBytes = 16 * 1024;
    public const int KeyCacheCapacity = 321;
    public const int HighRateLimit = 100_000;
    public static readonly string DestinationSecret = TestSecrets.For("destination");

    public TernHome Home { get; } = TernHome.Create();

    /// <summary>Built in the test process: the API tests need no process of their own.</summary>
    public InProcessTern Tern { get; private set; } = null!;

    /// <summary>Where the tests' outbound channels deliver (accepts everything well-signed).</summary>
    public RecordingReceiver Destination { get; private set; } = null!;

    public TenantHandle Acme { get; private set; } = null!;

    public TenantHandle Beta { get; private set; } = null!;

    /// <summary>An admin key made with <c>tern keys create --admin</c>.</summary>
    public string AdminKey { get; private set; } = null!;

    /// <summary>A key of tenant "metered", which has no limit of its own (the default, 100 a minute). Only the rate-limit test uses it.</summary>
    public string MeteredKey { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Destination = await RecordingReceiver.StartAsync(SignatureScheme.StandardWebhooks, DestinationSecret);
        await Home.RunOkAsync("tenants", "add", "--id", "acme", "--rate-limit", HighRateLimit.ToString(CultureInfo.InvariantCulture));
        await Home.RunOkAsync("tenants", "add", "--id", "beta", "--rate-limit", HighRateLimit.ToString(CultureInfo.InvariantCulture));
        Acme = new TenantHandle("acme", await CreateKeyWithCliAsync("--tenant", "acme"));
        Beta = new TenantHandle("beta", await CreateKeyWithCliAsync("--tenant", "beta"));
        AdminKey = await CreateKeyWithCliAsync("--admin");
        MeteredKey = await CreateKeyWithCliAsync("--tenant", "metered");
        Tern = await InProcessTern.StartAsync(Home,
            $"--Tern:Api:AdminKey={ConfigAdminKey}",
            $"--Tern:Api:MaxBodyBytes={MaxBodyBytes}",
            $"--Tern:Api:KeyCacheCapacity={KeyCacheCapacity}",
            "--Tern:Sender:BackoffBase=50ms",
            "--Tern:Sender:BackoffMax=500ms",
            "--Tern:Sender:PollInterval=50ms");
    }

    /// <summary><c>tern keys create …</c> on the server's database; the key is the one line on stdout.</summary>
    public async Task<string> CreateKeyWithCliAsync(params string[] args)
    {
        var result = await Home.RunOkAsync(["keys", "create", .. args]);
        var key = result.Stdout.Trim();
        Assert.Matches(ApiKeyPattern, key);
        return key;
    }

    public const string ApiKeyPattern = "^tern_[a-z2-9]{12}_[A-Za-z0-9_-]{43}$";

    public static string KeyIdOf(string key) => key.Split('_')[1];

    /// <summary>The secret part of a key (it may itself contain '_').</summary>
    public static string SecretOf(string key) => key["tern_".Length..].Split('_', 2)[1];

    /// <summary>A fresh id for a global resource (channel and route ids are unique across tenants).</summary>
    public static string NewId(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..10];

    public Task<ApiResponse> SendAsync(HttpMethod method, string path, string? key, string? json = null, IReadOnlyDictionary<string, string>? headers = null) =>
        ApiCall.SendAsync(Tern.Http, method, path, key, json, headers);

    public Task<ApiResponse> GetAsync(string path, string? key) => SendAsync(HttpMethod.Get, path, key);

    public Task<ApiResponse> PostAsync(string path, string? key, object body) => SendAsync(HttpMethod.Post, path, key, ApiCall.Json(body));

    public Task<ApiResponse> PatchAsync(string path, string? key, object body) => SendAsync(HttpMethod.Patch, path, key, ApiCall.Json(body));

    public Task<ApiResponse> DeleteAsync(string path, string? key) => SendAsync(HttpMethod.Delete, path, key);

    /// <summary>A new tenant made through the admin API (a high limit, so it is never throttled) and a key for it.</summary>
    public async Task<TenantHandle> CreateTenantAsync(string prefix)
    {
        var id = NewId(prefix);
        var admin = await AdminKeyAsync("tenants");
        (await PostAsync("/v1/tenants", admin, new { id, rate_limit_per_minute = HighRateLimit })).AssertStatus(HttpStatusCode.Created);
        var key = await PostAsync("/v1/keys", admin, new { tenant = id, name = "tests" });
        key.AssertStatus(HttpStatusCode.Created);
        return new TenantHandle(id, key.Json.GetProperty("key").GetString()!);
    }

    /// <summary>An outbound webhook channel of the tenant posting to <see cref="Destination"/>.</summary>
    public async Task<string> CreateChannelAsync(TenantHandle tenant, string prefix = "ch")
    {
        var id = NewId(prefix);
        (await PostAsync("/v1/channels", tenant.Key, new { id, url = Destination.Url.ToString(), secret = DestinationSecret })).AssertStatus(HttpStatusCode.Created);
        return id;
    }

    /// <summary>Sends a text through the API; returns the message id (202).</summary>
    public async Task<string> SendTextAsync(TenantHandle tenant, string channel, string chat, string text)
    {
        var sent = await PostAsync("/v1/messages", tenant.Key, new { channel, chat, text });
        sent.AssertStatus(HttpStatusCode.Accepted);
        return sent.Json.GetProperty("id").GetString()!;
    }

    /// <summary>Waits until a message reaches a final status (sent or failed) and returns it.</summary>
    public async Task<JsonElement> WaitForFinalAsync(TenantHandle tenant, string messageId)
    {
        JsonElement message = default;
        await Eventually.UntilAsync(async () =>
        {
            var response = await GetAsync($"/v1/messages/{messageId}", tenant.Key);
            response.AssertStatus(HttpStatusCode.OK);
            message = response.Json;
            return message.GetProperty("status").GetString() is "sent" or "failed";
        }, TimeSpan.FromSeconds(30), () => $"message {messageId} to be sent: {message}; destination {Destination.Describe()}");
        return message;
    }

    /// <summary>
    /// An admin key of its own for a group of tests, made through the API with the configured admin key.
    /// Admin keys are rate limited like any other (100 a minute by default), and the tests together make more admin calls than that.
    /// </summary>
    public Task<string> AdminKeyAsync(string scope) => OnceAsync("admin:" + scope, async () =>
    {
        var created = await PostAsync("/v1/keys", ConfigAdminKey, new { admin = true, name = scope });
        return created.AssertStatus(HttpStatusCode.Created).Json.GetProperty("key").GetString()!;
    });

    /// <summary>Runs <paramref name="make"/> once per name for all the tests of the collection (a setup several tests read but do not change).</summary>
    public Task<T> OnceAsync<T>(string name, Func<Task<T>> make) where T : class =>
        (Task<T>)_once.GetOrAdd(name, _ => new Lazy<Task>(make)).Value;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task>> _once = new(StringComparer.Ordinal);

    public async Task DisposeAsync()
    {
        if (Tern is not null) await Tern.DisposeAsync();
        if (Destination is not null) await Destination.DisposeAsync();
        Home.Dispose();
    }
}

/// <summary>An answer of the API, kept whole for assertions and failure messages.</summary>
public sealed class ApiResponse(string request, HttpStatusCode status, string? mediaType, string body, HttpResponseHeaders headers)
{
    private JsonElement? _json;

    public string Request { get; } = request;

    public HttpStatusCode Status { get; } = status;

    public string? MediaType { get; } = mediaType;

    public string Body { get; } = body;

    public HttpResponseHeaders Headers { get; } = headers;

    public JsonElement Json
    {
        get
        {
            if (_json is null)
            {
                try
                {
                    using var document = JsonDocument.Parse(Body);
                    _json = document.RootElement.Clone();
                }
                catch (JsonException ex)
                {
                    throw new Xunit.Sdk.XunitException($"not JSON ({ex.Message}): {this}");
                }
            }
            return _json.Value;
        }
    }

    public ApiResponse AssertStatus(HttpStatusCode expected)
    {
        Assert.True(Status == expected, $"expected {(int)expected}: {this}");
        return this;
    }

    /// <summary>An application/problem+json answer with this status, naming <paramref name="field"/> in <c>errors</c> when given.</summary>
    public ApiResponse AssertProblem(HttpStatusCode expected, string? field = null)
    {
        AssertStatus(expected);
        Assert.True(MediaType == "application/problem+json", $"expected application/problem+json: {this}");
        Assert.True(Json.TryGetProperty("status", out var s) && s.GetInt32() == (int)expected, $"problem without the status: {this}");
        Assert.True(Json.TryGetProperty("title", out var title) && title.GetString() is { Length: > 0 }, $"problem without a title: {this}");
        if (field is not null)
        {
            Assert.True(Json.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object, $"problem without errors: {this}");
            Assert.True(errors.TryGetProperty(field, out var messages) && messages.GetArrayLength() > 0 && messages[0].GetString() is { Length: > 0 },
                $"errors do not name '{field}' (they name {string.Join(", ", errors.EnumerateObject().Select(p => p.Name))}): {this}");
        }
        return this;
    }

    /// <summary>The ids of a JSON array answer (a list endpoint).</summary>
    public IReadOnlyList<string> Ids(string property = "id") =>
        (Json.ValueKind == JsonValueKind.Array ? Json : Json.GetProperty("items")).EnumerateArray().Select(e => e.GetProperty(property).GetString()!).ToList();

    public override string ToString() => $"{Request} → {(int)Status} {MediaType}: {(Body.Length > 1500 ? Body[..1500] + "…" : Body)}";
}

public static class ApiCall
{
    private static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = null };

    public static string Json(object body) => JsonSerializer.Serialize(body, Options);

    public static async Task<ApiResponse> SendAsync(HttpClient http, HttpMethod method, string path, string? key, string? json = null,
        IReadOnlyDictionary<string, string>? headers = null, string contentType = "application/json", HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (content is not null) request.Content = content;
        else if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, contentType);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>()) request.Headers.TryAddWithoutValidation(name, value);
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        return new ApiResponse($"{method} {path}", response.StatusCode, response.Content.Headers.ContentType?.MediaType, body, response.Headers);
    }
}
