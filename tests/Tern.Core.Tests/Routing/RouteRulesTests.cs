using Tern.Core.Messages;
using Tern.Core.Routing;

namespace Tern.Core.Tests.Routing;

public sealed class RouteRulesTests
{
    private static RouteRules Rules(string json)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var options = RouteOptions.Parse(json, errors);
        Assert.True(errors.Count == 0, string.Join("; ", errors.Select(e => e.Key + " " + e.Value[0])));
        return RouteRules.Compile(options!);
    }

    private static MessageFacts Facts(string? text, string? attachments = null, string? sender = "42", string? meta = null) =>
        MessageFacts.Of(new Envelope("in", "p", "chat-1", sender, text, attachments, 1_700_000_000_000, MessageId: "9", MetaJson: meta));

    private const string Photo = """[{"type":"photo","file_id":"F1"}]""";
    private const string Sticker = """[{"type":"sticker","file_id":"S1"}]""";

    [Fact]
    public void Text_conditions_match_contains_or_regex_and_respect_case()
    {
        var sensitive = Rules("""{"filters":{"text":{"contains":["Sale"],"regex":["^\\d{3}$"]}}}""");
        Assert.True(sensitive.Passes(Facts("Big Sale today")));
        Assert.False(sensitive.Passes(Facts("big sale today")));
        Assert.True(sensitive.Passes(Facts("123")));
        Assert.False(sensitive.Passes(Facts("1234")));
        Assert.False(sensitive.Passes(Facts(null)));

        var insensitive = Rules("""{"filters":{"text":{"contains":["Sale"],"regex":["^ORDER"]},"ignore_case":true}}""");
        Assert.True(insensitive.Passes(Facts("big SALE today")));
        Assert.True(insensitive.Passes(Facts("order #5")));
    }

    [Fact]
    public void Deny_lists_drop_what_allow_lists_let_through()
    {
        var rules = Rules("""{"filters":{"text":{"contains":["deal"]},"deny_text":{"regex":["(?i)spam"]},"deny_senders":["666","@troll"]}}""");
        Assert.True(rules.Passes(Facts("a deal")));
        Assert.False(rules.Passes(Facts("a deal, SPAM")));
        Assert.False(rules.Passes(Facts("a deal", sender: "666")));
        Assert.False(rules.Passes(Facts("a deal", sender: "1", meta: """{"sender_username":"Troll"}""")));
        Assert.True(rules.Passes(Facts("a deal", sender: "1", meta: """{"sender_username":"friend"}""")));
    }

    [Fact]
    public void Media_filters_look_at_the_attachment_types_and_text_means_no_media()
    {
        var photosOnly = Rules("""{"filters":{"media":["photo"]}}""");
        Assert.True(photosOnly.Passes(Facts("caption", Photo)));
        Assert.False(photosOnly.Passes(Facts("just text")));
        Assert.False(photosOnly.Passes(Facts(null, Sticker)));

        var noStickers = Rules("""{"filters":{"deny_media":["sticker"]}}""");
        Assert.True(noStickers.Passes(Facts("just text")));
        Assert.True(noStickers.Passes(Facts(null, Photo)));
        Assert.False(noStickers.Passes(Facts(null, Sticker)));

        var textOnly = Rules("""{"filters":{"media":["text"]}}""");
        Assert.True(textOnly.Passes(Facts("hi")));
        Assert.False(textOnly.Passes(Facts("hi", Photo)));
    }

    [Fact]
    public void Sender_allow_lists_take_ids_and_usernames()
    {
        var rules = Rules("""{"filters":{"senders":["42","@Boss"]}}""");
        Assert.True(rules.Passes(Facts("x", sender: "42")));
        Assert.True(rules.Passes(Facts("x", sender: "7", meta: """{"sender_username":"boss"}""")));
        Assert.False(rules.Passes(Facts("x", sender: "7", meta: """{"sender_username":"intern"}""")));
        Assert.False(rules.Passes(Facts("x", sender: null)));
    }

    [Fact]
    public void Transforms_replace_then_template_then_header_and_footer()
    {
        var rules = Rules("""
            {"transform":{"replace":[{"pattern":"(\\d+) EUR","with":"€$1"},{"pattern":"secret","with":"***","ignore_case":true}],
                          "template":"{text} (from {sender_name} in {chat_title})","header":"[fwd] ","footer":"\n#deals"}}
            """);
        var facts = Facts("Price 12 EUR, SECRET code", meta: """{"sender_name":"Alice A.","chat_title":"Deals"}""");

        Assert.Equal("[fwd] Price €12, *** code (from Alice A. in Deals)\n#deals", rules.Transform(facts.Text, facts));
    }

    [Fact]
    public void A_template_falls_back_when_a_name_is_unknown_and_keeps_literal_braces()
    {
        var rules = Rules("""{"transform":{"template":"{{{sender_name}}} said: {text} [{message_id}@{channel}/{chat}]"}}""");
        var facts = Facts("hi", sender: "42");
        Assert.Equal("{42} said: hi [9@in/chat-1]", rules.Transform(facts.Text, facts));
    }

    [Fact]
    public void A_pathological_pattern_times_out_as_no_match_instead_of_hanging()
    {
        var rules = Rules("""{"filters":{"text":{"regex":["^(a+)+$"]}}}""");
        var evil = new string('a', 5_000) + "!";
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(rules.Passes(Facts(evil)));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"took {started.Elapsed}");
    }

    [Fact]
    public void Options_without_filters_or_transforms_compile_to_the_shared_default()
    {
        Assert.Same(RouteRules.Default, Rules("{}"));
        Assert.Same(RouteRules.Default, Rules("""{"mode":"copy"}"""));
        Assert.NotSame(RouteRules.Default, Rules("""{"mode":"forward"}"""));
    }
}
