using Tern.Channels.Telegram;
using Tern.Channels.Telegram.BotApi;
using Tern.Channels.Webhook;
using Tern.Core.Catalog;

namespace Tern.Channels;

/// <summary>The channel types this build knows, in the order messages list them ("webhook, telegram").</summary>
public static class KnownChannelTypes
{
    /// <param name="botApi">Verifies Telegram settings (getMe).</param>
    /// <param name="telegramCallTimeout">How long a getMe may take.</param>
    public static ChannelTypeRegistry Create(BotApiClient botApi, TimeSpan telegramCallTimeout) =>
        new([new WebhookChannelType(), new TelegramChannelType(botApi, telegramCallTimeout)]);
}
