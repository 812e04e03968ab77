using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Tern.Server.Api;

// Requests: every field nullable so a missing one is reported by name rather than failing the parse.

public sealed record CreateTenantRequest(string? Id, int? RateLimitPerMinute);

public sealed record CreateKeyRequest(string? Tenant, bool? Admin, string? Name);

/// <summary>A channel; a channel type with settings takes them as one object named after the type (<c>"{type}": {…}</c>).</summary>
/// <remarks>
/// The settings objects are the channel types' own (<see cref="Core.Catalog.IChannelType.SettingsShape"/>), so they arrive
/// as extension data and are judged by the type; any other unknown field is still a 400 naming it.
/// </remarks>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record ChannelRequest(string? Id, string? Type, string? Url, string? Secret, int? MaxConcurrency)
{
    [JsonExtensionData]
    public JsonObject? TypeSettings { get; set; } // settable: source generation binds init-only properties like constructor parameters
}

/// <param name="Options">Filters, transforms and copy/forward mode (docs/routing.md); checked on write.</param>
public sealed record RouteRequest(string? Id, string? From, IReadOnlyList<string>? Chats, IReadOnlyList<string>? To, bool? Enabled, JsonElement? Options = null);

public sealed record MediaRequest(string? Type, string? Url, string? FileId);

/// <summary>A message to send; a channel type with send options (<see cref="Core.Catalog.IChannelSendOptions"/>) takes them as one object named after the type.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record SendMessageRequest(string? Channel, string? Chat, string? Text, MediaRequest? Media, string? IdempotencyKey)
{
    [JsonExtensionData]
    public JsonObject? TypeOptions { get; set; } // settable: source generation binds init-only properties like constructor parameters
}

/// <param name="Secret">A Standard Webhooks secret: whsec_ and the base64 of 24–64 random bytes. Left out, Tern makes one and shows it once.</param>
public sealed record WebhookRequest(string? Url, IReadOnlyList<string>? Events, string? Secret);

/// <param name="Secret">The new secret (whsec_ and the base64 of 24–64 random bytes); left out, Tern makes one and shows it once.</param>
/// <param name="OverlapSeconds">How long the replaced secret still signs, 0 to 2592000 (30 days); default Tern:Webhooks:SecretOverlap (24 h).</param>
public sealed record RotateSecretRequest(string? Secret, int? OverlapSeconds);

// Responses.

public sealed record TenantResponse(string Id, int RateLimitPerMinute, DateTimeOffset CreatedAt);

/// <param name="Key">The key itself: in the answer that creates it and never again.</param>
public sealed record KeyResponse(string Id, string? Tenant, bool Admin, string? Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, string? Key);

/// <param name="HasSecret">Whether the channel has a secret (the secret itself is write-only).</param>
/// <param name="PreviousSecretExpiresAt">After the secret was changed, until when the previous one still signs and is still accepted.</param>
public sealed record ChannelResponse(string Id, string Type, string? Url, bool HasSecret, int? MaxConcurrency, string InboundPath, DateTimeOffset? PreviousSecretExpiresAt = null)
{
    /// <summary>The channel type's settings as it shows them, under the type's name (never a secret).</summary>
    /// <remarks>Elements, not a <see cref="JsonObject"/>: a JsonObject as extension data is written as a nested object, which is not JSON.</remarks>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? TypeSettings { get; set; } // settable: source generation binds init-only properties like constructor parameters
}

public sealed record IngressResponse(string Mode, string State, string? Detail, string? Bot, DateTimeOffset? LastUpdateAt, long Updates, DateTimeOffset Since);

public sealed record FailingDestinationResponse(string Chat, int Failures, string LastError, DateTimeOffset FirstFailureAt, DateTimeOffset LastFailureAt, DateTimeOffset? ParkedUntil);

public sealed record ChannelStatusResponse(
    string Channel, long Pending, long Failed, long Sent, double? LagSeconds, string? LastError, DateTimeOffset? LastErrorAt, DateTimeOffset? ParkedUntil,
    DateTimeOffset? PausedUntil = null, IngressResponse? Ingress = null, IReadOnlyList<FailingDestinationResponse>? FailingDestinations = null);

public sealed record RouteResponse(string Id, string From, IReadOnlyList<string>? Chats, IReadOnlyList<string> To, bool Enabled, JsonElement? Options = null);

public sealed record StatusChangeResponse(DateTimeOffset At, string Status, string? Detail);

public sealed record MessageResponse(
    string Id,
    string Direction,
    string Channel,
    string Chat,
    string Status,
    string? PlatformId,
    string? Text,
    string? Sender,
    JsonElement? Attachments,
    int Attempts,
    string? LastError,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    IReadOnlyList<StatusChangeResponse>? History);

public sealed record MessagePage(IReadOnlyList<MessageResponse> Items, int Page, int PageSize, long Total);

/// <param name="Secret">Shown in the answer that creates the subscription (or rotates its secret) and never again.</param>
/// <param name="Status"><c>active</c>, or <c>disabled</c> after its receiver answered 410 Gone (no events are queued for it until it is enabled).</param>
/// <param name="PreviousSecretExpiresAt">During a rotation, until when the replaced secret still signs (every delivery carries both signatures).</param>
public sealed record WebhookResponse(
    string Id, string Url, IReadOnlyList<string> Events, DateTimeOffset CreatedAt, string? Secret, string Status,
    DateTimeOffset? DisabledAt, string? DisabledReason, DateTimeOffset? PreviousSecretExpiresAt);

public sealed record WebhookDeliveryResponse(long Id, string Type, string Subject, string Status, int Attempts, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record WebhookDeliveryPage(IReadOnlyList<WebhookDeliveryResponse> Items, int Page, int PageSize, long Total);

/// <summary>
/// The API's JSON: snake_case, and unknown fields in a request are an error naming the field, so a
/// typo never silently does nothing.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(CreateTenantRequest))]
[JsonSerializable(typeof(CreateKeyRequest))]
[JsonSerializable(typeof(ChannelRequest))]
[JsonSerializable(typeof(RouteRequest))]
[JsonSerializable(typeof(SendMessageRequest))]
[JsonSerializable(typeof(WebhookRequest))]
[JsonSerializable(typeof(RotateSecretRequest))]
[JsonSerializable(typeof(TenantResponse))]
[JsonSerializable(typeof(TenantResponse[]))]
[JsonSerializable(typeof(KeyResponse))]
[JsonSerializable(typeof(KeyResponse[]))]
[JsonSerializable(typeof(ChannelResponse))]
[JsonSerializable(typeof(ChannelResponse[]))]
[JsonSerializable(typeof(ChannelStatusResponse))]
[JsonSerializable(typeof(RouteResponse))]
[JsonSerializable(typeof(RouteResponse[]))]
[JsonSerializable(typeof(MessageResponse))]
[JsonSerializable(typeof(MessagePage))]
[JsonSerializable(typeof(WebhookResponse))]
[JsonSerializable(typeof(WebhookResponse[]))]
[JsonSerializable(typeof(WebhookDeliveryPage))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
