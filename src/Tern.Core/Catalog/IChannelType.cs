using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace Tern.Core.Catalog;

/// <summary>A problem with one input field, named by its API (JSON) name: <c>id</c>, <c>max_concurrency</c>, <c>{type}.token</c>, <c>to[1]</c>.</summary>
/// <param name="Remote">
/// Found by asking the platform (e.g. getMe refused the token), not by looking at the value: the value
/// is well-formed, so a one-line rendering does not repeat it.
/// </param>
public sealed record FieldError(string Field, string Message, bool Remote = false);

/// <summary>What a channel type stores for a channel: its settings JSON and, when the type makes its own secret, that secret.</summary>
/// <param name="SettingsJson">The channel's settings (<see cref="ChannelDefinition.SettingsJson"/>); may hold secrets.</param>
/// <param name="OwnsSecret">The type makes the channel's secret itself (<paramref name="Secret"/>); otherwise the secret given with the channel is kept.</param>
public sealed record ChannelSettings(string? SettingsJson, bool OwnsSecret = false, string? Secret = null);

/// <summary>A command-line flag of a channel type (without "--") and the settings field it sets.</summary>
/// <param name="Secret">The value is a secret: never repeated in a message.</param>
public sealed record ChannelFlag(string Flag, string Field, bool Secret = false);

/// <summary>
/// The .NET shapes of a channel type's settings object, for the API's description (OpenAPI): what requests
/// take and what answers show. <see cref="IChannelType.PrepareAsync"/> stays the judge of a request; the
/// <paramref name="Shown"/> type is what <see cref="IChannelType.Describe"/> writes.
/// </summary>
/// <param name="Types">Resolves both types without reflection (a source-generated context), so the description works trimmed and native.</param>
public sealed record ChannelSettingsShape(Type Request, Type Shown, IJsonTypeInfoResolver Types);

/// <summary>
/// One platform, as the application services see it: its chat-id rules, its settings (checked and,
/// where the platform can tell, verified), and how a channel of it is described without its secrets.
/// The CLI and the API both reach the settings through <see cref="PrepareAsync"/>, so they give the
/// same answers; field names in its errors are relative to the settings object (<c>token</c>, <c>limits</c>;
/// "" is the object itself).
/// </summary>
public interface IChannelType
{
    /// <summary>The type's name, as in <see cref="ChannelDefinition.Type"/> (<c>webhook</c>, or a platform's name).</summary>
    string Name { get; }

    /// <summary>What its chats can show (the router leaves out what they could not).</summary>
    ChannelCapabilities Capabilities { get; }

    /// <summary>The name of the per-type settings object in API requests and answers (the type's name, by convention); null when the type has none.</summary>
    string? SettingsProperty { get; }

    /// <summary>The settings object's shapes for the API description; null exactly when <see cref="SettingsProperty"/> is.</summary>
    ChannelSettingsShape? SettingsShape { get; }

    /// <summary>Why a channel of this type takes no <c>url</c>; null when it takes one.</summary>
    string? UrlRule { get; }

    /// <summary>The problem with <paramref name="secret"/> as a channel of this type's <c>secret</c> (or why it takes none); null when it is fine.</summary>
    string? CheckSecret(string secret);

    /// <summary>The problem with a route's destination chat on a channel of this type, or null.</summary>
    string? CheckDestinationChat(string chat);

    /// <summary>The problem with a route's source chat on a channel of this type, or null.</summary>
    string? CheckSourceChat(string chat);

    /// <summary>The flags of <c>tern channels add --type NAME</c> that make up the settings object.</summary>
    IReadOnlyList<ChannelFlag> Flags { get; }

    /// <summary>
    /// The settings object the flags describe (flag name without "--" → value), the same object the API
    /// takes; null when the type has no settings. Only what cannot be written as JSON from a flag (e.g.
    /// the syntax of <c>--limits</c>) is a problem here, by field; everything else is left to <see cref="PrepareAsync"/>.
    /// </summary>
    JsonObject? SettingsFromFlags(IReadOnlyDictionary<string, string> values, List<FieldError> errors);

    /// <summary>
    /// Checks a settings object (over <paramref name="existing"/>'s settings for an update) and, when
    /// <paramref name="verify"/> and it is valid, verifies it with the platform. Returns what to store, or
    /// null with the problems in <paramref name="errors"/>.
    /// </summary>
    ValueTask<ChannelSettings?> PrepareAsync(JsonObject? settings, ChannelDefinition? existing, bool verify, List<FieldError> errors, CancellationToken cancellationToken);

    /// <summary>The channel's settings as shown in answers (the <see cref="SettingsProperty"/> object), never with secrets; null when there is nothing to show.</summary>
    JsonObject? Describe(ChannelDefinition channel);

    /// <summary>One short line for listings: where the channel sends or which bot it is; never a secret.</summary>
    string Target(ChannelDefinition channel);

    /// <summary>What a new channel is and how messages reach it, e.g. <c>(webhook); inbound: POST /hooks/webhook/shop</c>; never a secret.</summary>
    string Summary(ChannelDefinition channel);
}

/// <summary>The channel types a Tern knows, in the order they are listed in messages.</summary>
public sealed class ChannelTypeRegistry
{
    private readonly IChannelType[] _types;

    public ChannelTypeRegistry(IEnumerable<IChannelType> types)
    {
        _types = types.ToArray();
        KnownList = string.Join(", ", _types.Select(t => t.Name));
    }

    public IReadOnlyList<IChannelType> All => _types;

    /// <summary>What chats of <paramref name="type"/> can show; everything for a type without a contract (tenant event webhooks).</summary>
    public ChannelCapabilities CapabilitiesOf(string? type) => Find(type)?.Capabilities ?? ChannelCapabilities.All;

    /// <summary>The names, comma-separated, for messages ("must be one of: …").</summary>
    public string KnownList { get; }

    public IChannelType? Find(string? name) => name is null ? null : Array.Find(_types, t => t.Name == name);

    /// <summary>The type whose settings object has this name in requests.</summary>
    public IChannelType? BySettingsProperty(string property) => Array.Find(_types, t => t.SettingsProperty == property);

    /// <summary>The type whose send options object has this name in <c>POST /v1/messages</c>.</summary>
    public IChannelSendOptions? BySendOptionsProperty(string property) =>
        _types.OfType<IChannelSendOptions>().FirstOrDefault(t => t.SendOptionsProperty == property);

    public string? CheckType(string? name) => Find(name) is null ? $"must be one of: {KnownList}" : null;

    /// <summary>A destination chat on a channel of this type (a type Tern does not know takes any chat of 1–256 characters).</summary>
    public string? CheckDestinationChat(string type, string chat) => Find(type) is { } known ? known.CheckDestinationChat(chat) : CatalogRules.Chat(chat);

    public string? CheckSourceChat(string type, string chat) => CatalogRules.Chat(chat) ?? Find(type)?.CheckSourceChat(chat);
}

/// <summary>
/// A channel type whose chats take more from an API send than text and media — WhatsApp's template messages and read
/// marks. <c>POST /v1/messages</c> carries them as one object under <see cref="SendOptionsProperty"/>, judged here and
/// carried in the delivery payload (<c>platform</c>) for the type's sender to read; other types never see it.
/// </summary>
public interface IChannelSendOptions
{
    /// <summary>The object's name in a send request (the type's name, by convention).</summary>
    string SendOptionsProperty { get; }

    /// <summary>The object's shape for the API description (request and shown are the same type).</summary>
    ChannelSettingsShape SendOptionsShape { get; }

    /// <summary>
    /// Checks the object given with a send that also has text (<paramref name="hasText"/>) or media (<paramref name="hasMedia"/>);
    /// returns the JSON the payload carries, or null with the problems in <paramref name="errors"/> (fields relative to the
    /// object; a field that cannot go with the send's text or media says so itself).
    /// </summary>
    string? CheckSendOptions(JsonObject options, bool hasText, bool hasMedia, List<FieldError> errors);
}
