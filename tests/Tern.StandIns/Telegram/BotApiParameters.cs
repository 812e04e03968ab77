using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Tern.StandIns.Telegram;

/// <summary>A file part of a multipart/form-data request.</summary>
internal sealed record UploadedFile(string FieldName, string? FileName, string? ContentType, byte[] Content);

/// <summary>
/// The parameters of one Bot API call, from the query string and an application/json,
/// application/x-www-form-urlencoded or multipart/form-data body. As in Telegram, every value reads
/// as a string; JSON-typed parameters may come as JSON values (JSON body) or as JSON text (all others),
/// and an empty value is the same as a missing one.
/// </summary>
internal sealed class BotApiParameters
{
    private readonly Dictionary<string, JsonNode?> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, UploadedFile> _files = new(StringComparer.Ordinal);

    public static async Task<BotApiParameters> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var parameters = new BotApiParameters();
        foreach (var (name, values) in request.Query)
        {
            parameters._values[name] = JsonValue.Create(values.ToString());
        }

        var contentType = request.ContentType ?? "";
        if (contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            await parameters.ReadJsonAsync(request, cancellationToken);
        }
        else if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync(cancellationToken);
            foreach (var (name, values) in form)
            {
                parameters._values[name] = JsonValue.Create(values.ToString());
            }

            foreach (var file in form.Files)
            {
                using var buffer = new MemoryStream();
                await file.CopyToAsync(buffer, cancellationToken);
                parameters._files[file.Name] = new UploadedFile(file.Name, file.FileName, file.ContentType, buffer.ToArray());
            }
        }

        return parameters;
    }

    private async Task ReadJsonAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        if (buffer.Length == 0) return;
        JsonNode? body;
        try
        {
            body = JsonNode.Parse(buffer.ToArray());
        }
        catch (JsonException)
        {
            throw BotApiException.BadRequest("can't parse JSON object");
        }

        if (body is not JsonObject properties) throw BotApiException.BadRequest("can't parse JSON object");
        foreach (var (name, value) in properties)
        {
            _values[name] = value?.DeepClone();
        }
    }

    /// <summary>The value as Telegram reads it: text for strings and numbers, JSON text for objects; null if missing or empty.</summary>
    public string? String(string name)
    {
        if (!_values.TryGetValue(name, out var node) || node is null) return null;
        string text;
        if (node is JsonValue value)
        {
            text = value.GetValueKind() switch
            {
                JsonValueKind.String => value.GetValue<string>(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                JsonValueKind.Null => "",
                _ => value.ToJsonString(),
            };
        }
        else
        {
            text = node.ToJsonString();
        }

        return text.Length == 0 ? null : text;
    }

    public bool Has(string name) => String(name) is not null || _files.ContainsKey(name);

    /// <summary>Telegram reads a missing or malformed integer as the default.</summary>
    public long Long(string name, long defaultValue = 0) =>
        long.TryParse(String(name), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var result) ? result : defaultValue;

    public int Int(string name, int defaultValue = 0) =>
        int.TryParse(String(name), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var result) ? result : defaultValue;

    /// <summary>An integer clamped into [min, max], as Telegram's get_integer_arg does.</summary>
    public int Int(string name, int defaultValue, int min, int max) => Math.Clamp(Int(name, defaultValue), min, max);

    public bool Bool(string name)
    {
        var text = String(name);
        return text is not null && (text.Equals("true", StringComparison.OrdinalIgnoreCase) || text == "1");
    }

    /// <summary>A JSON-typed parameter: a JSON value of a JSON body, or JSON text of any other body.</summary>
    public JsonNode? Json(string name, string what)
    {
        if (!_values.TryGetValue(name, out var node) || node is null) return null;
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            var text = value.GetValue<string>();
            if (text.Length == 0) return null;
            try
            {
                return JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                throw BotApiException.BadRequest($"can't parse {what} JSON object");
            }
        }

        return node.DeepClone();
    }

    public UploadedFile? File(string name) => _files.GetValueOrDefault(name);
}
