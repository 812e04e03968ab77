using Tern.Channels;
using Tern.Channels.Telegram;
using Tern.Channels.Webhook;
using Tern.Channels.WhatsApp;

namespace Tern.Server.Hosting;

/// <summary>The channel types Tern is built with, in the order messages list them: one line each.</summary>
internal static class TernChannels
{
    public static IReadOnlyList<IChannelModule> Create() =>
    [
        new WebhookModule(),
        new TelegramModule(),
        new WhatsAppModule(),
    ];
}
