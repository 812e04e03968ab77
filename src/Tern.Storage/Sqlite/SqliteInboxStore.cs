using Microsoft.Data.Sqlite;
using Tern.Core.Messages;
using Tern.Core.Pipeline;

namespace Tern.Storage.Sqlite;

public sealed class SqliteInboxStore : IInboxStore, IDisposable
{
    private const string InsertSql =
        "INSERT INTO inbox (channel_id, platform_id, chat, sender, text, attachments, received_at, kind, message_id, reply_to, group_id, meta) " +
        "VALUES ($channel, $platform_id, $chat, $sender, $text, $attachments, $received_at, $kind, $message_id, $reply_to, $group_id, $meta) " +
        "ON CONFLICT (channel_id, platform_id) DO NOTHING RETURNING seq";

    private const string ExistingSql = "SELECT seq FROM inbox WHERE channel_id = $channel AND platform_id = $platform_id";

    private const string PendingSql =
        "SELECT seq, channel_id, platform_id, chat, sender, text, attachments, received_at, kind, message_id, reply_to, group_id, meta FROM inbox " +
        "WHERE state = 0 AND seq > $after ORDER BY seq LIMIT $max";

    private readonly SqliteDatabase _database;
    private readonly AsyncSignal _appended = new();
    private long _pending;

    private SqliteInboxStore(SqliteDatabase database, long pending)
    {
        _database = database;
        _pending = pending;
    }

    public static async Task<SqliteInboxStore> OpenAsync(SqliteDatabase database, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var pending = SqliteDatabase.Scalar(connection, null, "SELECT COUNT(*) FROM inbox WHERE state = 0");
        return new SqliteInboxStore(database, pending);
    }

    public long PendingCount => Interlocked.Read(ref _pending);

    internal void OnRouted(int count) => Interlocked.Add(ref _pending, -count);

    public async Task<InboxAppendResult> AppendAsync(Envelope envelope, CancellationToken cancellationToken)
    {
        var result = await _database.Writer.ExecuteAsync(writer => Insert(writer, envelope), cancellationToken).ConfigureAwait(false);
        if (!result.Duplicate)
        {
            Interlocked.Increment(ref _pending);
            _appended.Set();
        }
        return result;
    }

    private static InboxAppendResult Insert(SqliteWriter writer, Envelope envelope)
    {
        var insert = writer.Command(InsertSql);
        insert.Parameters.AddWithValue("$channel", envelope.ChannelId);
        insert.Parameters.AddWithValue("$platform_id", envelope.PlatformId);
        insert.Parameters.AddWithValue("$chat", envelope.Chat);
        insert.Parameters.AddWithValue("$sender", (object?)envelope.Sender ?? DBNull.Value);
        insert.Parameters.AddWithValue("$text", (object?)envelope.Text ?? DBNull.Value);
        insert.Parameters.AddWithValue("$attachments", (object?)envelope.AttachmentsJson ?? DBNull.Value);
        insert.Parameters.AddWithValue("$received_at", envelope.ReceivedAtMs);
        insert.Parameters.AddWithValue("$kind", (int)envelope.Kind);
        insert.Parameters.AddWithValue("$message_id", (object?)envelope.MessageId ?? DBNull.Value);
        insert.Parameters.AddWithValue("$reply_to", (object?)envelope.ReplyToId ?? DBNull.Value);
        insert.Parameters.AddWithValue("$group_id", (object?)envelope.GroupId ?? DBNull.Value);
        insert.Parameters.AddWithValue("$meta", (object?)envelope.MetaJson ?? DBNull.Value);
        var seq = insert.ExecuteScalar();
        if (seq is long inserted) return new InboxAppendResult(inserted, Duplicate: false);

        var existing = writer.Command(ExistingSql);
        existing.Parameters.AddWithValue("$channel", envelope.ChannelId);
        existing.Parameters.AddWithValue("$platform_id", envelope.PlatformId);
        return new InboxAppendResult((long)existing.ExecuteScalar()!, Duplicate: true);
    }

    public async Task<IReadOnlyList<InboxItem>> ReadPendingAsync(long afterSeq, int max, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = PendingSql;
        command.Parameters.AddWithValue("$after", afterSeq);
        command.Parameters.AddWithValue("$max", max);
        var items = new List<InboxItem>(Math.Min(max, 256));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(new InboxItem(
                reader.GetInt64(0),
                new Envelope(
                    reader.GetString(1),
                    reader.GetString(2),
                    reader.GetString(3),
                    NullableString(reader, 4),
                    NullableString(reader, 5),
                    NullableString(reader, 6),
                    reader.GetInt64(7),
                    (MessageKind)reader.GetInt32(8),
                    NullableString(reader, 9),
                    NullableString(reader, 10),
                    NullableString(reader, 11),
                    NullableString(reader, 12))));
        }
        return items;
    }

    internal static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public Task WaitForAppendAsync(TimeSpan timeout, CancellationToken cancellationToken) => _appended.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _appended.Dispose();
}
