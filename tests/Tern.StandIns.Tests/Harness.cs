using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tern.StandIns.Telegram;

namespace Tern.StandIns.Tests;

/// <summary>What the Bot API answered: the HTTP status and the JSON body.</summary>
public sealed record Answer(int Status, JsonElement Body)
{
    public bool Ok => Body.GetProperty("ok").GetBoolean();

    public JsonElement Result => Body.GetProperty("result");

    public int ErrorCode => Body.GetProperty("error_code").GetInt32();

    public string Description => Body.GetProperty("description").GetString()!;

    public int? RetryAfter =>
        Body.TryGetProperty("parameters", out var p) && p.TryGetProperty("retry_after", out var r) ? r.GetInt32() : null;

    public override string ToString() => $"{Status} {Body}";
}

/// <summary>A stand-in with two bots and a plain HttpClient that calls it as any Bot API client would.</summary>
public sealed class Harness : IAsyncDisposable
{
    public const string TokenA = "111111:AAAA-secret-a";
    public const string TokenB = "222222:BBBB-secret-b";
    public const long Alice = 5001;
    public const long Bob = 5002;
    public const long Group = -4001;
    public const long Supergroup = -1001234567890;
    public const long Channel = -1009876543210;
    public const long Forum = -1005555555555;

    private Harness(BotApiStandIn api)
    {
        Api = api;
        BotA = api.AddBot(TokenA, "alpha_bot");
        BotB = api.AddBot(TokenB, "beta_bot");
        api.AddChat(Alice, ChatKind.Private, "Alice");
        api.AddChat(Bob, ChatKind.Private, "Bob");
        api.AddChat(Group, ChatKind.Group, "Group");
        api.AddChat(Supergroup, ChatKind.Supergroup, "Supergroup");
        api.AddChat(Channel, ChatKind.Channel, "Channel");
        api.AddChat(Forum, ChatKind.Supergroup, "Forum", isForum: true);
        Http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = api.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    public BotApiStandIn Api { get; }

    public StandInBot BotA { get; }

    public StandInBot BotB { get; }

    public HttpClient Http { get; }

    /// <summary>
    /// A path under the stand-in's root. "./" keeps "bot123:secret/…" from reading as a URI with the
    /// scheme "bot123" (a classic Bot API client bug).
    /// </summary>
    public Uri At(string relative) => new(Api.BaseUrl, "./" + relative);

    public static async Task<Harness> StartAsync(StandInOptions? options = null) => new(await BotApiStandIn.StartAsync(options));

    /// <summary>A call with a JSON body (application/json), the way most clients call.</summary>
    public async Task<Answer> CallAsync(string token, string method, object? parameters = null, CancellationToken cancellationToken = default)
    {
        using var content = new StringContent(JsonSerializer.Serialize(parameters ?? new { }), Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(At($"bot{token}/{method}"), content, cancellationToken);
        return await ReadAsync(response);
    }

    public Task<Answer> CallAsync(StandInBot bot, string method, object? parameters = null, CancellationToken cancellationToken = default) =>
        CallAsync(bot.Token, method, parameters, cancellationToken);

    /// <summary>A call with an application/x-www-form-urlencoded body.</summary>
    public async Task<Answer> FormAsync(StandInBot bot, string method, IEnumerable<KeyValuePair<string, string>> fields)
    {
        using var content = new FormUrlEncodedContent(fields);
        using var response = await Http.PostAsync(At($"bot{bot.Token}/{method}"), content);
        return await ReadAsync(response);
    }

    /// <summary>A call with a multipart/form-data body: text fields and file parts.</summary>
    public async Task<Answer> MultipartAsync(StandInBot bot, string method, IEnumerable<KeyValuePair<string, string>> fields, params (string Name, string FileName, byte[] Bytes)[] files)
    {
        using var content = new MultipartFormDataContent();
        foreach (var (name, value) in fields) content.Add(new StringContent(value), name);
        foreach (var (name, fileName, bytes) in files)
        {
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            content.Add(part, name, fileName);
        }

        using var response = await Http.PostAsync(At($"bot{bot.Token}/{method}"), content);
        return await ReadAsync(response);
    }

    public async Task<Answer> GetUpdatesAsync(StandInBot bot, long? offset = null, int? timeout = null, int? limit = null, string[]? allowedUpdates = null,
        CancellationToken cancellationToken = default)
    {
        var parameters = new JsonObject();
        if (offset is { } o) parameters["offset"] = o;
        if (timeout is { } t) parameters["timeout"] = t;
        if (limit is { } l) parameters["limit"] = l;
        if (allowedUpdates is not null) parameters["allowed_updates"] = new JsonArray([.. allowedUpdates.Select(a => (JsonNode)a)]);
        return await CallAsync(bot, "getUpdates", parameters, cancellationToken);
    }

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

    public static long[] UpdateIds(Answer answer) => [.. answer.Result.EnumerateArray().Select(u => u.GetProperty("update_id").GetInt64())];

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Api.DisposeAsync();
    }

    private static async Task<Answer> ReadAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(body);
        var answer = new Answer((int)response.StatusCode, document.RootElement.Clone());
        if (!answer.Ok) Assert.Equal(answer.Status, answer.ErrorCode);
        return answer;
    }
}
