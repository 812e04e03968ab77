using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Tern.StandIns.WhatsApp;

namespace Tern.StandIns.Tests.WhatsApp;

/// <summary>What the Graph API answered: the HTTP status and the JSON body.</summary>
public sealed record GraphAnswer(int Status, JsonElement Body)
{
    public bool IsError => Body.TryGetProperty("error", out _);

    public int ErrorCode => Body.GetProperty("error").GetProperty("code").GetInt32();

    public string ErrorMessage => Body.GetProperty("error").GetProperty("message").GetString()!;

    public string Wamid => Body.GetProperty("messages")[0].GetProperty("id").GetString()!;

    public override string ToString() => $"{Status} {Body}";
}

/// <summary>A Graph stand-in on a manual clock with two business phone numbers, and a plain HttpClient that calls it as any client would.</summary>
public sealed class WhatsAppHarness : IAsyncDisposable
{
    public const string GraphVersion = "v23.0";
    public const string PhoneA = "106540352242922";
    public const string PhoneB = "106540352242999";
    public const string TokenA = "EAAJB-token-a";
    public const string TokenB = "EAAJB-token-b";
    public const string Alice = "16505551234";
    public const string Bob = "16505550000";

    private WhatsAppHarness(GraphApiStandIn api, ManualTimeProvider clock)
    {
        Api = api;
        Clock = clock;
        api.AddPhoneNumber(PhoneA, "+1 555-078-3881", TokenA, verifiedName: "Shop A");
        api.AddPhoneNumber(PhoneB, "+1 555-078-3999", TokenB, verifiedName: "Shop B", qualityRating: "YELLOW");
        Http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = api.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    public GraphApiStandIn Api { get; }

    public ManualTimeProvider Clock { get; }

    public HttpClient Http { get; }

    public static async Task<WhatsAppHarness> StartAsync(Action<GraphApiOptions>? configure = null)
    {
        var clock = new ManualTimeProvider();
        var options = new GraphApiOptions { TimeProvider = clock };
        configure?.Invoke(options);
        return new WhatsAppHarness(await GraphApiStandIn.StartAsync(options), clock);
    }

    public async Task<GraphAnswer> GetAsync(string path, string? token, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Api.BaseUrl, path));
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Http.SendAsync(request, cancellationToken);
        return await ReadAsync(response);
    }

    public async Task<GraphAnswer> PostAsync(string phoneId, string? token, object body, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Api.BaseUrl, $"{GraphVersion}/{phoneId}/messages"))
        {
            Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Http.SendAsync(request, cancellationToken);
        return await ReadAsync(response);
    }

    public Task<GraphAnswer> SendTextAsync(string to, string text = "hi", string phoneId = PhoneA, string token = TokenA) =>
        PostAsync(phoneId, token, new { messaging_product = "whatsapp", recipient_type = "individual", to, type = "text", text = new { body = text } });

    public static object Template(string to) => new
    {
        messaging_product = "whatsapp",
        to,
        type = "template",
        template = new { name = "order_update", language = new { code = "en_US" }, components = new object[] { new { type = "body", parameters = new[] { new { type = "text", text = "42" } } } } },
    };

    /// <summary>Waits for something that will happen; the bound only keeps a broken test from hanging.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited 30 s for {what}");
            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Api.DisposeAsync();
    }

    private static async Task<GraphAnswer> ReadAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(body);
        var answer = new GraphAnswer((int)response.StatusCode, document.RootElement.Clone());
        if (answer.IsError)
        {
            var error = answer.Body.GetProperty("error");
            Assert.NotEqual(200, answer.Status);
            Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
            Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
            Assert.False(string.IsNullOrEmpty(error.GetProperty("fbtrace_id").GetString()));
        }

        return answer;
    }
}
