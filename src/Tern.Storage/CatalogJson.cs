using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Tern.Storage;

/// <summary>String arrays stored as JSON text columns (route chats and destinations).</summary>
internal static class CatalogJson
{
    public static string WriteStrings(IReadOnlyList<string> values)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var value in values) json.WriteStringValue(value);
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static string[] ReadStrings(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateArray().Select(e => e.GetString() ?? "").ToArray();
    }
}
