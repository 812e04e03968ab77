using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tern.Channels.Telegram.BotApi;

// The subset of the Bot API (10.1) Tern reads and writes, named as in the API (snake_case on the wire).
// tests/Tern.Channels.Tests/Telegram/BotApiSpecTests checks every property here against specs/telegram-bot-api.json.

/// <summary>Every Bot API answer: <c>{"ok":true,"result":…}</c> or <c>{"ok":false,"error_code":…,"description":…,"parameters":…}</c>.</summary>
public sealed record BotApiResponse<T>(bool Ok, T? Result, int? ErrorCode, string? Description, ResponseParameters? Parameters);

public sealed record ResponseParameters(long? MigrateToChatId, int? RetryAfter);

public sealed record User(long Id, bool IsBot, string FirstName, string? LastName, string? Username);

public sealed record Chat(long Id, string Type, string? Title, string? Username, string? FirstName, string? LastName, bool? IsForum);

public sealed record PhotoSize(string FileId, string FileUniqueId, int Width, int Height, long? FileSize);

public sealed record Video(string FileId, string FileUniqueId, int Width, int Height, int Duration, string? FileName, string? MimeType, long? FileSize);

public sealed record Document(string FileId, string FileUniqueId, string? FileName, string? MimeType, long? FileSize);

public sealed record Audio(string FileId, string FileUniqueId, int Duration, string? Performer, string? Title, string? FileName, string? MimeType, long? FileSize);

public sealed record Voice(string FileId, string FileUniqueId, int Duration, string? MimeType, long? FileSize);

public sealed record Animation(string FileId, string FileUniqueId, int Width, int Height, int Duration, string? FileName, string? MimeType, long? FileSize);

public sealed record Sticker(string FileId, string FileUniqueId, string Type, int Width, int Height, bool IsAnimated, bool IsVideo, string? Emoji, long? FileSize);

public sealed record VideoNote(string FileId, string FileUniqueId, int Length, int Duration, long? FileSize);

public sealed record Contact(string PhoneNumber, string FirstName, string? LastName, long? UserId);

public sealed record Location(double Latitude, double Longitude);

public sealed record Venue(Location Location, string Title, string Address);

public sealed record Dice(string Emoji, int Value);

public sealed record Poll(string Id, string Question);

public sealed record Message(
    long MessageId,
    long? MessageThreadId,
    User? From,
    Chat? SenderChat,
    long Date,
    Chat Chat,
    bool? IsTopicMessage,
    Message? ReplyToMessage,
    long? EditDate,
    string? MediaGroupId,
    string? AuthorSignature,
    string? Text,
    string? Caption,
    IReadOnlyList<PhotoSize>? Photo,
    Video? Video,
    Document? Document,
    Audio? Audio,
    Voice? Voice,
    Animation? Animation,
    Sticker? Sticker,
    VideoNote? VideoNote,
    Contact? Contact,
    Location? Location,
    Venue? Venue,
    Dice? Dice,
    Poll? Poll,
    long? MigrateToChatId,
    long? MigrateFromChatId);

/// <summary>A button press. <see cref="Message"/> is the message with the button (possibly "inaccessible": only chat, id and date 0).</summary>
public sealed record CallbackQuery(string Id, User From, Message? Message, string? InlineMessageId, string ChatInstance, string? Data);

public sealed record Update(long UpdateId, Message? Message, Message? EditedMessage, Message? ChannelPost, Message? EditedChannelPost, CallbackQuery? CallbackQuery);

public sealed record MessageId([property: JsonPropertyName("message_id")] long Id);

public sealed record TelegramFile(string FileId, string FileUniqueId, long? FileSize, string? FilePath);

public sealed record WebhookInfo(string Url, bool HasCustomCertificate, int PendingUpdateCount, long? LastErrorDate, string? LastErrorMessage, int? MaxConnections, IReadOnlyList<string>? AllowedUpdates);

// Requests.

public sealed record ReplyParameters(long MessageId, bool? AllowSendingWithoutReply);

public sealed record GetUpdatesRequest(long? Offset, int? Limit, int? Timeout, IReadOnlyList<string>? AllowedUpdates);

public sealed record SetWebhookRequest(string Url, int? MaxConnections, IReadOnlyList<string>? AllowedUpdates, bool? DropPendingUpdates, string? SecretToken);

public sealed record DeleteWebhookRequest(bool? DropPendingUpdates);

public sealed record EmptyRequest;

public sealed record GetFileRequest(string FileId);

public sealed record SendMessageRequest(
    [property: JsonConverter(typeof(ChatIdConverter))] string ChatId, long? MessageThreadId, string Text, ReplyParameters? ReplyParameters);

/// <summary>sendPhoto, sendVideo, …: the media goes in the field named after the method (a file id or URL); the others stay null.</summary>
public sealed record SendMediaRequest(
    [property: JsonConverter(typeof(ChatIdConverter))] string ChatId,
    long? MessageThreadId,
    string? Caption,
    ReplyParameters? ReplyParameters,
    string? Photo = null,
    string? Video = null,
    string? Document = null,
    string? Audio = null,
    string? Voice = null,
    string? Animation = null,
    string? Sticker = null);

public sealed record CopyMessageRequest(
    [property: JsonConverter(typeof(ChatIdConverter))] string ChatId,
    long? MessageThreadId,
    [property: JsonConverter(typeof(ChatIdConverter))] string FromChatId,
    long MessageId,
    string? Caption,
    ReplyParameters? ReplyParameters);

public sealed record CopyMessagesRequest(
    [property: JsonConverter(typeof(ChatIdConverter))] string ChatId,
    long? MessageThreadId,
    [property: JsonConverter(typeof(ChatIdConverter))] string FromChatId,
    IReadOnlyList<long> MessageIds,
    bool? RemoveCaption);

public sealed record ForwardMessageRequest(
    [property: JsonConverter(typeof(ChatIdConverter))] string ChatId,
    long? MessageThreadId,
    [property: JsonConverter(typeof(ChatIdConverter))] string FromChatId,
    long MessageId);

public sealed record ForwardMessagesRequest(
    [property: JsonConverter(typeof(ChatIdConverter))] string ChatId,
    long? MessageThreadId,
    [property: JsonConverter(typeof(ChatIdConverter))] string FromChatId,
    IReadOnlyList<long> MessageIds);

/// <summary>InputMediaPhoto / Video / Document / Audio: <see cref="Media"/> is a file id, a URL, or attach://name for an uploaded part.</summary>
public sealed record InputMedia(string Type, string Media, string? Caption);

public sealed record SendMediaGroupRequest(
    [property: JsonConverter(typeof(ChatIdConverter))] string ChatId, long? MessageThreadId, IReadOnlyList<InputMedia> Media, ReplyParameters? ReplyParameters);

public sealed record EditMessageTextRequest([property: JsonConverter(typeof(ChatIdConverter))] string ChatId, long MessageId, string Text);

public sealed record EditMessageCaptionRequest([property: JsonConverter(typeof(ChatIdConverter))] string ChatId, long MessageId, string? Caption);

/// <summary>Chat ids are numbers on the wire (a channel may also be "@username"); Tern keeps them as strings.</summary>
public sealed class ChatIdConverter : JsonConverter<string>
{
    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Number ? reader.GetInt64().ToString(CultureInfo.InvariantCulture) : reader.GetString() ?? "";

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
    {
        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)) writer.WriteNumberValue(number);
        else writer.WriteStringValue(value);
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(BotApiResponse<User>))]
[JsonSerializable(typeof(BotApiResponse<IReadOnlyList<Update>>))]
[JsonSerializable(typeof(BotApiResponse<Message>))]
[JsonSerializable(typeof(BotApiResponse<IReadOnlyList<Message>>))]
[JsonSerializable(typeof(BotApiResponse<MessageId>))]
[JsonSerializable(typeof(BotApiResponse<IReadOnlyList<MessageId>>))]
[JsonSerializable(typeof(BotApiResponse<bool>))]
[JsonSerializable(typeof(BotApiResponse<TelegramFile>))]
[JsonSerializable(typeof(BotApiResponse<WebhookInfo>))]
[JsonSerializable(typeof(BotApiResponse<JsonElement>))]
[JsonSerializable(typeof(Update))]
[JsonSerializable(typeof(GetUpdatesRequest))]
[JsonSerializable(typeof(SetWebhookRequest))]
[JsonSerializable(typeof(DeleteWebhookRequest))]
[JsonSerializable(typeof(EmptyRequest))]
[JsonSerializable(typeof(GetFileRequest))]
[JsonSerializable(typeof(SendMessageRequest))]
[JsonSerializable(typeof(SendMediaRequest))]
[JsonSerializable(typeof(CopyMessageRequest))]
[JsonSerializable(typeof(CopyMessagesRequest))]
[JsonSerializable(typeof(ForwardMessageRequest))]
[JsonSerializable(typeof(ForwardMessagesRequest))]
[JsonSerializable(typeof(SendMediaGroupRequest))]
[JsonSerializable(typeof(IReadOnlyList<InputMedia>))]
[JsonSerializable(typeof(ReplyParameters))]
[JsonSerializable(typeof(EditMessageTextRequest))]
[JsonSerializable(typeof(EditMessageCaptionRequest))]
public sealed partial class BotApiJsonContext : JsonSerializerContext;
