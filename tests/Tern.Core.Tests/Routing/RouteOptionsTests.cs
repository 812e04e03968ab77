using Tern.Core.Routing;

namespace Tern.Core.Tests.Routing;

public sealed class RouteOptionsTests
{
    private static (RouteOptions? Options, Dictionary<string, string[]> Errors) Parse(string json)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        return (RouteOptions.Parse(json, errors), errors);
    }

    [Fact]
    public void Every_option_parses_and_survives_a_round_trip_through_its_stored_form()
    {
        const string Json = """
            {"mode":"copy","updates":["message","callback"],
             "filters":{"text":{"contains":["sale"],"regex":["\\d+%"]},"deny_text":{"contains":["spam"]},"ignore_case":true,
                        "media":["photo","text"],"deny_media":["sticker"],"senders":["42","@Alice"],"deny_senders":["7"]},
             "transform":{"replace":[{"pattern":"foo(\\d)","with":"bar$1","ignore_case":true}],"template":"{text} — {sender_name}","header":"H: ","footer":" #tern"}}
            """;
        var (options, errors) = Parse(Json);

        Assert.Empty(errors);
        Assert.NotNull(options);
        Assert.Equal(RouteMode.Copy, options.Mode);
        Assert.False(options.Edits);
        Assert.True(options.Callbacks);
        Assert.True(options.IgnoreCase);
        Assert.Equal(["sale"], options.Text!.Contains);
        Assert.Equal([@"\d+%"], options.Text.Regex);
        Assert.Equal(["spam"], options.DenyText!.Contains);
        Assert.Equal(["photo", "text"], options.Media!);
        Assert.Equal(["sticker"], options.DenyMedia!);
        Assert.Equal(["42", "@Alice"], options.Senders!);
        Assert.Equal(["7"], options.DenySenders!);
        Assert.Equal(new ReplaceRule(@"foo(\d)", "bar$1", true), Assert.Single(options.Replace!));
        Assert.Equal("{text} — {sender_name}", options.Template);
        Assert.True(options.HasTransform);

        var (again, againErrors) = Parse(options.ToJson());
        Assert.Empty(againErrors);
        Assert.Equal(options.ToJson(), again!.ToJson());
    }

    [Fact]
    public void Defaults_are_left_out_of_the_stored_form()
    {
        var (options, errors) = Parse("""{"mode":"copy","updates":["message","edit"]}""");
        Assert.Empty(errors);
        Assert.Equal("{}", options!.ToJson());
        Assert.True(options.IsDefault);
        Assert.Equal("""{"mode":"forward"}""", Parse("""{"mode":"forward"}""").Options!.ToJson());
    }

    [Theory]
    [InlineData("""{"filters":{"text":{"regex":["(unclosed"]}}}""", "options.filters.text.regex[0]", "not a valid regular expression")]
    [InlineData("""{"filters":{"deny_text":{"regex":["ok","[z-a]"]}}}""", "options.filters.deny_text.regex[1]", "not a valid regular expression")]
    [InlineData("""{"transform":{"replace":[{"pattern":"*","with":"x"}]}}""", "options.transform.replace[0].pattern", "not a valid regular expression")]
    [InlineData("""{"transform":{"replace":[{"pattern":"a"}]}}""", "options.transform.replace[0].with", "is required")]
    [InlineData("""{"transform":{"template":"{text} {nope}"}}""", "options.transform.template", "unknown placeholder {nope}")]
    [InlineData("""{"transform":{"template":"{text"}}""", "options.transform.template", "unclosed")]
    [InlineData("""{"mode":"forward","transform":{"header":"x"}}""", "options.transform", "needs mode \"copy\"")]
    [InlineData("""{"mode":"sideways"}""", "options.mode", "copy")]
    [InlineData("""{"filters":{"media":["photo","hologram"]}}""", "options.filters.media[1]", "must be one of")]
    [InlineData("""{"filters":{"text":{}}}""", "options.filters.text", "give contains or regex")]
    [InlineData("""{"filters":{"txt":{"contains":["a"]}}}""", "options.filters.txt", "is not a filter")]
    [InlineData("""{"filter":{}}""", "options.filter", "is not a route option")]
    [InlineData("""{"updates":["edit"]}""", "options.updates", "must include \"message\"")]
    [InlineData("""{"updates":["message","deleted"]}""", "options.updates[1]", "one of")]
    [InlineData("""{"filters":{"senders":[""]}}""", "options.filters.senders[0]", "1 to 256 characters")]
    [InlineData("""{"filters":{"ignore_case":"yes"}}""", "options.filters.ignore_case", "true or false")]
    [InlineData("""[1,2]""", "options", "JSON object")]
    [InlineData("""{"filters":""", "options", "not valid JSON")]
    public void A_bad_option_is_refused_naming_the_field(string json, string field, string problem)
    {
        var (options, errors) = Parse(json);

        Assert.Null(options);
        Assert.True(errors.ContainsKey(field), $"expected an error for {field}, got: {string.Join("; ", errors.Select(e => e.Key + " " + string.Join(",", e.Value)))}");
        Assert.Contains(problem, errors[field][0], StringComparison.Ordinal);
    }

    [Fact]
    public void Lists_are_bounded()
    {
        var many = string.Join(',', Enumerable.Range(0, RouteOptions.MaxListItems + 1).Select(i => $"\"w{i}\""));
        var (options, errors) = Parse("{\"filters\":{\"text\":{\"contains\":[" + many + "]}}}");
        Assert.Null(options);
        Assert.Contains("at most", errors["options.filters.text.contains"][0], StringComparison.Ordinal);
    }
}
