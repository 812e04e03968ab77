using System.Buffers;
using System.ComponentModel;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Tern.Core.Catalog;

namespace Tern.Channels.WhatsApp;

/// <summary>
/// The <c>whatsapp</c> object of <c>POST /v1/messages</c>: a template message (the only kind Meta delivers more than 24 hours
/// after the user last wrote), a read mark on a message the user sent, or the link preview switched off. Checked here
/// field by field; what is stored is already in Meta's shape (<c>template.language.code</c>), so the sender copies it.
/// </summary>
public static partial class WhatsAppSendOptions
{
    /// <summary>Components are passed to Meta as given; this bounds what one send may carry in the outbox.</summary>
    public const int MaxComponentsBytes = 32 * 1024;

    public const int MaxMessageIdLength = 256;

    public static ChannelSettingsShape Shape { get; } = new(typeof(WhatsAppSendRequest), typeof(WhatsAppSendRequest), WhatsAppSendJsonContext.Default);

    private static readonly string[] Fields = ["template", "mark_read", "typing_indicator", "preview_url"];

    private static readonly string[] TemplateFields = ["name", "language", "components"];

    // Meta's template names: lower-case letters, digits and underscores; languages as en, en_US, pt_BR, zh_CN.
    [GeneratedRegex("^[a-z0-9_]{1,512}$", RegexOptions.CultureInvariant)]
    private static partial Regex TemplateName();

    [GeneratedRegex("^[a-z]{2,3}(_[A-Z]{2,4})?$", RegexOptions.CultureInvariant)]
    private static partial Regex LanguageCode();

    /// <summary>The object to carry in the payload (Meta's shapes), or null with the problems; fields relative to the object.</summary>
    public static string? Check(JsonObject options, bool hasText, bool hasMedia, List<FieldError> errors)
    {
        var before = errors.Count;
        foreach (var (name, _) in options)
        {
            if (!Fields.Contains(name)) errors.Add(new FieldError(name, $"is not a known field (known: {string.Join(", ", Fields)})"));
        }
        var template = options["template"];
        var markRead = options["mark_read"];
        var typing = Bool(options, "typing_indicator", errors);
        var preview = Bool(options, "preview_url", errors);

        if (template is null && markRead is null && preview is null)
        {
            errors.Add(new FieldError("", "give template, mark_read or preview_url"));
        }
        if (template is not null && markRead is not null) errors.Add(new FieldError("mark_read", "give either template or mark_read, not both"));
        if ((template is not null || markRead is not null) && (hasText || hasMedia))
        {
            errors.Add(new FieldError(template is not null ? "template" : "mark_read", template is not null
                ? "a template message takes its text from the template: leave out text and media (parameters go in template.components)"
                : "a read mark is not a message: leave out text and media"));
        }
        if (typing is not null && markRead is null) errors.Add(new FieldError("typing_indicator", "goes with mark_read (Meta shows it while the read mark stands)"));
        if (preview is not null && (template is not null || markRead is not null || !hasText || hasMedia))
        {
            errors.Add(new FieldError("preview_url", "applies to a text message only"));
        }

        string? messageId = null;
        if (markRead is not null)
        {
            messageId = markRead is JsonValue v && v.TryGetValue<string>(out var id) ? id : null;
            if (messageId is null || messageId.Length is 0 or > MaxMessageIdLength || messageId.Any(char.IsWhiteSpace))
            {
                errors.Add(new FieldError("mark_read", $"must be the wamid of a message the user sent (its platform_id), 1 to {MaxMessageIdLength} characters"));
            }
        }
        (string Name, string Language, JsonArray? Components)? checkedTemplate = template is null ? null : Template(template, errors);
        if (errors.Count > before) return null;

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (checkedTemplate is { } t)
            {
                json.WriteStartObject("template");
                json.WriteString("name", t.Name);
                json.WriteStartObject("language");
                json.WriteString("code", t.Language);
                json.WriteEndObject();
                if (t.Components is { } components)
                {
                    json.WritePropertyName("components");
                    components.WriteTo(json);
                }
                json.WriteEndObject();
            }
            if (messageId is not null) json.WriteString("mark_read", messageId);
            if (typing is true) json.WriteBoolean("typing_indicator", true);
            if (preview is { } p) json.WriteBoolean("preview_url", p);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static (string, string, JsonArray?)? Template(JsonNode template, List<FieldError> errors)
    {
        if (template is not JsonObject t)
        {
            errors.Add(new FieldError("template", "must be an object with name, language and components"));
            return null;
        }
        var before = errors.Count;
        foreach (var (name, _) in t)
        {
            if (!TemplateFields.Contains(name)) errors.Add(new FieldError("template." + name, $"is not a known field (known: {string.Join(", ", TemplateFields)})"));
        }
        var templateName = String(t, "name");
        if (templateName is null || !TemplateName().IsMatch(templateName))
        {
            errors.Add(new FieldError("template.name", "is required: the template's name as approved in the WhatsApp Manager (lower-case letters, digits, _)"));
        }
        // Meta's own shape ({"code": "en_US"}) is taken too, so a request copied from Meta's docs works.
        var language = t["language"] is JsonObject l ? String(l, "code") : String(t, "language");
        if (language is null || !LanguageCode().IsMatch(language))
        {
            errors.Add(new FieldError("template.language", "is required: the template's language code, e.g. en_US"));
        }
        JsonArray? components = null;
        if (t["components"] is { } c)
        {
            if (c is not JsonArray array || array.Any(x => x is not JsonObject o || String(o, "type") is null))
            {
                errors.Add(new FieldError("template.components", "must be an array of objects with a type (header, body, button), as Meta documents them"));
            }
            else if (Encoding.UTF8.GetByteCount(array.ToJsonString()) > MaxComponentsBytes)
            {
                errors.Add(new FieldError("template.components", $"must be at most {MaxComponentsBytes / 1024} KB"));
            }
            else
            {
                components = array;
            }
        }
        return errors.Count > before ? null : (templateName!, language!, components);
    }

    private static string? String(JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static bool? Bool(JsonObject o, string name, List<FieldError> errors)
    {
        if (o[name] is not { } node) return null;
        if (node is JsonValue v && v.TryGetValue<bool>(out var b)) return b;
        errors.Add(new FieldError(name, "must be true or false"));
        return null;
    }

    /// <summary>What the sender reads back from a payload's <c>platform</c> object.</summary>
    internal sealed record Stored(JsonElement? Template, string? MarkRead, bool TypingIndicator, bool? PreviewUrl);

    internal static Stored Read(JsonElement platform) => new(
        platform.TryGetProperty("template", out var template) && template.ValueKind == JsonValueKind.Object ? template : null,
        platform.TryGetProperty("mark_read", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null,
        platform.TryGetProperty("typing_indicator", out var typing) && typing.ValueKind == JsonValueKind.True,
        platform.TryGetProperty("preview_url", out var preview) && preview.ValueKind is JsonValueKind.True or JsonValueKind.False ? preview.GetBoolean() : null);
}

/// <summary>The <c>whatsapp</c> object of a send, for the API description; <see cref="WhatsAppSendOptions.Check"/> judges a request.</summary>
public sealed record WhatsAppSendRequest(
    [property: Description("A template message (for a user who last wrote more than 24 hours ago); leave out text and media.")] WhatsAppTemplateRequest? Template = null,
    [property: Description("Marks this message of the user (its wamid, the inbound message's platform_id) as read; leave out text and media.")] string? MarkRead = null,
    [property: Description("With mark_read: shows the user a typing indicator (until you answer, at most 25 s).")] bool? TypingIndicator = null,
    [property: Description("For a text: whether Meta shows a preview of its first link (default: when the text has one).")] bool? PreviewUrl = null);

public sealed record WhatsAppTemplateRequest(
    [property: Description("The template's name as approved in the WhatsApp Manager.")] string? Name = null,
    [property: Description("Its language code, e.g. en_US.")] string? Language = null,
    [property: Description("Meta's components (header, body, button parameters), passed as given.")] IReadOnlyList<JsonObject>? Components = null);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WhatsAppSendRequest))]
internal sealed partial class WhatsAppSendJsonContext : JsonSerializerContext;
