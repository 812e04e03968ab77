using System.Text.Json;
using Tern.StandIns.Telegram;

namespace Tern.StandIns.Tests;

public sealed class SendingTests
{
    [Fact]
    public async Task Held_answers_leave_a_send_done_but_unanswered_until_released()
    {
        await using var h = await Harness.StartAsync();
        h.Api.HoldAnswers(h.BotA);
        var send = h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = "made, not answered" });
        await Harness.UntilAsync(() => h.Api.HeldAnswers(h.BotA) == 1, "the answer to be held");
        Assert.False(send.IsCompleted);
        Assert.Equal("made, not answered", Assert.Single(h.Api.SentTo(Harness.Alice)).Text);
        // Other methods, and other bots, are answered meanwhile.
        Assert.True((await h.CallAsync(h.BotA, "getMe")).Ok);
        Assert.True((await h.CallAsync(h.BotB, "sendMessage", new { chat_id = Harness.Bob, text = "b" })).Ok);

        h.Api.ReleaseAnswers(h.BotA);
        var answer = await send.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(answer.Ok);
        Assert.Equal(h.Api.SentTo(Harness.Alice)[0].MessageId, answer.Result.GetProperty("message_id").GetInt32());
        Assert.Equal(0, h.Api.HeldAnswers(h.BotA));
        Assert.True((await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = "answered at once" })).Ok);
    }

    [Fact]
    public async Task A_client_that_goes_away_while_its_answer_is_held_leaves_the_message_sent()
    {
        await using var h = await Harness.StartAsync();
        h.Api.HoldAnswers(h.BotA);
        using var gone = new CancellationTokenSource();
        var send = h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = "x" }, gone.Token);
        await Harness.UntilAsync(() => h.Api.HeldAnswers(h.BotA) == 1, "the answer to be held");

        await gone.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
        await Harness.UntilAsync(() => h.Api.HeldAnswers(h.BotA) == 0, "the stand-in to see the client go");
        Assert.Single(h.Api.SentTo(Harness.Alice));
        h.Api.ReleaseAnswers(h.BotA);
    }

    [Fact]
    public async Task SendMessage_returns_the_Message_with_per_chat_increasing_ids_and_records_it()
    {
        await using var h = await Harness.StartAsync();
        var incoming = h.Api.UserMessage(h.BotA, Harness.Group, Harness.Alice, "hi bots");

        var first = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Group, text = "hello ✓" });
        var second = await h.CallAsync(h.BotB, "sendMessage", new { chat_id = Harness.Group.ToString(), text = "me too" });
        var elsewhere = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = "private" });

        Assert.True(first.Ok, first.ToString());
        var message = first.Result;
        Assert.Equal(incoming.MessageId + 1, message.GetProperty("message_id").GetInt32());
        Assert.Equal(incoming.MessageId + 2, second.Result.GetProperty("message_id").GetInt32());
        Assert.Equal(1, elsewhere.Result.GetProperty("message_id").GetInt32());
        Assert.Equal("hello ✓", message.GetProperty("text").GetString());
        Assert.Equal(Harness.Group, message.GetProperty("chat").GetProperty("id").GetInt64());
        Assert.Equal("group", message.GetProperty("chat").GetProperty("type").GetString());
        Assert.True(message.GetProperty("from").GetProperty("is_bot").GetBoolean());
        Assert.Equal("alpha_bot", message.GetProperty("from").GetProperty("username").GetString());

        var sent = h.Api.SentTo(Harness.Group);
        Assert.Equal(2, sent.Count);
        Assert.Equal(("alpha_bot", "sendMessage", "text", "hello ✓"), (sent[0].Bot, sent[0].Method, sent[0].MediaType, sent[0].Text));
        Assert.Equal(incoming.MessageId + 1, sent[0].MessageId);
        Assert.Equal("beta_bot", sent[1].Bot);
        Assert.Equal(3, h.Api.Sent.Count);
        Assert.True(sent[0].ArrivedAt <= sent[1].ArrivedAt);
    }

    [Fact]
    public async Task Missing_or_wrong_parameters_get_Telegrams_400s()
    {
        // Many calls to one chat in a row: the flood limits would refuse them.
        await using var h = await Harness.StartAsync(new StandInOptions { EnforceLimits = false });
        async Task<string> Refusal(string method, object parameters)
        {
            var answer = await h.CallAsync(h.BotA, method, parameters);
            Assert.Equal(400, answer.Status);
            return answer.Description;
        }

        Assert.Equal("Bad Request: chat_id is empty", await Refusal("sendMessage", new { text = "x" }));
        Assert.Equal("Bad Request: message text is empty", await Refusal("sendMessage", new { chat_id = Harness.Alice }));
        Assert.Equal("Bad Request: message text is empty", await Refusal("sendMessage", new { chat_id = Harness.Alice, text = "  " }));
        Assert.Equal("Bad Request: chat not found", await Refusal("sendMessage", new { chat_id = 424242, text = "x" }));
        Assert.Equal("Bad Request: chat not found", await Refusal("sendMessage", new { chat_id = "@nobody", text = "x" }));
        Assert.Equal("Bad Request: message is too long", await Refusal("sendMessage", new { chat_id = Harness.Alice, text = new string('a', 4097) }));
        Assert.True((await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = new string('a', 4096) })).Ok);
        Assert.Equal("Bad Request: unsupported parse_mode", await Refusal("sendMessage", new { chat_id = Harness.Alice, text = "x", parse_mode = "BBCode" }));
        Assert.Equal("Bad Request: there is no photo in the request", await Refusal("sendPhoto", new { chat_id = Harness.Alice }));
        Assert.Equal("Bad Request: message caption is too long", await Refusal("sendPhoto", new
        {
            chat_id = Harness.Alice,
            photo = "https://example.invalid/cat.jpg",
            caption = new string('c', 1025),
        }));
        Assert.Equal("Bad Request: message to be replied not found", await Refusal("sendMessage", new
        {
            chat_id = Harness.Alice,
            text = "x",
            reply_parameters = new { message_id = 999 },
        }));
        Assert.Equal("Bad Request: message thread not found", await Refusal("sendMessage", new { chat_id = Harness.Forum, text = "x", message_thread_id = 12 }));

        // A refused call sends nothing.
        Assert.Single(h.Api.Sent);
    }

    [Fact]
    public async Task A_blocked_bot_gets_403_with_Telegrams_words_and_unblocking_lets_it_send_again()
    {
        await using var h = await Harness.StartAsync();
        h.Api.Block(h.BotA, Harness.Alice);
        h.Api.Block(h.BotA, Harness.Group);
        h.Api.Block(h.BotA, Harness.Supergroup);

        var privateChat = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = "x" });
        Assert.Equal((403, "Forbidden: bot was blocked by the user"), (privateChat.Status, privateChat.Description));
        var group = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Group, text = "x" });
        Assert.Equal((403, "Forbidden: bot was kicked from the group chat"), (group.Status, group.Description));
        var supergroup = await h.CallAsync(h.BotA, "sendPhoto", new { chat_id = Harness.Supergroup, photo = "https://example.invalid/a.jpg" });
        Assert.Equal((403, "Forbidden: bot was kicked from the supergroup chat"), (supergroup.Status, supergroup.Description));

        // Only that bot is blocked.
        Assert.True((await h.CallAsync(h.BotB, "sendMessage", new { chat_id = Harness.Alice, text = "x" })).Ok);
        h.Api.Unblock(h.BotA, Harness.Alice);
        Assert.True((await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = "x" })).Ok);
        Assert.Equal(2, h.Api.Sent.Count);
        Assert.Contains(h.Api.Calls, c => c.HttpStatus == 403 && c.ErrorCode == 403 && c.ChatId == Harness.Alice);
    }

    [Fact]
    public async Task A_migrated_group_answers_400_with_migrate_to_chat_id_and_the_supergroup_takes_the_messages()
    {
        await using var h = await Harness.StartAsync();
        const long upgraded = -1007777777777;
        h.Api.MigrateGroup(Harness.Group, upgraded);

        var refused = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Group, text = "x" });
        Assert.Equal(400, refused.Status);
        Assert.Equal("Bad Request: group chat was upgraded to a supergroup chat", refused.Description);
        Assert.Equal(upgraded, refused.Body.GetProperty("parameters").GetProperty("migrate_to_chat_id").GetInt64());

        var sent = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = upgraded, text = "x" });
        Assert.True(sent.Ok);
        Assert.Equal("supergroup", sent.Result.GetProperty("chat").GetProperty("type").GetString());
        Assert.Equal(upgraded, Assert.Single(h.Api.Sent).ChatId);
    }

    [Fact]
    public async Task A_form_urlencoded_body_with_JSON_serialized_reply_parameters_works()
    {
        // Many calls to one chat in a row: the flood limits would refuse them.
        await using var h = await Harness.StartAsync(new StandInOptions { EnforceLimits = false });
        var question = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, "question?");

        var answer = await h.FormAsync(h.BotA, "sendMessage", [
            new("chat_id", Harness.Alice.ToString()),
            new("text", "answer!"),
            new("reply_parameters", $$"""{"message_id":{{question.MessageId}}}"""),
            new("reply_markup", """{"inline_keyboard":[[{"text":"ok","callback_data":"ok"}]]}"""),
        ]);

        Assert.True(answer.Ok, answer.ToString());
        var replied = answer.Result.GetProperty("reply_to_message");
        Assert.Equal(question.MessageId, replied.GetProperty("message_id").GetInt32());
        Assert.Equal("question?", replied.GetProperty("text").GetString());
        Assert.Equal("ok", answer.Result.GetProperty("reply_markup").GetProperty("inline_keyboard")[0][0].GetProperty("text").GetString());
        var row = Assert.Single(h.Api.Sent);
        Assert.Equal(question.MessageId, row.ReplyToMessageId);
        Assert.Contains("inline_keyboard", row.ReplyMarkup, StringComparison.Ordinal);

        // allow_sending_without_reply: an unknown message is no reply at all.
        var lenient = await h.FormAsync(h.BotA, "sendMessage", [
            new("chat_id", Harness.Alice.ToString()),
            new("text", "whatever"),
            new("reply_parameters", """{"message_id":999,"allow_sending_without_reply":true}"""),
        ]);
        Assert.True(lenient.Ok);
        Assert.False(lenient.Result.TryGetProperty("reply_to_message", out _));

        var broken = await h.FormAsync(h.BotA, "sendMessage", [new("chat_id", Harness.Alice.ToString()), new("text", "x"), new("reply_parameters", "{oops")]);
        Assert.Equal("Bad Request: can't parse reply parameters JSON object", broken.Description);

        // The query string works too.
        using var response = await h.Http.GetAsync(h.At($"bot{Harness.TokenA}/sendMessage?chat_id={Harness.Alice}&text=by%20query"));
        Assert.True(response.IsSuccessStatusCode);
        Assert.Equal("by query", h.Api.Sent[^1].Text);
    }

    [Fact]
    public async Task Forum_topics_are_recorded_and_replies_stay_in_their_topic()
    {
        await using var h = await Harness.StartAsync();
        h.Api.AddTopic(Harness.Forum, 5);
        var inTopic = h.Api.UserMessage(h.BotA, Harness.Forum, Harness.Alice, "topic question", threadId: 5);

        var sent = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Forum, text = "there", message_thread_id = 5 });
        Assert.Equal(5, sent.Result.GetProperty("message_thread_id").GetInt32());
        Assert.True(sent.Result.GetProperty("is_topic_message").GetBoolean());
        var reply = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Forum, text = "reply", reply_parameters = new { message_id = inTopic.MessageId } });
        Assert.Equal(5, reply.Result.GetProperty("message_thread_id").GetInt32());
        Assert.All(h.Api.SentTo(Harness.Forum), s => Assert.Equal(5, s.ThreadId));
    }

    [Fact]
    public async Task SendMediaGroup_sends_an_album_sharing_one_media_group_id_with_a_caption_per_item()
    {
        await using var h = await Harness.StartAsync();
        var photo = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, null, new IncomingMedia(MediaKind.Photo));
        var bytes = new byte[] { 1, 2, 3, 4, 5 };

        var answer = await h.MultipartAsync(h.BotA, "sendMediaGroup", [
            new("chat_id", Harness.Group.ToString()),
            new("media", JsonSerializer.Serialize(new object[]
            {
                new { type = "photo", media = photo.FileId, caption = "first" },
                new { type = "video", media = "attach://clip" },
                new { type = "photo", media = "https://example.invalid/p.jpg", caption = "third" },
            })),
        ], ("clip", "clip.mp4", bytes));

        Assert.True(answer.Ok, answer.ToString());
        var messages = answer.Result.EnumerateArray().ToArray();
        Assert.Equal(3, messages.Length);
        var groupId = messages[0].GetProperty("media_group_id").GetString();
        Assert.False(string.IsNullOrEmpty(groupId));
        Assert.All(messages, m => Assert.Equal(groupId, m.GetProperty("media_group_id").GetString()));
        Assert.Equal("first", messages[0].GetProperty("caption").GetString());
        Assert.False(messages[1].TryGetProperty("caption", out _));
        Assert.True(messages[1].TryGetProperty("video", out _));

        var rows = h.Api.SentTo(Harness.Group);
        Assert.Equal(["photo", "video", "photo"], rows.Select(r => r.MediaType));
        Assert.All(rows, r => Assert.Equal(groupId, r.MediaGroupId));
        Assert.Equal(photo.FileId, rows[0].FileId);
        Assert.Equal(5, rows[1].UploadedBytes);
        Assert.Equal("https://example.invalid/p.jpg", rows[2].MediaUrl);
    }

    [Fact]
    public async Task SendMediaGroup_refuses_what_Telegram_refuses()
    {
        // Many calls to one chat in a row: the flood limits would refuse them.
        await using var h = await Harness.StartAsync(new StandInOptions { EnforceLimits = false });
        async Task<string> Refusal(object? media)
        {
            var answer = await h.CallAsync(h.BotA, "sendMediaGroup", media is null ? new { chat_id = Harness.Alice } : new { chat_id = Harness.Alice, media });
            Assert.Equal(400, answer.Status);
            return answer.Description;
        }

        var url = "https://example.invalid/x.jpg";
        Assert.Equal("Bad Request: parameter \"media\" is required", await Refusal(null));
        Assert.Equal("Bad Request: there are no messages to send", await Refusal(Array.Empty<object>()));
        Assert.Equal("Bad Request: too many messages to send as an album", await Refusal(Enumerable.Repeat(new { type = "photo", media = url }, 11).ToArray()));
        Assert.Equal("Bad Request: document can't be mixed with other media types", await Refusal(new object[]
        {
            new { type = "photo", media = url }, new { type = "document", media = url },
        }));
        Assert.Equal("Bad Request: audio can't be mixed with other media types", await Refusal(new object[]
        {
            new { type = "audio", media = url }, new { type = "video", media = url },
        }));
        Assert.Equal("Bad Request: can't parse InputMedia: media not found", await Refusal(new object[]
        {
            new { type = "photo", media = url }, new { type = "photo", media = "attach://missing" },
        }));
        Assert.Equal("Bad Request: failed to send message #2 with the error message \"Wrong file identifier/HTTP URL specified\"", await Refusal(new object[]
        {
            new { type = "photo", media = url }, new { type = "photo", media = "not-a-file-id" },
        }));
        Assert.Empty(h.Api.Sent);

        // Two documents are fine; a single item is an ordinary message outside any album.
        var documents = await h.CallAsync(h.BotA, "sendMediaGroup", new
        {
            chat_id = Harness.Alice,
            media = new object[] { new { type = "document", media = url }, new { type = "document", media = url } },
        });
        Assert.True(documents.Ok);
        var single = await h.CallAsync(h.BotA, "sendMediaGroup", new { chat_id = Harness.Alice, media = new object[] { new { type = "photo", media = url } } });
        Assert.False(Assert.Single(single.Result.EnumerateArray()).TryGetProperty("media_group_id", out _));
    }

    [Fact]
    public async Task Sixty_four_concurrent_senders_get_unique_increasing_message_ids()
    {
        await using var h = await Harness.StartAsync(new StandInOptions { EnforceLimits = false });
        const int perSender = 20;
        var tasks = Enumerable.Range(0, 64).Select(async sender =>
        {
            var ids = new List<int>();
            for (var i = 0; i < perSender; i++)
            {
                var answer = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Supergroup, text = $"{sender}/{i}" });
                Assert.True(answer.Ok, answer.ToString());
                ids.Add(answer.Result.GetProperty("message_id").GetInt32());
            }

            return ids;
        });

        var all = (await Task.WhenAll(tasks)).ToArray();
        Assert.All(all, ids => Assert.Equal(ids.Order(), ids));
        var flat = all.SelectMany(ids => ids).ToArray();
        Assert.Equal(64 * perSender, flat.Distinct().Count());
        Assert.Equal(Enumerable.Range(1, 64 * perSender), flat.Order());
        Assert.Equal(64 * perSender, h.Api.SentTo(Harness.Supergroup).Count);
        Assert.Equal(0, h.Api.Violations.Total);
    }
}
