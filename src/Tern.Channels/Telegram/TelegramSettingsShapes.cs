using System.ComponentModel;
using System.Text.Json.Serialization;

namespace Tern.Channels.Telegram;

// The "telegram" settings object of the API, as typed shapes for the OpenAPI document. A request is judged
// field by field by TelegramChannelType.PrepareAsync (so every problem is named, not only the first); an
// answer is written from TelegramSettingsShown, so what the document says is what the API shows.

/// <summary>A Telegram channel's settings in a request; every field optional (an update changes only what it names).</summary>
public sealed record TelegramSettingsRequest(
    [property: Description("The bot token from @BotFather; write-only, checked with getMe.")] string? Token = null,
    [property: Description("polling (default) or webhook.")] string? Mode = null,
    [property: Description("A local Bot API server instead of https://api.telegram.org.")] string? BaseUrl = null,
    [property: Description("The public URL Telegram pushes to in webhook mode; default {Tern:Http:PublicUrl}/hooks/telegram/{id}.")] string? WebhookUrl = null,
    [property: Description("Tern's send limits for this bot; 0 lifts one.")] TelegramLimitsRequest? Limits = null);

public sealed record TelegramLimitsRequest(int? BotPerSecond = null, double? ChatPerSecond = null, int? ChatBurst = null, int? GroupPerMinute = null);

/// <summary>A Telegram channel's settings as shown: the token never is.</summary>
public sealed record TelegramSettingsShown(
    string Mode,
    string BaseUrl,
    string? WebhookUrl,
    [property: Description("The bot's id, from getMe.")] long? BotId,
    [property: Description("The bot's username, from getMe.")] string? BotUsername,
    [property: Description("The send limits in force (Telegram's documented defaults unless set).")] TelegramLimitsShown Limits);

public sealed record TelegramLimitsShown(int BotPerSecond, double ChatPerSecond, int ChatBurst, int GroupPerMinute);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TelegramSettingsRequest))]
[JsonSerializable(typeof(TelegramSettingsShown))]
internal sealed partial class TelegramSettingsJsonContext : JsonSerializerContext;
