using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Telegram;

namespace Tern.Server.Tests.Telegram;

/// <summary>
/// A Bot API stand-in on loopback plus a tern home whose Telegram channels point at it. Bots get
/// tokens that look like Telegram's; the tests check those tokens never leak.
/// </summary>
public sealed class TelegramRig : IAsyncDisposable
{
    /// <summary>Lifts Tern's own limits (for volume tests, with the stand-in's enforcement off too).</summary>
    public const string NoLimits = "bot_per_second=0,chat_per_second=0,group_per_minute=0";

    private TelegramRig(BotApiStandIn telegram)
    {
        Telegram = telegram;
    }

    public BotApiStandIn Telegram { get; }

    public TernHome Home { get; } = TernHome.Create();

    public static async Task<TelegramRig> StartAsync(StandInOptions? options = null) => new(await BotApiStandIn.StartAsync(options));

    public static string TokenFor(long botId, string name) => $"{botId.ToString(CultureInfo.InvariantCulture)}:{name}-S3cret_Part-0123456789abcdef";

    public StandInBot AddBot(long botId, string username) => Telegram.AddBot(TokenFor(botId, username), username);

    /// <summary><c>tern channels add --type telegram</c> against the stand-in (the token is checked with getMe).</summary>
    public Task<CliResult> AddChannelAsync(string channelId, StandInBot bot, params string[] extra) =>
        Home.RunOkAsync(["channels", "add", "--id", channelId, "--type", "telegram", "--token", bot.Token, "--base-url", Telegram.BaseUrl.ToString(), .. extra]);

    public Task<CliResult> AddRouteAsync(string routeId, string from, params string[] rest) =>
        Home.RunOkAsync(["routes", "add", "--id", routeId, "--from", from, .. rest]);

    /// <summary>Starts tern with a short long-poll (quick to stop) and the given settings.</summary>
    public Task<TernProcess> StartTernAsync(ITestOutputHelper output, params string[] settings) =>
        Home.StartAsync(output, ["--Tern:Telegram:PollTimeout=5s", .. settings]);

    /// <summary>Texts (or captions) a bot sent to a chat, in arrival order; edits left out.</summary>
    public List<string?> TextsIn(long chat, StandInBot bot) =>
        Telegram.SentTo(chat).Where(m => m.Bot == bot.Username && !m.Edited).Select(m => m.Text ?? m.Caption).ToList();

    /// <summary>A key of the default tenant (channels made with the CLI belong to it) for the REST API.</summary>
    public async Task<HttpClient> ApiAsync(TernProcess tern)
    {
        var key = (await Home.RunOkAsync("keys", "create", "--tenant", "default")).Stdout.Trim();
        var client = new HttpClient { BaseAddress = tern.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public static async Task<JsonElement> StatusAsync(HttpClient api, string channelId)
    {
        using var response = await api.GetAsync(new Uri($"/v1/channels/{channelId}/status", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"status of {channelId}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Counts of each text: what was lost (missing), and what arrived more than once.</summary>
    public static (List<string> Missing, int Duplicates, bool InOrder) Compare(IReadOnlyList<string> expected, IReadOnlyList<string?> received)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in received) if (text is not null) seen[text] = seen.GetValueOrDefault(text) + 1;
        var missing = expected.Where(e => !seen.ContainsKey(e)).ToList();
        var duplicates = seen.Values.Sum(n => n - 1);
        // In order: the first arrival of each expected text comes in expected order.
        var firstArrival = new List<string>();
        var added = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in received)
        {
            if (text is not null && added.Add(text)) firstArrival.Add(text);
        }
        var expectedPresent = expected.Where(seen.ContainsKey).ToList();
        return (missing, duplicates, firstArrival.Where(expectedPresent.Contains).SequenceEqual(expectedPresent));
    }

    public async ValueTask DisposeAsync()
    {
        await Telegram.DisposeAsync();
        Home.Dispose();
    }
}
