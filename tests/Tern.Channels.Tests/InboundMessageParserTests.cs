using System.Text;
using Tern.Channels.Webhook;
using Tern.Core.Messages;

namespace Tern.Channels.Tests;

public sealed class InboundMessageParserTests
{
    private static (Envelope? Envelope, Dictionary<string, string[]> Errors) Parse(string json)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var envelope = InboundMessageParser.Parse(Encoding.UTF8.GetBytes(json), "hook-1", 1_700_000_000_000, errors);
        return (envelope, errors);
    }

    private static Envelope Valid(string json)
    {
        var (envelope, errors) = Parse(json);
        Assert.Empty(errors);
        return Assert.IsType<Envelope>(envelope);
    }

    /// <summary>Asserts the body is refused with exactly these fields named, and returns the messages by field.</summary>
    private static Dictionary<string, string[]> Invalid(string json, params string[] fields)
    {
        var (envelope, errors) = Parse(json);
        Assert.Null(envelope);
        Assert.Equal(fields.Order(StringComparer.Ordinal), errors.Keys.Order(StringComparer.Ordinal));
        Assert.All(errors.Values, messages => Assert.NotEmpty(Assert.Single(messages)));
        return errors;
    }

    [Fact]
    public void A_full_message_becomes_an_envelope()
    {
        var envelope = Valid("""{"id":"m-1","chat":"c-1","sender":"bob","text":"hi ✓","attachments":[{"url":"https://x.test/a.png","type":"image"},"https://x.test/b"]}""");

        Assert.Equal("hook-1", envelope.ChannelId);
        Assert.Equal("m-1", envelope.PlatformId);
        Assert.Equal("c-1", envelope.Chat);
        Assert.Equal("bob", envelope.Sender);
        Assert.Equal("hi ✓", envelope.Text);
        Assert.Equal("""[{"url":"https://x.test/a.png","type":"image"},"https://x.test/b"]""", envelope.AttachmentsJson);
        Assert.Equal(1_700_000_000_000, envelope.ReceivedAtMs);
    }

    [Fact]
    public void Integer_chat_id_and_sender_are_taken_as_their_decimal_text()
    {
        var envelope = Valid("""{"id":123,"chat":-4567890123,"sender":0,"text":"x"}""");

        Assert.Equal(("123", "-4567890123", "0"), (envelope.PlatformId, envelope.Chat, envelope.Sender));
    }

    [Theory]
    [InlineData("""{"chat":"c","text":"t"}""")]
    [InlineData("""{"id":null,"chat":"c","text":"t"}""")]
    public void Without_an_id_each_message_gets_a_new_one(string json)
    {
        var first = Valid(json);
        var second = Valid(json);

        Assert.Matches("^[0-9a-f]{32}$", first.PlatformId);
        Assert.NotEqual(first.PlatformId, second.PlatformId);
    }

    [Fact]
    public void Attachments_alone_are_enough()
    {
        var envelope = Valid("""{"chat":"c","text":null,"attachments":["https://x.test/a"]}""");

        Assert.Null(envelope.Text);
        Assert.Null(envelope.Sender);
        Assert.Equal("""["https://x.test/a"]""", envelope.AttachmentsJson);
    }

    [Fact]
    public void Text_alone_is_enough_and_attachments_stay_null()
    {
        var envelope = Valid("""{"chat":"c","text":"only text","attachments":null}""");

        Assert.Null(envelope.AttachmentsJson);
    }

    [Fact]
    public void Unknown_fields_are_ignored()
    {
        var envelope = Valid("""{"chat":"c","text":"t","extra":{"deep":[1,2,{"x":null}]},"priority":5,"text2":7}""");

        Assert.Equal(("c", "t"), (envelope.Chat, envelope.Text));
    }

    [Fact]
    public void Ids_up_to_the_length_limit_are_accepted()
    {
        var id = new string('i', InboundMessageParser.MaxIdLength);

        Assert.Equal(id, Valid($$"""{"id":"{{id}}","chat":"{{id}}","text":"t"}""").PlatformId);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("")]
    [InlineData("{\"chat\":")]
    [InlineData("{\"chat\":\"c\",}")]
    public void A_body_that_is_not_json_is_refused(string body)
    {
        var errors = Invalid(body, "body");

        Assert.StartsWith("is not valid JSON", errors["body"][0], StringComparison.Ordinal);
    }

    [Fact]
    public void JSON_nested_deeper_than_the_limit_is_refused()
    {
        var deep = "{\"chat\":\"c\",\"text\":\"t\",\"x\":" + new string('[', 40) + new string(']', 40) + "}";

        Invalid(deep, "body");
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("""[{"chat":"c","text":"t"}]""")]
    [InlineData("\"text\"")]
    [InlineData("42")]
    [InlineData("null")]
    public void A_root_that_is_not_an_object_is_refused(string body) =>
        Assert.Equal(["must be a JSON object"], Invalid(body, "body")["body"]);

    [Theory]
    [InlineData("""{"text":"t"}""")]
    [InlineData("""{"chat":null,"text":"t"}""")]
    public void A_missing_chat_is_refused(string body) =>
        Assert.Equal(["is required"], Invalid(body, "chat")["chat"]);

    [Theory]
    [InlineData("""{"chat":"","text":"t"}""", "chat")]
    [InlineData("""{"id":"","chat":"c","text":"t"}""", "id")]
    [InlineData("""{"sender":"","chat":"c","text":"t"}""", "sender")]
    public void Empty_strings_are_refused(string body, string field) =>
        Assert.Equal([$"must be 1 to {InboundMessageParser.MaxIdLength} characters"], Invalid(body, field)[field]);

    [Theory]
    [InlineData("id")]
    [InlineData("chat")]
    [InlineData("sender")]
    public void Over_long_ids_are_refused(string field)
    {
        var value = new string('x', InboundMessageParser.MaxIdLength + 1);
        var fields = new Dictionary<string, string> { ["id"] = "m", ["chat"] = "c", ["sender"] = "s", [field] = value };
        var body = $$"""{"id":"{{fields["id"]}}","chat":"{{fields["chat"]}}","sender":"{{fields["sender"]}}","text":"t"}""";

        Assert.Contains("1 to 256 characters", Invalid(body, field)[field][0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("1e30")]
    [InlineData("true")]
    [InlineData("{}")]
    [InlineData("[\"c\"]")]
    public void A_chat_that_is_neither_string_nor_integer_is_refused(string value) =>
        Assert.Equal(["must be a string or an integer"], Invalid($$"""{"chat":{{value}},"text":"t"}""", "chat")["chat"]);

    [Fact]
    public void An_id_that_is_neither_string_nor_integer_is_refused() =>
        Assert.Equal(["must be a string or an integer"], Invalid("""{"id":{"a":1},"chat":"c","text":"t"}""", "id")["id"]);

    [Theory]
    [InlineData("5")]
    [InlineData("true")]
    [InlineData("{\"body\":\"x\"}")]
    [InlineData("[\"x\"]")]
    public void Text_that_is_not_a_string_is_refused(string value) =>
        Assert.Equal(["must be a string"], Invalid($$"""{"chat":"c","text":{{value}}}""", "text")["text"]);

    [Theory]
    [InlineData("{\"url\":\"x\"}")]
    [InlineData("\"https://x.test/a\"")]
    [InlineData("3")]
    public void Attachments_that_are_not_an_array_are_refused(string value) =>
        Assert.Equal(["must be an array"], Invalid($$"""{"chat":"c","text":"t","attachments":{{value}}}""", "attachments")["attachments"]);

    [Fact]
    public void Each_bad_attachment_is_named_by_its_index()
    {
        var errors = Invalid("""{"chat":"c","text":"t","attachments":[{"url":"ok"},5,"https://ok",null,[1]]}""", "attachments[1]", "attachments[3]", "attachments[4]");

        Assert.Equal(["must be an object or a string (URL)"], errors["attachments[1]"]);
    }

    [Theory]
    [InlineData("""{"chat":"c"}""")]
    [InlineData("""{"chat":"c","text":null}""")]
    [InlineData("""{"chat":"c","attachments":[]}""")]
    [InlineData("""{"chat":"c","text":null,"attachments":null}""")]
    public void A_message_with_neither_text_nor_attachments_is_refused(string body) =>
        Assert.Equal(["text or attachments is required"], Invalid(body, "text")["text"]);

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var errors = Invalid("""{"id":"","chat":1.5,"text":7,"attachments":"no"}""", "id", "chat", "text", "attachments");

        Assert.Equal(["must be a string"], errors["text"]);
        Assert.Equal(["must be an array"], errors["attachments"]);
    }
}
