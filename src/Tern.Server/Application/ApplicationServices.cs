using Microsoft.Extensions.DependencyInjection;
using Tern.Channels.Telegram;
using Tern.Channels.Telegram.BotApi;
using Tern.Channels.Webhook;
using Tern.Core.Catalog;

namespace Tern.Server.Application;

/// <summary>The channel types and application services, for the server's container (the CLI makes them in <c>Cli/CliServices</c>).</summary>
public static class ApplicationServices
{
    /// <summary>The channel types this build knows, in the order messages list them.</summary>
    public static ChannelTypeRegistry ChannelTypes(BotApiClient botApi, TimeSpan telegramCallTimeout) =>
        new([new WebhookChannelType(), new TelegramChannelType(botApi, telegramCallTimeout)]);

    /// <summary>Needs ICatalogStore, CatalogCache, ITenantStore, IOutboxStore, IMessageQueries, IngressGate, TimeProvider and BotApiClient registered.</summary>
    public static IServiceCollection AddTernApplication(this IServiceCollection services, TimeSpan telegramCallTimeout)
    {
        services.AddSingleton(sp => ChannelTypes(sp.GetRequiredService<BotApiClient>(), telegramCallTimeout));
        services.AddSingleton<ChannelService>();
        services.AddSingleton<RouteService>();
        services.AddSingleton<TenantService>();
        services.AddSingleton<KeyService>();
        services.AddSingleton<WebhookService>();
        services.AddSingleton<MessageService>();
        return services;
    }
}
