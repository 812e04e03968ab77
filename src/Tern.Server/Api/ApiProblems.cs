using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Tern.Server.Application;

namespace Tern.Server.Api;

/// <summary>
/// Every 4xx of the API is application/problem+json (through the problem details service, so each
/// carries its traceId); validation errors name the field. The status is declared on the endpoint
/// (<see cref="ApiResponses"/>) for the OpenAPI document.
/// </summary>
public static class ApiProblems
{
    public static ProblemHttpResult Field(string field, string problem) =>
        Fields(new Dictionary<string, string[]>(StringComparer.Ordinal) { [field] = [problem] });

    public static ProblemHttpResult Fields(Dictionary<string, string[]> errors) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors) { Title = "The request is not valid", Status = StatusCodes.Status400BadRequest });

    public static ProblemHttpResult NotFound(string what) => TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: what);

    public static ProblemHttpResult Conflict(string field, string problem) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: $"{field}: {problem}",
            extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["errors"] = new Dictionary<string, string[]>(StringComparer.Ordinal) { [field] = [problem] } });

    /// <summary>An application service's failure: 400 with every field, 404 with its detail, 409 naming the field, 503 (the caller adds Retry-After).</summary>
    public static ProblemHttpResult From(ValidationFailure failure)
    {
        switch (failure.Kind)
        {
            case FailureKind.NotFound:
                return NotFound(failure.Detail ?? $"{failure.First.Field}: {failure.First.Message}");
            case FailureKind.Conflict:
                return Conflict(failure.First.Field, failure.First.Message);
            case FailureKind.Unavailable:
                return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Busy", detail: failure.Detail);
            default:
                var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
                foreach (var error in failure.Errors) errors.TryAdd(error.Field, [error.Message]);
                return Fields(errors);
        }
    }

    public static ProblemHttpResult Forbidden(string detail) => TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: detail);

    public static ProblemHttpResult Unauthorized(string detail) => TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: detail);

    public static ProblemHttpResult TooLarge(int max) =>
        TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Body too large", detail: $"The body may be at most {max} bytes.");
}

/// <summary>The <c>page</c> and <c>page_size</c> query parameters every list shares.</summary>
public static class ApiPaging
{
    private static readonly int[] PageSizes = [10, 20, 25, 50];

    public static (int Page, int PageSize) Read(IQueryCollection query, Dictionary<string, string[]> errors)
    {
        var page = 1;
        if (query["page"].ToString() is { Length: > 0 } rawPage
            && (!int.TryParse(rawPage, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out page) || page < 1))
        {
            errors.TryAdd("page", ["must be a whole number from 1"]);
        }
        var pageSize = 20;
        if (query["page_size"].ToString() is { Length: > 0 } rawSize
            && (!int.TryParse(rawSize, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out pageSize) || !PageSizes.Contains(pageSize)))
        {
            errors.TryAdd("page_size", ["must be 10, 20, 25 or 50"]);
        }
        return (page, pageSize);
    }
}

/// <summary>A parsed request body, or the problem to answer with.</summary>
public readonly record struct Parsed<T>(T? Value, ProblemHttpResult? Problem) where T : class;

public static class ApiBody
{
    /// <summary>
    /// Reads a JSON body with a size limit. Malformed JSON, a wrong type or an unknown field becomes a
    /// 400 naming the field (from the JSON path), never a 500.
    /// </summary>
    /// <param name="emptyIsDefault">A request with no body at all is fine (every field of <typeparamref name="T"/> is optional): the value is null.</param>
    public static async Task<Parsed<T>> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type, int maxBytes, bool emptyIsDefault = false) where T : class
    {
        if (request.ContentLength > maxBytes) return new(null, ApiProblems.TooLarge(maxBytes));
        if (emptyIsDefault && request.ContentLength is 0 or null && request.ContentType is null) return new(null, null);
        if (request.ContentType is not { } contentType || !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return new(null, TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type", detail: "Send Content-Type: application/json."));
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > maxBytes) return new(null, ApiProblems.TooLarge(maxBytes));
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0) return new(null, ApiProblems.Field("body", "is empty; a JSON object is required"));
        try
        {
            var value = JsonSerializer.Deserialize(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), type);
            return value is null ? new(null, ApiProblems.Field("body", "must be a JSON object")) : new(value, null);
        }
        catch (JsonException ex)
        {
            return new(null, ApiProblems.Field(FieldOf(ex), Explain(ex)));
        }
    }

    /// <summary>"$.media.url" → "media.url"; an unknown property's name comes from the message.</summary>
    private static string FieldOf(JsonException ex)
    {
        var message = ex.Message;
        const string Marker = "could not be mapped to any .NET member"; // UnmappedMemberHandling.Disallow
        if (message.Contains(Marker, StringComparison.Ordinal))
        {
            var start = message.IndexOf('\'', StringComparison.Ordinal);
            var end = start < 0 ? -1 : message.IndexOf('\'', start + 1);
            if (start >= 0 && end > start)
            {
                // The exception's path already ends with the unknown member ("$.media.size"); older runtimes stopped at its parent.
                var name = message[(start + 1)..end];
                var path = ex.Path is { Length: > 2 } p && p != "$" ? p[2..] : "";
                return path == name || path.EndsWith("." + name, StringComparison.Ordinal) ? path : path.Length > 0 ? path + "." + name : name;
            }
        }
        return ex.Path is { Length: > 2 } at ? at[2..] : "body";
    }

    private static string Explain(JsonException ex) =>
        ex.Message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal) ? "is not a known field"
        : ex.Path is null or "$" ? "is not valid JSON"
        : "has the wrong type or is malformed";
}
