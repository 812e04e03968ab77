using System.Text.Json;
using System.Text.Json.Nodes;
using Tern.Channels.Http;
using Tern.Core.Catalog;

namespace Tern.Channels.Webhook;

/// <summary>
/// Plain HTTP webhooks: a URL to POST to and a secret (Standard Webhooks format) to sign with, both channel fields; its
/// <c>webhook</c> settings say how the signature of what is POSTed to it is checked.
/// </summary>
public sealed class WebhookChannelType : IChannelType
{
    public string Name => ChannelTypes.Webhook;

    /// <summary>A receiver gets JSON: it is shown every kind of update.</summary>
    public ChannelCapabilities Capabilities => ChannelCapabilities.All;

    public string? SettingsProperty => ChannelTypes.Webhook;

    public ChannelSettingsShape? SettingsShape { get; } = new(typeof(WebhookSettings), typeof(WebhookSettings), WebhookSettingsJsonContext.Default);

    public string? UrlRule => null;

    /// <summary>The channel's secret must be a Standard Webhooks secret: it signs what Tern sends.</summary>
    public string? CheckSecret(string secret) => WebhookSecret.Check(secret);

    public IReadOnlyList<ChannelFlag> Flags { get; } = [new("inbound-signature", "inbound_signature")];

    public string? CheckDestinationChat(string chat) => CatalogRules.Chat(chat);

    public string? CheckSourceChat(string chat) => CatalogRules.Chat(chat);

    public JsonObject? SettingsFromFlags(IReadOnlyDictionary<string, string> values, List<FieldError> errors) =>
        values.TryGetValue("inbound-signature", out var scheme) ? new JsonObject { ["inbound_signature"] = scheme } : null;

    public ValueTask<ChannelSettings?> PrepareAsync(JsonObject? settings, ChannelDefinition? existing, bool verify, List<FieldError> errors, CancellationToken cancellationToken)
    {
        var current = existing is null ? WebhookSettings.Default : WebhookSettings.Of(existing);
        if (settings is null) return ValueTask.FromResult<ChannelSettings?>(new ChannelSettings(existing?.SettingsJson));
        var before = errors.Count;
        foreach (var (name, _) in settings)
        {
            if (name != "inbound_signature") errors.Add(new FieldError(name, "is not a known field (a webhook channel's settings: inbound_signature)"));
        }
        var scheme = current.InboundSignature;
        if (settings.TryGetPropertyValue("inbound_signature", out var node))
        {
            scheme = node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
            if (scheme is null || !InboundSignatures.All.Contains(scheme))
            {
                errors.Add(new FieldError("inbound_signature", $"must be one of: {string.Join(", ", InboundSignatures.All)}"));
            }
        }
        if (errors.Count > before) return ValueTask.FromResult<ChannelSettings?>(null);
        var stored = scheme is null ? null : JsonSerializer.Serialize(new WebhookSettings(scheme), WebhookSettingsJsonContext.Default.WebhookSettings);
        return ValueTask.FromResult<ChannelSettings?>(new ChannelSettings(stored));
    }

    public JsonObject? Describe(ChannelDefinition channel) =>
        new() { ["inbound_signature"] = WebhookSettings.Of(channel).EffectiveInboundSignature };

    public string Target(ChannelDefinition channel) => channel.Url?.ToString() ?? "-";

    public string Summary(ChannelDefinition channel) =>
        $"({channel.Type}); inbound: POST /hooks/{channel.Type}/{channel.Id}{(channel.Url is null ? "" : $"; outbound: {channel.Url}")}";
}
