using System.Globalization;
using System.Text.Json.Nodes;

namespace Tern.StandIns.WhatsApp;

/// <summary>
/// A Graph API error answer: <c>{"error":{"message","type","code","error_subcode"?,"error_data":{"messaging_product","details"}?,"fbtrace_id"}}</c>
/// with its HTTP status. Thrown inside a handler and written by the dispatcher.
/// </summary>
internal sealed class GraphErrorException : Exception
{
    public GraphErrorException()
        : this(500, 1, "An unknown error occurred")
    {
    }

    public GraphErrorException(string message)
        : this(400, 100, message)
    {
    }

    public GraphErrorException(string message, Exception innerException)
        : base(message, innerException)
    {
        HttpStatus = 400;
        Code = 100;
    }

    public GraphErrorException(int httpStatus, int code, string message, string? details = null, int? subcode = null, string type = "OAuthException")
        : base(message)
    {
        HttpStatus = httpStatus;
        Code = code;
        Details = details;
        Subcode = subcode;
        Type = type;
    }

    public int HttpStatus { get; }

    public int Code { get; }

    public int? Subcode { get; }

    public string? Details { get; }

    public string Type { get; } = "OAuthException";

    public JsonObject ToJson(string fbtraceId)
    {
        var error = new JsonObject { ["message"] = Message, ["type"] = Type, ["code"] = Code };
        if (Details is not null) error["error_data"] = new JsonObject { ["messaging_product"] = "whatsapp", ["details"] = Details };
        if (Subcode is { } subcode) error["error_subcode"] = subcode;
        error["fbtrace_id"] = fbtraceId;
        return new JsonObject { ["error"] = error };
    }

    /// <summary>(#100) with Meta's wording for a parameter that is missing or wrong.</summary>
    public static GraphErrorException InvalidParameter(string details) =>
        new(400, 100, "(#100) Invalid parameter", details);

    public static GraphErrorException Required(string parameter) =>
        new(400, 100, string.Create(CultureInfo.InvariantCulture, $"(#100) The parameter {parameter} is required."));

    /// <summary>An object id that does not exist or the token may not see (Graph's code 100, subcode 33).</summary>
    public static GraphErrorException NoSuchObject(string id, string verb) =>
        new(400, 100,
            string.Create(CultureInfo.InvariantCulture,
                $"Unsupported {verb} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"),
            subcode: 33, type: "GraphMethodException");

    /// <summary>The error Meta answers for a WhatsApp or Graph code, as its error-codes page lists it.</summary>
    public static GraphErrorException ForCode(int code) => code switch
    {
        0 => new(401, 0, "(#0) AuthException", "We were unable to authenticate the app user."),
        1 => new(500, 1, "(#1) An unknown error occurred", "Invalid request or possible server error."),
        2 => new(503, 2, "(#2) Service temporarily unavailable", "Temporary due to downtime or due to being overloaded."),
        4 => new(429, 4, "(#4) Application request limit reached", "The app has reached its API call rate limit."),
        100 => InvalidParameter("The request included one or more unsupported or misspelled parameters."),
        190 => new(401, 190, "Error validating access token: Session has expired.", subcode: 463),
        368 => new(403, 368, "(#368) Temporarily blocked for policies violations",
            "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy."),
        80007 => new(400, 80007, "(#80007) Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
        130429 => new(400, 130429, "(#130429) Rate limit hit",
            "Message failed to send because there were too many messages sent from this phone number in a short period of time"),
        131026 => new(400, 131026, "(#131026) Message Undeliverable", "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number."),
        131047 => new(400, 131047, "(#131047) Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number."),
        131053 => new(400, 131053, "(#131053) Media upload error", "Unable to upload the media used in the message."),
        131056 => new(400, 131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."),
        _ => new(400, code, string.Create(CultureInfo.InvariantCulture, $"(#{code}) Error")),
    };

    /// <summary>A bare HTTP 5xx from Graph's front end, with the generic Graph error body.</summary>
    public static GraphErrorException ServerError(int httpStatus) =>
        httpStatus == 503
            ? new(503, 2, "(#2) Service temporarily unavailable", "Temporary due to downtime or due to being overloaded.")
            : new(httpStatus, 1, "An unknown error occurred", type: "OAuthException");
}
