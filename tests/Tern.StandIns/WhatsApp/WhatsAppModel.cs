using System.Text.Json.Nodes;

namespace Tern.StandIns.WhatsApp;

/// <summary>A business phone number of the stand-in, with the token that may use it.</summary>
public sealed record WhatsAppPhoneNumber(string Id, string DisplayPhoneNumber, string AccessToken, string VerifiedName, string QualityRating, string WabaId);

/// <summary>
/// A message the stand-in accepted, as sent: the recipient as given (<see cref="Input"/>) and as a wa_id
/// (<see cref="To"/>), the type, the type's object (<see cref="Content"/>), the reply context and the whole
/// request body.
/// </summary>
public sealed record WhatsAppSentMessage(
    string Wamid,
    string PhoneNumberId,
    string Input,
    string To,
    string Type,
    JsonObject Content,
    string? ContextMessageId,
    JsonObject Request,
    DateTimeOffset At)
{
    /// <summary>text.body, or the caption of media, or null.</summary>
    public string? Text => Type == "text" ? (string?)Content["body"] : (string?)Content["caption"];

    public bool? PreviewUrl => Type == "text" ? (bool?)Content["preview_url"] : null;

    /// <summary>template.name for templates.</summary>
    public string? TemplateName => Type == "template" ? (string?)Content["name"] : null;

    public string? TemplateLanguage => Type == "template" ? (string?)Content["language"]?["code"] : null;

    /// <summary>The media's link or id, for image/video/audio/document/sticker.</summary>
    public string? MediaLink => (string?)Content["link"];

    public string? MediaId => Type is "image" or "video" or "audio" or "document" or "sticker" ? (string?)Content["id"] : null;
}

/// <summary>A mark-as-read call (<c>status: "read", message_id</c>).</summary>
public sealed record WhatsAppReadMark(string PhoneNumberId, string MessageId, bool TypingIndicator, DateTimeOffset At);

/// <summary>One HTTP call to the stand-in, as answered.</summary>
public sealed record WhatsAppCall(string Method, string Path, int HttpStatus, int? ErrorCode, DateTimeOffset At);
