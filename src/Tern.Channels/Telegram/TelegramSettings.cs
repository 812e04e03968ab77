using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tern.Channels.Telegram.BotApi;
using Tern.Core.Catalog;

namespace Tern.Channels.Telegram;

public enum IngressMode
{
    /// <summary>Tern calls getUpdates (long polling); nothing has to reach Tern from outside.</summary>
    Polling,

    /// <summary>Telegram POSTs updates to <c>/hooks/telegram/{channel}</c>; needs a public HTTPS URL.</summary>
    Webhook,
}

/// <summary>Sending limits of one bot. Zero switches a limit off (for a local Bot API server or a benchmark).</summary>
/// <param name="BotPerSecond">Sends per second over all chats (Telegram: about 30).</param>
/// <param name="ChatPerSecond">Average sends per second to one chat (Telegram: 1).</param>
/// <param name="ChatBurst">Sends to one chat that may go out back to back before the average applies.</param>
/// <param name="GroupPerMinute">Sends per minute to one group, supergroup or channel (Telegram: 20).</param>
public sealed record SendLimits(int BotPerSecond = 30, double ChatPerSecond = 1, int ChatBurst = 3, int GroupPerMinute = 20)
{
    public static SendLimits Default { get; } = new();
}

/// <summary>
/// A Telegram channel's settings, stored as the channel's settings JSON. The bot token is a secret:
/// it is written, never shown (<see cref="ToString"/> hides it), and scrubbed from every error.
/// </summary>
public sealed record TelegramSettings(
    string Token,
    IngressMode Mode = IngressMode.Polling,
    Uri? BaseUrl = null,
    Uri? WebhookUrl = null,
    SendLimits? Limits = null,
    long? BotId = null,
    string? BotUsername = null)
{
    public Uri ApiBaseUrl => BaseUrl ?? BotApiClient.DefaultBaseUrl;

    public SendLimits EffectiveLimits => Limits ?? SendLimits.Default;

    public BotEndpoint Endpoint() => new(ApiBaseUrl, Token);

    // Parsed once per channel definition (a catalog refresh makes new definitions; old ones go with their snapshot).
    private static readonly ConditionalWeakTable<ChannelDefinition, Parsed?> ByChannel = [];

    private sealed record Parsed(TelegramSettings Settings, BotEndpoint Bot);

    /// <summary>A channel's settings, parsed once per definition; null when they are missing or broken.</summary>
    public static TelegramSettings? Of(ChannelDefinition channel) => Parse(channel)?.Settings;

    /// <summary>Where a channel's calls go, made once per definition; null when its settings are missing or broken.</summary>
    public static BotEndpoint? BotOf(ChannelDefinition channel) => Parse(channel)?.Bot;

    private static Parsed? Parse(ChannelDefinition channel) =>
        ByChannel.GetValue(channel, c => FromJson(c.SettingsJson) is { } settings ? new Parsed(settings, settings.Endpoint()) : null);

    public override string ToString() => $"TelegramSettings {{ Mode = {Mode}, BaseUrl = {ApiBaseUrl}, Bot = @{BotUsername}, Token = *** }}";

    /// <summary>A bot token as @BotFather gives it: digits, ':', then letters, digits, '-' and '_'.</summary>
    public static string? CheckToken(string? token)
    {
        if (string.IsNullOrWhiteSpace(token)) return "is required (the token @BotFather gave the bot)";
        var colon = token.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == token.Length - 1 || token.Length > 256
            || token.AsSpan(0, colon).ContainsAnyExceptInRange('0', '9')
            || token.AsSpan(colon + 1).ContainsAnyExcept(TokenChars))
        {
            return "is not a bot token (expected digits, ':' and the secret part, e.g. 123456:ABC-DEF1234ghIkl)";
        }
        return null;
    }

    private static readonly SearchValues<char> TokenChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");

    /// <summary>A webhook secret_token: 1–256 of A–Z, a–z, 0–9, '_' and '-', as the Bot API requires.</summary>
    public static string NewSecretToken()
    {
        Span<byte> bytes = stackalloc byte[32];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static string? CheckUrl(string? url, out Uri? parsed) => Tern.Core.Catalog.CatalogRules.Url(url, out parsed);

    public static string? CheckLimits(SendLimits limits) =>
        limits.BotPerSecond is < 0 or > 100_000 ? "bot_per_second must be from 0 (no limit) to 100000"
        : limits.ChatPerSecond is < 0 or > 1000 || double.IsNaN(limits.ChatPerSecond) ? "chat_per_second must be from 0 (no limit) to 1000"
        : limits.ChatBurst is < 1 or > 1000 ? "chat_burst must be from 1 to 1000"
        : limits.GroupPerMinute is < 0 or > 100_000 ? "group_per_minute must be from 0 (no limit) to 100000"
        : null;

    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("token", Token);
            json.WriteString("mode", Mode == IngressMode.Webhook ? "webhook" : "polling");
            if (BaseUrl is not null) json.WriteString("base_url", BaseUrl.ToString());
            if (WebhookUrl is not null) json.WriteString("webhook_url", WebhookUrl.ToString());
            if (Limits is { } limits)
            {
                json.WriteStartObject("limits");
                json.WriteNumber("bot_per_second", limits.BotPerSecond);
                json.WriteNumber("chat_per_second", limits.ChatPerSecond);
                json.WriteNumber("chat_burst", limits.ChatBurst);
                json.WriteNumber("group_per_minute", limits.GroupPerMinute);
                json.WriteEndObject();
            }
            if (BotId is not null) json.WriteNumber("bot_id", BotId.Value);
            if (BotUsername is not null) json.WriteString("bot_username", BotUsername);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads stored settings (written by <see cref="ToJson"/>); null when they are missing or broken.</summary>
    public static TelegramSettings? FromJson(string? json)
    {
        if (string.IsNullOrEmpty(json)) return null;
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("token", out var token) || token.ValueKind != JsonValueKind.String) return null;
            SendLimits? limits = null;
            if (root.TryGetProperty("limits", out var l) && l.ValueKind == JsonValueKind.Object)
            {
                limits = new SendLimits(
                    l.TryGetProperty("bot_per_second", out var b) ? b.GetInt32() : SendLimits.Default.BotPerSecond,
                    l.TryGetProperty("chat_per_second", out var c) ? c.GetDouble() : SendLimits.Default.ChatPerSecond,
                    l.TryGetProperty("chat_burst", out var cb) ? cb.GetInt32() : SendLimits.Default.ChatBurst,
                    l.TryGetProperty("group_per_minute", out var g) ? g.GetInt32() : SendLimits.Default.GroupPerMinute);
            }
            return new TelegramSettings(
                token.GetString()!,
                String(root, "mode") == "webhook" ? IngressMode.Webhook : IngressMode.Polling,
                String(root, "base_url") is { } baseUrl ? new Uri(baseUrl) : null,
                String(root, "webhook_url") is { } webhookUrl ? new Uri(webhookUrl) : null,
                limits,
                root.TryGetProperty("bot_id", out var id) && id.ValueKind == JsonValueKind.Number ? id.GetInt64() : null,
                String(root, "bot_username"));
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }

        static string? String(JsonElement root, string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }

    /// <summary>Parses a mode name as the CLI and the API take it.</summary>
    public static bool TryParseMode(string? text, out IngressMode mode)
    {
        mode = IngressMode.Polling;
        switch (text)
        {
            case null or "polling": return true;
            case "webhook": mode = IngressMode.Webhook; return true;
            default: return false;
        }
    }

    /// <summary>Parses "bot_per_second=30,chat_per_second=1,chat_burst=3,group_per_minute=20" (any subset).</summary>
    public static string? TryParseLimits(string text, out SendLimits limits)
    {
        limits = SendLimits.Default;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? part : part[..eq];
            var value = eq < 0 ? "" : part[(eq + 1)..];
            if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)) return $"'{part}': expected name=number";
            limits = name switch
            {
                "bot_per_second" => limits with { BotPerSecond = (int)number },
                "chat_per_second" => limits with { ChatPerSecond = number },
                "chat_burst" => limits with { ChatBurst = (int)number },
                "group_per_minute" => limits with { GroupPerMinute = (int)number },
                _ => null!,
            };
            if (limits is null)
            {
                limits = SendLimits.Default;
                return $"'{name}': not a limit (known: bot_per_second, chat_per_second, chat_burst, group_per_minute)";
            }
        }
        return CheckLimits(limits);
    }
}
