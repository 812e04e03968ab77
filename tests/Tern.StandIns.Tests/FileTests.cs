using System.Security.Cryptography;
using Tern.StandIns.Telegram;

namespace Tern.StandIns.Tests;

public sealed class FileTests
{
    private static StandInOptions NoLimits() => new() { EnforceLimits = false };

    [Fact]
    public async Task A_file_id_is_valid_only_for_the_bot_it_was_issued_to()
    {
        await using var h = await Harness.StartAsync(NoLimits());
        var incoming = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, null, new IncomingMedia(MediaKind.Photo));

        var byOther = await h.CallAsync(h.BotB, "sendPhoto", new { chat_id = Harness.Alice, photo = incoming.FileId });
        Assert.Equal((400, "Bad Request: wrong file identifier/HTTP URL specified"), (byOther.Status, byOther.Description));
        var madeUp = await h.CallAsync(h.BotA, "sendPhoto", new { chat_id = Harness.Alice, photo = "AgACAgIAAxkBAAIBZ2Xfake" });
        Assert.Equal("Bad Request: wrong file identifier/HTTP URL specified", madeUp.Description);
        var getFileByOther = await h.CallAsync(h.BotB, "getFile", new { file_id = incoming.FileId });
        Assert.Equal("Bad Request: invalid file_id", getFileByOther.Description);

        var byOwner = await h.CallAsync(h.BotA, "sendPhoto", new { chat_id = Harness.Group, photo = incoming.FileId, caption = "again" });
        Assert.True(byOwner.Ok, byOwner.ToString());
        var sizes = byOwner.Result.GetProperty("photo").EnumerateArray().ToArray();
        Assert.Equal(incoming.FileId, sizes[^1].GetProperty("file_id").GetString());
        Assert.Equal(incoming.FileUniqueId, sizes[^1].GetProperty("file_unique_id").GetString());
        var row = Assert.Single(h.Api.SentTo(Harness.Group));
        Assert.Equal(("photo", incoming.FileId, "again"), (row.MediaType, row.FileId, row.Caption));

        // A file's kind matters: a photo is no video.
        var asVideo = await h.CallAsync(h.BotA, "sendVideo", new { chat_id = Harness.Group, video = incoming.FileId });
        Assert.Equal("Bad Request: can't use file of type Photo as Video", asVideo.Description);
    }

    [Fact]
    public async Task A_multipart_upload_is_recorded_with_its_sha256_and_gets_a_file_id_of_the_uploader()
    {
        await using var h = await Harness.StartAsync(NoLimits());
        var bytes = new byte[3000];
        new Random(7).NextBytes(bytes);

        var answer = await h.MultipartAsync(h.BotA, "sendDocument", [new("chat_id", Harness.Alice.ToString()), new("caption", "report")], ("document", "report.pdf", bytes));

        Assert.True(answer.Ok, answer.ToString());
        var document = answer.Result.GetProperty("document");
        Assert.Equal("report.pdf", document.GetProperty("file_name").GetString());
        Assert.Equal(3000, document.GetProperty("file_size").GetInt64());
        var row = Assert.Single(h.Api.Sent);
        Assert.Equal(3000, row.UploadedBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), row.UploadedSha256);
        Assert.Equal("document", row.MediaType);
        Assert.Null(row.FileId);

        // The new file_id is the uploader's: it re-sends and downloads the same bytes, another bot cannot.
        var fileId = document.GetProperty("file_id").GetString()!;
        Assert.True((await h.CallAsync(h.BotA, "sendDocument", new { chat_id = Harness.Bob, document = fileId })).Ok);
        Assert.Equal(bytes, await DownloadAsync(h, h.BotA, fileId));
        Assert.Equal(400, (await h.CallAsync(h.BotB, "sendDocument", new { chat_id = Harness.Bob, document = fileId })).Status);

        // attach://name names a part too.
        var attached = await h.MultipartAsync(h.BotA, "sendPhoto", [new("chat_id", Harness.Alice.ToString()), new("photo", "attach://pic")], ("pic", "pic.jpg", bytes));
        Assert.True(attached.Ok, attached.ToString());
        Assert.Equal(row.UploadedSha256, h.Api.Sent[^1].UploadedSha256);
    }

    [Fact]
    public async Task GetFile_gives_a_file_path_that_downloads_the_bytes()
    {
        await using var h = await Harness.StartAsync(NoLimits());
        var voice = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, null, new IncomingMedia(MediaKind.Voice, FileSize: 5000));

        var file = await h.CallAsync(h.BotA, "getFile", new { file_id = voice.FileId });
        Assert.True(file.Ok, file.ToString());
        Assert.Equal(voice.FileId, file.Result.GetProperty("file_id").GetString());
        Assert.Equal(voice.FileUniqueId, file.Result.GetProperty("file_unique_id").GetString());
        Assert.Equal(5000, file.Result.GetProperty("file_size").GetInt64());
        var path = file.Result.GetProperty("file_path").GetString()!;

        var bytes = await h.Http.GetByteArrayAsync(h.At($"file/bot{Harness.TokenA}/{path}"));
        Assert.Equal(5000, bytes.Length);
        Assert.Equal(bytes, await h.Http.GetByteArrayAsync(h.At($"file/bot{Harness.TokenA}/{path}")));

        // Another bot's token does not open this bot's files.
        using var other = await h.Http.GetAsync(h.At($"file/bot{Harness.TokenB}/{path}"));
        Assert.Equal(404, (int)other.StatusCode);
    }

    [Fact]
    public async Task Files_over_20_MB_are_refused_by_getFile()
    {
        await using var h = await Harness.StartAsync(NoLimits());
        var big = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, null, new IncomingMedia(MediaKind.Video, FileSize: 20L * 1024 * 1024 + 1));
        var fits = h.Api.UserMessage(h.BotA, Harness.Alice, Harness.Alice, null, new IncomingMedia(MediaKind.Video, FileSize: 1024));

        var refused = await h.CallAsync(h.BotA, "getFile", new { file_id = big.FileId });
        Assert.Equal((400, "Bad Request: file is too big"), (refused.Status, refused.Description));
        Assert.True((await h.CallAsync(h.BotA, "getFile", new { file_id = fits.FileId })).Ok);
        // Re-sending a big file by file_id is fine: only downloads are limited.
        Assert.True((await h.CallAsync(h.BotA, "sendVideo", new { chat_id = Harness.Bob, video = big.FileId })).Ok);
    }

    [Fact]
    public async Task Media_sent_by_URL_is_accepted_unfetched_and_recorded()
    {
        await using var h = await Harness.StartAsync(NoLimits());
        var answer = await h.CallAsync(h.BotA, "sendAudio", new { chat_id = Harness.Alice, audio = "https://example.invalid/song.mp3", caption = "listen" });

        Assert.True(answer.Ok, answer.ToString());
        Assert.True(answer.Result.GetProperty("audio").GetProperty("duration").GetInt32() > 0);
        var row = Assert.Single(h.Api.Sent);
        Assert.Equal(("audio", "https://example.invalid/song.mp3", "listen"), (row.MediaType, row.MediaUrl, row.Caption));
        var sticker = await h.CallAsync(h.BotA, "sendSticker", new { chat_id = Harness.Alice, sticker = "https://example.invalid/s.webp" });
        Assert.Equal("regular", sticker.Result.GetProperty("sticker").GetProperty("type").GetString());
    }

    private static async Task<byte[]> DownloadAsync(Harness h, StandInBot bot, string fileId)
    {
        var file = await h.CallAsync(bot, "getFile", new { file_id = fileId });
        Assert.True(file.Ok, file.ToString());
        return await h.Http.GetByteArrayAsync($"file/bot{bot.Token}/{file.Result.GetProperty("file_path").GetString()}");
    }
}
