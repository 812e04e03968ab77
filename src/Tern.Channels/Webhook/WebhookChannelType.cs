using System.Text.Json.Nodes;
using Tern.Core.Catalog;

namespace Tern.Channels.Webhook;

/// <summary>Plain HTTP webhooks: a URL to POST to and a secret to sign with, both channel fields; no settings of its own.</summary>
public sealed class WebhookChannelType : IChannelType
{
    public string Name => ChannelTypes.Webhook;

    /// <summary>A receiver gets JSON: it is shown every kind of update.</summary>
    public ChannelCapabilities Capabilities => ChannelCapabilities.All;

    public string? SettingsProperty => null;

    public ChannelSettingsShape? SettingsShape => null;

    public string? UrlRule => null;

    public string? SecretRule => null;

    public IReadOnlyList<ChannelFlag> Flags { get; } = [];

    public string? CheckDestinationChat(string chat) => CatalogRules.Chat(chat);

    public string? CheckSourceChat(string chat) => CatalogRules.Chat(chat);

    public JsonObject? SettingsFromFlags(IReadOnlyDictionary<string, string> values, List<FieldError> errors) => null;

    public ValueTask<ChannelSettings?> PrepareAsync(JsonObject? settings, ChannelDefinition? existing, bool verify, List<FieldError> errors, CancellationToken cancellationToken)
    {
        if (settings is not null)
        {
            errors.Add(new FieldError("", "a webhook channel has no settings object"));
            return ValueTask.FromResult<ChannelSettings?>(null);
        }
        return ValueTask.FromResult<ChannelSettings?>(new ChannelSettings(existing?.SettingsJson));
    }

    public JsonObject? Describe(ChannelDefinition channel) => null;

    public string Target(ChannelDefinition channel) => channel.Url?.ToString() ?? "-";

    public string Summary(ChannelDefinition channel) =>
        $"({channel.Type}); inbound: POST /hooks/{channel.Type}/{channel.Id}{(channel.Url is null ? "" : $"; outbound: {channel.Url}")}";
}
