using Tern.StandIns.Telegram;

namespace Tern.StandIns.Tests;

public sealed class CopyForwardTests
{
    private static StandInOptions NoLimits() => new() { EnforceLimits = false };

    [Fact]
    public async Task CopyMessages_needs_strictly_increasing_ids()
    {
        await using var h = await Harness.StartAsync(NoLimits());
        var one = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "one");
        var two = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "two");

        foreach (var ids in new[] { new[] { two.MessageId, one.MessageId }, new[] { one.MessageId, one.MessageId } })
        {
            var answer = await h.CallAsync(h.BotA, "copyMessages", new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_ids = ids });
            Assert.Equal(400, answer.Status);
            Assert.Equal("Bad Request: message identifiers must be in a strictly increasing order", answer.Description);
        }

        var forward = await h.CallAsync(h.BotA, "forwardMessages", new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_ids = new[] { 2, 1 } });
        Assert.Equal("Bad Request: message identifiers must be in a strictly increasing order", forward.Description);
        Assert.Empty(h.Api.Sent);
    }

    [Fact]
    public async Task CopyMessages_and_forwardMessages_check_message_ids_as_Telegram_does()
    {
        await using var h = await Harness.StartAsync(NoLimits());
        var one = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "one");
        async Task<string> Refusal(object parameters) => (await h.CallAsync(h.BotA, "copyMessages", parameters)).Description;

        Assert.Equal("Bad Request: message identifiers are not specified", await Refusal(new { chat_id = Harness.Group, from_chat_id = Harness.Alice }));
        Assert.Equal("Bad Request: message identifiers are not specified", await Refusal(new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_ids = Array.Empty<int>() }));
        Assert.Equal("Bad Request: too many message identifiers specified",
            await Refusal(new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_ids = Enumerable.Range(1, 101).ToArray() }));
        Assert.Equal("Bad Request: invalid message identifier specified", await Refusal(new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_ids = new[] { 0 } }));
        Assert.Equal("Bad Request: expected an Array of message identifiers", await Refusal(new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_ids = 5 }));

        // Missing messages are skipped; when none is left Telegram says so (alike for both methods).
        var none = await h.CallAsync(h.BotA, "copyMessages", new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_ids = new[] { 50, 51 } });
        Assert.Equal((400, "Bad Request: there are no messages to forward"), (none.Status, none.Description));
        var skipped = await h.CallAsync(h.BotA, "forwardMessages", new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_ids = new[] { one.MessageId, 50 } });
        Assert.Single(skipped.Result.EnumerateArray());
    }

    [Fact]
    public async Task A_copied_album_keeps_one_new_media_group_id_and_other_messages_stay_ungrouped()
    {
        await using var h = await Harness.StartAsync(NoLimits());
        var p1 = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, null, new IncomingMedia(MediaKind.Photo, "album caption"), mediaGroupId: "alb-1");
        var p2 = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, null, new IncomingMedia(MediaKind.Photo), mediaGroupId: "alb-1");
        var p3 = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, null, new IncomingMedia(MediaKind.Video), mediaGroupId: "alb-1");
        var text = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "after the album");
        var lone = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, null, new IncomingMedia(MediaKind.Photo), mediaGroupId: "alb-2");

        var answer = await h.CallAsync(h.BotA, "copyMessages", new
        {
            chat_id = Harness.Channel,
            from_chat_id = Harness.Alice,
            message_ids = new[] { p1.MessageId, p2.MessageId, p3.MessageId, text.MessageId, lone.MessageId },
        });

        Assert.True(answer.Ok, answer.ToString());
        var ids = answer.Result.EnumerateArray().Select(m => m.GetProperty("message_id").GetInt32()).ToArray();
        Assert.Equal(5, ids.Length);
        Assert.Equal(ids.Order(), ids);

        var rows = h.Api.SentTo(Harness.Channel);
        Assert.Equal(ids, rows.Select(r => r.MessageId));
        Assert.Equal([p1.MessageId, p2.MessageId, p3.MessageId, text.MessageId, lone.MessageId], rows.Select(r => r.SourceMessageId!.Value));
        Assert.All(rows, r => Assert.Equal((Harness.Alice, false, "copyMessages"), (r.FromChatId!.Value, r.IsForward, r.Method)));
        var album = rows[0].MediaGroupId;
        Assert.NotNull(album);
        Assert.NotEqual("alb-1", album);
        Assert.Equal(album, rows[1].MediaGroupId);
        Assert.Equal(album, rows[2].MediaGroupId);
        Assert.Null(rows[3].MediaGroupId);
        // A single message of an album is no album in the copy.
        Assert.Null(rows[4].MediaGroupId);
        Assert.Equal("album caption", rows[0].Caption);
        Assert.Equal(["photo", "photo", "video", "text", "photo"], rows.Select(r => r.MediaType));
    }

    [Fact]
    public async Task CopyMessage_returns_a_MessageId_and_can_replace_or_remove_the_caption()
    {
        await using var h = await Harness.StartAsync(NoLimits());
        var photo = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, null, new IncomingMedia(MediaKind.Photo, "original"));

        var kept = await h.CallAsync(h.BotA, "copyMessage", new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_id = photo.MessageId });
        var replaced = await h.CallAsync(h.BotA, "copyMessage", new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_id = photo.MessageId, caption = "new" });
        var removed = await h.CallAsync(h.BotA, "copyMessage", new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_id = photo.MessageId, remove_caption = true });

        Assert.Equal(["message_id"], kept.Result.EnumerateObject().Select(p => p.Name));
        var rows = h.Api.SentTo(Harness.Group);
        Assert.Equal(["original", "new", null], rows.Select(r => r.Caption));
        Assert.Equal(kept.Result.GetProperty("message_id").GetInt32(), rows[0].MessageId);
        Assert.All(rows, r => Assert.Equal(photo.MessageId, r.SourceMessageId));

        var missing = await h.CallAsync(h.BotA, "copyMessage", new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_id = 999 });
        Assert.Equal("Bad Request: message to copy not found", missing.Description);
        var unknownSource = await h.CallAsync(h.BotA, "copyMessage", new { chat_id = Harness.Group, from_chat_id = 31337, message_id = 1 });
        Assert.Equal("Bad Request: chat not found", unknownSource.Description);

        // A bot that was removed from the source chat cannot copy from it.
        h.Api.Block(h.BotA, Harness.Alice);
        var blocked = await h.CallAsync(h.BotA, "copyMessage", new { chat_id = Harness.Group, from_chat_id = Harness.Alice, message_id = photo.MessageId });
        Assert.Equal(403, blocked.Status);
    }

    [Fact]
    public async Task Bot_sent_messages_can_be_copied_and_forwards_carry_their_origin()
    {
        await using var h = await Harness.StartAsync(NoLimits());
        var sent = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Supergroup, text = "by the bot" });
        var post = h.Api.ChannelPost(h.BotA, Harness.Channel, "news");
        var user = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "from alice");

        var copied = await h.CallAsync(h.BotA, "copyMessage", new { chat_id = Harness.Bob, from_chat_id = Harness.Supergroup, message_id = sent.Result.GetProperty("message_id").GetInt32() });
        Assert.True(copied.Ok);

        var forwardedPost = await h.CallAsync(h.BotA, "forwardMessage", new { chat_id = Harness.Bob, from_chat_id = Harness.Channel, message_id = post.MessageId });
        var origin = forwardedPost.Result.GetProperty("forward_origin");
        Assert.Equal("channel", origin.GetProperty("type").GetString());
        Assert.Equal(Harness.Channel, origin.GetProperty("chat").GetProperty("id").GetInt64());
        Assert.Equal(post.MessageId, origin.GetProperty("message_id").GetInt32());
        Assert.Equal("news", forwardedPost.Result.GetProperty("text").GetString());

        var forwardedUser = await h.CallAsync(h.BotA, "forwardMessage", new { chat_id = Harness.Bob, from_chat_id = Harness.Alice, message_id = user.MessageId });
        Assert.Equal("user", forwardedUser.Result.GetProperty("forward_origin").GetProperty("type").GetString());
        Assert.Equal(Harness.Alice, forwardedUser.Result.GetProperty("forward_origin").GetProperty("sender_user").GetProperty("id").GetInt64());

        var missing = await h.CallAsync(h.BotA, "forwardMessage", new { chat_id = Harness.Bob, from_chat_id = Harness.Alice, message_id = 999 });
        Assert.Equal("Bad Request: message to forward not found", missing.Description);

        var rows = h.Api.SentTo(Harness.Bob);
        Assert.Equal([false, true, true], rows.Select(r => r.IsForward));
        Assert.Equal(["by the bot", "news", "from alice"], rows.Select(r => r.Text));
    }

    [Fact]
    public async Task A_forwarded_album_keeps_its_grouping()
    {
        await using var h = await Harness.StartAsync(NoLimits());
        var a = h.Api.ChannelPost(h.BotA, Harness.Channel, null, new IncomingMedia(MediaKind.Document, FileName: "a.pdf"), mediaGroupId: "docs");
        var b = h.Api.ChannelPost(h.BotA, Harness.Channel, null, new IncomingMedia(MediaKind.Document, FileName: "b.pdf"), mediaGroupId: "docs");

        var answer = await h.CallAsync(h.BotA, "forwardMessages", new { chat_id = Harness.Alice, from_chat_id = Harness.Channel, message_ids = new[] { a.MessageId, b.MessageId } });
        Assert.True(answer.Ok);
        var rows = h.Api.SentTo(Harness.Alice);
        Assert.Equal(2, rows.Count);
        Assert.NotNull(rows[0].MediaGroupId);
        Assert.Equal(rows[0].MediaGroupId, rows[1].MediaGroupId);
        Assert.All(rows, r => Assert.True(r.IsForward));
        Assert.Equal(["a.pdf", "b.pdf"], rows.Select(r => r.FileName));
    }
}
