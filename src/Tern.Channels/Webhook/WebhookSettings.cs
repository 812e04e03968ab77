using System.Text.Json;
using System.Text.Json.Serialization;
using Tern.Core.Catalog;

namespace Tern.Channels.Webhook;

/// <summary>How a webhook channel checks the signature of what is POSTed to it (when it has a secret).</summary>
public static class InboundSignatures
{
    /// <summary><c>X-Hub-Signature-256: sha256=&lt;hex&gt;</c>, HMAC-SHA256 of the body with the secret's UTF-8 bytes (as GitHub and Meta sign).</summary>
    public const string HmacSha256 = "hmac-sha256";

    /// <summary>Standard Webhooks: webhook-id, webhook-timestamp (within 5 minutes) and webhook-signature, with the secret's key.</summary>
    public const string StandardWebhooks = "standard-webhooks";

    public static IReadOnlyList<string> All { get; } = [HmacSha256, StandardWebhooks];
}

/// <summary>The <c>webhook</c> settings object of a webhook channel, as stored, requested and shown.</summary>
/// <param name="InboundSignature">One of <see cref="InboundSignatures"/>; <c>hmac-sha256</c> when not given.</param>
public sealed record WebhookSettings(string? InboundSignature)
{
    public string EffectiveInboundSignature => InboundSignature ?? InboundSignatures.HmacSha256;

    /// <summary>The channel's settings; the defaults when it has none (or they do not parse, which a write never stores).</summary>
    public static WebhookSettings Of(ChannelDefinition channel)
    {
        if (channel.SettingsJson is null) return Default;
        try
        {
            return JsonSerializer.Deserialize(channel.SettingsJson, WebhookSettingsJsonContext.Default.WebhookSettings) ?? Default;
        }
        catch (JsonException)
        {
            return Default;
        }
    }

    public static WebhookSettings Default { get; } = new((string?)null);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WebhookSettings))]
internal sealed partial class WebhookSettingsJsonContext : JsonSerializerContext;
