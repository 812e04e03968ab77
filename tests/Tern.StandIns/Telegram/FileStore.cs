using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;

namespace Tern.StandIns.Telegram;

/// <summary>One file on the stand-in: generated for incoming media, uploaded, or "sent by URL".</summary>
internal sealed class StoredFile
{
    public required long Serial { get; init; }

    public required MediaKind Kind { get; init; }

    public required long Size { get; init; }

    public required string UniqueId { get; init; }

    public required string FilePath { get; init; }

    public byte[]? Uploaded { get; init; }

    public string? UploadedSha256 { get; init; }

    public string? FileName { get; init; }

    public string? MimeType { get; init; }

    public int Width { get; init; }

    public int Height { get; init; }

    public int Duration { get; init; }
}

/// <summary>The media of a message: one file, or for a photo its sizes, smallest first.</summary>
internal sealed record StoredMedia(MediaKind Kind, IReadOnlyList<StoredFile> Files, string? Url)
{
    public StoredFile Main => Files[^1];
}

/// <summary>
/// Files and their identifiers. A file_id names the bot it was issued to, the file, and a tag
/// keyed by the seed, so ids of another bot (or made up ones) are recognized and refused, as
/// Telegram refuses them: "file_id is unique for each individual bot". file_unique_id is the same
/// for every bot. Not thread-safe: used under the stand-in's lock.
/// </summary>
internal sealed class FileStore
{
    /// <summary>Bots can download files of up to 20 MB (getFile).</summary>
    public const long MaxDownloadSize = 20L * 1024 * 1024;

    private const int DefaultSize = 4096;

    private readonly Dictionary<long, StoredFile> _files = [];
    private readonly Dictionary<long, StoredMedia> _mediaByFile = [];
    private readonly Dictionary<string, StoredFile> _byPath = new(StringComparer.Ordinal);
    private readonly byte[] _key;
    private long _nextSerial = 1;

    public FileStore(int seed)
    {
        _key = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(_key, seed);
        Seed = seed;
    }

    public int Seed { get; }

    public StoredMedia Generate(MediaKind kind, long? size, string? fileName, string? url = null)
    {
        var main = size ?? DefaultSize;
        if (kind == MediaKind.Photo)
        {
            // Telegram sends a photo as several sizes, smallest first.
            var small = Add(kind, Math.Max(64, main / 16), null, null, fileName, 90, 68);
            var medium = Add(kind, Math.Max(128, main / 4), null, null, fileName, 320, 240);
            var large = Add(kind, main, null, null, fileName, 1280, 960);
            return Register(new StoredMedia(kind, [small, medium, large], url));
        }

        return Register(new StoredMedia(kind, [Add(kind, main, null, null, fileName ?? DefaultFileName(kind), 0, 0)], url));
    }

    public StoredMedia Upload(MediaKind kind, UploadedFile upload)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(upload.Content));
        var contentType = string.IsNullOrEmpty(upload.ContentType) ? null : upload.ContentType;
        if (kind == MediaKind.Photo)
        {
            var length = upload.Content.LongLength;
            var small = Add(kind, Math.Max(64, length / 16), null, null, null, 90, 68);
            var medium = Add(kind, Math.Max(128, length / 4), null, null, null, 320, 240);
            var large = Add(kind, length, upload.Content, sha, null, 1280, 960);
            return Register(new StoredMedia(kind, [small, medium, large], null));
        }

        var file = Add(kind, upload.Content.LongLength, upload.Content, sha, upload.FileName ?? DefaultFileName(kind), 0, 0, contentType);
        return Register(new StoredMedia(kind, [file], null));
    }

    /// <summary>The media a file_id of <paramref name="botId"/> names, or null if it names none (or another bot's).</summary>
    public StoredMedia? Resolve(long botId, string fileId)
    {
        var file = FileOf(botId, fileId);
        return file is null ? null : _mediaByFile[file.Serial];
    }

    public StoredFile? FileOf(long botId, string fileId)
    {
        if (!TryDecode(fileId, out var owner, out var serial) || owner != botId) return null;
        return _files.GetValueOrDefault(serial);
    }

    public StoredFile? ByPath(string path) => _byPath.GetValueOrDefault(path);

    public string FileId(long botId, StoredFile file)
    {
        Span<byte> payload = stackalloc byte[20];
        BinaryPrimitives.WriteInt64LittleEndian(payload, botId);
        BinaryPrimitives.WriteInt64LittleEndian(payload[8..], file.Serial);
        Tag(payload[..16], payload[16..]);
        return KindPrefix(file.Kind) + Base64Url(payload);
    }

    /// <summary>The bytes a download returns: the upload, or deterministic bytes of the file's size.</summary>
    public byte[] Content(StoredFile file)
    {
        if (file.Uploaded is not null) return file.Uploaded;
        var bytes = new byte[file.Size];
        new Random(HashCode.Combine(Seed, file.Serial)).NextBytes(bytes);
        return bytes;
    }

    private StoredMedia Register(StoredMedia media)
    {
        foreach (var file in media.Files) _mediaByFile[file.Serial] = media;
        return media;
    }

    private StoredFile Add(MediaKind kind, long size, byte[]? uploaded, string? sha, string? fileName, int width, int height, string? mimeType = null)
    {
        var serial = _nextSerial++;
        var (folder, extension) = Folder(kind, fileName);
        var (defaultWidth, defaultHeight, duration) = Geometry(kind);
        var file = new StoredFile
        {
            Serial = serial,
            Kind = kind,
            Size = size,
            UniqueId = UniqueId(serial),
            FilePath = string.Create(CultureInfo.InvariantCulture, $"{folder}/file_{serial}.{extension}"),
            Uploaded = uploaded,
            UploadedSha256 = sha,
            FileName = kind == MediaKind.Photo ? null : fileName,
            MimeType = mimeType ?? DefaultMimeType(kind, fileName),
            Width = width != 0 ? width : defaultWidth,
            Height = height != 0 ? height : defaultHeight,
            Duration = duration,
        };
        _files[serial] = file;
        _byPath[file.FilePath] = file;
        return file;
    }

    private bool TryDecode(string fileId, out long botId, out long serial)
    {
        botId = 0;
        serial = 0;
        if (fileId.Length < 8) return false;
        Span<byte> payload = stackalloc byte[24];
        if (!TryFromBase64Url(fileId.AsSpan(4), payload, out var written) || written != 20) return false;
        Span<byte> expected = stackalloc byte[4];
        Tag(payload[..16], expected);
        if (!expected.SequenceEqual(payload.Slice(16, 4))) return false;
        botId = BinaryPrimitives.ReadInt64LittleEndian(payload);
        serial = BinaryPrimitives.ReadInt64LittleEndian(payload[8..]);
        return true;
    }

    private void Tag(ReadOnlySpan<byte> data, Span<byte> tag)
    {
        Span<byte> hash = stackalloc byte[32];
        HMACSHA256.HashData(_key, data, hash);
        hash[..tag.Length].CopyTo(tag);
    }

    private static string UniqueId(long serial)
    {
        Span<byte> payload = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(payload, serial);
        return "AQAD" + Base64Url(payload);
    }

    private static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryFromBase64Url(ReadOnlySpan<char> text, Span<byte> destination, out int written)
    {
        written = 0;
        if (text.Length > 40) return false;
        Span<char> padded = stackalloc char[44];
        text.CopyTo(padded);
        var length = text.Length;
        for (var i = 0; i < length; i++)
        {
            padded[i] = padded[i] switch { '-' => '+', '_' => '/', var c => c };
        }

        while (length % 4 != 0) padded[length++] = '=';
        return Convert.TryFromBase64Chars(padded[..length], destination, out written);
    }

    // Telegram's file_ids start with a type-dependent prefix; these mimic it so logs look familiar.
    private static string KindPrefix(MediaKind kind) => kind switch
    {
        MediaKind.Photo => "AgAC",
        MediaKind.Video => "BAAC",
        MediaKind.Document => "BQAC",
        MediaKind.Audio => "CQAC",
        MediaKind.Voice => "AwAC",
        MediaKind.Animation => "CgAC",
        _ => "CAAC",
    };

    private static (string Folder, string Extension) Folder(MediaKind kind, string? fileName)
    {
        var fromName = Path.GetExtension(fileName ?? "").TrimStart('.');
        return kind switch
        {
            MediaKind.Photo => ("photos", "jpg"),
            MediaKind.Video => ("videos", "mp4"),
            MediaKind.Document => ("documents", fromName.Length > 0 ? fromName : "bin"),
            MediaKind.Audio => ("music", fromName.Length > 0 ? fromName : "mp3"),
            MediaKind.Voice => ("voice", "oga"),
            MediaKind.Animation => ("animations", "mp4"),
            _ => ("stickers", "webp"),
        };
    }

    private static (int Width, int Height, int Duration) Geometry(MediaKind kind) => kind switch
    {
        MediaKind.Video => (1280, 720, 5),
        MediaKind.Audio => (0, 0, 30),
        MediaKind.Voice => (0, 0, 3),
        MediaKind.Animation => (320, 240, 2),
        MediaKind.Sticker => (512, 512, 0),
        _ => (0, 0, 0),
    };

    private static string? DefaultFileName(MediaKind kind) => kind switch
    {
        MediaKind.Document => "file.bin",
        MediaKind.Animation => "animation.mp4",
        _ => null,
    };

    private static string DefaultMimeType(MediaKind kind, string? fileName) => kind switch
    {
        MediaKind.Photo => "image/jpeg",
        MediaKind.Video or MediaKind.Animation => "video/mp4",
        MediaKind.Audio => "audio/mpeg",
        MediaKind.Voice => "audio/ogg",
        MediaKind.Sticker => "image/webp",
        _ => Path.GetExtension(fileName ?? "").ToUpperInvariant() switch
        {
            ".PDF" => "application/pdf",
            ".TXT" => "text/plain",
            ".ZIP" => "application/zip",
            ".JSON" => "application/json",
            _ => "application/octet-stream",
        },
    };
}
