using Npgsql;
using NpgsqlTypes;
using Tern.Core.Messages;
using Tern.Core.Pipeline;

namespace Tern.Storage.Postgres;

public sealed class PostgresInboxStore : IInboxStore, IDisposable
{
    // One statement (the writer sends a batch in one round trip): the new row's seq, or the existing row's for a
    // redelivery. The second branch reads the snapshot from before this statement, which holds the existing row.
    private const string AppendSql =
        "WITH inserted AS (" +
        "INSERT INTO inbox (channel_id, platform_id, chat, sender, text, attachments, received_at, kind, message_id, reply_to, group_id, meta) " +
        "VALUES (@channel, @platform_id, @chat, @sender, @text, @attachments, @received_at, @kind, @message_id, @reply_to, @group_id, @meta) " +
        "ON CONFLICT (channel_id, platform_id) DO NOTHING RETURNING seq) " +
        "SELECT seq, false FROM inserted " +
        "UNION ALL SELECT seq, true FROM inbox WHERE channel_id = @channel AND platform_id = @platform_id AND NOT EXISTS (SELECT 1 FROM inserted)";

    private const string PendingSql =
        "SELECT seq, channel_id, platform_id, chat, sender, text, attachments, received_at, kind, message_id, reply_to, group_id, meta FROM inbox " +
        "WHERE state = 0 AND seq > @after ORDER BY seq LIMIT @max";

    private readonly PostgresDatabase _database;
    private readonly AsyncSignal _appended = new();
    private const string CountSql = "SELECT COUNT(*) FROM inbox WHERE state = 0";

    private readonly BacklogCount _pending;

    private PostgresInboxStore(PostgresDatabase database, long pending)
    {
        _database = database;
        _pending = new BacklogCount(database, CountSql, pending, shared: database.ClusterInstanceId is not null);
    }

    public static async Task<PostgresInboxStore> OpenAsync(PostgresDatabase database, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var pending = await PostgresDatabase.ScalarAsync(connection, null, CountSql, cancellationToken).ConfigureAwait(false);
        return new PostgresInboxStore(database, pending);
    }

    public long PendingCount => _pending.Value;

    internal void OnRouted(int count) => _pending.Add(-count);

    /// <summary>Another instance appended (a notification): the router reads now instead of at its next timeout.</summary>
    internal void OnAppendedElsewhere() => _appended.Set();

    public async Task<InboxAppendResult> AppendAsync(Envelope envelope, CancellationToken cancellationToken)
    {
        var result = await _database.Writer.ExecuteAsync(commands => Bind(commands.Add(AppendSql), envelope), results =>
        {
            // No row: another instance inserted the same key after this statement's snapshot was taken and before its
            // insert; the platform's retry (this fails the request) finds the row.
            if (results.Rows(0) is not [var row, ..]) throw new InvalidOperationException($"inbox row {envelope.ChannelId}/{envelope.PlatformId} was inserted concurrently; retry");
            return new InboxAppendResult((long)row[0]!, Duplicate: (bool)row[1]!);
        }, cancellationToken, WriteChanges.Inbox).ConfigureAwait(false);
        if (!result.Duplicate)
        {
            _pending.Add(1);
            _appended.Set();
        }
        return result;
    }

    private static void Bind(NpgsqlBatchCommand command, Envelope envelope)
    {
        var p = command.Parameters;
        p.AddWithValue("channel", envelope.ChannelId);
        p.AddWithValue("platform_id", envelope.PlatformId);
        p.AddWithValue("chat", envelope.Chat);
        p.AddWithValue("sender", NpgsqlDbType.Text, PostgresText.OrNull(envelope.Sender));
        p.AddWithValue("text", NpgsqlDbType.Text, PostgresText.OrNull(envelope.Text));
        p.AddWithValue("attachments", NpgsqlDbType.Text, PostgresText.OrNull(envelope.AttachmentsJson));
        p.AddWithValue("received_at", envelope.ReceivedAtMs);
        p.AddWithValue("kind", (int)envelope.Kind);
        p.AddWithValue("message_id", NpgsqlDbType.Text, PostgresText.OrNull(envelope.MessageId));
        p.AddWithValue("reply_to", NpgsqlDbType.Text, PostgresText.OrNull(envelope.ReplyToId));
        p.AddWithValue("group_id", NpgsqlDbType.Text, PostgresText.OrNull(envelope.GroupId));
        p.AddWithValue("meta", NpgsqlDbType.Text, PostgresText.OrNull(envelope.MetaJson));
    }

    public async Task<IReadOnlyList<InboxItem>> ReadPendingAsync(long afterSeq, int max, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(PendingSql, connection);
        command.Parameters.AddWithValue("after", afterSeq);
        command.Parameters.AddWithValue("max", max);
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
                    PostgresText.Nullable(reader, 4),
                    PostgresText.Nullable(reader, 5),
                    PostgresText.Nullable(reader, 6),
                    reader.GetInt64(7),
                    (MessageKind)reader.GetInt32(8),
                    PostgresText.Nullable(reader, 9),
                    PostgresText.Nullable(reader, 10),
                    PostgresText.Nullable(reader, 11),
                    PostgresText.Nullable(reader, 12))));
        }
        return items;
    }

    public Task WaitForAppendAsync(TimeSpan timeout, CancellationToken cancellationToken) => _appended.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _appended.Dispose();
}
