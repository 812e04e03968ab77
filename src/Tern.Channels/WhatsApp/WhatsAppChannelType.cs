using System.Text.Json;
using System.Text.Json.Nodes;
using Tern.Channels.Http;
using Tern.Channels.WhatsApp.Graph;
using Tern.Core.Catalog;

namespace Tern.Channels.WhatsApp;

/// <summary>
/// WhatsApp Business Cloud API phone numbers as a channel type: the <c>whatsapp</c> settings object (phone number id,
/// access token, app secret, verify token, Graph base URL and version), checked and then verified with
/// <c>GET /{phone-number-id}</c>; chats are users' phone numbers or business-scoped user ids.
/// </summary>
public sealed class WhatsAppChannelType(GraphApiClient client, DestinationPolicy destinations, TimeSpan callTimeout) : IChannelType, IChannelSendOptions
{
    /// <summary>The type's name in channel definitions (<see cref="ChannelDefinition.Type"/>).</summary>
    public const string TypeName = "whatsapp";

    public string Name => TypeName;

    /// <summary>
    /// A chat shows no button press as a message of its own (a WhatsApp reply button is an ordinary message), and sending
    /// is not bound to one instance: Meta's limits are per phone number and recipient, kept per instance.
    /// </summary>
    public ChannelCapabilities Capabilities => ChannelCapabilities.None;

    public string? SettingsProperty => TypeName;

    public ChannelSettingsShape? SettingsShape { get; } = new(typeof(WhatsAppSettingsRequest), typeof(WhatsAppSettingsShown), WhatsAppSettingsJsonContext.Default);

    public string SendOptionsProperty => TypeName;

    public ChannelSettingsShape SendOptionsShape => WhatsAppSendOptions.Shape;

    public string? CheckSendOptions(JsonObject options, bool hasText, bool hasMedia, List<FieldError> errors) =>
        WhatsAppSendOptions.Check(options, hasText, hasMedia, errors);

    public string? UrlRule => "a WhatsApp channel has no URL (it sends through the Graph API; set whatsapp.base_url for another Graph root)";

    public string? CheckSecret(string secret) => "a WhatsApp channel's secret is its app secret: set whatsapp.app_secret";

    public IReadOnlyList<ChannelFlag> Flags { get; } =
    [
        new("phone-number-id", "phone_number_id"), new("access-token", "access_token", Secret: true), new("app-secret", "app_secret", Secret: true),
        new("verify-token", "verify_token", Secret: true), new("base-url", "base_url"), new("api-version", "api_version"), new("limits", "limits"),
    ];

    public string? CheckDestinationChat(string chat) => WhatsAppChats.Check(chat);

    public string? CheckSourceChat(string chat) => WhatsAppChats.Check(chat);

    private static readonly string[] Fields = ["phone_number_id", "access_token", "app_secret", "verify_token", "base_url", "api_version", "limits"];

    private static readonly string[] LimitNames = ["messages_per_second", "pair_interval_seconds", "pair_burst"];

    /// <summary>messages_per_second=80,pair_burst=3 for --limits; the ranges are checked with the settings.</summary>
    public JsonObject? SettingsFromFlags(IReadOnlyDictionary<string, string> values, List<FieldError> errors) =>
        ChannelFlagSettings.FromFlags(Flags, values, LimitNames, ["pair_interval_seconds"], errors);

    public async ValueTask<ChannelSettings?> PrepareAsync(JsonObject? settings, ChannelDefinition? existing, bool verify, List<FieldError> errors, CancellationToken cancellationToken)
    {
        var current = existing is null ? null : WhatsAppSettings.Of(existing);
        if (settings is null)
        {
            if (existing is not null) return new ChannelSettings(existing.SettingsJson, OwnsSecret: true, existing.Secret);
            errors.Add(new FieldError("", "is required for a whatsapp channel ({\"phone_number_id\": \"…\", \"access_token\": \"…\", \"app_secret\": \"…\", \"verify_token\": \"…\"})"));
            return null;
        }
        var before = errors.Count;
        foreach (var (name, _) in settings)
        {
            if (!Fields.Contains(name)) Add(errors, name, "is not a known field");
        }

        var phoneNumberId = Required(settings, "phone_number_id", current?.PhoneNumberId, WhatsAppSettings.CheckPhoneNumberId, errors);
        var accessToken = Required(settings, "access_token", current?.AccessToken, WhatsAppSettings.CheckAccessToken, errors);
        var appSecret = Required(settings, "app_secret", existing?.Secret, WhatsAppSettings.CheckAppSecret, errors);
        var verifyToken = Required(settings, "verify_token", current?.VerifyToken, WhatsAppSettings.CheckVerifyToken, errors);

        var baseUrl = current?.BaseUrl;
        if (Text(settings, "base_url", errors) is { } rawBaseUrl)
        {
            Add(errors, "base_url", CatalogRules.Url(rawBaseUrl, out baseUrl));
            // Tern calls the Graph root with the access token: a tenant must not point it at the host's own network.
            if (baseUrl is not null) Add(errors, "base_url", await destinations.CheckAsync(baseUrl, cancellationToken).ConfigureAwait(false));
        }
        var apiVersion = current?.ApiVersion;
        if (Text(settings, "api_version", errors) is { } rawVersion)
        {
            Add(errors, "api_version", WhatsAppSettings.CheckApiVersion(rawVersion));
            apiVersion = rawVersion;
        }
        var limits = current?.Limits;
        if (settings["limits"] is { } limitsNode)
        {
            if (limitsNode is not JsonObject l)
            {
                Add(errors, "limits", "has the wrong type or is malformed");
            }
            else
            {
                foreach (var (name, _) in l)
                {
                    if (!LimitNames.Contains(name)) Add(errors, "limits." + name, "is not a limit (known: " + string.Join(", ", LimitNames) + ")");
                }
                var basis = limits ?? WhatsAppLimits.Default;
                limits = new WhatsAppLimits(
                    Number<int>(l, "messages_per_second", errors) ?? basis.MessagesPerSecond,
                    Number<double>(l, "pair_interval_seconds", errors) ?? basis.PairIntervalSeconds,
                    Number<int>(l, "pair_burst", errors) ?? basis.PairBurst);
                Add(errors, "limits", WhatsAppLimits.Check(limits));
            }
        }
        if (errors.Count > before || !verify) return null;

        var wanted = new WhatsAppSettings(phoneNumberId!, accessToken!, verifyToken!, baseUrl, apiVersion, Limits: limits);
        var (verified, field, problem) = await VerifyAsync(wanted, cancellationToken).ConfigureAwait(false);
        if (verified is null)
        {
            errors.Add(new FieldError(field!, problem!, Remote: true));
            return null;
        }
        return new ChannelSettings(verified.ToJson(), OwnsSecret: true, appSecret);
    }

    /// <summary>
    /// Asks Meta for the phone number with the token. Returns the settings with the number's display form and verified name,
    /// or which setting is wrong and why (never repeating a secret).
    /// </summary>
    private async Task<(WhatsAppSettings? Settings, string? Field, string? Problem)> VerifyAsync(WhatsAppSettings settings, CancellationToken cancellationToken)
    {
        var answer = await client.GetPhoneNumberAsync(settings.Endpoint(), callTimeout, cancellationToken).ConfigureAwait(false);
        if (answer.Error is { } error)
        {
            return error switch
            {
                { IsNetwork: true } => (null, "base_url", $"cannot reach the Graph API at {settings.GraphBaseUrl}: {error.Message}"),
                { Code: 190 } => (null, "access_token", $"Meta refused the access token {error}; make a new one (a system user's token does not expire)"),
                { Code: 100 } or { Code: 803 } => (null, "phone_number_id", $"Meta has no phone number {settings.PhoneNumberId} that this access token can reach {error}"),
                { Code: 10 } or { Code: 200 } => (null, "access_token", $"the access token may not read phone number {settings.PhoneNumberId} {error}; give it whatsapp_business_management and whatsapp_business_messaging"),
                { Code: 0, HttpStatus: 404 } => (null, "base_url", $"{settings.GraphBaseUrl} answered 404: not a Graph API root"),
                _ => (null, "access_token", $"GET /{settings.PhoneNumberId} failed: {error}"),
            };
        }
        if (answer.Value is not { } number || number.Id != settings.PhoneNumberId)
        {
            return (null, "phone_number_id", $"Meta did not answer with phone number {settings.PhoneNumberId}");
        }
        return (settings with { DisplayPhoneNumber = number.DisplayPhoneNumber, VerifiedName = number.VerifiedName }, null, null);
    }

    public JsonObject? Describe(ChannelDefinition channel)
    {
        if (WhatsAppSettings.Of(channel) is not { } w) return null;
        var l = w.EffectiveLimits;
        var shown = new WhatsAppSettingsShown(w.PhoneNumberId, w.DisplayPhoneNumber, w.VerifiedName, w.GraphBaseUrl.ToString(), w.GraphVersion, HookPath(channel.Id),
            new WhatsAppLimitsShown(l.MessagesPerSecond, l.PairIntervalSeconds, l.PairBurst));
        return JsonSerializer.SerializeToNode(shown, WhatsAppSettingsJsonContext.Default.WhatsAppSettingsShown)!.AsObject();
    }

    public string Target(ChannelDefinition channel) =>
        WhatsAppSettings.Of(channel) is { } w ? $"{w.DisplayPhoneNumber ?? w.PhoneNumberId}{(w.VerifiedName is null ? "" : $" ({w.VerifiedName})")}" : "-";

    public string Summary(ChannelDefinition channel)
    {
        var settings = WhatsAppSettings.Of(channel);
        if (settings is null) return $"({channel.Type})";
        return $"(whatsapp, {settings.DisplayPhoneNumber ?? settings.PhoneNumberId}); inbound: point the app's WhatsApp webhook at {{Tern:Http:PublicUrl}}{HookPath(channel.Id)} with the verify token";
    }

    public static string HookPath(string channelId) => $"/hooks/{TypeName}/{channelId}";

    /// <summary>A field a new channel must have; on an update, the stored value unless the request names a new one.</summary>
    private static string? Required(JsonObject settings, string name, string? stored, Func<string?, string?> check, List<FieldError> errors)
    {
        var given = Text(settings, name, errors);
        if (given is null && errors.Exists(e => e.Field == name)) return null;
        if (given is null && stored is not null) return stored;
        Add(errors, name, check(given));
        return given;
    }

    private static void Add(List<FieldError> errors, string field, string? problem)
    {
        if (problem is not null && !errors.Exists(e => e.Field == field)) errors.Add(new FieldError(field, problem));
    }

    private static T? Number<T>(JsonObject limits, string name, List<FieldError> errors) where T : struct
    {
        var node = limits[name];
        if (node is null) return null;
        if (node is JsonValue value && value.TryGetValue<T>(out var number)) return number;
        Add(errors, "limits." + name, "has the wrong type or is malformed");
        return null;
    }

    private static string? Text(JsonObject settings, string name, List<FieldError> errors)
    {
        var node = settings[name];
        if (node is null) return null;
        if (node is JsonValue value && value.TryGetValue<string>(out var text)) return text;
        Add(errors, name, "has the wrong type or is malformed");
        return null;
    }
}
