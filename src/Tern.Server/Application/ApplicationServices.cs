using Microsoft.Extensions.DependencyInjection;
using Tern.Core.Catalog;

namespace Tern.Server.Application;

/// <summary>The application services the REST API, the CLI and (next) the dashboard share.</summary>
/// <summary>How long a replaced webhook secret keeps signing (<c>Tern:Webhooks:SecretOverlap</c>), so receivers can switch without a gap.</summary>
public sealed record SecretRotation(TimeSpan Overlap);

public static class ApplicationServices
{
    /// <summary>
    /// Needs the catalog and tenant stores, CatalogCache, TimeProvider and the channel types (each channel type's
    /// registration adds its <see cref="IChannelType"/>); messages also need the outbox, IMessageQueries and IngressGate.
    /// </summary>
    public static IServiceCollection AddTernApplication(this IServiceCollection services)
    {
        services.AddSingleton(sp => new ChannelTypeRegistry(sp.GetServices<IChannelType>()));
        services.AddSingleton(sp => new SecretRotation(sp.GetRequiredService<Configuration.TernOptions>().SecretOverlap));
        services.AddSingleton<ChannelService>();
        services.AddSingleton<RouteService>();
        services.AddSingleton<TenantService>();
        services.AddSingleton<KeyService>();
        services.AddSingleton<WebhookService>();
        services.AddSingleton<MessageService>();
        return services;
    }
}
