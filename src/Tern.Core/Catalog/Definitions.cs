namespace Tern.Core.Catalog;

/// <summary>
/// The channel types Core itself depends on. Every other type (a platform) is named by its own
/// <see cref="IChannelType"/> in its channel folder; <see cref="ChannelTypeRegistry"/> lists what a Tern knows.
/// </summary>
public static class ChannelTypes
{
    /// <summary>Plain HTTP webhooks; also the default type of a new channel.</summary>
    public const string Webhook = "webhook";

    /// <summary>A tenant's webhook subscription for events; made through the API, not the CLI.</summary>
    public const string TenantWebhook = "tenant-webhook";

    /// <summary>Lane channel id of a webhook subscription: '~' cannot occur in a channel id, so the two never collide.</summary>
    public static string SubscriptionChannelId(string subscriptionId) => SubscriptionPrefix + subscriptionId;

    /// <summary>The subscription a lane channel id stands for, if it is one.</summary>
    public static bool TrySubscriptionId(string channelId, out string subscriptionId)
    {
        subscriptionId = channelId.StartsWith(SubscriptionPrefix, StringComparison.Ordinal) ? channelId[SubscriptionPrefix.Length..] : "";
        return subscriptionId.Length > 0;
    }

    private const string SubscriptionPrefix = "~webhook.";
}

/// <summary>A configured channel: where messages come from and go to.</summary>
/// <param name="Id">Stable identifier, used in URLs (<c>/hooks/{type}/{id}</c>).</param>
/// <param name="Type">One of <see cref="ChannelTypes"/>.</param>
/// <param name="Secret">Shared secret for signatures; never logged or shown.</param>
/// <param name="Url">Outbound target (webhook channels).</param>
/// <param name="MaxConcurrency">Deliveries in flight to this channel at once; null takes the sender default.</param>
/// <param name="TenantId">The tenant that owns it (<see cref="Tenants.Default"/> for operator-made channels).</param>
/// <param name="SettingsJson">Platform-specific settings as a JSON object (e.g. a bot token); may hold secrets, never shown.</param>
/// <param name="PreviousSecret">The secret before the last rotation: it still signs (and is still accepted) until <paramref name="PreviousSecretUntil"/>.</param>
public sealed record ChannelDefinition(
    string Id, string Type, string? Secret, Uri? Url, int? MaxConcurrency, string TenantId = Tenants.Default, string? SettingsJson = null,
    string? PreviousSecret = null, DateTimeOffset? PreviousSecretUntil = null)
{
    /// <summary>The secrets that sign and are accepted at <paramref name="now"/>: the current one, and the previous one during its overlap.</summary>
    public IReadOnlyList<string> SecretsAt(DateTimeOffset now) =>
        Secret is null ? []
        : PreviousSecret is not null && PreviousSecretUntil > now ? [Secret, PreviousSecret]
        : [Secret];

    /// <summary>Secrets stay out of logs even when a record is printed.</summary>
    public override string ToString() =>
        $"ChannelDefinition {{ Id = {Id}, Type = {Type}, Tenant = {TenantId}, Secret = {(Secret is null ? "none" : "***")}{(PreviousSecret is null ? "" : $" (previous until {PreviousSecretUntil:O})")}, Url = {Url}, MaxConcurrency = {MaxConcurrency}, Settings = {(SettingsJson is null ? "none" : "***")} }}";
}

/// <summary>Tenant ids. Channels and routes made by the operator (CLI) belong to the default tenant.</summary>
public static class Tenants
{
    public const string Default = "default";
}

/// <summary>Where a route sends a copy.</summary>
/// <param name="ChannelId">Destination channel.</param>
/// <param name="Chat">Destination chat; null sends to the same chat id as the source message.</param>
public sealed record Destination(string ChannelId, string? Chat)
{
    public override string ToString() => Chat is null ? ChannelId : ChannelId + ":" + Chat;

    /// <summary>Parses <c>channel</c> or <c>channel:chat</c>.</summary>
    public static bool TryParse(string text, out Destination destination)
    {
        destination = default!;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var channel = colon < 0 ? text : text[..colon];
        var chat = colon < 0 ? null : text[(colon + 1)..];
        if (!Identifiers.IsValid(channel) || (chat is not null && chat.Length == 0)) return false;
        destination = new Destination(channel, chat);
        return true;
    }
}

/// <summary>Routes messages from a source channel (optionally some chats only) to destinations.</summary>
/// <param name="OptionsJson">Platform-specific routing options (filters, transforms, copy or forward) as a JSON object.</param>
public sealed record RouteDefinition(
    string Id,
    string SourceChannel,
    IReadOnlyList<string>? SourceChats,
    IReadOnlyList<Destination> Destinations,
    bool Enabled = true,
    string TenantId = Tenants.Default,
    string? OptionsJson = null)
{
    public bool Matches(string channelId, string chat) =>
        Enabled
        && string.Equals(channelId, SourceChannel, StringComparison.Ordinal)
        && (SourceChats is null || SourceChats.Count == 0 || SourceChats.Contains(chat, StringComparer.Ordinal));
}

/// <summary>Rules for ids of channels and routes: they appear in URLs and CLI arguments.</summary>
public static class Identifiers
{
    public const int MaxLength = 64;

    public static bool IsValid(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxLength) return false;
        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) return false;
        }
        return true;
    }

    public const string Rule = "1-64 characters of a-z, A-Z, 0-9, '-', '_' or '.'";
}
