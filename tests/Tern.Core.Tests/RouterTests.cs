using System.Buffers;
using System.Text.Json;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Messages;
using Tern.Core.Pipeline;

namespace Tern.Core.Tests;

public sealed class RouterTests
{
    private static readonly ArrayBufferWriter<byte> Scratch = new(16);

    private static InboxItem Item(long seq, string channel = "in", string chat = "chat-1", string? sender = "alice", string? text = "hello", string? attachments = null) =>
        new(seq, new Envelope(channel, "pid-" + seq, chat, sender, text, attachments, 1_700_000_000_123));

    private static CatalogSnapshot Catalog(params RouteDefinition[] routes) => new(7, [], routes);

    private static List<NewDelivery> Route(InboxItem item, CatalogSnapshot catalog, long now = 5_000)
    {
        var into = new List<NewDelivery>();
        var count = Router.Route(item, catalog, static _ => ChannelCapabilities.All, now, into, new ArrayBufferWriter<byte>(16));
        Assert.Equal(into.Count, count);
        return into;
    }

    [Fact]
    public void One_delivery_per_destination_of_every_matching_route()
    {
        var catalog = Catalog(
            new RouteDefinition("r1", "in", null, [new Destination("out-a", null), new Destination("out-b", "fixed")]),
            new RouteDefinition("r2", "in", null, [new Destination("out-c", null)]));

        var deliveries = Route(Item(11), catalog, now: 9_999);

        Assert.Equal(
            [("r1", "out-a", "chat-1"), ("r1", "out-b", "fixed"), ("r2", "out-c", "chat-1")],
            deliveries.Select(d => (d.RouteId, d.ChannelId, d.Chat)));
        Assert.All(deliveries, d => Assert.Equal((11L, 9_999L), (d.InboxSeq, d.CreatedAtMs)));
    }

    [Fact]
    public void A_destination_without_a_chat_sends_to_the_source_chat()
    {
        var catalog = Catalog(new RouteDefinition("r1", "in", null, [new Destination("out", null)]));

        Assert.Equal("chat-77", Assert.Single(Route(Item(1, chat: "chat-77"), catalog)).Chat);
        Assert.Equal("other", Assert.Single(Route(Item(2, chat: "other"), catalog)).Chat);
    }

    [Fact]
    public void Routes_match_by_source_channel()
    {
        var catalog = Catalog(
            new RouteDefinition("from-in", "in", null, [new Destination("out", null)]),
            new RouteDefinition("from-elsewhere", "elsewhere", null, [new Destination("out2", null)]));

        Assert.Equal("from-in", Assert.Single(Route(Item(1, channel: "in"), catalog)).RouteId);
        Assert.Equal("from-elsewhere", Assert.Single(Route(Item(2, channel: "elsewhere"), catalog)).RouteId);
        Assert.Empty(Route(Item(3, channel: "unrouted"), catalog));
    }

    [Fact]
    public void A_chat_filter_lets_only_its_chats_through()
    {
        var catalog = Catalog(new RouteDefinition("r1", "in", ["vip", "ops"], [new Destination("out", null)]));

        Assert.Single(Route(Item(1, chat: "vip"), catalog));
        Assert.Single(Route(Item(2, chat: "ops"), catalog));
        Assert.Empty(Route(Item(3, chat: "random"), catalog));
        Assert.Empty(Route(Item(4, chat: "VIP"), catalog));
    }

    [Fact]
    public void An_empty_chat_filter_lets_every_chat_through()
    {
        var catalog = Catalog(new RouteDefinition("r1", "in", [], [new Destination("out", null)]));

        Assert.Single(Route(Item(1, chat: "anything"), catalog));
    }

    [Fact]
    public void Disabled_routes_are_ignored()
    {
        var catalog = Catalog(
            new RouteDefinition("off", "in", null, [new Destination("out-off", null)], Enabled: false),
            new RouteDefinition("on", "in", null, [new Destination("out-on", null)]));

        Assert.Equal("on", Assert.Single(Route(Item(1), catalog)).RouteId);
    }

    [Fact]
    public void Route_appends_to_what_is_already_in_the_list()
    {
        var catalog = Catalog(new RouteDefinition("r1", "in", null, [new Destination("out", null)]));
        var into = new List<NewDelivery>();

        Router.Route(Item(1), catalog, static _ => ChannelCapabilities.All, 0, into, Scratch);
        var added = Router.Route(Item(2), catalog, static _ => ChannelCapabilities.All, 0, into, Scratch);

        Assert.Equal(1, added);
        Assert.Equal([1L, 2L], into.Select(d => d.InboxSeq));
        // The scratch buffer is reused; earlier payloads must not change with it.
        Assert.Contains("\"pid-1\"", into[0].Payload, StringComparison.Ordinal);
    }

    [Fact]
    public void The_payload_has_the_message_its_source_and_the_route()
    {
        var catalog = Catalog(new RouteDefinition("r1", "in", null, [new Destination("out", "dest-chat")]));
        var item = Item(5, chat: "src-chat", sender: "bob", text: "hi \"there\" ✓", attachments: "[{\"url\":\"https://x.test/a.png\"},\"https://x.test/b\"]");

        var payload = Assert.Single(Route(item, catalog)).Payload;

        using var json = JsonDocument.Parse(payload);
        var root = json.RootElement;
        Assert.Equal(["chat", "sender", "text", "attachments", "source", "route"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("dest-chat", root.GetProperty("chat").GetString());
        Assert.Equal("bob", root.GetProperty("sender").GetString());
        Assert.Equal("hi \"there\" ✓", root.GetProperty("text").GetString());
        var attachments = root.GetProperty("attachments");
        Assert.Equal(JsonValueKind.Array, attachments.ValueKind);
        Assert.Equal("https://x.test/a.png", attachments[0].GetProperty("url").GetString());
        Assert.Equal("https://x.test/b", attachments[1].GetString());
        var source = root.GetProperty("source");
        Assert.Equal(["channel", "chat", "id", "received_at"], source.EnumerateObject().Select(p => p.Name));
        Assert.Equal("in", source.GetProperty("channel").GetString());
        Assert.Equal("src-chat", source.GetProperty("chat").GetString());
        Assert.Equal("pid-5", source.GetProperty("id").GetString());
        Assert.Equal(1_700_000_000_123, source.GetProperty("received_at").GetInt64());
        Assert.Equal("r1", root.GetProperty("route").GetString());
    }

    [Fact]
    public void Missing_sender_text_and_attachments_are_left_out_of_the_payload()
    {
        var catalog = Catalog(new RouteDefinition("r1", "in", null, [new Destination("out", null)]));

        var payload = Assert.Single(Route(Item(1, sender: null, text: null, attachments: "[\"u\"]"), catalog)).Payload;
        using (var json = JsonDocument.Parse(payload))
        {
            Assert.Equal(["chat", "attachments", "source", "route"], json.RootElement.EnumerateObject().Select(p => p.Name));
        }

        var textOnly = Assert.Single(Route(Item(2, sender: null, text: "t"), catalog)).Payload;
        using (var json = JsonDocument.Parse(textOnly))
        {
            Assert.Equal(["chat", "text", "source", "route"], json.RootElement.EnumerateObject().Select(p => p.Name));
        }
    }
}
