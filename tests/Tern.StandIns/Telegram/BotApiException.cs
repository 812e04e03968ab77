using System.Globalization;
using System.Text.Json.Nodes;

namespace Tern.StandIns.Telegram;

/// <summary>
/// An error answer of the Bot API: <c>{"ok":false,"error_code":N,"description":…,"parameters":…}</c>
/// with HTTP status N. Thrown inside a method handler and written by the dispatcher.
/// </summary>
internal sealed class BotApiException : Exception
{
    public BotApiException()
        : this(500, "Internal Server Error")
    {
    }

    public BotApiException(string message)
        : this(400, message)
    {
    }

    public BotApiException(string message, Exception innerException)
        : base(message, innerException)
    {
        ErrorCode = 400;
    }

    public BotApiException(int errorCode, string description, int? retryAfter = null, long? migrateToChatId = null)
        : base(description)
    {
        ErrorCode = errorCode;
        RetryAfter = retryAfter;
        MigrateToChatId = migrateToChatId;
    }

    public int ErrorCode { get; }

    public int? RetryAfter { get; }

    public long? MigrateToChatId { get; }

    public JsonObject? Parameters
    {
        get
        {
            if (RetryAfter is null && MigrateToChatId is null) return null;
            var parameters = new JsonObject();
            if (MigrateToChatId is { } migrateTo) parameters["migrate_to_chat_id"] = migrateTo;
            if (RetryAfter is { } retryAfter) parameters["retry_after"] = retryAfter;
            return parameters;
        }
    }

    public static BotApiException BadRequest(string what) => new(400, "Bad Request: " + what);

    public static BotApiException TooManyRequests(int retryAfter) =>
        new(429, string.Create(CultureInfo.InvariantCulture, $"Too Many Requests: retry after {retryAfter}"), retryAfter);
}
