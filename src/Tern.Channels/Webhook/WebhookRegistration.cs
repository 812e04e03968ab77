using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tern.Channels.Http;
using Tern.Core.Catalog;
using Tern.Core.Delivery;

namespace Tern.Channels.Webhook;

public static class WebhookRegistration
{
    /// <summary>Plain HTTP webhooks: signed inbound pushes at <c>/hooks/webhook/{channel}</c>, POSTed deliveries out; also the tenants' event webhooks, which are sent the same way.</summary>
    public static IServiceCollection AddWebhookChannel(this IServiceCollection services, TimeSpan sendTimeout)
    {
        services.AddSingleton<IChannelSender>(sp => new WebhookSender(
            sp.GetRequiredKeyedService<HttpClient>(OutboundHttp.SendClient), sendTimeout, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IChannelSender>(sp => WebhookSender.ForTenantEvents(
            sp.GetRequiredKeyedService<HttpClient>(OutboundHttp.SendClient), sendTimeout, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IChannelType, WebhookChannelType>();
        services.AddSingleton<WebhookIngress>();
        services.AddSingleton(sp => new ChannelHooks(ChannelTypes.Webhook, [HttpMethods.Post], sp.GetRequiredService<WebhookIngress>().HandleAsync, WebhookIngress.Shape));
        return services;
    }
}

/// <summary>Plain HTTP webhooks as a module of the host: no settings of their own.</summary>
public sealed class WebhookModule : IChannelModule
{
    public string Type => ChannelTypes.Webhook;

    public string CliUsage => "[--type webhook] [--url URL] [--secret S] [--max-concurrency N]";

    public void ReadSettings(IChannelSettingsReader settings)
    {
    }

    public void Register(IServiceCollection services, ChannelHostOptions host) => services.AddWebhookChannel(host.SendTimeout);
}
