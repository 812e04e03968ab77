using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Telegram;

namespace Tern.Server.Tests.Telegram;

/// <summary>Forwarding as tgcf users know it, through a real tern: albums, filters, transforms, edits, replies, other bots, topics.</summary>
public sealed class TelegramRoutingTests(ITestOutputHelper output)
{
    private const long Group = -1001, User = 4242;

    private static IncomingMedia Photo(string? caption = null) => new(MediaKind.Photo, caption);

    /// <summary>Consecutive messages that share one media group id, in arrival order.</summary>
    private static List<List<SentMessage>> Groups(IEnumerable<SentMessage> sent)
    {
        var groups = new List<List<SentMessage>>();
        foreach (var message in sent)
        {
            if (message.MediaGroupId is not null && groups.Count > 0 && groups[^1][0].MediaGroupId == message.MediaGroupId) groups[^1].Add(message);
            else groups.Add([message]);
        }
        return groups;
    }

    [Fact]
    public async Task Albums_of_3_and_10_stay_together_and_filters_and_transforms_do_what_they_say()
    {
        await using var rig = await TelegramRig.StartAsync();
        var a = rig.AddBot(720001, "forwarder_bot");
        var b = rig.AddBot(720002, "other_bot");
        rig.Telegram.AddChat(Group, ChatKind.Supergroup, "Source");
        foreach (var chat in new long[] { -2001, -2002, -2003 }) rig.Telegram.AddChat(chat, ChatKind.Supergroup, "Dest " + chat);
        await rig.AddChannelAsync("src", a);
        await rig.AddChannelAsync("other", b);
        await rig.AddRouteAsync("copy", "src", "--to", "src:-2001");
        await rig.AddRouteAsync("marked", "src", "--to", "other:-2002", "--footer", " #fwd");
        await rig.AddRouteAsync("sales", "src", "--to", "src:-2003", "--mode", "forward", "--contains", "sale", "--ignore-case", "--deny-media", "sticker");

        var album3 = Enumerable.Range(0, 3).Select(i => rig.Telegram.UserMessage(a, Group, User, null, Photo(i == 0 ? "Album of three" : null), mediaGroupId: "A3")).ToList();
        rig.Telegram.UserMessage(a, Group, User, "Big SALE today");
        var album10 = Enumerable.Range(0, 10).Select(i => rig.Telegram.UserMessage(a, Group, User, null, Photo(i == 0 ? "ten photos, on sale" : null), mediaGroupId: "A10")).ToList();
        rig.Telegram.UserMessage(a, Group, User, "nothing to see");
        rig.Telegram.UserMessage(a, Group, User, "sale sticker", new IncomingMedia(MediaKind.Sticker));

        await using var tern = await rig.StartTernAsync(output);
        await Eventually.UntilAsync(() => rig.Telegram.SentTo(-2001).Count >= 16 && rig.Telegram.SentTo(-2002).Count >= 16 && rig.Telegram.SentTo(-2003).Count >= 11,
            TimeSpan.FromSeconds(60), () => $"sent: {rig.Telegram.SentTo(-2001).Count}, {rig.Telegram.SentTo(-2002).Count}, {rig.Telegram.SentTo(-2003).Count}; {rig.Home.Database.Describe()}");
        // Nothing more is on its way: whatever else would have been sent was sent by the time the outbox is empty.
        await Eventually.UntilAsync(async () => (await tern.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), rig.Home.Database.Describe);

        // Same bot, copy: albums by copyMessages, one group each; everything else copyMessage.
        var copied = Groups(rig.Telegram.SentTo(-2001));
        Assert.Equal([3, 1, 10, 1, 1], copied.Select(g => g.Count));
        Assert.All(copied[0].Concat(copied[2]), m => Assert.Equal("copyMessages", m.Method));
        Assert.Equal(album3.Select(m => (int?)m.MessageId), copied[0].Select(m => m.SourceMessageId));
        Assert.Equal(album10.Select(m => (int?)m.MessageId), copied[2].Select(m => m.SourceMessageId));
        Assert.Equal("Album of three", copied[0][0].Caption);
        Assert.Equal(("Big SALE today", "nothing to see"), (copied[1][0].Text, copied[3][0].Text));
        Assert.Equal("sticker", copied[4][0].MediaType);

        // Another bot, transformed: the files are uploaded again, albums as sendMediaGroup, the footer on the caption.
        var marked = Groups(rig.Telegram.SentTo(-2002));
        Assert.Equal([3, 1, 10, 1, 1], marked.Select(g => g.Count));
        Assert.All(marked[0].Concat(marked[2]), m => Assert.Equal(("sendMediaGroup", "photo"), (m.Method, m.MediaType)));
        Assert.All(marked[0].Concat(marked[2]), m => Assert.NotNull(m.UploadedSha256));
        Assert.Equal(new string?[] { "Album of three #fwd", null, null }, marked[0].Select(m => m.Caption).ToArray());
        Assert.Equal("ten photos, on sale #fwd", marked[2][0].Caption);
        Assert.Equal(("Big SALE today #fwd", "nothing to see #fwd"), (marked[1][0].Text, marked[3][0].Text));
        Assert.Equal(("sendSticker", "sticker"), (marked[4][0].Method, marked[4][0].MediaType));

        // The filter: only what mentions a sale, no stickers; forwarded, the album still whole.
        var sales = Groups(rig.Telegram.SentTo(-2003));
        Assert.Equal([1, 10], sales.Select(g => g.Count));
        Assert.Equal(("forwardMessage", true, "Big SALE today"), (sales[0][0].Method, sales[0][0].IsForward, sales[0][0].Text));
        Assert.All(sales[1], m => Assert.Equal(("forwardMessages", true), (m.Method, m.IsForward)));
        Assert.Equal(0, rig.Telegram.Violations.Total);
    }

    [Fact]
    public async Task An_edit_edits_every_copy_and_a_reply_answers_the_copy()
    {
        await using var rig = await TelegramRig.StartAsync();
        var a = rig.AddBot(720011, "forwarder_bot");
        var b = rig.AddBot(720012, "other_bot");
        rig.Telegram.AddChat(Group, ChatKind.Supergroup, "Source");
        rig.Telegram.AddChat(-2001, ChatKind.Supergroup, "Same bot");
        rig.Telegram.AddChat(-2002, ChatKind.Supergroup, "Other bot");
        await rig.AddChannelAsync("src", a);
        await rig.AddChannelAsync("other", b);
        await rig.AddRouteAsync("copy", "src", "--to", "src:-2001");
        await rig.AddRouteAsync("marked", "src", "--to", "other:-2002", "--header", "» ");

        await using var tern = await rig.StartTernAsync(output);
        var original = rig.Telegram.UserMessage(a, Group, User, "first version");
        var photo = rig.Telegram.UserMessage(a, Group, User, null, Photo("photo caption"));
        await Eventually.UntilAsync(() => rig.Telegram.SentTo(-2001).Count == 2 && rig.Telegram.SentTo(-2002).Count == 2, TimeSpan.FromSeconds(30), () => rig.Home.Database.Describe());
        var sameCopy = rig.Telegram.SentTo(-2001)[0];
        var otherCopy = rig.Telegram.SentTo(-2002)[0];

        rig.Telegram.EditMessage(a, Group, original.MessageId, "second version");
        rig.Telegram.EditMessage(a, Group, photo.MessageId, "new caption");
        rig.Telegram.UserMessage(a, Group, User, "I agree", replyToMessageId: original.MessageId);
        await Eventually.UntilAsync(() => rig.Telegram.SentTo(-2001).Count == 5 && rig.Telegram.SentTo(-2002).Count == 5, TimeSpan.FromSeconds(30),
            () => string.Join(" | ", rig.Telegram.Sent.Select(m => $"{m.ChatId} {m.Method} {m.Text ?? m.Caption}")));

        var same = rig.Telegram.SentTo(-2001);
        Assert.Equal(("editMessageText", sameCopy.MessageId, "second version"), (same[2].Method, same[2].MessageId, same[2].Text));
        Assert.Equal(("editMessageCaption", "new caption"), (same[3].Method, same[3].Caption));
        Assert.Equal(("I agree", sameCopy.MessageId), (same[4].Text, same[4].ReplyToMessageId));
        var other = rig.Telegram.SentTo(-2002);
        Assert.Equal(("editMessageText", otherCopy.MessageId, "» second version"), (other[2].Method, other[2].MessageId, other[2].Text));
        Assert.Equal(("editMessageCaption", "» new caption"), (other[3].Method, other[3].Caption));
        Assert.Equal(("» I agree", otherCopy.MessageId), (other[4].Text, other[4].ReplyToMessageId));
        Assert.All(same.Concat(other).Take(2), m => Assert.False(m.Edited));
    }

    [Fact]
    public async Task A_photo_through_another_bot_is_uploaded_byte_for_byte_into_a_forum_topic()
    {
        await using var rig = await TelegramRig.StartAsync();
        var a = rig.AddBot(720021, "forwarder_bot");
        var b = rig.AddBot(720022, "other_bot");
        rig.Telegram.AddChat(Group, ChatKind.Supergroup, "Source");
        rig.Telegram.AddChat(-3001, ChatKind.Supergroup, "Forum", isForum: true);
        rig.Telegram.AddTopic(-3001, 5);
        await rig.AddChannelAsync("src", a);
        await rig.AddChannelAsync("other", b);
        await rig.AddRouteAsync("to-topic", "src", "--to", "other:-3001#5");

        await using var tern = await rig.StartTernAsync(output);
        var incoming = rig.Telegram.UserMessage(a, Group, User, null, new IncomingMedia(MediaKind.Document, "the report", "report.pdf"));
        await Eventually.UntilAsync(() => rig.Telegram.SentTo(-3001).Count == 1, TimeSpan.FromSeconds(30), () => rig.Home.Database.Describe());

        var sent = rig.Telegram.SentTo(-3001)[0];
        Assert.Equal(("sendDocument", "document", 5, "the report", "report.pdf"), (sent.Method, sent.MediaType, sent.ThreadId, sent.Caption, sent.FileName));
        Assert.Equal(await Sha256OfAsync(rig, a, incoming.FileId!), sent.UploadedSha256);
        Assert.NotEqual(incoming.FileId, sent.FileId);
    }

    /// <summary>The bytes Telegram holds for a file, fetched as the bot that owns the file id would.</summary>
    private static async Task<string> Sha256OfAsync(TelegramRig rig, StandInBot bot, string fileId)
    {
        using var http = new HttpClient();
        var file = await http.GetFromJsonAsync<JsonElement>(new Uri(rig.Telegram.BaseUrl, $"./bot{bot.Token}/getFile?file_id={Uri.EscapeDataString(fileId)}"));
        var path = file.GetProperty("result").GetProperty("file_path").GetString();
        var bytes = await http.GetByteArrayAsync(new Uri(rig.Telegram.BaseUrl, $"./file/bot{bot.Token}/{path}"));
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    [Fact]
    public async Task The_api_sends_text_and_media_by_url_to_a_telegram_chat_and_reads_the_status_back()
    {
        await using var rig = await TelegramRig.StartAsync();
        var a = rig.AddBot(720031, "api_bot");
        rig.Telegram.AddChat(6001, ChatKind.Private, "Customer");
        await rig.AddChannelAsync("bot", a);

        await using var tern = await rig.StartTernAsync(output);
        using var api = await rig.ApiAsync(tern);
        using var text = await api.PostAsJsonAsync("/v1/messages", new { channel = "bot", chat = "6001", text = "Your order shipped", idempotency_key = "o-1" });
        Assert.Equal(HttpStatusCode.Accepted, text.StatusCode);
        var id = (await text.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        using var media = await api.PostAsJsonAsync("/v1/messages", new { channel = "bot", chat = "6001", text = "Invoice", media = new { type = "document", url = "https://example.test/invoice.pdf" } });
        Assert.Equal(HttpStatusCode.Accepted, media.StatusCode);

        await Eventually.UntilAsync(() => rig.Telegram.SentTo(6001).Count == 2, TimeSpan.FromSeconds(30), () => rig.Home.Database.Describe());
        var sent = rig.Telegram.SentTo(6001);
        Assert.Equal(("sendMessage", "Your order shipped"), (sent[0].Method, sent[0].Text));
        Assert.Equal(("sendDocument", "https://example.test/invoice.pdf", "Invoice"), (sent[1].Method, sent[1].MediaUrl, sent[1].Caption));

        await Eventually.UntilAsync(async () =>
        {
            var message = await api.GetFromJsonAsync<JsonElement>($"/v1/messages/{id}");
            return message.GetProperty("status").GetString() == "sent";
        }, TimeSpan.FromSeconds(10), () => "message status");
        var stored = await api.GetFromJsonAsync<JsonElement>($"/v1/messages/{id}");
        Assert.Equal(sent[0].MessageId.ToString(System.Globalization.CultureInfo.InvariantCulture), stored.GetProperty("platform_id").GetString());
    }

    [Fact]
    public async Task Telegram_and_webhook_channels_route_into_each_other()
    {
        await using var rig = await TelegramRig.StartAsync();
        var bot = rig.AddBot(720041, "bridge_bot");
        rig.Telegram.AddChat(Group, ChatKind.Supergroup, "Support");
        rig.Telegram.AddChat(6002, ChatKind.Private, "Agent");
        await using var backend = await Tern.Server.Tests.Api.RecordingReceiver.StartAsync(Tern.StandIns.Http.SignatureScheme.StandardWebhooks, Tern.StandIns.Http.TestSecrets.For("backend"));
        await rig.AddChannelAsync("support", bot);
        await rig.Home.RunOkAsync("channels", "add", "--id", "backend", "--url", backend.Url.ToString(), "--secret", Tern.StandIns.Http.TestSecrets.For("backend"));
        await rig.Home.RunOkAsync("channels", "add", "--id", "alerts");
        await rig.AddRouteAsync("to-backend", "support", "--to", "backend");
        await rig.AddRouteAsync("to-agent", "alerts", "--to", "support:6002");

        await using var tern = await rig.StartTernAsync(output);
        var photo = rig.Telegram.UserMessage(bot, Group, User, null, Photo("my receipt"), fromUsername: "customer");
        var reply = rig.Telegram.UserMessage(bot, Group, User, "thanks", replyToMessageId: photo.MessageId);
        using (var post = await tern.Http.PostAsync(new Uri("/hooks/webhook/alerts", UriKind.Relative),
                   new StringContent("""{"id":"a-1","chat":"ops","text":"disk 91% full"}""", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        }

        await Eventually.UntilAsync(() => backend.Accepted.Count == 2 && rig.Telegram.SentTo(6002).Count == 1, TimeSpan.FromSeconds(30), () => $"{backend.Describe()}; {rig.Home.Database.Describe()}");
        var received = backend.Accepted.Select(r => r.Json).ToList();
        Assert.Equal(("-1001", "my receipt", "photo"), (received[0].GetProperty("chat").GetString(), received[0].GetProperty("text").GetString(),
            received[0].GetProperty("attachments")[0].GetProperty("type").GetString()));
        Assert.Equal(photo.FileId, received[0].GetProperty("attachments")[0].GetProperty("file_id").GetString());
        Assert.Equal("customer", received[0].GetProperty("meta").GetProperty("sender_username").GetString());
        Assert.Equal("supergroup", received[0].GetProperty("meta").GetProperty("chat_type").GetString());
        Assert.Equal(photo.MessageId.ToString(System.Globalization.CultureInfo.InvariantCulture), received[1].GetProperty("reply_to").GetString());
        Assert.Equal(reply.MessageId.ToString(System.Globalization.CultureInfo.InvariantCulture), received[1].GetProperty("message_id").GetString());
        Assert.Equal(("sendMessage", "disk 91% full"), (rig.Telegram.SentTo(6002)[0].Method, rig.Telegram.SentTo(6002)[0].Text));
    }

    [Fact]
    public async Task A_button_press_reaches_a_webhook_destination_and_never_a_telegram_chat()
    {
        await using var rig = await TelegramRig.StartAsync();
        var bot = rig.AddBot(720051, "menu_bot");
        rig.Telegram.AddChat(6003, ChatKind.Private, "Customer");
        rig.Telegram.AddChat(6004, ChatKind.Private, "Agent");
        await using var backend = await Tern.Server.Tests.Api.RecordingReceiver.StartAsync(Tern.StandIns.Http.SignatureScheme.StandardWebhooks, Tern.StandIns.Http.TestSecrets.For("backend"));
        await rig.AddChannelAsync("menu", bot);
        await rig.Home.RunOkAsync("channels", "add", "--id", "backend", "--url", backend.Url.ToString(), "--secret", Tern.StandIns.Http.TestSecrets.For("backend"));
        await rig.AddRouteAsync("presses", "menu", "--callbacks", "--to", "backend", "--to", "menu:6004");

        await using var tern = await rig.StartTernAsync(output);
        var offer = rig.Telegram.UserMessage(bot, 6003, 6003, "menu please");
        rig.Telegram.CallbackQuery(bot, 6003, offer.MessageId, 6003, "buy:42");

        await Eventually.UntilAsync(() => backend.Accepted.Count == 2, TimeSpan.FromSeconds(30), () => $"{backend.Describe()}; {rig.Home.Database.Describe()}");
        // The press was routed in one step with every delivery it made: once it reached the backend and the outbox is empty, nothing of it is left to reach the Telegram chat.
        await Eventually.UntilAsync(async () => (await tern.ReadyAsync()).OutboxPending == 0, TimeSpan.FromSeconds(30), rig.Home.Database.Describe);
        var received = backend.Accepted.Select(r => r.Json).ToList();
        Assert.Equal("menu please", received[0].GetProperty("text").GetString());
        Assert.Equal(("callback", "buy:42"), (received[1].GetProperty("kind").GetString(), received[1].GetProperty("text").GetString()));
        Assert.Equal(["menu please"], rig.Telegram.SentTo(6004).Select(m => m.Text));
    }
}
