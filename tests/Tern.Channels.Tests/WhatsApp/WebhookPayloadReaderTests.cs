using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tern.Channels.WhatsApp;
using Tern.Core.Messages;
using Tern.StandIns.WhatsApp;

namespace Tern.Channels.Tests.WhatsApp;

/// <summary>
/// Meta's messages webhook, as the stand-in's builders write it, read into Tern's envelopes: chat and sender, text,
/// attachments in Tern's vocabulary, replies and reactions, the meta facts; batched bodies in body order; what is not usable.
/// </summary>
public sealed class WebhookPayloadReaderTests
{
    private const string Phone = "106540352242922";
    private const string Display = "15550783881";
    private const string Waba = "102290129340398";
    private const string Alice = "16505551234";
    private const string Business = "15550783881";
    private const long ReceivedAt = 1_780_000_000_123;
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeSeconds(1_780_000_000);

    private static WebhookPayload Read(byte[] body)
    {
        var payload = WebhookPayloadReader.Read(body, ReceivedAt, out var problem);
        Assert.True(payload is not null, $"not read: {problem}");
        Assert.Null(problem);
        return payload!;
    }

    /// <summary>The one envelope of a body holding one change with <paramref name="message"/> (and the sender's contact).</summary>
    private static Envelope One(JsonObject message, string? contactWaId = Alice, string? contactUserId = null)
    {
        var change = new WhatsAppChange(Phone, Display);
        if (contactWaId is not null || contactUserId is not null) change.Contact(contactWaId, "Alice Doe", contactUserId);
        var payload = Read(new WhatsAppWebhookBody().Entry(Waba, change.Message(message)).ToBytes());
        var (phoneNumberId, envelope) = Assert.Single(payload.Messages);
        Assert.Equal(Phone, phoneNumberId);
        Assert.Equal(0, payload.Unusable);
        return envelope;
    }

    private static JsonElement Attachment(Envelope envelope)
    {
        Assert.NotNull(envelope.AttachmentsJson);
        using var document = JsonDocument.Parse(envelope.AttachmentsJson!);
        return Assert.Single(document.RootElement.EnumerateArray()).Clone();
    }

    private static JsonElement Meta(Envelope envelope)
    {
        Assert.NotNull(envelope.MetaJson);
        using var document = JsonDocument.Parse(envelope.MetaJson!);
        return document.RootElement.Clone();
    }

    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.GetString() : null;

    [Fact]
    public void A_text_is_an_envelope_keyed_on_its_wamid_with_the_sender_as_chat_and_the_meta_facts()
    {
        var wamid = WhatsAppInbound.NewWamid();
        var envelope = One(WhatsAppInbound.Text(Alice, "hello shop", wamid, At));

        Assert.Equal(string.Empty, envelope.ChannelId);
        Assert.Equal(wamid, envelope.PlatformId);
        Assert.Equal(wamid, envelope.MessageId);
        Assert.Equal(Alice, envelope.Chat);
        Assert.Equal(Alice, envelope.Sender);
        Assert.Equal("hello shop", envelope.Text);
        Assert.Null(envelope.AttachmentsJson);
        Assert.Null(envelope.ReplyToId);
        Assert.Equal(MessageKind.Message, envelope.Kind);
        Assert.Equal(ReceivedAt, envelope.ReceivedAtMs);

        var meta = Meta(envelope);
        Assert.Equal(Phone, Str(meta, "phone_number_id"));
        Assert.Equal(Display, Str(meta, "display_phone_number"));
        Assert.Equal(Waba, Str(meta, "waba_id"));
        Assert.Equal("text", Str(meta, "whatsapp_type"));
        Assert.Equal(Alice, Str(meta, "wa_id"));
        Assert.Equal("Alice Doe", Str(meta, "sender_name"));
        Assert.Equal(At.ToUnixTimeSeconds(), meta.GetProperty("date").GetInt64());
        Assert.False(meta.TryGetProperty("forwarded", out _));
        Assert.False(meta.TryGetProperty("frequently_forwarded", out _));
        Assert.False(meta.TryGetProperty("user_id", out _));
    }

    [Fact]
    public void An_image_is_a_photo_with_its_media_id_mime_type_sha256_and_caption_as_text()
    {
        var message = WhatsAppInbound.Image(Alice, "media-img-1", "image/png", caption: "the receipt");
        var envelope = One(message);
        Assert.Equal("the receipt", envelope.Text);
        var photo = Attachment(envelope);
        Assert.Equal("photo", Str(photo, "type"));
        Assert.Equal("media-img-1", Str(photo, "media_id"));
        Assert.Equal("image/png", Str(photo, "mime_type"));
        Assert.Equal((string?)message["image"]!["sha256"], Str(photo, "sha256"));
        Assert.Equal("image", Str(Meta(envelope), "whatsapp_type"));
    }

    [Fact]
    public void A_video_is_a_video_with_its_caption()
    {
        var envelope = One(WhatsAppInbound.Video(Alice, "media-vid-1", caption: "look"));
        Assert.Equal("look", envelope.Text);
        var video = Attachment(envelope);
        Assert.Equal("video", Str(video, "type"));
        Assert.Equal("media-vid-1", Str(video, "media_id"));
        Assert.Equal("video/mp4", Str(video, "mime_type"));
    }

    [Fact]
    public void Audio_is_audio_and_a_voice_note_is_voice()
    {
        var audio = Attachment(One(WhatsAppInbound.Audio(Alice, "media-aud-1")));
        Assert.Equal("audio", Str(audio, "type"));
        Assert.Equal("media-aud-1", Str(audio, "media_id"));
        Assert.Equal("audio/mpeg", Str(audio, "mime_type"));

        var voiceEnvelope = One(WhatsAppInbound.Audio(Alice, "media-voice-1", voice: true));
        Assert.Null(voiceEnvelope.Text);
        var voice = Attachment(voiceEnvelope);
        Assert.Equal("voice", Str(voice, "type"));
        Assert.Equal("media-voice-1", Str(voice, "media_id"));
        Assert.Equal("audio/ogg; codecs=opus", Str(voice, "mime_type"));
    }

    [Fact]
    public void A_document_keeps_its_file_name_and_caption()
    {
        var envelope = One(WhatsAppInbound.Document(Alice, "media-doc-1", "invoice.pdf", caption: "March"));
        Assert.Equal("March", envelope.Text);
        var document = Attachment(envelope);
        Assert.Equal("document", Str(document, "type"));
        Assert.Equal("media-doc-1", Str(document, "media_id"));
        Assert.Equal("invoice.pdf", Str(document, "file_name"));
        Assert.Equal("application/pdf", Str(document, "mime_type"));
    }

    [Fact]
    public void A_sticker_says_whether_it_is_animated()
    {
        var still = Attachment(One(WhatsAppInbound.Sticker(Alice, "media-stk-1")));
        Assert.Equal("sticker", Str(still, "type"));
        Assert.Equal("media-stk-1", Str(still, "media_id"));
        Assert.Equal("image/webp", Str(still, "mime_type"));
        Assert.False(still.GetProperty("animated").GetBoolean());
        Assert.True(Attachment(One(WhatsAppInbound.Sticker(Alice, "media-stk-2", animated: true))).GetProperty("animated").GetBoolean());
    }

    [Fact]
    public void A_location_is_a_location_and_with_a_name_or_address_a_venue()
    {
        var plain = Attachment(One(WhatsAppInbound.Location(Alice, 37.483307, -122.148981)));
        Assert.Equal("location", Str(plain, "type"));
        Assert.Equal(37.483307, plain.GetProperty("latitude").GetDouble());
        Assert.Equal(-122.148981, plain.GetProperty("longitude").GetDouble());
        Assert.False(plain.TryGetProperty("title", out _));

        var venue = Attachment(One(WhatsAppInbound.Location(Alice, 52.52, 13.405, name: "Shop HQ", address: "1 Main St")));
        Assert.Equal("venue", Str(venue, "type"));
        Assert.Equal(52.52, venue.GetProperty("latitude").GetDouble());
        Assert.Equal(13.405, venue.GetProperty("longitude").GetDouble());
        Assert.Equal("Shop HQ", Str(venue, "title"));
        Assert.Equal("1 Main St", Str(venue, "address"));

        Assert.Equal("venue", Str(Attachment(One(WhatsAppInbound.Location(Alice, 1, 2, address: "only an address"))), "type"));
    }

    [Fact]
    public void A_contacts_message_is_a_contact_with_its_phone_and_names_and_meta_card_verbatim()
    {
        var envelope = One(WhatsAppInbound.Contacts(Alice, "Barbara Johnson", "+1 (940) 555-1234", waId: "19405551234"));
        Assert.Null(envelope.Text);
        var contact = Attachment(envelope);
        Assert.Equal("contact", Str(contact, "type"));
        Assert.Equal("+1 (940) 555-1234", Str(contact, "phone_number"));
        Assert.Equal("Barbara", Str(contact, "first_name"));
        Assert.Equal("19405551234", Str(contact, "wa_id"));
        Assert.Equal("Barbara Johnson", contact.GetProperty("whatsapp").GetProperty("name").GetProperty("formatted_name").GetString());
        // The message's contacts[] is the card, not the webhook's contacts[] (the sender): the sender is still Alice.
        Assert.Equal(Alice, envelope.Chat);
    }

    [Fact]
    public void A_button_reply_is_a_reply_to_the_business_message_with_its_title_as_text()
    {
        var original = WhatsAppInbound.NewWamid();
        var envelope = One(WhatsAppInbound.ButtonReply(Alice, "btn-yes", "Yes please", original, Business));
        Assert.Equal("Yes please", envelope.Text);
        Assert.Equal(original, envelope.ReplyToId);
        var reply = Attachment(envelope);
        Assert.Equal("button_reply", Str(reply, "type"));
        Assert.Equal("btn-yes", Str(reply, "id"));
        Assert.Equal("Yes please", Str(reply, "title"));
        var meta = Meta(envelope);
        Assert.Equal("interactive", Str(meta, "whatsapp_type"));
        Assert.Equal(Business, Str(meta, "context_from"));
    }

    [Fact]
    public void A_list_reply_keeps_its_row_id_title_and_description()
    {
        var original = WhatsAppInbound.NewWamid();
        var envelope = One(WhatsAppInbound.ListReply(Alice, "row-2", "Tuesday", "10:00–12:00", original, Business));
        Assert.Equal("Tuesday", envelope.Text);
        Assert.Equal(original, envelope.ReplyToId);
        var reply = Attachment(envelope);
        Assert.Equal("list_reply", Str(reply, "type"));
        Assert.Equal("row-2", Str(reply, "id"));
        Assert.Equal("Tuesday", Str(reply, "title"));
        Assert.Equal("10:00–12:00", Str(reply, "description"));
    }

    [Fact]
    public void A_template_button_is_a_button_with_its_payload()
    {
        var original = WhatsAppInbound.NewWamid();
        var envelope = One(WhatsAppInbound.Button(Alice, "STOP_PROMOS", "Stop promotions", original, Business));
        Assert.Equal("Stop promotions", envelope.Text);
        Assert.Equal(original, envelope.ReplyToId);
        var button = Attachment(envelope);
        Assert.Equal("button", Str(button, "type"));
        Assert.Equal("STOP_PROMOS", Str(button, "payload"));
        Assert.Equal("Stop promotions", Str(button, "text"));
    }

    [Fact]
    public void A_reaction_replies_to_the_reacted_message_and_an_empty_emoji_is_a_removed_reaction()
    {
        var reacted = WhatsAppInbound.NewWamid();
        var envelope = One(WhatsAppInbound.Reaction(Alice, reacted, "👍"));
        Assert.Equal(reacted, envelope.ReplyToId);
        Assert.Null(envelope.Text);
        var reaction = Attachment(envelope);
        Assert.Equal("reaction", Str(reaction, "type"));
        Assert.Equal("👍", Str(reaction, "emoji"));
        Assert.Equal(reacted, Str(reaction, "message_id"));

        var removed = One(WhatsAppInbound.Reaction(Alice, reacted, ""));
        Assert.Equal(reacted, removed.ReplyToId);
        Assert.Equal("", Str(Attachment(removed), "emoji"));
        Assert.NotEqual(envelope.PlatformId, removed.PlatformId);
    }

    [Fact]
    public void An_unsupported_type_is_kept_with_the_original_type_and_meta_object_and_errors()
    {
        var envelope = One(WhatsAppInbound.Unsupported(Alice, "poll_creation"));
        var unsupported = Attachment(envelope);
        Assert.Equal("unsupported", Str(unsupported, "type"));
        Assert.Equal("poll_creation", Str(unsupported, "whatsapp_type"));
        Assert.Equal("poll_creation", unsupported.GetProperty("whatsapp").GetProperty("type").GetString());
        var meta = Meta(envelope);
        Assert.Equal("unsupported", Str(meta, "whatsapp_type"));
        Assert.Equal(131051, meta.GetProperty("errors")[0].GetProperty("code").GetInt32());
    }

    [Fact]
    public void The_older_unknown_type_is_kept_as_unsupported_without_an_object()
    {
        var envelope = One(WhatsAppInbound.Unknown(Alice));
        var unknown = Attachment(envelope);
        Assert.Equal("unsupported", Str(unknown, "type"));
        Assert.Equal("unknown", Str(unknown, "whatsapp_type"));
        Assert.False(unknown.TryGetProperty("whatsapp", out _));
        Assert.Equal(131051, Meta(envelope).GetProperty("errors")[0].GetProperty("code").GetInt32());
    }

    [Fact]
    public void A_type_meta_adds_later_is_kept_verbatim_not_dropped()
    {
        var message = WhatsAppInbound.Text(Alice, "placeholder");
        message.Remove("text");
        message["type"] = "order";
        message["order"] = new JsonObject { ["catalog_id"] = "cat-1", ["product_items"] = new JsonArray(new JsonObject { ["product_retailer_id"] = "sku-9" }) };
        var unsupported = Attachment(One(message));
        Assert.Equal("unsupported", Str(unsupported, "type"));
        Assert.Equal("order", Str(unsupported, "whatsapp_type"));
        Assert.Equal("cat-1", unsupported.GetProperty("whatsapp").GetProperty("catalog_id").GetString());
        Assert.Equal("sku-9", unsupported.GetProperty("whatsapp").GetProperty("product_items")[0].GetProperty("product_retailer_id").GetString());
    }

    [Fact]
    public void A_text_reply_names_the_message_replied_to_and_who_sent_it()
    {
        var original = WhatsAppInbound.NewWamid();
        var envelope = One(WhatsAppInbound.WithContext(WhatsAppInbound.Text(Alice, "about that"), original, Business));
        Assert.Equal(original, envelope.ReplyToId);
        Assert.Equal("about that", envelope.Text);
        Assert.Equal(Business, Str(Meta(envelope), "context_from"));
    }

    [Fact]
    public void Forwarded_and_frequently_forwarded_show_in_meta_and_are_no_reply()
    {
        var forwarded = One(WhatsAppInbound.Forwarded(WhatsAppInbound.Text(Alice, "fwd")));
        Assert.Null(forwarded.ReplyToId);
        var meta = Meta(forwarded);
        Assert.True(meta.GetProperty("forwarded").GetBoolean());
        Assert.False(meta.TryGetProperty("frequently_forwarded", out _));

        var often = One(WhatsAppInbound.Forwarded(WhatsAppInbound.Image(Alice, "media-fwd"), frequently: true));
        Assert.Null(often.ReplyToId);
        var oftenMeta = Meta(often);
        Assert.True(oftenMeta.GetProperty("frequently_forwarded").GetBoolean());
        Assert.False(oftenMeta.TryGetProperty("forwarded", out _));
    }

    [Fact]
    public void A_user_whose_number_is_withheld_is_chatted_with_by_user_id()
    {
        const string UserId = "US.13491208655302741918";
        var envelope = One(WhatsAppInbound.WithUserId(WhatsAppInbound.Text(null, "no number"), UserId), contactWaId: null, contactUserId: UserId);
        Assert.Equal(UserId, envelope.Chat);
        Assert.Equal(UserId, envelope.Sender);
        var meta = Meta(envelope);
        Assert.Equal(UserId, Str(meta, "user_id"));
        Assert.False(meta.TryGetProperty("wa_id", out _));
        Assert.Equal("Alice Doe", Str(meta, "sender_name"));
    }

    [Fact]
    public void With_both_a_number_and_a_user_id_the_number_is_the_chat_and_the_user_id_is_kept()
    {
        const string UserId = "US.13491208655302741918";
        var envelope = One(WhatsAppInbound.WithUserId(WhatsAppInbound.Text(Alice, "both"), UserId), contactWaId: Alice, contactUserId: UserId);
        Assert.Equal(Alice, envelope.Chat);
        Assert.Equal(Alice, envelope.Sender);
        var meta = Meta(envelope);
        Assert.Equal(Alice, Str(meta, "wa_id"));
        Assert.Equal(UserId, Str(meta, "user_id"));
    }

    [Fact]
    public void Without_from_and_from_user_id_the_contact_user_id_is_the_sender()
    {
        const string UserId = "BR.99887766554433221100";
        var envelope = One(WhatsAppInbound.Text(null, "contact only"), contactWaId: null, contactUserId: UserId);
        Assert.Equal(UserId, envelope.Chat);
        Assert.Equal(UserId, envelope.Sender);
        Assert.Equal(UserId, Str(Meta(envelope), "user_id"));
    }

    [Fact]
    public void A_group_message_is_in_the_group_chat_from_its_sender()
    {
        var message = WhatsAppInbound.Text(Alice, "to the group");
        message["group_id"] = "120363025555555555";
        var envelope = One(message);
        Assert.Equal("120363025555555555", envelope.Chat);
        Assert.Equal(Alice, envelope.Sender);
        Assert.Equal("120363025555555555", Str(Meta(envelope), "group_id"));
    }

    [Fact]
    public void A_message_with_no_sender_at_all_is_unusable()
    {
        var change = new WhatsAppChange(Phone, Display).Message(WhatsAppInbound.Text(null, "from nobody"));
        var payload = Read(new WhatsAppWebhookBody().Entry(Waba, change).ToBytes());
        Assert.Empty(payload.Messages);
        Assert.Equal(1, payload.Unusable);
    }

    private static JsonObject Status(string wamid, string status, string recipient) => new()
    {
        ["id"] = wamid,
        ["status"] = status,
        ["timestamp"] = At.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        ["recipient_id"] = recipient,
    };

    [Fact]
    public void A_batched_body_keeps_body_order_across_entries_and_changes_and_counts_statuses_and_other_fields()
    {
        const string Other = "106540352242999";
        var texts = Enumerable.Range(1, 7).Select(i => WhatsAppInbound.Text(i % 2 == 0 ? "16505550000" : Alice, $"m{i}")).ToArray();
        var failed = Status("wamid.out-3", "failed", Alice);
        failed["errors"] = new JsonArray(new JsonObject { ["code"] = 131047, ["title"] = "Re-engagement message" });
        var body = new WhatsAppWebhookBody()
            .Entry(Waba,
                new WhatsAppChange(Phone, Display).Contact(Alice, "Alice").Message(texts[0]).Message(texts[1]).Status(Status("wamid.out-1", "delivered", Alice)),
                new WhatsAppChange(Other, "15550783999").Message(texts[2]).Status(Status("wamid.out-2", "read", Alice)).Status(failed))
            .Entry("102290129340399",
                new WhatsAppChange(Phone, Display).Status(Status("wamid.out-4", "sent", "16505550000")).Message(texts[3]).Message(texts[4]),
                new WhatsAppChange(Other, "15550783999").Message(texts[5]).Message(texts[6]))
            .ToJson();
        // Changes of other fields, anywhere in the body: acknowledged and counted, never messages.
        body["entry"]![0]!["changes"]!.AsArray().Insert(1, new JsonObject { ["field"] = "message_template_status_update", ["value"] = new JsonObject { ["event"] = "APPROVED" } });
        body["entry"]![1]!["changes"]!.AsArray().Add(new JsonObject { ["field"] = "account_update", ["value"] = new JsonObject() });

        var payload = Read(WhatsAppWebhookSender.Serialize(body));

        Assert.Equal(texts.Select(t => (string)t["id"]!), payload.Messages.Select(m => m.Envelope.PlatformId));
        Assert.Equal(Enumerable.Range(1, 7).Select(i => $"m{i}"), payload.Messages.Select(m => m.Envelope.Text));
        Assert.Equal([Phone, Phone, Other, Phone, Phone, Other, Other], payload.Messages.Select(m => m.PhoneNumberId));
        Assert.Equal(Waba, Str(Meta(payload.Messages[0].Envelope), "waba_id"));
        Assert.Equal("102290129340399", Str(Meta(payload.Messages[3].Envelope), "waba_id"));
        Assert.Equal("15550783999", Str(Meta(payload.Messages[2].Envelope), "display_phone_number"));

        Assert.Equal(["wamid.out-1", "wamid.out-2", "wamid.out-3", "wamid.out-4"], payload.Statuses.Select(s => s.Wamid));
        Assert.Equal(["delivered", "read", "failed", "sent"], payload.Statuses.Select(s => s.Status));
        Assert.Equal([Phone, Other, Other, Phone], payload.Statuses.Select(s => s.PhoneNumberId));
        Assert.All(payload.Statuses, s => Assert.Equal(At.ToUnixTimeSeconds(), s.TimestampSeconds));
        Assert.Equal("16505550000", payload.Statuses[3].Recipient);
        Assert.Null(payload.Statuses[0].Errors);
        Assert.StartsWith("(131047) ", payload.Statuses[2].Errors, StringComparison.Ordinal);

        Assert.Equal(2, payload.OtherChanges);
        Assert.Equal(0, payload.Unusable);
    }

    [Fact]
    public void A_message_without_an_id_and_a_status_without_one_are_unusable_the_rest_are_read()
    {
        var noId = WhatsAppInbound.Text(Alice, "no id");
        noId.Remove("id");
        var emptyId = WhatsAppInbound.Text(Alice, "empty id");
        emptyId["id"] = "";
        var good = WhatsAppInbound.Text(Alice, "fine");
        var statusWithoutId = Status("x", "delivered", Alice);
        statusWithoutId.Remove("id");
        var change = new WhatsAppChange(Phone, Display).Message(noId).Message(good).Message(emptyId).Status(statusWithoutId).Status(Status("wamid.ok", "read", Alice));

        var payload = Read(new WhatsAppWebhookBody().Entry(Waba, change).ToBytes());

        Assert.Equal("fine", Assert.Single(payload.Messages).Envelope.Text);
        Assert.Equal("wamid.ok", Assert.Single(payload.Statuses).Wamid);
        Assert.Equal(3, payload.Unusable);
    }

    [Fact]
    public void A_change_without_a_phone_number_id_makes_all_its_items_unusable()
    {
        var body = new WhatsAppWebhookBody().Entry(Waba, new WhatsAppChange(Phone, Display)
            .Message(WhatsAppInbound.Text(Alice, "a")).Message(WhatsAppInbound.Text(Alice, "b")).Status(Status("wamid.s", "sent", Alice))).ToJson();
        body["entry"]![0]!["changes"]![0]!["value"]!["metadata"]!.AsObject().Remove("phone_number_id");

        var payload = Read(WhatsAppWebhookSender.Serialize(body));

        Assert.Empty(payload.Messages);
        Assert.Empty(payload.Statuses);
        Assert.Equal(3, payload.Unusable);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"object\":\"whatsapp_business_account\",\"entry\":[")]
    [InlineData("not json at all")]
    [InlineData("\u00ff\u00fe")]
    public void A_body_that_is_not_json_is_a_problem(string body)
    {
        var payload = WebhookPayloadReader.Read(Encoding.UTF8.GetBytes(body), ReceivedAt, out var problem);
        Assert.Null(payload);
        Assert.StartsWith("is not JSON", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("42")]
    [InlineData("\"entry\"")]
    [InlineData("{}")]
    [InlineData("{\"object\":\"whatsapp_business_account\"}")]
    [InlineData("{\"object\":\"whatsapp_business_account\",\"entry\":{}}")]
    [InlineData("{\"entry\":\"none\"}")]
    public void A_body_of_the_wrong_shape_is_a_problem(string body)
    {
        var payload = WebhookPayloadReader.Read(Encoding.UTF8.GetBytes(body), ReceivedAt, out var problem);
        Assert.Null(payload);
        Assert.NotNull(problem);
        Assert.Contains("entry array", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_entry_array_is_an_empty_payload_not_a_problem()
    {
        var payload = Read(Encoding.UTF8.GetBytes("{\"object\":\"whatsapp_business_account\",\"entry\":[]}"));
        Assert.Empty(payload.Messages);
        Assert.Empty(payload.Statuses);
        Assert.Equal(0, payload.OtherChanges);
        Assert.Equal(0, payload.Unusable);
    }
}
