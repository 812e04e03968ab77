using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Tern.Core.Delivery;
using Tern.Core.Pipeline;

namespace Tern.Storage.Sqlite;

public sealed class SqliteOutboxStore : IOutboxStore, IDisposable
{
    private const string MarkRoutedSql = "UPDATE inbox SET state = 1, routed_at = $now WHERE seq = $seq AND state = 0";

    private const string InsertDeliverySql =
        "INSERT INTO outbox (inbox_seq, route_id, channel_id, chat, payload, created_at, updated_at) " +
        "VALUES ($seq, $route, $channel, $chat, $payload, $now, $now)";

    private const string OpenLaneSql =
        "INSERT INTO lanes (channel_id, chat, due_at) VALUES ($channel, $chat, $now) ON CONFLICT (channel_id, chat) DO NOTHING";

    private const string ReadLaneSql =
        "SELECT id, inbox_seq, route_id, payload, attempts, created_at FROM outbox " +
        "WHERE channel_id = $channel AND chat = $chat AND state = 0 ORDER BY id LIMIT $max";

    private const string MarkSentSql =
        "UPDATE outbox SET state = 2, attempts = attempts + 1, platform_message_id = $platform_id, last_error = NULL, updated_at = $now " +
        "WHERE id = $id AND state = 0";

    private const string MarkFailedSql =
        "UPDATE outbox SET state = 3, attempts = attempts + 1, last_error = $error, updated_at = $now WHERE id = $id AND state = 0";

    private const string CountAttemptSql = "UPDATE outbox SET attempts = attempts + 1, last_error = $error, updated_at = $now WHERE id = $id AND state = 0";

    private const string HoldLaneSql = "UPDATE lanes SET due_at = $due WHERE channel_id = $channel AND chat = $chat";

    private const string DropEmptyLaneSql =
        "DELETE FROM lanes WHERE channel_id = $channel AND chat = $chat " +
        "AND NOT EXISTS (SELECT 1 FROM outbox WHERE channel_id = $channel AND chat = $chat AND state = 0)";

    private const string DeferChannelSql = "UPDATE lanes SET due_at = MAX(due_at, $until) WHERE channel_id = $channel";

    private readonly SqliteDatabase _database;
    private readonly SqliteInboxStore _inbox;
    private readonly AsyncSignal _added = new();
    private long _pending;

    private SqliteOutboxStore(SqliteDatabase database, SqliteInboxStore inbox, long pending)
    {
        _database = database;
        _inbox = inbox;
        _pending = pending;
    }

    public static async Task<SqliteOutboxStore> OpenAsync(SqliteDatabase database, SqliteInboxStore inbox, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var pending = SqliteDatabase.Scalar(connection, null, "SELECT COUNT(*) FROM outbox WHERE state = 0");
        return new SqliteOutboxStore(database, inbox, pending);
    }

    public long PendingCount => Interlocked.Read(ref _pending);

    public async Task CommitRoutedAsync(IReadOnlyList<long> inboxSeqs, IReadOnlyList<NewDelivery> deliveries, CancellationToken cancellationToken)
    {
        var (routed, inserted) = await _database.Writer.ExecuteAsync(writer => Route(writer, inboxSeqs, deliveries), cancellationToken).ConfigureAwait(false);
        _inbox.OnRouted(routed);
        if (inserted > 0)
        {
            Interlocked.Add(ref _pending, inserted);
            _added.Set();
        }
    }

    private static (int Routed, int Inserted) Route(SqliteWriter writer, IReadOnlyList<long> inboxSeqs, IReadOnlyList<NewDelivery> deliveries)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // Only messages this call moves from pending get their deliveries: routing the same row twice is a no-op.
        var fresh = new HashSet<long>();
        foreach (var seq in inboxSeqs)
        {
            var mark = writer.Command(MarkRoutedSql);
            mark.Parameters.AddWithValue("$now", now);
            mark.Parameters.AddWithValue("$seq", seq);
            if (mark.ExecuteNonQuery() == 1) fresh.Add(seq);
        }

        var inserted = 0;
        foreach (var delivery in deliveries)
        {
            if (!fresh.Contains(delivery.InboxSeq)) continue;
            var insert = writer.Command(InsertDeliverySql);
            insert.Parameters.AddWithValue("$seq", delivery.InboxSeq);
            insert.Parameters.AddWithValue("$route", delivery.RouteId);
            insert.Parameters.AddWithValue("$channel", delivery.ChannelId);
            insert.Parameters.AddWithValue("$chat", delivery.Chat);
            insert.Parameters.AddWithValue("$payload", delivery.Payload);
            insert.Parameters.AddWithValue("$now", delivery.CreatedAtMs);
            insert.ExecuteNonQuery();

            var lane = writer.Command(OpenLaneSql);
            lane.Parameters.AddWithValue("$channel", delivery.ChannelId);
            lane.Parameters.AddWithValue("$chat", delivery.Chat);
            lane.Parameters.AddWithValue("$now", delivery.CreatedAtMs);
            lane.ExecuteNonQuery();
            inserted++;
        }
        return (fresh.Count, inserted);
    }

    public async Task<IReadOnlyList<Lane>> ClaimDueLanesAsync(long nowMs, int max, IReadOnlyCollection<string> skipChannels, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        var sql = new StringBuilder("SELECT channel_id, chat FROM lanes WHERE due_at <= $now");
        if (skipChannels.Count > 0)
        {
            sql.Append(" AND channel_id NOT IN (");
            var i = 0;
            foreach (var channel in skipChannels)
            {
                var name = "$skip" + i.ToString(CultureInfo.InvariantCulture);
                sql.Append(i == 0 ? "" : ", ").Append(name);
                command.Parameters.AddWithValue(name, channel);
                i++;
            }
            sql.Append(')');
        }
        sql.Append(" ORDER BY due_at LIMIT $max");
#pragma warning disable CA2100 // Parameter names only; values are bound.
        command.CommandText = sql.ToString();
#pragma warning restore CA2100
        command.Parameters.AddWithValue("$now", nowMs);
        command.Parameters.AddWithValue("$max", max);
        var lanes = new List<Lane>(max);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) lanes.Add(new Lane(reader.GetString(0), reader.GetString(1)));
        return lanes;
    }

    public async Task<IReadOnlyList<PendingDelivery>> ReadLaneAsync(Lane lane, int max, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = ReadLaneSql;
        command.Parameters.AddWithValue("$channel", lane.ChannelId);
        command.Parameters.AddWithValue("$chat", lane.Chat);
        command.Parameters.AddWithValue("$max", max);
        var deliveries = new List<PendingDelivery>(max);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            deliveries.Add(new PendingDelivery(
                reader.GetInt64(0),
                reader.IsDBNull(1) ? null : reader.GetInt64(1),
                SqliteInboxStore.NullableString(reader, 2),
                lane.ChannelId,
                lane.Chat,
                reader.GetString(3),
                reader.GetInt32(4),
                reader.GetInt64(5)));
        }
        return deliveries;
    }

    public async Task MarkSentAsync(long deliveryId, string? platformMessageId, long nowMs, CancellationToken cancellationToken)
    {
        var changed = await _database.Writer.ExecuteAsync(writer =>
        {
            var command = writer.Command(MarkSentSql);
            command.Parameters.AddWithValue("$platform_id", (object?)platformMessageId ?? DBNull.Value);
            command.Parameters.AddWithValue("$now", nowMs);
            command.Parameters.AddWithValue("$id", deliveryId);
            return command.ExecuteNonQuery();
        }, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _pending, -changed);
    }

    public async Task MarkFailedAsync(long deliveryId, string reason, long nowMs, CancellationToken cancellationToken)
    {
        var changed = await _database.Writer.ExecuteAsync(writer =>
        {
            var command = writer.Command(MarkFailedSql);
            command.Parameters.AddWithValue("$error", Truncate(reason));
            command.Parameters.AddWithValue("$now", nowMs);
            command.Parameters.AddWithValue("$id", deliveryId);
            return command.ExecuteNonQuery();
        }, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _pending, -changed);
    }

    public Task ScheduleRetryAsync(long deliveryId, Lane lane, long dueAtMs, string error, long nowMs, CancellationToken cancellationToken) =>
        _database.Writer.ExecuteAsync(writer =>
        {
            var attempt = writer.Command(CountAttemptSql);
            attempt.Parameters.AddWithValue("$error", Truncate(error));
            attempt.Parameters.AddWithValue("$now", nowMs);
            attempt.Parameters.AddWithValue("$id", deliveryId);
            attempt.ExecuteNonQuery();
            HoldLane(writer, lane, dueAtMs);
            return true;
        }, cancellationToken);

    public Task ReleaseLaneAsync(Lane lane, long nowMs, CancellationToken cancellationToken) =>
        _database.Writer.ExecuteAsync(writer =>
        {
            var drop = writer.Command(DropEmptyLaneSql);
            drop.Parameters.AddWithValue("$channel", lane.ChannelId);
            drop.Parameters.AddWithValue("$chat", lane.Chat);
            if (drop.ExecuteNonQuery() == 0) HoldLane(writer, lane, nowMs);
            return true;
        }, cancellationToken);

    private static void HoldLane(SqliteWriter writer, Lane lane, long dueAtMs)
    {
        var hold = writer.Command(HoldLaneSql);
        hold.Parameters.AddWithValue("$due", dueAtMs);
        hold.Parameters.AddWithValue("$channel", lane.ChannelId);
        hold.Parameters.AddWithValue("$chat", lane.Chat);
        hold.ExecuteNonQuery();
    }

    public Task DeferChannelAsync(string channelId, long untilMs, CancellationToken cancellationToken) =>
        _database.Writer.ExecuteAsync(writer =>
        {
            var defer = writer.Command(DeferChannelSql);
            defer.Parameters.AddWithValue("$until", untilMs);
            defer.Parameters.AddWithValue("$channel", channelId);
            return defer.ExecuteNonQuery();
        }, cancellationToken);

    public Task WaitForDeliveriesAsync(TimeSpan timeout, CancellationToken cancellationToken) => _added.WaitAsync(timeout, cancellationToken);

    private static string Truncate(string text) => text.Length <= 1000 ? text : text[..1000];

    public void Dispose() => _added.Dispose();
}
