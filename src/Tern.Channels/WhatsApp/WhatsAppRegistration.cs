using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tern.Channels.Http;
using Tern.Channels.WhatsApp.Graph;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Memory;

namespace Tern.Channels.WhatsApp;

/// <summary>The WhatsApp channel type's settings under <c>Tern:WhatsApp</c>.</summary>
public sealed class WhatsAppIngressOptions
{
    /// <summary>Largest webhook body accepted (Meta batches many messages and statuses into one); larger gets 413.</summary>
    public int MaxBodyBytes { get; init; } = 4 << 20;

    /// <summary>Webhook POSTs read and parsed at once; others wait (each holds its body and JSON until its commit).</summary>
    public int MaxConcurrentPosts { get; init; } = 4;

    /// <summary>How long a Graph API call may take (the phone number check).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

public static class WhatsAppRegistration
{
    /// <summary>WhatsApp Cloud API phone numbers: Meta's webhooks at <c>/hooks/whatsapp/{channel}</c> (GET verification, signed POSTs), sends through the Graph API within the number's and the pair limits.</summary>
    public static IServiceCollection AddWhatsAppChannel(this IServiceCollection services, WhatsAppIngressOptions options, int pairLimitWindows, TimeSpan sendTimeout)
    {
        services.AddSingleton(options);
        services.AddSingleton(sp => new GraphApiClient(sp.GetRequiredKeyedService<HttpClient>(OutboundHttp.SendClient)));
        services.AddSingleton<IChannelType>(sp => new WhatsAppChannelType(sp.GetRequiredService<GraphApiClient>(), sp.GetRequiredService<DestinationPolicy>(), options.CallTimeout));
        services.AddSingleton(_ => new WhatsAppPostSlots(options.MaxConcurrentPosts));
        services.AddSingleton<IBoundedStructure>(sp => sp.GetRequiredService<WhatsAppPostSlots>());
        services.AddSingleton(sp => new WhatsAppLimiter(pairLimitWindows, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IBoundedStructure>(sp => sp.GetRequiredService<WhatsAppLimiter>().PairWindows);
        services.AddSingleton<IBoundedStructure>(sp => sp.GetRequiredService<WhatsAppLimiter>().NumberWindows);
        services.AddSingleton<IChannelSender>(sp => new WhatsAppSender(
            sp.GetRequiredService<GraphApiClient>(), sp.GetRequiredService<WhatsAppLimiter>(), sp.GetRequiredService<IMessageLinks>(), sendTimeout));
        services.AddSingleton<WhatsAppWebhookIngress>();
        services.AddSingleton(sp => new ChannelHooks(WhatsAppChannelType.TypeName, [HttpMethods.Get], sp.GetRequiredService<WhatsAppWebhookIngress>().VerifyAsync, WhatsAppWebhookIngress.VerifyShape));
        services.AddSingleton(sp => new ChannelHooks(WhatsAppChannelType.TypeName, [HttpMethods.Post], sp.GetRequiredService<WhatsAppWebhookIngress>().PushAsync, WhatsAppWebhookIngress.PushShape));
        return services;
    }
}

/// <summary>WhatsApp as a module of the host: its settings under <c>Tern:WhatsApp</c>, then <see cref="WhatsAppRegistration.AddWhatsAppChannel"/>.</summary>
public sealed class WhatsAppModule : IChannelModule
{
    private WhatsAppIngressOptions? _options;

    public string Type => WhatsAppChannelType.TypeName;

    public string CliUsage => """
        --type whatsapp --phone-number-id ID --access-token TOKEN --app-secret SECRET
        --verify-token TOKEN [--base-url URL] [--api-version v27.0]
        [--limits messages_per_second=80,pair_interval_seconds=6,pair_burst=5]
               (the token is checked against the phone number with GET /{phone-number-id} before the channel is stored)
        """;

    public void ReadSettings(IChannelSettingsReader settings) =>
        _options = new WhatsAppIngressOptions
        {
            MaxBodyBytes = settings.WholeNumber("Tern:WhatsApp:MaxBodyBytes", 4 << 20, 64 << 10, 64 << 20),
            MaxConcurrentPosts = settings.WholeNumber("Tern:WhatsApp:MaxConcurrentPosts", 4, 1, 64),
            CallTimeout = settings.Duration("Tern:WhatsApp:CallTimeout", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)),
        };

    public void Register(IServiceCollection services, ChannelHostOptions host) =>
        services.AddWhatsAppChannel(_options ?? throw new InvalidOperationException("WhatsApp settings were not read"), host.SendWindowChats, host.SendTimeout);
}
