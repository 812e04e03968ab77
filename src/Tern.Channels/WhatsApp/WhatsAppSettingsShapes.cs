using System.ComponentModel;
using System.Text.Json.Serialization;

namespace Tern.Channels.WhatsApp;

// The "whatsapp" settings object of the API, as typed shapes for the OpenAPI document. A request is judged field by field
// by WhatsAppChannelType.PrepareAsync (so every problem is named); an answer is written from WhatsAppSettingsShown.

/// <summary>A WhatsApp channel's settings in a request; on an update every field is optional (it changes only what it names).</summary>
public sealed record WhatsAppSettingsRequest(
    [property: Description("Meta's id of the business phone number (WhatsApp > API Setup), not the number itself.")] string? PhoneNumberId = null,
    [property: Description("A system user's access token with whatsapp_business_messaging; write-only, checked with GET /{phone-number-id}.")] string? AccessToken = null,
    [property: Description("The app secret (App settings > Basic); write-only. Meta signs every webhook with it (X-Hub-Signature-256).")] string? AppSecret = null,
    [property: Description("The verify token you enter in Meta's webhook set-up; write-only.")] string? VerifyToken = null,
    [property: Description("The Graph API root; default https://graph.facebook.com/.")] string? BaseUrl = null,
    [property: Description("The Graph API version, e.g. v27.0 (the default).")] string? ApiVersion = null,
    [property: Description("Tern's send limits for this number; 0 lifts one.")] WhatsAppLimitsRequest? Limits = null);

public sealed record WhatsAppLimitsRequest(int? MessagesPerSecond = null, double? PairIntervalSeconds = null, int? PairBurst = null);

/// <summary>A WhatsApp channel's settings as shown: the access token, app secret and verify token never are.</summary>
public sealed record WhatsAppSettingsShown(
    string PhoneNumberId,
    [property: Description("The number as Meta shows it, from the check when the channel was stored.")] string? DisplayPhoneNumber,
    [property: Description("The business name Meta verified.")] string? VerifiedName,
    string BaseUrl,
    string ApiVersion,
    [property: Description("Where Meta's webhook must point: {Tern:Http:PublicUrl} followed by this path.")] string WebhookPath,
    [property: Description("The send limits in force (Meta's documented defaults unless set).")] WhatsAppLimitsShown Limits);

public sealed record WhatsAppLimitsShown(int MessagesPerSecond, double PairIntervalSeconds, int PairBurst);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WhatsAppSettingsRequest))]
[JsonSerializable(typeof(WhatsAppSettingsShown))]
internal sealed partial class WhatsAppSettingsJsonContext : JsonSerializerContext;
