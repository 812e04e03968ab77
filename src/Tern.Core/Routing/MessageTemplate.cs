using System.Text;

namespace Tern.Core.Routing;

/// <summary>
/// A text template with <c>{field}</c> placeholders (see <see cref="RouteOptions.TemplateFields"/>);
/// <c>{{</c> and <c>}}</c> stand for literal braces. Parsed once into literal and field parts.
/// </summary>
public sealed class MessageTemplate
{
    private readonly (string? Literal, string? Field)[] _parts;

    private MessageTemplate((string?, string?)[] parts) => _parts = parts;

    /// <summary>Null when the template is valid; otherwise what is wrong with it.</summary>
    public static string? Check(string template) => TryParse(template, out _, out var problem) ? null : problem;

    public static MessageTemplate Parse(string template) =>
        TryParse(template, out var parsed, out var problem) ? parsed : throw new ArgumentException(problem, nameof(template));

    private static bool TryParse(string template, out MessageTemplate parsed, out string problem)
    {
        parsed = null!;
        problem = "";
        var parts = new List<(string?, string?)>();
        var literal = new StringBuilder();
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c == '{' && i + 1 < template.Length && template[i + 1] == '{') { literal.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < template.Length && template[i + 1] == '}') { literal.Append('}'); i++; continue; }
            if (c == '}') { problem = $"has an unmatched '}}' at position {i} (write }}}} for a literal brace)"; return false; }
            if (c != '{') { literal.Append(c); continue; }

            var end = template.IndexOf('}', i + 1);
            if (end < 0) { problem = $"has an unclosed '{{' at position {i} (write {{{{ for a literal brace)"; return false; }
            var field = template[(i + 1)..end];
            if (!RouteOptions.TemplateFields.Contains(field))
            {
                problem = $"has an unknown placeholder {{{field}}} (known: {string.Join(", ", RouteOptions.TemplateFields.Select(f => "{" + f + "}"))})";
                return false;
            }
            if (literal.Length > 0) { parts.Add((literal.ToString(), null)); literal.Clear(); }
            parts.Add((null, field));
            i = end;
        }
        if (literal.Length > 0) parts.Add((literal.ToString(), null));
        parsed = new MessageTemplate(parts.ToArray());
        return true;
    }

    public string Render(string text, in MessageFacts facts)
    {
        var output = new StringBuilder();
        foreach (var (literal, field) in _parts)
        {
            if (literal is not null) { output.Append(literal); continue; }
            output.Append(field switch
            {
                "text" => text,
                "sender" => facts.Sender,
                "sender_name" => facts.SenderName ?? facts.SenderUsername ?? facts.Sender,
                "sender_username" => facts.SenderUsername,
                "chat" => facts.Chat,
                "chat_title" => facts.ChatTitle ?? facts.Chat,
                "channel" => facts.Channel,
                "message_id" => facts.MessageId,
                "date" => DateTimeOffset.FromUnixTimeMilliseconds(facts.ReceivedAtMs).ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture),
                _ => null,
            });
        }
        return output.ToString();
    }
}
