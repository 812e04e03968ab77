using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tern.Channels.WhatsApp.Graph;
using Tern.Core.Catalog;

namespace Tern.Channels.WhatsApp;

/// <summary>
/// A WhatsApp channel's settings, stored as the channel's settings JSON (sealed at rest like every channel's). The access
/// token and the verify token are secrets: written, never shown (<see cref="ToString"/> hides them). The app secret, which
/// signs Meta's webhooks, is the channel's secret (<see cref="ChannelDefinition.Secret"/>), not part of this record.
/// </summary>
/// <param name="PhoneNumberId">Meta's id of the business phone number (not the number itself).</param>
/// <param name="AccessToken">A system user's (permanent) or temporary access token with whatsapp_business_messaging.</param>
/// <param name="VerifyToken">What Meta's webhook set-up sends back in <c>hub.verify_token</c>; chosen by the operator.</param>
/// <param name="BaseUrl">The Graph API root; null for Meta's.</param>
/// <param name="ApiVersion">The Graph API version calls go to; null for <see cref="DefaultApiVersion"/>.</param>
/// <param name="DisplayPhoneNumber">The number as Meta shows it, from the check when the channel was stored.</param>
/// <param name="VerifiedName">The business name Meta verified, from the same check.</param>
/// <param name="Limits">Tern's sending limits for the number; null for <see cref="WhatsAppLimits.Default"/>.</param>
public sealed partial record WhatsAppSettings(
    string PhoneNumberId,
    string AccessToken,
    string VerifyToken,
    Uri? BaseUrl = null,
    string? ApiVersion = null,
    string? DisplayPhoneNumber = null,
    string? VerifiedName = null,
    WhatsAppLimits? Limits = null)
{
    public WhatsAppLimits EffectiveLimits => Limits ?? WhatsAppLimits.Default;

    public static readonly Uri DefaultBaseUrl = new("https://graph.facebook.com/");

    /// <summary>The Graph API version Tern was checked against; an operator moves to a newer one with <c>api_version</c>.</summary>
    public const string DefaultApiVersion = "v27.0";

    public Uri GraphBaseUrl => BaseUrl ?? DefaultBaseUrl;

    public string GraphVersion => ApiVersion ?? DefaultApiVersion;

    // Parsed once per channel definition (a catalog refresh makes new definitions; old ones go with their snapshot).
    private static readonly ConditionalWeakTable<ChannelDefinition, Parsed?> ByChannel = [];

    private sealed record Parsed(WhatsAppSettings Settings, GraphEndpoint Endpoint);

    /// <summary>A channel's settings, parsed once per definition; null when they are missing or broken.</summary>
    public static WhatsAppSettings? Of(ChannelDefinition channel) => Parse(channel)?.Settings;

    /// <summary>Where a channel's Graph API calls go, made once per definition; null when its settings are missing or broken.</summary>
    public static GraphEndpoint? EndpointOf(ChannelDefinition channel) => Parse(channel)?.Endpoint;

    private static Parsed? Parse(ChannelDefinition channel) =>
        ByChannel.GetValue(channel, c => FromJson(c.SettingsJson) is { } settings ? new Parsed(settings, settings.Endpoint()) : null);

    public GraphEndpoint Endpoint() => new(GraphBaseUrl, GraphVersion, PhoneNumberId, AccessToken);

    public override string ToString() =>
        $"WhatsAppSettings {{ PhoneNumberId = {PhoneNumberId}, Number = {DisplayPhoneNumber}, Graph = {GraphBaseUrl}{GraphVersion}, AccessToken = ***, VerifyToken = *** }}";

    /// <summary>Meta's phone number ids are decimal numbers (e.g. 106540352242922).</summary>
    public static string? CheckPhoneNumberId(string? id) =>
        string.IsNullOrWhiteSpace(id) ? "is required (the Phone number ID in Meta's app dashboard, WhatsApp > API Setup; not the phone number itself)"
        : id.Length > 32 || id.AsSpan().ContainsAnyExceptInRange('0', '9') ? "is not a phone number id (digits only, e.g. 106540352242922; not the phone number itself)"
        : null;

    /// <summary>An access token: one opaque word; its validity is for Meta to say (checked when the channel is stored).</summary>
    public static string? CheckAccessToken(string? token) =>
        string.IsNullOrWhiteSpace(token) ? "is required (a system user's access token with whatsapp_business_messaging)"
        : token.Length is < 16 or > 4096 || token.AsSpan().ContainsAnyExcept(TokenChars) ? "is not an access token (one word of letters, digits, '-', '_', '.', '|', 16–4096 characters)"
        : null;

    /// <summary>The app secret (App settings > Basic): Meta signs every webhook with it.</summary>
    public static string? CheckAppSecret(string? secret) =>
        string.IsNullOrWhiteSpace(secret) ? "is required (App settings > Basic > App secret: Meta signs every webhook with it)"
        : secret.Length is < 16 or > 256 || secret.AsSpan().ContainsAnyExcept(TokenChars) ? "is not an app secret (one word of 16–256 letters and digits)"
        : null;

    /// <summary>The verify token: any string the operator chooses and types into Meta's webhook set-up as well.</summary>
    public static string? CheckVerifyToken(string? token) =>
        string.IsNullOrEmpty(token) ? "is required (a string you choose and enter as the Verify token in Meta's webhook set-up)"
        : token.Length is < 8 or > 256 || token.AsSpan().ContainsAnyExceptInRange('!', '~') ? "must be 8–256 printable ASCII characters without spaces"
        : null;

    public static string? CheckApiVersion(string? version) =>
        version is null || VersionPattern().IsMatch(version) ? null : "must be a Graph API version such as v27.0";

    [GeneratedRegex(@"^v\d{1,3}\.\d{1,3}$")]
    private static partial Regex VersionPattern();

    private static readonly SearchValues<char> TokenChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.|");

    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("phone_number_id", PhoneNumberId);
            json.WriteString("access_token", AccessToken);
            json.WriteString("verify_token", VerifyToken);
            if (BaseUrl is not null) json.WriteString("base_url", BaseUrl.ToString());
            if (ApiVersion is not null) json.WriteString("api_version", ApiVersion);
            if (DisplayPhoneNumber is not null) json.WriteString("display_phone_number", DisplayPhoneNumber);
            if (VerifiedName is not null) json.WriteString("verified_name", VerifiedName);
            if (Limits is { } limits)
            {
                json.WriteStartObject("limits");
                json.WriteNumber("messages_per_second", limits.MessagesPerSecond);
                json.WriteNumber("pair_interval_seconds", limits.PairIntervalSeconds);
                json.WriteNumber("pair_burst", limits.PairBurst);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads stored settings (written by <see cref="ToJson"/>); null when they are missing or broken.</summary>
    public static WhatsAppSettings? FromJson(string? json)
    {
        if (string.IsNullOrEmpty(json)) return null;
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            if (String(root, "phone_number_id") is not { } id || String(root, "access_token") is not { } token || String(root, "verify_token") is not { } verify) return null;
            WhatsAppLimits? limits = null;
            if (root.TryGetProperty("limits", out var l) && l.ValueKind == JsonValueKind.Object)
            {
                var d = WhatsAppLimits.Default;
                limits = new WhatsAppLimits(
                    l.TryGetProperty("messages_per_second", out var mps) ? mps.GetInt32() : d.MessagesPerSecond,
                    l.TryGetProperty("pair_interval_seconds", out var pi) ? pi.GetDouble() : d.PairIntervalSeconds,
                    l.TryGetProperty("pair_burst", out var pb) ? pb.GetInt32() : d.PairBurst);
            }
            return new WhatsAppSettings(
                id, token, verify,
                String(root, "base_url") is { } baseUrl ? new Uri(baseUrl) : null,
                String(root, "api_version"),
                String(root, "display_phone_number"),
                String(root, "verified_name"),
                limits);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }

        static string? String(JsonElement root, string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }
}
