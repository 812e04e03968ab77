using System.Buffers;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Messages;
using Tern.Core.Pipeline;

namespace Tern.Core.Tests.Delivery;

/// <summary>
/// The payload the router writes is what webhook receivers parse (docs/webhook-channel.md): these pin it byte for byte —
/// field order, what is left out, escaping, attachments and meta kept verbatim — and check that reading it back gives the same.
/// </summary>
public sealed class DeliveryPayloadTests
{
    private const string Meta = """{"chat_type":"supergroup","chat_title":"Deals \"A\"","topic":7}""";

    private static Envelope Message(string? text = "hello", string? sender = "alice", string? attachments = null, MessageKind kind = MessageKind.Message,
        string? messageId = null, string? replyTo = null, string? group = null, string? meta = null, string platformId = "u-1") =>
        new("in", platformId, "-100123", sender, text, attachments, 1_700_000_000_123, kind, messageId, replyTo, group, meta);

    private static string Routed(string? optionsJson, params Envelope[] envelopes)
    {
        var catalog = new CatalogSnapshot(1, [], [new RouteDefinition("r1", "in", null, [new Destination("out", "dest-9")], OptionsJson: optionsJson)]);
        var into = new List<NewDelivery>();
        Router.Route(envelopes.Select((e, i) => new InboxItem(i + 1, e)).ToArray(), catalog, static _ => ChannelCapabilities.All, 5, into, new ArrayBufferWriter<byte>(16));
        return Assert.Single(into).Payload;
    }

    public static TheoryData<string, string> Payloads() => new()
    {
        {
            Routed(null, Message()),
            """{"chat":"dest-9","sender":"alice","text":"hello","source":{"channel":"in","chat":"-100123","id":"u-1","received_at":1700000000123},"route":"r1"}"""
        },
        {
            Routed(null, Message(text: null, sender: null, attachments: """[{"type":"photo","file_id":"AgAD","width":90, "extra":{"x":[1,2]}}]""", messageId: "42", replyTo: "41", meta: Meta)),
            """{"chat":"dest-9","attachments":[{"type":"photo","file_id":"AgAD","width":90, "extra":{"x":[1,2]}}],"message_id":"42","reply_to":"41","meta":{"chat_type":"supergroup","chat_title":"Deals \"A\"","topic":7},"source":{"channel":"in","chat":"-100123","id":"u-1","received_at":1700000000123},"route":"r1"}"""
        },
        {
            Routed("""{"mode":"forward","updates":["message","edit"]}""", Message(text: "fixed", kind: MessageKind.Edit, messageId: "42")),
            """{"chat":"dest-9","sender":"alice","kind":"edit","text":"fixed","message_id":"42","mode":"forward","source":{"channel":"in","chat":"-100123","id":"u-1","received_at":1700000000123},"route":"r1"}"""
        },
        {
            Routed("""{"updates":["message","callback"]}""", Message(text: "buy:7", kind: MessageKind.Callback, messageId: "42")),
            """{"chat":"dest-9","sender":"alice","kind":"callback","text":"buy:7","message_id":"42","source":{"channel":"in","chat":"-100123","id":"u-1","received_at":1700000000123},"route":"r1"}"""
        },
        {
            Routed("""{"transform":{"footer":" #tern"}}""", Message(text: "héllo <b> \u2028 🎉 \\ \"q\"", messageId: "5")),
            """{"chat":"dest-9","sender":"alice","text":"h\u00E9llo \u003Cb\u003E \u2028 \uD83C\uDF89 \\ \u0022q\u0022 #tern","message_id":"5","transformed":true,"source":{"channel":"in","chat":"-100123","id":"u-1","received_at":1700000000123},"route":"r1"}"""
        },
        {
            Routed("""{"transform":{"footer":" #tern"}}""",
                Message(text: null, attachments: """[{"type":"photo","file_id":"p1"}]""", messageId: "10", group: "g1", platformId: "u-10"),
                Message(text: "the caption", attachments: """[{"type":"video","file_id":"v1"}]""", messageId: "11", group: "g1", platformId: "u-11"),
                Message(text: null, attachments: """["https://example.com/a.pdf"]""", messageId: "12", group: "g1", platformId: "u-12")),
            """{"chat":"dest-9","sender":"alice","group_id":"g1","album":[{"message_id":"10","attachments":[{"type":"photo","file_id":"p1"}]},{"message_id":"11","text":"the caption #tern","attachments":[{"type":"video","file_id":"v1"}]},{"message_id":"12","attachments":["https://example.com/a.pdf"]}],"transformed":true,"source":{"channel":"in","chat":"-100123","id":"u-10","received_at":1700000000123},"route":"r1"}"""
        },
        {
            Routed(null,
                Message(text: "", attachments: """[{"type":"photo","file_id":"p1"}]""", messageId: "10", group: "g1", meta: Meta, replyTo: "3"),
                Message(text: "second", attachments: """[{"type":"photo","file_id":"p2"}]""", messageId: "11", group: "g1")),
            """{"chat":"dest-9","sender":"alice","group_id":"g1","album":[{"message_id":"10","attachments":[{"type":"photo","file_id":"p1"}]},{"message_id":"11","text":"second","attachments":[{"type":"photo","file_id":"p2"}]}],"reply_to":"3","meta":{"chat_type":"supergroup","chat_title":"Deals \"A\"","topic":7},"source":{"channel":"in","chat":"-100123","id":"u-1","received_at":1700000000123},"route":"r1"}"""
        },
        {
            Routed(null, Message(text: "one of an album", attachments: """[{"type":"photo","file_id":"p1"}]""", messageId: "10", group: "g1")),
            """{"chat":"dest-9","sender":"alice","group_id":"g1","album":[{"message_id":"10","text":"one of an album","attachments":[{"type":"photo","file_id":"p1"}]}],"source":{"channel":"in","chat":"-100123","id":"u-1","received_at":1700000000123},"route":"r1"}"""
        },
    };

    [Theory]
    [MemberData(nameof(Payloads))]
    public void The_router_writes_the_documented_payload_byte_for_byte(string written, string expected) => Assert.Equal(expected, written);

    [Theory]
    [MemberData(nameof(Payloads))]
    public void A_payload_read_back_writes_the_same_bytes(string written, string expected)
    {
        var payload = DeliveryPayload.Parse(written, out var problem);
        Assert.True(payload is not null, problem);
        Assert.Equal(expected, payload.ToJson(new ArrayBufferWriter<byte>(16)));
    }

    [Fact]
    public void Reading_gives_the_kind_the_mode_the_album_and_each_attachment()
    {
        var album = DeliveryPayload.Parse(Routed("""{"transform":{"footer":" #tern"}}""",
            Message(text: null, attachments: """[{"type":"photo","file_id":"p1"}]""", messageId: "10", group: "g1"),
            Message(text: "cap", attachments: """["https://example.com/a.pdf",{"type":"document","url":"https://example.com/b","file_name":"b.txt"},7]""", messageId: "11", group: "g1")), out _)!;
        Assert.Equal(MessageKind.Message, album.KindOrMessage);
        Assert.False(album.IsForward);
        Assert.True(album.Transformed);
        Assert.Equal(("in", "-100123", "r1"), (album.Source.Channel, album.Source.Chat, album.Route));
        Assert.Equal(["10", "11"], album.Album!.Select(i => i.MessageId));
        Assert.Equal([null, "cap #tern"], album.Album!.Select(i => i.Text));
        Assert.Equal([new DeliveryAttachment("photo", "p1", null, null)], DeliveryPayload.AttachmentsOf(album.Album![0].Attachments));
        Assert.Equal([new DeliveryAttachment(null, null, "https://example.com/a.pdf", null), new DeliveryAttachment("document", null, "https://example.com/b", "b.txt")],
            DeliveryPayload.AttachmentsOf(album.Album![1].Attachments));

        var edit = DeliveryPayload.Parse(Routed("""{"mode":"forward","updates":["message","edit"]}""", Message(kind: MessageKind.Edit, messageId: "42")), out _)!;
        Assert.Equal((MessageKind.Edit, true, "42", null), (edit.KindOrMessage, edit.IsForward, edit.MessageId, edit.Transformed));
        Assert.Equal(1_700_000_000_123, edit.Source.ReceivedAt);
    }

    [Fact]
    public void An_API_send_has_its_tenant_and_idempotency_key_as_its_source()
    {
        var payload = new DeliveryPayload
        {
            Chat = "c-1",
            Text = "pay 10 EUR",
            Attachments = DeliveryPayload.AttachmentsJson(new DeliveryAttachment("photo", null, "https://example.com/p.jpg", null)),
            Source = new DeliverySource { Api = "acme", IdempotencyKey = "k-1" },
        };
        var json = payload.ToJson(new ArrayBufferWriter<byte>(16));
        Assert.Equal("""{"chat":"c-1","text":"pay 10 EUR","attachments":[{"type":"photo","url":"https://example.com/p.jpg"}],"source":{"api":"acme","idempotency_key":"k-1"}}""", json);
        Assert.Equal(payload with { Attachments = DeliveryPayload.Parse(json, out _)!.Attachments }, DeliveryPayload.Parse(json, out _));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("""{"text":"no chat, no source"}""")]
    [InlineData("""{"chat":"c","kind":"sideways","source":{}}""")]
    [InlineData("null")]
    public void What_is_not_a_payload_is_a_problem_not_an_exception(string json)
    {
        Assert.Null(DeliveryPayload.Parse(json, out var problem));
        Assert.False(string.IsNullOrEmpty(problem));
    }
}
