using System.Buffers;
using System.Text.Json;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Messages;
using Tern.Core.Pipeline;

namespace Tern.Core.Tests.Routing;

/// <summary>The router with route options: filters, transforms, albums, edits and button presses.</summary>
public sealed class RouterOptionsTests
{
    private static readonly ChannelDefinition Telegram = new("tg-out", "telegram", null, null, null);

    /// <summary>What the Telegram channel type declares (no button presses, no edits of forwards); every other type shows everything.</summary>
    private static ChannelCapabilities CapabilitiesOf(string? type) => type == "telegram" ? ChannelCapabilities.None : ChannelCapabilities.All;
    private static readonly ChannelDefinition Hook = new("hook-out", ChannelTypes.Webhook, null, new Uri("http://127.0.0.1:9/x"), null);

    private static CatalogSnapshot Catalog(string? options, params Destination[] destinations) =>
        new(1, [Telegram, Hook], [new RouteDefinition("r", "tg-in", null, destinations, OptionsJson: options)]);

    private static InboxItem Message(long seq, string? text, string? attachments = null, string? group = null, MessageKind kind = MessageKind.Message, string? replyTo = null) =>
        new(seq, new Envelope("tg-in", "p" + seq, "-100", "42", text, attachments, 1_700_000_000_000, kind, (100 + seq).ToString(System.Globalization.CultureInfo.InvariantCulture), replyTo, group,
            """{"chat_type":"supergroup","sender_name":"Alice"}"""));

    private static List<NewDelivery> Route(CatalogSnapshot catalog, params InboxItem[] items)
    {
        var into = new List<NewDelivery>();
        Router.Route(items, catalog, CapabilitiesOf, 5_000, into, new ArrayBufferWriter<byte>(64));
        return into;
    }

    private static JsonElement Payload(NewDelivery delivery) => JsonDocument.Parse(delivery.Payload).RootElement;

    private const string Photo = """[{"type":"photo","file_id":"F"}]""";

    [Fact]
    public void An_album_becomes_one_delivery_per_destination_with_its_items_in_order()
    {
        var catalog = Catalog(null, new Destination("tg-out", "-200"), new Destination("hook-out", "orders"));
        var album = new[] { Message(1, "look", Photo, "g1"), Message(2, null, Photo, "g1"), Message(3, null, Photo, "g1") };

        var deliveries = Route(catalog, album);

        Assert.Equal(["tg-out", "hook-out"], deliveries.Select(d => d.ChannelId));
        Assert.All(deliveries, d => Assert.Equal(1L, d.InboxSeq));
        var payload = Payload(deliveries[0]);
        Assert.Equal("g1", payload.GetProperty("group_id").GetString());
        var items = payload.GetProperty("album").EnumerateArray().ToArray();
        Assert.Equal(["101", "102", "103"], items.Select(i => i.GetProperty("message_id").GetString()));
        Assert.Equal("look", items[0].GetProperty("text").GetString());
        Assert.False(items[1].TryGetProperty("text", out _));
        Assert.All(items, i => Assert.Equal("photo", i.GetProperty("attachments")[0].GetProperty("type").GetString()));
        Assert.False(payload.TryGetProperty("text", out _));
        Assert.Equal("supergroup", payload.GetProperty("meta").GetProperty("chat_type").GetString());
    }

    [Fact]
    public void An_album_is_judged_as_a_whole_and_its_caption_is_transformed_where_it_was()
    {
        var catalog = Catalog("""{"filters":{"text":{"contains":["sale"]}},"transform":{"footer":" #deal"}}""", new Destination("tg-out", "-200"));

        var passing = Route(catalog, Message(1, null, Photo, "g"), Message(2, "big sale", Photo, "g"));
        var items = Payload(Assert.Single(passing)).GetProperty("album").EnumerateArray().ToArray();
        Assert.False(items[0].TryGetProperty("text", out _));
        Assert.Equal("big sale #deal", items[1].GetProperty("text").GetString());
        Assert.True(Payload(passing[0]).GetProperty("transformed").GetBoolean());

        Assert.Empty(Route(catalog, Message(3, null, Photo, "h"), Message(4, "nothing here", Photo, "h")));
    }

    [Fact]
    public void A_transform_rewrites_the_text_and_marks_the_payload()
    {
        var catalog = Catalog("""{"transform":{"template":"{sender_name}: {text}"}}""", new Destination("tg-out", "-200"));
        var payload = Payload(Assert.Single(Route(catalog, Message(1, "hello"))));
        Assert.Equal("Alice: hello", payload.GetProperty("text").GetString());
        Assert.True(payload.GetProperty("transformed").GetBoolean());
        Assert.Equal("101", payload.GetProperty("message_id").GetString());
    }

    [Fact]
    public void A_text_message_whose_copy_would_be_empty_is_not_sent()
    {
        var catalog = Catalog("""{"transform":{"replace":[{"pattern":".*","with":""}]}}""", new Destination("tg-out", "-200"));
        Assert.Empty(Route(catalog, Message(1, "drop me")));
        // A medium still goes, without a caption.
        Assert.Single(Route(catalog, Message(2, "caption", Photo)));
    }

    [Fact]
    public void Edits_follow_copies_but_not_forwards_into_telegram()
    {
        var edit = Message(1, "fixed typo", kind: MessageKind.Edit);
        var copy = Route(Catalog(null, new Destination("tg-out", "-200"), new Destination("hook-out", "x")), edit);
        Assert.Equal(["tg-out", "hook-out"], copy.Select(d => d.ChannelId));
        Assert.Equal("edit", Payload(copy[0]).GetProperty("kind").GetString());

        var forward = Route(Catalog("""{"mode":"forward"}""", new Destination("tg-out", "-200"), new Destination("hook-out", "x")), edit);
        Assert.Equal(["hook-out"], forward.Select(d => d.ChannelId));
        Assert.Equal("forward", Payload(forward[0]).GetProperty("mode").GetString());

        Assert.Empty(Route(Catalog("""{"updates":["message"]}""", new Destination("tg-out", "-200")), edit));
    }

    [Fact]
    public void Button_presses_go_only_where_asked_and_never_into_a_telegram_chat()
    {
        var press = Message(1, "buy:42", kind: MessageKind.Callback);
        Assert.Empty(Route(Catalog(null, new Destination("hook-out", "x")), press));
        var asked = Route(Catalog("""{"updates":["message","callback"]}""", new Destination("tg-out", "-200"), new Destination("hook-out", "x")), press);
        Assert.Equal("hook-out", Assert.Single(asked).ChannelId);
        Assert.Equal("callback", Payload(asked[0]).GetProperty("kind").GetString());
    }

    [Fact]
    public void A_reply_carries_the_source_message_it_answers()
    {
        var payload = Payload(Assert.Single(Route(Catalog(null, new Destination("tg-out", "-200")), Message(5, "yes", replyTo: "77"))));
        Assert.Equal("77", payload.GetProperty("reply_to").GetString());
    }

    [Fact]
    public void A_route_whose_stored_options_no_longer_parse_is_skipped_not_fatal()
    {
        var catalog = new CatalogSnapshot(1, [Telegram], [
            new RouteDefinition("broken", "tg-in", null, [new Destination("tg-out", "-1")], OptionsJson: """{"filters":{"text":{"regex":["("]}}}"""),
            new RouteDefinition("fine", "tg-in", null, [new Destination("tg-out", "-2")]),
        ]);
        Assert.Equal("-2", Assert.Single(Route(catalog, Message(1, "x"))).Chat);
        Assert.Contains("regular expression", catalog.RoutesFrom("tg-in")[0].Problem, StringComparison.Ordinal);
    }
}
