using Microsoft.Extensions.DependencyInjection;
using Tern.Core.Catalog;

namespace Tern.Server.Application;

/// <summary>The application services, for the server's container (the CLI makes them in <c>Cli/CliServices</c>).</summary>
public static class ApplicationServices
{
    /// <summary>
    /// Needs ICatalogStore, CatalogCache, ITenantStore, IOutboxStore, IMessageQueries, IngressGate and TimeProvider
    /// registered; <paramref name="channelTypes"/> makes the channel types (the platforms are not this layer's business).
    /// </summary>
    public static IServiceCollection AddTernApplication(this IServiceCollection services, Func<IServiceProvider, ChannelTypeRegistry> channelTypes)
    {
        services.AddSingleton(channelTypes);
        services.AddSingleton<ChannelService>();
        services.AddSingleton<RouteService>();
        services.AddSingleton<TenantService>();
        services.AddSingleton<KeyService>();
        services.AddSingleton<WebhookService>();
        services.AddSingleton<MessageService>();
        return services;
    }
}
