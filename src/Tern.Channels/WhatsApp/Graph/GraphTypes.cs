using System.Text.Json.Serialization;

namespace Tern.Channels.WhatsApp.Graph;

/// <summary><c>GET /{phone-number-id}</c>: the business phone number as Meta shows it.</summary>
public sealed record PhoneNumberInfo(string? Id, string? DisplayPhoneNumber, string? VerifiedName, string? QualityRating);

/// <summary>
/// The answer to a send: <c>{"messaging_product":"whatsapp","contacts":[{"input","wa_id"|"user_id"}],"messages":[{"id":"wamid.…"}]}</c>;
/// to a read mark, <c>{"success":true}</c>.
/// </summary>
public sealed record SendMessageAnswer(IReadOnlyList<SentContact>? Contacts, IReadOnlyList<SentMessageId>? Messages, bool? Success = null)
{
    public string? Wamid => Messages is [{ Id: { } id }, ..] ? id : null;
}

public sealed record SentContact(string? Input, string? WaId, string? UserId);

public sealed record SentMessageId(string? Id, string? MessageStatus);

/// <summary>Graph's error answer: <c>{"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id"}}</c>.</summary>
internal sealed record GraphErrorEnvelope(GraphErrorBody? Error);

internal sealed record GraphErrorBody(string? Message, string? Type, int Code, int? ErrorSubcode, GraphErrorData? ErrorData, string? FbtraceId);

internal sealed record GraphErrorData(string? MessagingProduct, string? Details);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(PhoneNumberInfo))]
[JsonSerializable(typeof(GraphErrorEnvelope))]
[JsonSerializable(typeof(SendMessageAnswer))]
internal sealed partial class GraphJsonContext : JsonSerializerContext;
