using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tern.Channels.Telegram.BotApi;
using Tern.Channels.Http;
using Tern.Core.Catalog;

namespace Tern.Channels.Telegram;

/// <summary>
/// Telegram bots as a channel type: the <c>telegram</c> settings object (token, mode, base_url,
/// webhook_url, limits), checked and then verified with getMe; chats are Telegram chat ids.
/// </summary>
public sealed class TelegramChannelType(BotApiClient client, DestinationPolicy destinations, TimeSpan callTimeout) : IChannelType
{
    /// <summary>The type's name in channel definitions (<see cref="ChannelDefinition.Type"/>).</summary>
    public const string TypeName = "telegram";

    public string Name => TypeName;

    /// <summary>A chat shows no button press as a message, and a bot cannot edit what it forwarded.</summary>
    public ChannelCapabilities Capabilities => ChannelCapabilities.OneInstanceAtATime;

    public string? SettingsProperty => "telegram";

    public ChannelSettingsShape? SettingsShape { get; } = new(typeof(TelegramSettingsRequest), typeof(TelegramSettingsShown), TelegramSettingsJsonContext.Default);

    public string? UrlRule => "a Telegram channel has no URL (it sends through the Bot API)";

    public string? CheckSecret(string secret) => "a Telegram channel's webhook secret is made by Tern";

    public IReadOnlyList<ChannelFlag> Flags { get; } =
        [new("token", "token", Secret: true), new("mode", "mode"), new("base-url", "base_url"), new("webhook-url", "webhook_url"), new("limits", "limits")];

    public string? CheckDestinationChat(string chat) => TelegramChats.Destination(chat);

    public string? CheckSourceChat(string chat) => TelegramChats.Source(chat);

    private static readonly string[] LimitNames = ["bot_per_second", "chat_per_second", "chat_burst", "group_per_minute"];

    /// <summary>bot_per_second=30,chat_burst=3 for --limits; the ranges are checked with the settings.</summary>
    public JsonObject? SettingsFromFlags(IReadOnlyDictionary<string, string> values, List<FieldError> errors) =>
        ChannelFlagSettings.FromFlags(Flags, values, LimitNames, ["chat_per_second"], errors);

    public async ValueTask<ChannelSettings?> PrepareAsync(JsonObject? settings, ChannelDefinition? existing, bool verify, List<FieldError> errors, CancellationToken cancellationToken)
    {
        var current = existing is null ? null : TelegramSettings.Of(existing);
        if (settings is null)
        {
            if (existing is not null) return new ChannelSettings(existing.SettingsJson, OwnsSecret: true, existing.Secret);
            errors.Add(new FieldError("", "is required for a telegram channel ({\"token\": \"…\"})"));
            return null;
        }
        var before = errors.Count;
        foreach (var (name, _) in settings)
        {
            if (name is not ("token" or "mode" or "base_url" or "webhook_url" or "limits")) Add(errors, name, "is not a known field");
        }
        var rawToken = Text(settings, "token", errors);
        var token = rawToken ?? current?.Token;
        if (rawToken is not null || current is null) Add(errors, "token", TelegramSettings.CheckToken(token));
        var mode = current?.Mode ?? IngressMode.Polling;
        if (Text(settings, "mode", errors) is { } rawMode && !TelegramSettings.TryParseMode(rawMode, out mode)) Add(errors, "mode", "must be polling or webhook");
        Add(errors, "base_url", TelegramSettings.CheckUrl(Text(settings, "base_url", errors), out var baseUrl));
        // Tern calls the Bot API base URL with the bot's token: a tenant must not point it at the host's own network.
        if (baseUrl is not null) Add(errors, "base_url", await destinations.CheckAsync(baseUrl, cancellationToken).ConfigureAwait(false));
        Add(errors, "webhook_url", TelegramSettings.CheckUrl(Text(settings, "webhook_url", errors), out var webhookUrl));
        var limits = current?.Limits;
        if (settings["limits"] is { } limitsNode)
        {
            if (limitsNode is not JsonObject l)
            {
                Add(errors, "limits", "has the wrong type or is malformed");
            }
            else
            {
                var basis = limits ?? SendLimits.Default;
                limits = new SendLimits(
                    Number<int>(l, "bot_per_second", errors) ?? basis.BotPerSecond,
                    Number<double>(l, "chat_per_second", errors) ?? basis.ChatPerSecond,
                    Number<int>(l, "chat_burst", errors) ?? basis.ChatBurst,
                    Number<int>(l, "group_per_minute", errors) ?? basis.GroupPerMinute);
                Add(errors, "limits", TelegramSettings.CheckLimits(limits));
            }
        }
        if (errors.Count > before || !verify) return null;

        var wanted = new TelegramSettings(token!, mode, baseUrl ?? current?.BaseUrl, webhookUrl ?? current?.WebhookUrl, limits);
        var (verified, field, problem) = await TelegramChannels.VerifyAsync(client, wanted, callTimeout, cancellationToken).ConfigureAwait(false);
        if (verified is null)
        {
            errors.Add(new FieldError(field!, problem!, Remote: true));
            return null;
        }
        var secret = verified.Mode == IngressMode.Webhook ? existing?.Secret ?? TelegramSettings.NewSecretToken() : null;
        return new ChannelSettings(verified.ToJson(), OwnsSecret: true, secret);
    }

    public JsonObject? Describe(ChannelDefinition channel)
    {
        if (TelegramSettings.Of(channel) is not { } t) return null;
        var l = t.EffectiveLimits;
        var shown = new TelegramSettingsShown(ModeName(t.Mode), t.ApiBaseUrl.ToString(), t.WebhookUrl?.ToString(), t.BotId, t.BotUsername,
            new TelegramLimitsShown(l.BotPerSecond, l.ChatPerSecond, l.ChatBurst, l.GroupPerMinute));
        return JsonSerializer.SerializeToNode(shown, TelegramSettingsJsonContext.Default.TelegramSettingsShown)!.AsObject();
    }

    public string Target(ChannelDefinition channel) =>
        TelegramSettings.Of(channel) is { } t ? $"@{t.BotUsername} ({ModeName(t.Mode)})" : channel.Url?.ToString() ?? "-";

    public string Summary(ChannelDefinition channel)
    {
        var settings = TelegramSettings.Of(channel);
        if (settings is null) return $"({channel.Type})";
        return settings.Mode == IngressMode.Webhook
            ? $"(telegram, bot @{settings.BotUsername}); inbound: Telegram pushes to {settings.WebhookUrl?.ToString() ?? $"{{Tern:Http:PublicUrl}}/hooks/telegram/{channel.Id}"} once tern serve runs"
            : $"(telegram, bot @{settings.BotUsername}); inbound: tern serve polls getUpdates";
    }

    private static string ModeName(IngressMode mode) => mode == IngressMode.Webhook ? "webhook" : "polling";

    private static void Add(List<FieldError> errors, string field, string? problem)
    {
        if (problem is not null && !errors.Exists(e => e.Field == field)) errors.Add(new FieldError(field, problem));
    }

    private static string? Text(JsonObject settings, string name, List<FieldError> errors)
    {
        var node = settings[name];
        if (node is null) return null;
        if (node is JsonValue value && value.TryGetValue<string>(out var text)) return text;
        Add(errors, name, "has the wrong type or is malformed");
        return null;
    }

    private static T? Number<T>(JsonObject limits, string name, List<FieldError> errors) where T : struct
    {
        var node = limits[name];
        if (node is null) return null;
        if (node is JsonValue value && value.TryGetValue<T>(out var number)) return number;
        Add(errors, "limits." + name, "has the wrong type or is malformed");
        return null;
    }
}
