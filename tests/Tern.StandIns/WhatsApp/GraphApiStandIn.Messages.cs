using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tern.StandIns.WhatsApp;

public sealed partial class GraphApiStandIn
{
    private const int MaxTextLength = 4096;
    private const int MaxCaptionLength = 1024;

    private static readonly HashSet<string> MediaTypes = new(StringComparer.Ordinal) { "image", "video", "audio", "document", "sticker" };

    private static readonly string[] MessageTypes =
        ["audio", "contacts", "document", "image", "interactive", "location", "reaction", "sticker", "template", "text", "video"];

    /// <summary>Validates, applies the scripted errors, the limits and the window, then records and answers.</summary>
    private (JsonObject Answer, bool Accepted) Send(WhatsAppPhoneNumber phone, JsonObject body)
    {
        if ((string?)Str(body, "messaging_product") != "whatsapp")
        {
            throw body.ContainsKey("messaging_product")
                ? GraphErrorException.InvalidParameter("messaging_product must be \"whatsapp\".")
                : GraphErrorException.Required("messaging_product");
        }

        if (Str(body, "status") is { } status)
        {
            return (MarkRead(phone, body, status), false);
        }

        // Meta's business-scoped user ids: a phone number goes in `to`, a user id in `recipient`; with both, `to` wins.
        var input = Str(body, "to") ?? Str(body, "recipient") ?? throw GraphErrorException.Required("to");
        if (Str(body, "to") is { } phoneInput ? !PhonePattern().IsMatch(phoneInput) : !UserIdPattern().IsMatch(input.Trim()))
        {
            throw GraphErrorException.InvalidParameter(Str(body, "to") is null
                ? "Invalid business-scoped user id in recipient: " + input
                : "Invalid WhatsApp user phone number in to: " + input);
        }

        var to = WaIdOf(input);
        if (Str(body, "recipient_type") is { } recipientType && recipientType != "individual")
        {
            throw GraphErrorException.InvalidParameter("recipient_type must be \"individual\".");
        }

        var type = Str(body, "type") ?? "text";
        if (Array.IndexOf(MessageTypes, type) < 0)
        {
            throw new GraphErrorException(400, 100,
                "(#100) Param type must be one of {" + string.Join(", ", MessageTypes.Select(t => t.ToUpperInvariant())) + "} - got \"" + type + "\".");
        }

        var content = body[type] as JsonObject ?? throw GraphErrorException.Required(type);
        Validate(type, content);
        string? contextId = null;
        if (body["context"] is JsonObject context)
        {
            contextId = Str(context, "message_id") ?? throw GraphErrorException.Required("context.message_id");
        }

        var now = Now;
        lock (_gate)
        {
            // A media id the stand-in does not hold (or that expired) is a parameter error, before anything is counted.
            if (MediaTypes.Contains(type) && Str(content, "id") is { } mediaId
                && (!_media.TryGetValue(mediaId, out var media) || now - media.CreatedAt >= Options.MediaLifetime))
            {
                throw GraphErrorException.InvalidParameter("Invalid media id: " + mediaId);
            }

            if (_scripted.TryGetValue(to, out var queue) && queue.TryDequeue(out var scripted))
            {
                if (queue.Count == 0) _scripted.Remove(to);
                var error = scripted.HttpStatus is { } http ? GraphErrorException.ServerError(http) : GraphErrorException.ForCode(scripted.Code);
                _injected.Add(new WhatsAppInjectedError(phone.Id, to, error.Code, error.HttpStatus, now));
                throw error;
            }

            if (Options.EnforceLimits)
            {
                var exceeded = _limiter.Check(Options, phone.Id, to, now, countWhenExceeded: !Options.RejectViolations);
                if (exceeded is { } kind)
                {
                    _violations.Add(new WhatsAppLimitViolation(kind, phone.Id, to, Options.RejectViolations, now));
                    if (Options.RejectViolations) throw GraphErrorException.ForCode(kind == WhatsAppLimitKind.Throughput ? 130429 : 131056);
                }
            }

            var windowOpen = _windows.TryGetValue((phone.Id, to), out var open) ? open : Options.WindowOpenByDefault;
            if (type != "template" && !windowOpen) throw GraphErrorException.ForCode(131047);

            var wamid = NewWamid(phone.Id, to);
            var sent = new WhatsAppSentMessage(wamid, phone.Id, input, to, type, (JsonObject)content.DeepClone(), contextId, (JsonObject)body.DeepClone(), now);
            _sent.Add(sent);
            if (!_sentTo.TryGetValue(to, out var list)) _sentTo[to] = list = [];
            list.Add(sent);
            _byWamid[wamid] = sent;
            var contact = new JsonObject { ["input"] = input };
            contact[UserIdPattern().IsMatch(to) ? "user_id" : "wa_id"] = to;
            var message = new JsonObject { ["id"] = wamid };
            if (type == "template") message["message_status"] = "accepted";
            return (new JsonObject
            {
                ["messaging_product"] = "whatsapp",
                ["contacts"] = new JsonArray(contact),
                ["messages"] = new JsonArray(message),
            }, true);
        }
    }

    private JsonObject MarkRead(WhatsAppPhoneNumber phone, JsonObject body, string status)
    {
        if (status != "read") throw GraphErrorException.InvalidParameter("status must be \"read\".");
        var messageId = Str(body, "message_id") ?? throw GraphErrorException.Required("message_id");
        if (!messageId.StartsWith("wamid.", StringComparison.Ordinal)) throw GraphErrorException.InvalidParameter("Invalid message_id: " + messageId);
        var typing = body["typing_indicator"] is JsonObject indicator && Str(indicator, "type") == "text";
        lock (_gate) _reads.Add(new WhatsAppReadMark(phone.Id, messageId, typing, Now));
        return new JsonObject { ["success"] = true };
    }

    private static void Validate(string type, JsonObject content)
    {
        switch (type)
        {
            case "text":
                var text = Str(content, "body") ?? throw GraphErrorException.Required("text.body");
                if (text.Length == 0) throw GraphErrorException.InvalidParameter("text.body must not be empty.");
                if (text.Length > MaxTextLength) throw GraphErrorException.InvalidParameter("text.body is longer than 4096 characters.");
                if (content["preview_url"] is { } preview && preview.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
                {
                    throw GraphErrorException.InvalidParameter("text.preview_url must be a boolean.");
                }

                break;
            case var media when MediaTypes.Contains(media):
                var link = Str(content, "link");
                var id = Str(content, "id");
                if ((link is null) == (id is null)) throw GraphErrorException.InvalidParameter(media + " needs exactly one of id and link.");
                if (link is not null && (!Uri.TryCreate(link, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
                {
                    throw GraphErrorException.InvalidParameter(media + ".link must be an http(s) URL.");
                }

                if (content.ContainsKey("caption") && media is "audio" or "sticker")
                {
                    throw GraphErrorException.InvalidParameter(media + " has no caption.");
                }

                if (Str(content, "caption") is { Length: > MaxCaptionLength }) throw GraphErrorException.InvalidParameter("caption is longer than 1024 characters.");
                break;
            case "template":
                if (Str(content, "name") is not { Length: > 0 }) throw GraphErrorException.Required("template.name");
                if (content["language"] is not JsonObject language || Str(language, "code") is not { Length: > 0 }) throw GraphErrorException.Required("template.language.code");
                if (content["components"] is { } components && components is not JsonArray) throw GraphErrorException.InvalidParameter("template.components must be an array.");
                break;
            case "reaction":
                if (Str(content, "message_id") is not { Length: > 0 }) throw GraphErrorException.Required("reaction.message_id");
                // An empty emoji removes the reaction.
                if (Str(content, "emoji") is null) throw GraphErrorException.Required("reaction.emoji");
                break;
            case "interactive":
                ValidateInteractive(content);
                break;
            case "location":
                if (content["latitude"] is null || content["longitude"] is null) throw GraphErrorException.Required("location.latitude and location.longitude");
                break;
            case "contacts":
                if (content is null) throw GraphErrorException.Required("contacts");
                break;
        }
    }

    private static void ValidateInteractive(JsonObject interactive)
    {
        var kind = Str(interactive, "type") ?? throw GraphErrorException.Required("interactive.type");
        if (interactive["body"] is not JsonObject body || Str(body, "text") is not { Length: > 0 }) throw GraphErrorException.Required("interactive.body.text");
        var action = interactive["action"] as JsonObject ?? throw GraphErrorException.Required("interactive.action");
        switch (kind)
        {
            case "button":
                if (action["buttons"] is not JsonArray { Count: >= 1 and <= 3 } buttons) throw GraphErrorException.InvalidParameter("interactive.action.buttons needs 1 to 3 buttons.");
                foreach (var button in buttons)
                {
                    if (button is not JsonObject b || Str(b, "type") != "reply" || b["reply"] is not JsonObject reply
                        || Str(reply, "id") is not { Length: > 0 } || Str(reply, "title") is not { Length: > 0 and <= 20 })
                    {
                        throw GraphErrorException.InvalidParameter("Each button is {\"type\":\"reply\",\"reply\":{\"id\",\"title\"}} with a title of up to 20 characters.");
                    }
                }

                break;
            case "list":
                if (Str(action, "button") is not { Length: > 0 }) throw GraphErrorException.Required("interactive.action.button");
                if (action["sections"] is not JsonArray { Count: >= 1 and <= 10 } sections) throw GraphErrorException.InvalidParameter("interactive.action.sections needs 1 to 10 sections.");
                foreach (var section in sections)
                {
                    if (section is not JsonObject s || s["rows"] is not JsonArray { Count: >= 1 } rows || rows.Any(r => r is not JsonObject row || Str(row, "id") is null || Str(row, "title") is null))
                    {
                        throw GraphErrorException.InvalidParameter("Each section has rows with id and title.");
                    }
                }

                break;
            case "cta_url" or "product" or "product_list" or "flow" or "location_request_message":
                break;
            default:
                throw GraphErrorException.InvalidParameter("Unknown interactive.type: " + kind);
        }
    }

    private string NewWamid(string phoneId, string to)
    {
        var n = ++_nextWamid;
        var raw = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{to}\u0015{phoneId}\u0012{n:D20}"));
        return "wamid.HBgL" + Convert.ToBase64String(raw);
    }

    private static string? Str(JsonObject node, string name) =>
        node[name] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    /// <summary>
    /// A <c>statuses[]</c> item for a message the stand-in sent, as Meta's messages webhook carries it: <c>id</c>,
    /// <c>status</c>, <c>timestamp</c>, <c>recipient_id</c> (or <c>recipient_user_id</c>), and for sent/delivered the
    /// <c>conversation</c> and <c>pricing</c> objects; for failed the <c>errors</c> array with Meta's code.
    /// Post it with <see cref="WhatsAppWebhookSender"/> in whatever order the test wants.
    /// </summary>
    public JsonObject StatusFor(string wamid, string status, int? errorCode = null, DateTimeOffset? at = null)
    {
        WhatsAppSentMessage sent;
        lock (_gate) sent = _byWamid.TryGetValue(wamid, out var found) ? found : throw new InvalidOperationException($"The stand-in did not send {wamid}.");
        if (status is not ("sent" or "delivered" or "read" or "played" or "failed")) throw new ArgumentException("sent, delivered, read, played or failed.", nameof(status));
        if ((status == "failed") != (errorCode is not null)) throw new ArgumentException("A failed status, and only it, has an error code.", nameof(errorCode));
        var when = at ?? Now;
        var item = new JsonObject
        {
            ["id"] = wamid,
            ["status"] = status,
            ["timestamp"] = when.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        };
        if (UserIdPattern().IsMatch(sent.To)) item["recipient_user_id"] = sent.To;
        else item["recipient_id"] = sent.To;
        var category = sent.Type == "template" ? "utility" : "service";
        if (status is "sent" or "delivered")
        {
            var conversation = new JsonObject { ["id"] = Convert.ToHexStringLower(Encoding.UTF8.GetBytes(sent.PhoneNumberId + sent.To))[..32].PadRight(32, '0') };
            if (status == "sent") conversation["expiration_timestamp"] = (sent.At + TimeSpan.FromHours(24)).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            conversation["origin"] = new JsonObject { ["type"] = category };
            item["conversation"] = conversation;
            item["pricing"] = new JsonObject { ["billable"] = category != "service", ["pricing_model"] = "PMP", ["type"] = category == "service" ? "free_customer_service" : "regular", ["category"] = category };
        }

        if (errorCode is { } code)
        {
            var error = GraphErrorException.ForCode(code);
            var title = error.Message.StartsWith("(#", StringComparison.Ordinal) ? error.Message[(error.Message.IndexOf(')', StringComparison.Ordinal) + 2)..] : error.Message;
            item["errors"] = new JsonArray(new JsonObject
            {
                ["code"] = code,
                ["title"] = title,
                ["message"] = title,
                ["error_data"] = new JsonObject { ["details"] = error.Details ?? title },
                ["href"] = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            });
        }

        return item;
    }

    /// <summary>A <c>changes[]</c> item of the sending phone number carrying one status of <paramref name="wamid"/>.</summary>
    public WhatsAppChange StatusChange(string wamid, string status, int? errorCode = null)
    {
        string phoneId;
        lock (_gate) phoneId = _byWamid.TryGetValue(wamid, out var found) ? found.PhoneNumberId : throw new InvalidOperationException($"The stand-in did not send {wamid}.");
        return new WhatsAppChange(PhoneNumber(phoneId)).Status(StatusFor(wamid, status, errorCode));
    }

    /// <summary>sent, delivered and read for a wamid, in that order (reorder them to test out-of-order delivery).</summary>
    public IReadOnlyList<JsonObject> StatusesFor(string wamid) => [StatusFor(wamid, "sent"), StatusFor(wamid, "delivered"), StatusFor(wamid, "read")];
}
