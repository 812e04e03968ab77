using System.Diagnostics;
using System.Text.Json;
using Tern.StandIns.Telegram;

namespace Tern.StandIns.Tests;

public sealed class GetUpdatesTests
{
    [Fact]
    public async Task Unconfirmed_updates_are_delivered_again_until_an_offset_above_them_confirms_them()
    {
        await using var h = await Harness.StartAsync();
        var first = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "one");
        var second = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "two");
        var third = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "three");
        Assert.True(first.UpdateId > 0);
        Assert.Equal(first.UpdateId + 1, second.UpdateId);
        Assert.Equal(second.UpdateId + 1, third.UpdateId);

        var all = await h.GetUpdatesAsync(h.BotA);
        Assert.Equal([first.UpdateId!.Value, second.UpdateId!.Value, third.UpdateId!.Value], Harness.UpdateIds(all));

        // Without an offset nothing is confirmed: the same updates come again.
        var again = await h.GetUpdatesAsync(h.BotA);
        Assert.Equal(Harness.UpdateIds(all), Harness.UpdateIds(again));
        Assert.Equal(3, h.Api.PendingUpdates(h.BotA));

        // offset = second confirms only the first.
        var fromSecond = await h.GetUpdatesAsync(h.BotA, offset: second.UpdateId);
        Assert.Equal([second.UpdateId.Value, third.UpdateId.Value], Harness.UpdateIds(fromSecond));
        Assert.Equal(2, h.Api.PendingUpdates(h.BotA));

        var none = await h.GetUpdatesAsync(h.BotA, offset: third.UpdateId + 1);
        Assert.Empty(none.Result.EnumerateArray());
        Assert.Equal(0, h.Api.PendingUpdates(h.BotA));

        // A confirmed update never comes back, even with an old offset.
        var old = await h.GetUpdatesAsync(h.BotA, offset: first.UpdateId);
        Assert.Empty(old.Result.EnumerateArray());
    }

    [Fact]
    public async Task Held_confirmations_keep_a_confirming_getUpdates_waiting_until_released()
    {
        await using var h = await Harness.StartAsync();
        var first = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "one");
        var second = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "two");
        h.Api.HoldConfirmations(h.BotA);

        // A call that confirms nothing is answered as usual.
        var all = await h.GetUpdatesAsync(h.BotA);
        Assert.Equal([first.UpdateId!.Value, second.UpdateId!.Value], Harness.UpdateIds(all));

        var confirming = h.GetUpdatesAsync(h.BotA, offset: second.UpdateId);
        await Harness.UntilAsync(() => h.Api.HeldGetUpdates(h.BotA) == 1, "the confirming call to be held");
        Assert.False(confirming.IsCompleted);
        Assert.Equal(2, h.Api.PendingUpdates(h.BotA));
        // An offset at the oldest update confirms nothing, so it is answered while the other waits.
        var old = await h.GetUpdatesAsync(h.BotA, offset: first.UpdateId);
        Assert.Equal(Harness.UpdateIds(all), Harness.UpdateIds(old));
        Assert.False(confirming.IsCompleted);

        h.Api.ReleaseConfirmations(h.BotA);
        var answer = await confirming.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([second.UpdateId.Value], Harness.UpdateIds(answer));
        Assert.Equal(1, h.Api.PendingUpdates(h.BotA));
        Assert.Equal(0, h.Api.HeldGetUpdates(h.BotA));
        // Released: confirming calls go through again.
        Assert.Empty((await h.GetUpdatesAsync(h.BotA, offset: second.UpdateId + 1)).Result.EnumerateArray());
        Assert.Equal(0, h.Api.PendingUpdates(h.BotA));
    }

    [Fact]
    public async Task A_held_getUpdates_whose_client_goes_away_confirms_nothing()
    {
        await using var h = await Harness.StartAsync();
        var first = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "one");
        h.Api.HoldConfirmations(h.BotA);
        using var gone = new CancellationTokenSource();
        var confirming = h.GetUpdatesAsync(h.BotA, offset: first.UpdateId + 1, cancellationToken: gone.Token);
        await Harness.UntilAsync(() => h.Api.HeldGetUpdates(h.BotA) == 1, "the confirming call to be held");

        await gone.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => confirming);
        await Harness.UntilAsync(() => h.Api.HeldGetUpdates(h.BotA) == 0, "the stand-in to see the client go");
        h.Api.ReleaseConfirmations(h.BotA);
        Assert.Equal(1, h.Api.PendingUpdates(h.BotA));
        Assert.Equal([first.UpdateId!.Value], Harness.UpdateIds(await h.GetUpdatesAsync(h.BotA)));
    }

    [Fact]
    public async Task Limit_takes_the_oldest_first_and_a_negative_offset_keeps_only_the_last_updates()
    {
        await using var h = await Harness.StartAsync();
        var ids = Enumerable.Range(0, 5).Select(i => h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, $"m{i}").UpdateId!.Value).ToArray();

        var two = await h.GetUpdatesAsync(h.BotA, limit: 2);
        Assert.Equal(ids[..2], Harness.UpdateIds(two));

        // "-offset update from the end of the updates queue. All previous updates will be forgotten."
        var last = await h.GetUpdatesAsync(h.BotA, offset: -1);
        Assert.Equal([ids[4]], Harness.UpdateIds(last));
        Assert.Equal(1, h.Api.PendingUpdates(h.BotA));
    }

    [Fact]
    public async Task Each_bot_has_its_own_queue_and_update_ids()
    {
        await using var h = await Harness.StartAsync();
        var a = h.Api.UserMessage(h.BotA, Harness.Group, Harness.Alice, "for a");
        var b = h.Api.UserMessage(h.BotB, Harness.Group, Harness.Bob, "for b");

        Assert.Equal([a.UpdateId!.Value], Harness.UpdateIds(await h.GetUpdatesAsync(h.BotA)));
        Assert.Equal([b.UpdateId!.Value], Harness.UpdateIds(await h.GetUpdatesAsync(h.BotB)));
        // Message ids are per chat, whoever the update is for.
        Assert.Equal(a.MessageId + 1, b.MessageId);
    }

    [Fact]
    public async Task A_long_poll_returns_as_soon_as_an_update_arrives()
    {
        await using var h = await Harness.StartAsync();
        var watch = Stopwatch.StartNew();
        var poll = h.GetUpdatesAsync(h.BotA, timeout: 25);
        await Harness.UntilAsync(() => h.Api.LongPollWaiting(h.BotA), "the long poll to wait");
        Assert.False(poll.IsCompleted);
        var sent = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "wake up");

        var answer = await poll;
        Assert.True(answer.Ok);
        Assert.Equal([sent.UpdateId!.Value], Harness.UpdateIds(answer));
        // Woken by the update, not ended by its 25 s timeout.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"the poll took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_long_poll_without_updates_ends_after_its_timeout_with_an_empty_array()
    {
        await using var h = await Harness.StartAsync();
        var watch = Stopwatch.StartNew();
        var answer = await h.GetUpdatesAsync(h.BotA, timeout: 1);

        Assert.True(answer.Ok);
        Assert.Equal(JsonValueKind.Array, answer.Result.ValueKind);
        Assert.Empty(answer.Result.EnumerateArray());
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_second_getUpdates_ends_the_waiting_one_with_409()
    {
        await using var h = await Harness.StartAsync();
        var first = h.GetUpdatesAsync(h.BotA, timeout: 25);
        await Harness.UntilAsync(() => h.Api.LongPollWaiting(h.BotA), "the first long poll to wait");
        var second = h.GetUpdatesAsync(h.BotA, timeout: 25);

        var ended = await first.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(409, ended.Status);
        Assert.Equal("Conflict: terminated by other getUpdates request; make sure that only one bot instance is running", ended.Description);

        // The second one is the poll now, and gets the next update.
        var sent = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "hi");
        Assert.Equal([sent.UpdateId!.Value], Harness.UpdateIds(await second.WaitAsync(TimeSpan.FromSeconds(5))));
    }

    [Fact]
    public async Task Allowed_updates_filter_updates_created_afterwards_and_are_remembered()
    {
        await using var h = await Harness.StartAsync();
        var posted = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "press");
        await h.GetUpdatesAsync(h.BotA, offset: posted.UpdateId + 1, allowedUpdates: ["callback_query"]);

        var dropped = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "not wanted");
        var pressed = h.Api.CallbackQuery(h.BotA, Harness.Alice, posted.MessageId, Harness.Alice, "yes");
        Assert.Null(dropped.UpdateId);
        Assert.NotNull(pressed.UpdateId);

        // No allowed_updates in this call: the previous setting still holds.
        var answer = await h.GetUpdatesAsync(h.BotA);
        var update = Assert.Single(answer.Result.EnumerateArray());
        var query = update.GetProperty("callback_query");
        Assert.Equal("yes", query.GetProperty("data").GetString());
        Assert.Equal(pressed.CallbackQueryId, query.GetProperty("id").GetString());
        Assert.Equal(posted.MessageId, query.GetProperty("message").GetProperty("message_id").GetInt32());
        Assert.Equal(Harness.Alice, query.GetProperty("from").GetProperty("id").GetInt64());
        Assert.True(query.TryGetProperty("chat_instance", out _));

        // An empty list restores the default (everything but chat_member and reactions).
        await h.GetUpdatesAsync(h.BotA, offset: pressed.UpdateId + 1, allowedUpdates: []);
        Assert.NotNull(h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "wanted again").UpdateId);

        Assert.True((await h.CallAsync(h.BotA, "answerCallbackQuery", new { callback_query_id = pressed.CallbackQueryId })).Ok);
        var twice = await h.CallAsync(h.BotA, "answerCallbackQuery", new { callback_query_id = pressed.CallbackQueryId });
        Assert.Equal("Bad Request: query is too old and response timeout expired or query ID is invalid", twice.Description);
    }

    [Fact]
    public async Task Updates_carry_messages_shaped_as_the_Bot_API_describes_them()
    {
        await using var h = await Harness.StartAsync();
        h.Api.AddTopic(Harness.Forum, 77);
        var command = h.Api.UserMessage(h.BotA, Harness.Supergroup, Harness.Alice, "/start@alpha_bot hello", fromUsername: "alice");
        var reply = h.Api.UserMessage(h.BotA, Harness.Supergroup, Harness.Bob, null, new IncomingMedia(MediaKind.Photo, "look"), replyToMessageId: command.MessageId);
        var topic = h.Api.UserMessage(h.BotA, Harness.Forum, Harness.Alice, "in topic", threadId: 77);
        var post = h.Api.ChannelPost(h.BotA, Harness.Channel, null, new IncomingMedia(MediaKind.Animation, "gif"));
        var edit = h.Api.EditMessage(h.BotA, Harness.Supergroup, command.MessageId, "/start edited");
        var editPost = h.Api.EditMessage(h.BotA, Harness.Channel, post.MessageId, "gif!");

        var updates = (await h.GetUpdatesAsync(h.BotA)).Result.EnumerateArray().ToArray();
        Assert.Equal(6, updates.Length);

        var message = updates[0].GetProperty("message");
        Assert.Equal(command.MessageId, message.GetProperty("message_id").GetInt32());
        Assert.True(message.GetProperty("date").GetInt64() > 1_700_000_000);
        Assert.Equal("supergroup", message.GetProperty("chat").GetProperty("type").GetString());
        Assert.Equal("Supergroup", message.GetProperty("chat").GetProperty("title").GetString());
        var from = message.GetProperty("from");
        Assert.False(from.GetProperty("is_bot").GetBoolean());
        Assert.Equal("alice", from.GetProperty("username").GetString());
        Assert.Equal("Alice", from.GetProperty("first_name").GetString());
        var entity = Assert.Single(message.GetProperty("entities").EnumerateArray());
        Assert.Equal("bot_command", entity.GetProperty("type").GetString());
        Assert.Equal("/start@alpha_bot".Length, entity.GetProperty("length").GetInt32());

        var photoMessage = updates[1].GetProperty("message");
        Assert.Equal("look", photoMessage.GetProperty("caption").GetString());
        Assert.False(photoMessage.TryGetProperty("text", out _));
        var sizes = photoMessage.GetProperty("photo").EnumerateArray().ToArray();
        Assert.Equal(3, sizes.Length);
        Assert.True(sizes[0].GetProperty("width").GetInt32() < sizes[2].GetProperty("width").GetInt32());
        Assert.True(sizes[0].GetProperty("file_size").GetInt64() < sizes[2].GetProperty("file_size").GetInt64());
        Assert.Equal(reply.FileId, sizes[2].GetProperty("file_id").GetString());
        Assert.Equal(command.MessageId, photoMessage.GetProperty("reply_to_message").GetProperty("message_id").GetInt32());

        var topicMessage = updates[2].GetProperty("message");
        Assert.Equal(77, topicMessage.GetProperty("message_thread_id").GetInt32());
        Assert.True(topicMessage.GetProperty("is_topic_message").GetBoolean());
        Assert.True(topicMessage.GetProperty("chat").GetProperty("is_forum").GetBoolean());

        var channelPost = updates[3].GetProperty("channel_post");
        Assert.False(channelPost.TryGetProperty("from", out _));
        Assert.Equal(Harness.Channel, channelPost.GetProperty("sender_chat").GetProperty("id").GetInt64());
        Assert.Equal("channel", channelPost.GetProperty("chat").GetProperty("type").GetString());
        // An animation also sets document, for backward compatibility.
        Assert.Equal(post.FileId, channelPost.GetProperty("animation").GetProperty("file_id").GetString());
        Assert.Equal(post.FileId, channelPost.GetProperty("document").GetProperty("file_id").GetString());

        var edited = updates[4].GetProperty("edited_message");
        Assert.Equal(edit.UpdateId, updates[4].GetProperty("update_id").GetInt64());
        Assert.Equal("/start edited", edited.GetProperty("text").GetString());
        Assert.True(edited.GetProperty("edit_date").GetInt64() >= edited.GetProperty("date").GetInt64());
        // The earlier update keeps the text the message had then.
        Assert.Equal("/start@alpha_bot hello", message.GetProperty("text").GetString());

        Assert.Equal("gif!", updates[5].GetProperty("edited_channel_post").GetProperty("caption").GetString());
        Assert.Equal(editPost.UpdateId, updates[5].GetProperty("update_id").GetInt64());
    }

    [Fact]
    public async Task GetMe_describes_the_bot_and_unknown_tokens_and_methods_are_refused()
    {
        await using var h = await Harness.StartAsync();
        var me = await h.CallAsync(h.BotA, "getMe");
        Assert.Equal(111111, me.Result.GetProperty("id").GetInt64());
        Assert.True(me.Result.GetProperty("is_bot").GetBoolean());
        Assert.Equal("alpha_bot", me.Result.GetProperty("username").GetString());
        Assert.False(string.IsNullOrEmpty(me.Result.GetProperty("first_name").GetString()));

        // Method names are case-insensitive.
        Assert.True((await h.CallAsync(h.BotA, "GETME")).Ok);

        // "{BaseUrl}/bot{token}/{method}" joined as text gives "//bot…", which works as it does at Telegram.
        using (var joined = await h.Http.GetAsync(new Uri($"{h.Api.BaseUrl}/bot{Harness.TokenA}/getMe")))
        {
            Assert.Equal(200, (int)joined.StatusCode);
        }

        Assert.Equal(3, h.Api.Calls.Count);

        var unauthorized = await h.CallAsync("999:unknown", "getMe");
        Assert.Equal((401, "Unauthorized"), (unauthorized.Status, unauthorized.Description));

        var notFound = await h.CallAsync(h.BotA, "getTheMoon");
        Assert.Equal((404, "Not Found"), (notFound.Status, notFound.Description));

        var calls = h.Api.Calls;
        Assert.Equal(5, calls.Count);
        Assert.Equal(("alpha_bot", "getMe", 200), (calls[0].Bot, calls[0].Method, calls[0].HttpStatus));
        Assert.Equal(("", 401, "Unauthorized"), (calls[3].Bot, calls[3].HttpStatus, calls[3].Description));
    }

    [Fact]
    public async Task A_backlog_of_twenty_thousand_updates_drains_in_order()
    {
        await using var h = await Harness.StartAsync();
        h.Api.EnqueueMany(h.BotA, Harness.Alice, Harness.Alice, 20_000, i => $"backlog {i}");
        Assert.Equal(20_000, h.Api.PendingUpdates(h.BotA));

        long? offset = null;
        var seen = 0;
        long previous = 0;
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var batch = await h.GetUpdatesAsync(h.BotA, offset);
            var updates = batch.Result.EnumerateArray().ToArray();
            if (updates.Length == 0) break;
            Assert.Equal(100, updates.Length);
            foreach (var update in updates)
            {
                var id = update.GetProperty("update_id").GetInt64();
                Assert.True(id > previous);
                previous = id;
                Assert.Equal($"backlog {seen}", update.GetProperty("message").GetProperty("text").GetString());
                seen++;
            }

            offset = previous + 1;
        }

        Assert.Equal(20_000, seen);
        Assert.Equal(0, h.Api.PendingUpdates(h.BotA));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"draining took {watch.Elapsed}");
    }
}
