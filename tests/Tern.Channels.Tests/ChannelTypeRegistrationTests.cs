using Microsoft.Extensions.DependencyInjection;
using Tern.Channels.Http;
using Tern.Channels.Telegram;
using Tern.Channels.Webhook;
using Tern.Core.Catalog;

namespace Tern.Channels.Tests;

/// <summary>The channel types as their registrations make them: names, chat rules, capabilities.</summary>
public sealed class ChannelTypeRegistrationTests : IDisposable
{
    private readonly ServiceProvider _provider;
    private readonly ChannelTypeRegistry _types;

    public ChannelTypeRegistrationTests()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(DestinationPolicy.PublicOnly);
        services.AddKeyedSingleton(OutboundHttp.SendClient, (_, _) => OutboundHttp.CreateClient(1, DestinationPolicy.PublicOnly));
        services.AddWebhookChannel(TimeSpan.FromSeconds(5));
        services.AddTelegramChannel(new TelegramIngressOptions(), 64, TimeSpan.FromSeconds(5));
        _provider = services.BuildServiceProvider();
        _types = new ChannelTypeRegistry(_provider.GetServices<IChannelType>());
    }

    public void Dispose() => _provider.Dispose();

    [Fact]
    public void Webhook_and_telegram_are_the_channel_types_one_can_create()
    {
        Assert.Equal("webhook, telegram", _types.KnownList);
        Assert.NotNull(_types.Find("webhook"));
        Assert.NotNull(_types.Find("telegram"));
        Assert.Null(_types.Find("Webhook"));
        Assert.Null(_types.Find("whatsapp"));
        Assert.Null(_types.Find(ChannelTypes.TenantWebhook));
        Assert.Equal("must be one of: webhook, telegram", _types.CheckType("whatsapp"));
    }

    [Theory]
    [InlineData("-1001234567890", true)]
    [InlineData("5150", true)]
    [InlineData("-1001234567890#42", true)]
    [InlineData("@my_channel", true)]
    [InlineData("@my_channel#3", true)]
    [InlineData("0", false)]
    [InlineData("chat-1", false)]
    [InlineData("-100#0", false)]
    [InlineData("-100#x", false)]
    [InlineData("@abc", false)]
    [InlineData("@bad-name", false)]
    public void A_telegram_destination_is_a_chat_id_or_channel_username_with_an_optional_topic(string chat, bool valid) =>
        Assert.Equal(valid, _types.CheckDestinationChat(TelegramChannelType.TypeName, chat) is null);

    [Fact]
    public void Other_channel_types_take_any_chat_and_telegram_sources_take_ids_only()
    {
        Assert.Null(_types.CheckDestinationChat(ChannelTypes.Webhook, "order#12"));
        Assert.Null(_types.CheckSourceChat(TelegramChannelType.TypeName, "-100123"));
        Assert.NotNull(_types.CheckSourceChat(TelegramChannelType.TypeName, "@channel"));
        Assert.Null(_types.CheckSourceChat(ChannelTypes.Webhook, "customer-42"));
    }

    [Fact]
    public void A_telegram_chat_shows_no_button_press_and_no_edit_of_a_forward_and_a_webhook_shows_everything()
    {
        // A bot's limits are its own: in a cluster one instance at a time sends for it.
        Assert.Equal(ChannelCapabilities.OneInstanceAtATime, _types.CapabilitiesOf(TelegramChannelType.TypeName));
        Assert.Equal(ChannelCapabilities.All, _types.CapabilitiesOf(ChannelTypes.Webhook));
        // The tenants' event webhooks have no contract: nothing is held back from them.
        Assert.Equal(ChannelCapabilities.All, _types.CapabilitiesOf(ChannelTypes.TenantWebhook));
    }
}
