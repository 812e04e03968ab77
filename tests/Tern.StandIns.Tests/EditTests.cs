using Tern.StandIns.Telegram;

namespace Tern.StandIns.Tests;

public sealed class EditTests
{
    [Fact]
    public async Task EditMessageText_updates_the_message_and_records_an_edited_row()
    {
        await using var h = await Harness.StartAsync(new StandInOptions { EnforceLimits = false });
        var sent = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Alice, text = "draft" });
        var id = sent.Result.GetProperty("message_id").GetInt32();

        var edited = await h.CallAsync(h.BotA, "editMessageText", new { chat_id = Harness.Alice, message_id = id, text = "final" });
        Assert.True(edited.Ok, edited.ToString());
        Assert.Equal("final", edited.Result.GetProperty("text").GetString());
        Assert.True(edited.Result.TryGetProperty("edit_date", out _));

        var rows = h.Api.SentTo(Harness.Alice);
        Assert.Equal(2, rows.Count);
        Assert.Equal(("editMessageText", id, "final", true), (rows[1].Method, rows[1].MessageId, rows[1].Text, rows[1].Edited));
        Assert.False(rows[0].Edited);

        // The stored message changed: copying it now copies the new text.
        Assert.True((await h.CallAsync(h.BotA, "copyMessage", new { chat_id = Harness.Bob, from_chat_id = Harness.Alice, message_id = id })).Ok);
        Assert.Equal("final", h.Api.SentTo(Harness.Bob)[0].Text);
    }

    [Fact]
    public async Task Edits_of_missing_foreign_or_unchanged_messages_get_Telegrams_400s()
    {
        await using var h = await Harness.StartAsync(new StandInOptions { EnforceLimits = false });
        var sent = await h.CallAsync(h.BotA, "sendMessage", new { chat_id = Harness.Group, text = "same" });
        var id = sent.Result.GetProperty("message_id").GetInt32();
        var photo = await h.CallAsync(h.BotA, "sendPhoto", new { chat_id = Harness.Group, photo = "https://example.invalid/a.jpg", caption = "cap" });
        var photoId = photo.Result.GetProperty("message_id").GetInt32();
        var users = h.Api.UserMessage(h.BotA, Harness.Group, Harness.Alice, "not yours");
        async Task<string> Refusal(string method, object parameters)
        {
            var answer = await h.CallAsync(h.BotA, method, parameters);
            Assert.Equal(400, answer.Status);
            return answer.Description;
        }

        Assert.Equal("Bad Request: message to edit not found", await Refusal("editMessageText", new { chat_id = Harness.Group, message_id = 999, text = "x" }));
        Assert.Equal("Bad Request: message can't be edited", await Refusal("editMessageText", new { chat_id = Harness.Group, message_id = users.MessageId, text = "x" }));
        Assert.Equal(
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
            await Refusal("editMessageText", new { chat_id = Harness.Group, message_id = id, text = "same" }));
        Assert.Equal(
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
            await Refusal("editMessageCaption", new { chat_id = Harness.Group, message_id = photoId, caption = "cap" }));
        Assert.Equal("Bad Request: there is no text in the message to edit", await Refusal("editMessageText", new { chat_id = Harness.Group, message_id = photoId, text = "x" }));
        Assert.Equal("Bad Request: there is no caption in the message to edit", await Refusal("editMessageCaption", new { chat_id = Harness.Group, message_id = id, caption = "x" }));
        Assert.Equal("Bad Request: message text is empty", await Refusal("editMessageText", new { chat_id = Harness.Group, message_id = id }));
        Assert.Equal("Bad Request: message identifier is not specified", await Refusal("editMessageText", new { text = "x" }));

        // Another bot did not send it either.
        var other = await h.CallAsync(h.BotB, "editMessageText", new { chat_id = Harness.Group, message_id = id, text = "x" });
        Assert.Equal("Bad Request: message can't be edited", other.Description);

        // A new reply_markup alone is a modification.
        var withKeyboard = await h.CallAsync(h.BotA, "editMessageText", new
        {
            chat_id = Harness.Group,
            message_id = id,
            text = "same",
            reply_markup = new { inline_keyboard = new[] { new[] { new { text = "b", callback_data = "b" } } } },
        });
        Assert.True(withKeyboard.Ok, withKeyboard.ToString());
        Assert.True((await h.CallAsync(h.BotA, "editMessageCaption", new { chat_id = Harness.Group, message_id = photoId, caption = "new cap" })).Ok);
        Assert.Equal(2, h.Api.SentTo(Harness.Group).Count(r => r.Edited));
    }
}
