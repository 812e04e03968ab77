using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tern.Core.Messages;
using Tern.Core.Routing;

namespace Tern.Core.Delivery;

/// <summary>
/// The platform-neutral message a destination receives (docs/webhook-channel.md): written by the router and by
/// <c>POST /v1/messages</c>, posted as it is by the webhook channel, read by channel senders that translate it to their
/// platform's request. One type, one source-generated contract (<see cref="DeliveryPayloadJson"/>); the property order
/// is the order on the wire, and what is null is left out.
/// </summary>
public sealed record DeliveryPayload
{
    /// <summary>The SQL JSON path of <see cref="Text"/> in a stored payload (for listing messages without parsing each).</summary>
    public const string TextJsonPath = "$.text";

    /// <summary>The chat it goes to.</summary>
    public required string Chat { get; init; }

    /// <summary>Who sent the source message, when the platform said.</summary>
    public string? Sender { get; init; }

    /// <summary>Null for a new message; an edit of an earlier one, or a button press.</summary>
    [JsonConverter(typeof(LowerCaseEnumConverter<MessageKind>))]
    public MessageKind? Kind { get; init; }

    /// <summary>Text or caption (of a message that is not an album).</summary>
    public string? Text { get; init; }

    /// <summary>The attachments as the source gave them (a JSON array), verbatim.</summary>
    public RawJson? Attachments { get; init; }

    /// <summary>The source message's id within its chat (what copies, edits and replies refer to).</summary>
    public string? MessageId { get; init; }

    /// <summary>The album's id, for an album.</summary>
    public string? GroupId { get; init; }

    /// <summary>An album's messages in order; then <see cref="Text"/>, <see cref="Attachments"/> and <see cref="MessageId"/> are null.</summary>
    public IReadOnlyList<DeliveryAlbumItem>? Album { get; init; }

    /// <summary>The message (in the source chat) the source message answers.</summary>
    public string? ReplyTo { get; init; }

    /// <summary>Null for a copy; <see cref="RouteMode.Forward"/> when the route forwards.</summary>
    [JsonConverter(typeof(LowerCaseEnumConverter<RouteMode>))]
    public RouteMode? Mode { get; init; }

    /// <summary>True when the route changed the text; null (left out) otherwise.</summary>
    public bool? Transformed { get; init; }

    /// <summary>Platform-specific facts of the source (a JSON object), verbatim.</summary>
    public RawJson? Meta { get; init; }

    /// <summary>
    /// An API send's object for the destination's platform (<see cref="Catalog.IChannelSendOptions"/>: a WhatsApp template
    /// or read mark), as its channel type checked it; only ever on a send to a channel of that type.
    /// </summary>
    public RawJson? Platform { get; init; }

    /// <summary>Where it came from: a channel's message, or an API send.</summary>
    public required DeliverySource Source { get; init; }

    /// <summary>The route that made it; null for an API send.</summary>
    public string? Route { get; init; }

    /// <summary>True when the route forwards rather than copies.</summary>
    [JsonIgnore]
    public bool IsForward => Mode == RouteMode.Forward;

    /// <summary>What the source message was: a new message unless <see cref="Kind"/> says otherwise.</summary>
    [JsonIgnore]
    public MessageKind KindOrMessage => Kind ?? MessageKind.Message;

    /// <summary>The JSON, written through <paramref name="scratch"/> (reset first) so that routing a batch reuses one buffer.</summary>
    public string ToJson(ArrayBufferWriter<byte> scratch)
    {
        scratch.ResetWrittenCount();
        // The writer's default encoder is the one the payload has always been escaped with (non-ASCII and HTML as \uXXXX).
        using (var json = new Utf8JsonWriter(scratch))
        {
            JsonSerializer.Serialize(json, this, DeliveryPayloadJson.Default.DeliveryPayload);
        }
        return Encoding.UTF8.GetString(scratch.WrittenSpan);
    }

    /// <summary>Reads a stored payload; null with <paramref name="problem"/> saying why when it is not one.</summary>
    public static DeliveryPayload? Parse(string json, [NotNullWhen(false)] out string? problem)
    {
        try
        {
            var payload = JsonSerializer.Deserialize(json, DeliveryPayloadJson.Default.DeliveryPayload);
            problem = payload is null ? "the payload is null" : null;
            return payload;
        }
        catch (JsonException ex)
        {
            problem = "the payload is not a delivery payload: " + ex.Message;
            return null;
        }
    }

    /// <summary>
    /// The attachments of a message or album item as media references: an object gives its <c>type</c>, <c>file_id</c>,
    /// <c>url</c> and <c>file_name</c>; a bare string is a URL of no stated type (the webhook channel allows it).
    /// </summary>
    public static IReadOnlyList<DeliveryAttachment> AttachmentsOf(RawJson? attachments)
    {
        if (attachments is not { } raw) return [];
        using var document = JsonDocument.Parse(raw.Json);
        if (document.RootElement.ValueKind != JsonValueKind.Array) return [];
        var list = new List<DeliveryAttachment>(document.RootElement.GetArrayLength());
        foreach (var attachment in document.RootElement.EnumerateArray())
        {
            if (attachment.ValueKind == JsonValueKind.String) list.Add(new DeliveryAttachment(null, null, attachment.GetString(), null));
            else if (attachment.ValueKind == JsonValueKind.Object)
                list.Add(new DeliveryAttachment(String(attachment, "type"), String(attachment, "file_id"), String(attachment, "url"), String(attachment, "file_name")));
        }
        return list;
    }

    /// <summary>Attachments as the JSON array a payload carries (for a message Tern composes itself, e.g. an API send).</summary>
    public static RawJson AttachmentsJson(params DeliveryAttachment[] attachments) =>
        new(JsonSerializer.Serialize(attachments, DeliveryPayloadJson.Default.DeliveryAttachmentArray));

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => value.GetRawText(),
            _ => null,
        } : null;
}

/// <summary>One message of an album.</summary>
public sealed record DeliveryAlbumItem(string? MessageId, string? Text, RawJson? Attachments);

/// <summary>
/// Where a delivery came from: a channel's message (<see cref="Channel"/>, <see cref="Chat"/>, <see cref="Id"/>,
/// <see cref="ReceivedAt"/>) or an API send (<see cref="Api"/>: the tenant, and its idempotency key).
/// </summary>
public sealed record DeliverySource
{
    public string? Channel { get; init; }
    public string? Chat { get; init; }
    public string? Id { get; init; }

    /// <summary>Unix milliseconds when Tern accepted the source message.</summary>
    public long? ReceivedAt { get; init; }

    public string? Api { get; init; }
    public string? IdempotencyKey { get; init; }
}

/// <summary>A medium as a sender sees it; <see cref="Type"/> null when the source did not say (a bare URL).</summary>
public sealed record DeliveryAttachment(string? Type, string? FileId, string? Url, string? FileName);

/// <summary>A JSON value kept as it was written: attachments and meta pass through Tern unchanged, never re-serialized.</summary>
[JsonConverter(typeof(RawJsonConverter))]
public readonly record struct RawJson(string Json);

/// <summary>Writes <see cref="RawJson"/> as it is (it was valid JSON when it entered the inbox); reads the value's exact text.</summary>
public sealed class RawJsonConverter : JsonConverter<RawJson>
{
    public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return new RawJson(document.RootElement.GetRawText());
    }

    public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options) => writer.WriteRawValue(value.Json, skipInputValidation: true);
}

/// <summary>An enum as its member's name in snake_case (<c>edit</c>, <c>forward</c>), as the payload has always spelled them.</summary>
public sealed class LowerCaseEnumConverter<TEnum>() : JsonStringEnumConverter<TEnum>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false)
    where TEnum : struct, Enum;

/// <summary>The payload's wire contract: snake_case, nulls left out.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DeliveryPayload))]
[JsonSerializable(typeof(DeliveryAttachment[]))]
public sealed partial class DeliveryPayloadJson : JsonSerializerContext;
