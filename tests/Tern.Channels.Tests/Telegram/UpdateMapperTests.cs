using System.Text.Json;
using Tern.Channels.Telegram;
using Tern.Channels.Telegram.BotApi;
using Tern.Core.Messages;

namespace Tern.Channels.Tests.Telegram;

public sealed class UpdateMapperTests
{
    private static Update Parse(string json) => JsonSerializer.Deserialize(json, BotApiJsonContext.Default.Update)!;

    private static Envelope Map(string json) => UpdateMapper.Map(Parse(json), "tg", 1_000).Envelope ?? throw new Xunit.Sdk.XunitException("no envelope");

    [Fact]
    public void A_text_message_keeps_chat_sender_text_and_ids()
    {
        var e = Map("""
            {"update_id":700,"message":{"message_id":5,"date":1700000000,"chat":{"id":-1001,"type":"supergroup","title":"Deals"},
             "from":{"id":42,"is_bot":false,"first_name":"Alice","last_name":"A.","username":"alice"},"text":"hello"}}
            """);
        Assert.Equal(("tg", "-1001:5", "-1001", "42", "hello", null), (e.ChannelId, e.PlatformId, e.Chat, e.Sender, e.Text, e.AttachmentsJson));
        Assert.Equal((MessageKind.Message, "5", (string?)null, (string?)null), (e.Kind, e.MessageId, e.ReplyToId, e.GroupId));
        var meta = JsonDocument.Parse(e.MetaJson!).RootElement;
        Assert.Equal("supergroup", meta.GetProperty("chat_type").GetString());
        Assert.Equal("Deals", meta.GetProperty("chat_title").GetString());
        Assert.Equal("alice", meta.GetProperty("sender_username").GetString());
        Assert.Equal("Alice A.", meta.GetProperty("sender_name").GetString());
        Assert.Equal(700, meta.GetProperty("update_id").GetInt64());
    }

    [Fact]
    public void A_photo_keeps_its_largest_size_and_its_album()
    {
        var e = Map("""
            {"update_id":1,"message":{"message_id":9,"date":1,"chat":{"id":7,"type":"private","first_name":"Bob"},"from":{"id":7,"is_bot":false,"first_name":"Bob"},
             "media_group_id":"G1","caption":"look",
             "photo":[{"file_id":"small","file_unique_id":"u1","width":90,"height":90},{"file_id":"big","file_unique_id":"u2","width":1280,"height":960,"file_size":1234},
                      {"file_id":"mid","file_unique_id":"u3","width":320,"height":240}]}}
            """);
        Assert.Equal("look", e.Text);
        Assert.Equal("G1", e.GroupId);
        var photo = JsonDocument.Parse(e.AttachmentsJson!).RootElement.EnumerateArray().Single();
        Assert.Equal(("photo", "big", 1234L, 1280), (photo.GetProperty("type").GetString(), photo.GetProperty("file_id").GetString(),
            photo.GetProperty("file_size").GetInt64(), photo.GetProperty("width").GetInt32()));
    }

    [Theory]
    [InlineData("\"animation\":{\"file_id\":\"A\",\"file_unique_id\":\"a\",\"width\":1,\"height\":1,\"duration\":2},\"document\":{\"file_id\":\"D\",\"file_unique_id\":\"d\"}", "animation", "A")]
    [InlineData("\"video\":{\"file_id\":\"V\",\"file_unique_id\":\"v\",\"width\":1,\"height\":1,\"duration\":2}", "video", "V")]
    [InlineData("\"document\":{\"file_id\":\"D\",\"file_unique_id\":\"d\",\"file_name\":\"a.pdf\"}", "document", "D")]
    [InlineData("\"audio\":{\"file_id\":\"AU\",\"file_unique_id\":\"au\",\"duration\":3}", "audio", "AU")]
    [InlineData("\"voice\":{\"file_id\":\"VO\",\"file_unique_id\":\"vo\",\"duration\":3}", "voice", "VO")]
    [InlineData("\"sticker\":{\"file_id\":\"S\",\"file_unique_id\":\"s\",\"type\":\"regular\",\"width\":1,\"height\":1,\"is_animated\":false,\"is_video\":false}", "sticker", "S")]
    [InlineData("\"video_note\":{\"file_id\":\"N\",\"file_unique_id\":\"n\",\"length\":1,\"duration\":1}", "video_note", "N")]
    public void Each_medium_becomes_one_attachment_of_its_type(string media, string type, string fileId)
    {
        var e = Map($$$"""{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},{{{media}}}}}""");
        var attachment = JsonDocument.Parse(e.AttachmentsJson!).RootElement.EnumerateArray().Single();
        Assert.Equal((type, fileId), (attachment.GetProperty("type").GetString(), attachment.GetProperty("file_id").GetString()));
    }

    [Fact]
    public void Locations_contacts_polls_and_dice_are_attachments_without_files()
    {
        var e = Map("""{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},"location":{"latitude":52.5,"longitude":13.4}}}""");
        var location = JsonDocument.Parse(e.AttachmentsJson!).RootElement[0];
        Assert.Equal(("location", 52.5), (location.GetProperty("type").GetString(), location.GetProperty("latitude").GetDouble()));
        Assert.Equal("dice", JsonDocument.Parse(Map("""{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},"dice":{"emoji":"🎲","value":4}}}""").AttachmentsJson!).RootElement[0].GetProperty("type").GetString());
    }

    [Fact]
    public void An_edit_gets_its_own_id_per_update_and_names_the_message_it_changes()
    {
        const string Edit = """{"update_id":%U%,"edited_message":{"message_id":5,"date":1,"edit_date":1700000100,"chat":{"id":-1,"type":"group","title":"G"},"from":{"id":2,"is_bot":false,"first_name":"x"},"text":"v2","media_group_id":"G"}}""";
        var first = Map(Edit.Replace("%U%", "10", StringComparison.Ordinal));
        var again = Map(Edit.Replace("%U%", "10", StringComparison.Ordinal));
        var second = Map(Edit.Replace("%U%", "11", StringComparison.Ordinal));
        Assert.Equal(MessageKind.Edit, first.Kind);
        Assert.Equal("5", first.MessageId);
        Assert.Null(first.GroupId);
        Assert.Equal(first.PlatformId, again.PlatformId);
        Assert.NotEqual(first.PlatformId, second.PlatformId);
        Assert.NotEqual("-1:5", first.PlatformId);
    }

    [Fact]
    public void Channel_posts_and_their_edits_come_from_the_channel()
    {
        var post = Map("""{"update_id":1,"channel_post":{"message_id":3,"date":1,"chat":{"id":-1002,"type":"channel","title":"News"},"sender_chat":{"id":-1002,"type":"channel","title":"News"},"text":"breaking"}}""");
        Assert.Equal(("-1002", "-1002", MessageKind.Message), (post.Chat, post.Sender, post.Kind));
        var edit = Map("""{"update_id":2,"edited_channel_post":{"message_id":3,"date":1,"edit_date":2,"chat":{"id":-1002,"type":"channel"},"text":"fixed"}}""");
        Assert.Equal(MessageKind.Edit, edit.Kind);
    }

    [Fact]
    public void A_reply_names_the_message_it_answers_but_a_topic_message_does_not_reply_to_its_topic()
    {
        var reply = Map("""{"update_id":1,"message":{"message_id":8,"date":1,"chat":{"id":-1,"type":"supergroup"},"text":"yes","reply_to_message":{"message_id":6,"date":1,"chat":{"id":-1,"type":"supergroup"},"text":"?"}}}""");
        Assert.Equal("6", reply.ReplyToId);
        var inTopic = Map("""{"update_id":1,"message":{"message_id":8,"date":1,"message_thread_id":4,"is_topic_message":true,"chat":{"id":-1,"type":"supergroup","is_forum":true},"text":"hi","reply_to_message":{"message_id":4,"date":1,"chat":{"id":-1,"type":"supergroup"}}}}""");
        Assert.Null(inTopic.ReplyToId);
        Assert.Equal(4, JsonDocument.Parse(inTopic.MetaJson!).RootElement.GetProperty("thread").GetInt64());
    }

    [Fact]
    public void A_button_press_is_a_callback_in_the_chat_of_its_message()
    {
        var e = Map("""{"update_id":1,"callback_query":{"id":"cb77","from":{"id":42,"is_bot":false,"first_name":"A","username":"a"},"chat_instance":"ci","data":"buy:1","message":{"message_id":3,"date":0,"chat":{"id":-5,"type":"group"}}}}""");
        Assert.Equal((MessageKind.Callback, "cb:cb77", "-5", "42", "buy:1", "3"), (e.Kind, e.PlatformId, e.Chat, e.Sender, e.Text, e.MessageId));
    }

    [Fact]
    public void Service_messages_are_not_routed_and_a_migration_is_reported()
    {
        Assert.Null(UpdateMapper.Map(Parse("""{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":-1,"type":"group"}}}"""), "tg", 1).Envelope);
        var moved = UpdateMapper.Map(Parse("""{"update_id":2,"message":{"message_id":2,"date":1,"chat":{"id":-55,"type":"group"},"migrate_to_chat_id":-1000055}}"""), "tg", 1);
        Assert.Null(moved.Envelope);
        Assert.Equal(("-55", "-1000055"), moved.MigratedFrom);
        Assert.Null(UpdateMapper.Map(Parse("""{"update_id":3,"inline_query":{"id":"q"}}"""), "tg", 1).Envelope);
    }
}
