using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tern.Channels.Http;
using Tern.Channels.Telegram.BotApi;
using Tern.Core.Catalog;
using Tern.Core.Cluster;
using Tern.Core.Delivery;
using Tern.Core.Memory;
using Tern.Core.Pipeline;

namespace Tern.Channels.Telegram;

public static class TelegramRegistration
{
    /// <summary>The DI key of the long-poll client: polls hold a connection for their whole timeout, so they get their own pool and never starve sends.</summary>
    private const string PollClient = "tern.telegram.poll";

    /// <summary>Telegram bots: getUpdates pollers and webhook pushes at <c>/hooks/telegram/{channel}</c>, sends through the Bot API within its limits.</summary>
    public static IServiceCollection AddTelegramChannel(this IServiceCollection services, TelegramIngressOptions ingress, int chatLimitWindows, TimeSpan sendTimeout)
    {
        services.AddSingleton(ingress);
        services.AddKeyedSingleton(PollClient, (sp, _) => OutboundHttp.CreateClient(256, sp.GetRequiredService<DestinationPolicy>()));
        services.AddSingleton(sp => new BotApiClient(sp.GetRequiredKeyedService<HttpClient>(OutboundHttp.SendClient)));
        services.AddSingleton<IChannelType>(sp => new TelegramChannelType(sp.GetRequiredService<BotApiClient>(), sp.GetRequiredService<DestinationPolicy>(), ingress.CallTimeout));
        services.AddSingleton(sp => new SendLimiter(chatLimitWindows, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IBoundedStructure>(sp => sp.GetRequiredService<SendLimiter>().ChatWindows);
        services.AddSingleton<IBoundedStructure>(sp => sp.GetRequiredService<SendLimiter>().BotWindows);
        services.AddSingleton(sp => new TelegramSender(
            sp.GetRequiredService<BotApiClient>(), sp.GetRequiredService<CatalogCache>(), sp.GetRequiredService<SendLimiter>(),
            sp.GetRequiredService<IMessageLinks>(), sp.GetRequiredService<IChatMigrations>(), sendTimeout, sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<TelegramSender>>()));
        services.AddSingleton<IChannelSender>(sp => sp.GetRequiredService<TelegramSender>());
        services.AddSingleton<TelegramInbound>();
        services.AddSingleton<TelegramWebhookIngress>();
        services.AddSingleton(sp => new TelegramIngressSupervisor(
            new BotApiClient(sp.GetRequiredKeyedService<HttpClient>(PollClient)), sp.GetRequiredService<CatalogCache>(), sp.GetRequiredService<TelegramInbound>(),
            sp.GetRequiredService<IngressGate>(), sp.GetRequiredService<IngressStatusBoard>(), sp.GetRequiredService<IOutboxStore>(), ingress,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<TelegramIngressSupervisor>>(),
            sp.GetService<ClusterOptions>() is { Enabled: true } ? sp.GetRequiredService<LeaseRunner>() : null));
        services.AddHostedService<TelegramIngressService>();
        services.AddSingleton(sp => new ChannelHooks(TelegramChannelType.TypeName, [HttpMethods.Post], sp.GetRequiredService<TelegramWebhookIngress>().HandleAsync, TelegramWebhookIngress.Shape));
        return services;
    }

    /// <summary>Runs the pollers and webhook registrations of the Telegram channels.</summary>
    private sealed class TelegramIngressService(TelegramIngressSupervisor supervisor) : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) => supervisor.RunAsync(stoppingToken);
    }
}

/// <summary>Telegram as a module of the host: its settings under <c>Tern:Telegram</c>, then <see cref="TelegramRegistration.AddTelegramChannel"/>.</summary>
public sealed class TelegramModule : IChannelModule
{
    private TelegramIngressOptions? _ingress;

    public string Type => TelegramChannelType.TypeName;

    public string CliUsage => """
        --type telegram --token TOKEN [--mode polling|webhook] [--base-url URL]
        [--webhook-url URL] [--limits bot_per_second=30,chat_per_second=1,chat_burst=3,group_per_minute=20]
               (the token is checked with getMe before the channel is stored)
        """;

    /// <summary>The settings read (null before <see cref="ReadSettings"/>).</summary>
    public TelegramIngressOptions? Ingress => _ingress;

    public void ReadSettings(IChannelSettingsReader settings)
    {
        var ingress = new TelegramIngressOptions
        {
            PollTimeout = settings.Duration("Tern:Telegram:PollTimeout", TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(50)),
            PublicUrl = settings.OptionalHttpUrl("Tern:Http:PublicUrl"),
            ConflictRetry = settings.Duration("Tern:Telegram:ConflictRetry", TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)),
            ErrorRetry = settings.Duration("Tern:Telegram:ErrorRetry", TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(10)),
            CallTimeout = settings.Duration("Tern:Telegram:CallTimeout", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)),
        };
        if (ingress.ConflictRetryMax < ingress.ConflictRetry) ingress.ConflictRetryMax = ingress.ConflictRetry;
        _ingress = ingress;
    }

    public void Register(IServiceCollection services, ChannelHostOptions host) =>
        services.AddTelegramChannel(_ingress ?? throw new InvalidOperationException("Telegram settings were not read"), host.SendWindowChats, host.SendTimeout);
}
