using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Pipeline;

namespace Tern.Storage.Sqlite;

public sealed partial class SqliteOutboxStore : IOutboxStore, IReceiptStore, IDisposable
{
    private const string MarkRoutedSql = "UPDATE inbox SET state = 1, routed_at = $now WHERE seq = $seq AND state = 0";

    private const string InsertDeliverySql =
        "INSERT INTO outbox (inbox_seq, route_id, channel_id, chat, payload, created_at, updated_at, kind, tenant_id, idempotency_key) " +
        "VALUES ($seq, $route, $channel, $chat, $payload, $now, $now, $kind, $tenant, $idempotency_key) " +
        "ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id";

    private const string ExistingIdempotentSql = "SELECT id FROM outbox WHERE tenant_id = $tenant AND idempotency_key = $idempotency_key";

    private const string RecordAttemptSql = "INSERT INTO delivery_attempts (delivery_id, at, status, detail) VALUES ($id, $now, $status, $detail)";

    private const string OpenLaneSql =
        "INSERT INTO lanes (channel_id, chat, due_at) VALUES ($channel, $chat, $now) ON CONFLICT (channel_id, chat) DO NOTHING";

    private const string ReadLaneSql =
        "SELECT id, inbox_seq, route_id, payload, attempts, created_at, kind FROM outbox " +
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

    private const string InsertLinkSql =
        "INSERT INTO message_links (source_channel, source_chat, source_message, dest_channel, dest_chat, dest_message, created_at) " +
        "VALUES ($source_channel, $source_chat, $source_message, $dest_channel, $dest_chat, $dest_message, $now) ON CONFLICT DO NOTHING";

    private const string DeferLaneSql = "UPDATE lanes SET due_at = MAX(due_at, $until) WHERE channel_id = $channel AND chat = $chat";

    private const string DeferChannelSql = "UPDATE lanes SET due_at = MAX(due_at, $until) WHERE channel_id = $channel";

    private const string ResumeChannelSql = "UPDATE lanes SET due_at = $now WHERE channel_id = $channel AND due_at > $now AND due_at <= $until";

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
        return new SqliteOutboxStore(database, inbox, pending) { _early = CountEarly(connection) };
    }

    public long PendingCount => Interlocked.Read(ref _pending);

    public async Task CommitRoutedAsync(IReadOnlyList<long> inboxSeqs, IReadOnlyList<NewDelivery> deliveries, CancellationToken cancellationToken)
    {
        var (routed, inserted) = await _database.Writer.ExecuteAsync(writer => Route(writer, inboxSeqs, deliveries), cancellationToken).ConfigureAwait(false);
        // Outbox up before inbox down: the backlog the ingress gate reads never dips in between.
        OnAdded(inserted);
        _inbox.OnRouted(routed);
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
            if (delivery.InboxSeq is not { } seq || !fresh.Contains(seq)) continue;
            if (Insert(writer, delivery) is not null) inserted++;
        }
        return (fresh.Count, inserted);
    }

    /// <summary>Inserts a delivery and opens its lane; null when its idempotency key was used already.</summary>
    private static long? Insert(SqliteWriter writer, NewDelivery delivery)
    {
        var insert = writer.Command(InsertDeliverySql);
        insert.Parameters.AddWithValue("$seq", (object?)delivery.InboxSeq ?? DBNull.Value);
        insert.Parameters.AddWithValue("$route", (object?)delivery.RouteId ?? DBNull.Value);
        insert.Parameters.AddWithValue("$channel", delivery.ChannelId);
        insert.Parameters.AddWithValue("$chat", delivery.Chat);
        insert.Parameters.AddWithValue("$payload", delivery.Payload);
        insert.Parameters.AddWithValue("$now", delivery.CreatedAtMs);
        insert.Parameters.AddWithValue("$kind", (int)delivery.Kind);
        insert.Parameters.AddWithValue("$tenant", (object?)delivery.TenantId ?? DBNull.Value);
        insert.Parameters.AddWithValue("$idempotency_key", (object?)delivery.IdempotencyKey ?? DBNull.Value);
        if (insert.ExecuteScalar() is not long id) return null;

        var lane = writer.Command(OpenLaneSql);
        lane.Parameters.AddWithValue("$channel", delivery.ChannelId);
        lane.Parameters.AddWithValue("$chat", delivery.Chat);
        lane.Parameters.AddWithValue("$now", delivery.CreatedAtMs);
        lane.ExecuteNonQuery();
        return id;
    }

    private static int InsertAll(SqliteWriter writer, IReadOnlyList<NewDelivery> deliveries)
    {
        var inserted = 0;
        foreach (var delivery in deliveries)
        {
            if (Insert(writer, delivery) is not null) inserted++;
        }
        return inserted;
    }

    public async Task<EnqueueResult> EnqueueAsync(NewDelivery delivery, CancellationToken cancellationToken)
    {
        var result = await _database.Writer.ExecuteAsync(writer =>
        {
            if (Insert(writer, delivery) is { } id) return new EnqueueResult(id, Existing: false);
            var existing = writer.Command(ExistingIdempotentSql);
            existing.Parameters.AddWithValue("$tenant", (object?)delivery.TenantId ?? DBNull.Value);
            existing.Parameters.AddWithValue("$idempotency_key", (object?)delivery.IdempotencyKey ?? DBNull.Value);
            return new EnqueueResult((long)existing.ExecuteScalar()!, Existing: true);
        }, cancellationToken).ConfigureAwait(false);
        if (!result.Existing) OnAdded(1);
        return result;
    }

    public async Task AddAsync(IReadOnlyList<NewDelivery> deliveries, CancellationToken cancellationToken)
    {
        if (deliveries.Count == 0) return;
        OnAdded(await _database.Writer.ExecuteAsync(writer => InsertAll(writer, deliveries), cancellationToken).ConfigureAwait(false));
    }

    private void OnAdded(int count)
    {
        if (count == 0) return;
        Interlocked.Add(ref _pending, count);
        _added.Set();
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
                reader.GetInt64(5),
                (DeliveryKind)reader.GetInt32(6)));
        }
        return deliveries;
    }

    public async Task MarkSentAsync(long deliveryId, string? platformMessageId, long nowMs, IReadOnlyList<NewDelivery> events, IReadOnlyList<MessageLink> links, CancellationToken cancellationToken)
    {
        var (changed, added) = await _database.Writer.ExecuteAsync(writer =>
        {
            var command = writer.Command(MarkSentSql);
            command.Parameters.AddWithValue("$platform_id", (object?)platformMessageId ?? DBNull.Value);
            command.Parameters.AddWithValue("$now", nowMs);
            command.Parameters.AddWithValue("$id", deliveryId);
            var changed = command.ExecuteNonQuery();
            foreach (var link in links) InsertLink(writer, link, nowMs);
            // Events only for the call that made the change: a repeated mark reports nothing twice.
            return (changed, changed == 1 ? InsertAll(writer, events) : 0);
        }, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _pending, -changed);
        OnAdded(added);
    }

    public async Task MarkFailedAsync(long deliveryId, string reason, long nowMs, IReadOnlyList<NewDelivery> events, CancellationToken cancellationToken)
    {
        var (changed, added) = await _database.Writer.ExecuteAsync(writer =>
        {
            var command = writer.Command(MarkFailedSql);
            command.Parameters.AddWithValue("$error", Truncate(reason));
            command.Parameters.AddWithValue("$now", nowMs);
            command.Parameters.AddWithValue("$id", deliveryId);
            var changed = command.ExecuteNonQuery();
            return (changed, changed == 1 ? InsertAll(writer, events) : 0);
        }, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _pending, -changed);
        OnAdded(added);
    }

    public Task ScheduleRetryAsync(long deliveryId, Lane lane, long dueAtMs, string error, long nowMs, CancellationToken cancellationToken) =>
        _database.Writer.ExecuteAsync(writer =>
        {
            var attempt = writer.Command(CountAttemptSql);
            attempt.Parameters.AddWithValue("$error", Truncate(error));
            attempt.Parameters.AddWithValue("$now", nowMs);
            attempt.Parameters.AddWithValue("$id", deliveryId);
            attempt.ExecuteNonQuery();
            var history = writer.Command(RecordAttemptSql);
            history.Parameters.AddWithValue("$id", deliveryId);
            history.Parameters.AddWithValue("$now", nowMs);
            history.Parameters.AddWithValue("$status", "retrying");
            history.Parameters.AddWithValue("$detail", Truncate(error));
            history.ExecuteNonQuery();
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

    private static void InsertLink(SqliteWriter writer, MessageLink link, long nowMs)
    {
        var insert = writer.Command(InsertLinkSql);
        insert.Parameters.AddWithValue("$source_channel", link.SourceChannel);
        insert.Parameters.AddWithValue("$source_chat", link.SourceChat);
        insert.Parameters.AddWithValue("$source_message", link.SourceMessageId);
        insert.Parameters.AddWithValue("$dest_channel", link.DestinationChannel);
        insert.Parameters.AddWithValue("$dest_chat", link.DestinationChat);
        insert.Parameters.AddWithValue("$dest_message", link.DestinationMessageId);
        insert.Parameters.AddWithValue("$now", nowMs);
        insert.ExecuteNonQuery();
    }

    public Task DeferLaneAsync(Lane lane, long untilMs, CancellationToken cancellationToken) =>
        _database.Writer.ExecuteAsync(writer =>
        {
            var defer = writer.Command(DeferLaneSql);
            defer.Parameters.AddWithValue("$until", untilMs);
            defer.Parameters.AddWithValue("$channel", lane.ChannelId);
            defer.Parameters.AddWithValue("$chat", lane.Chat);
            return defer.ExecuteNonQuery();
        }, cancellationToken);

    public Task DeferChannelAsync(string channelId, long untilMs, CancellationToken cancellationToken) =>
        _database.Writer.ExecuteAsync(writer =>
        {
            var defer = writer.Command(DeferChannelSql);
            defer.Parameters.AddWithValue("$until", untilMs);
            defer.Parameters.AddWithValue("$channel", channelId);
            return defer.ExecuteNonQuery();
        }, cancellationToken);

    public Task ResumeChannelAsync(string channelId, long heldUntilMs, long nowMs, CancellationToken cancellationToken) =>
        _database.Writer.ExecuteAsync(writer =>
        {
            var resume = writer.Command(ResumeChannelSql);
            resume.Parameters.AddWithValue("$now", nowMs);
            resume.Parameters.AddWithValue("$until", heldUntilMs);
            resume.Parameters.AddWithValue("$channel", channelId);
            return resume.ExecuteNonQuery();
        }, cancellationToken);

    public async Task<int> RetireChannelAsync(string channelId, string reason, long nowMs, CancellationToken cancellationToken)
    {
        var failed = await _database.Writer.ExecuteAsync(writer =>
        {
            if (ChannelTypes.TrySubscriptionId(channelId, out var subscription))
            {
                var disable = writer.Command("UPDATE webhooks SET disabled_at = $now, disabled_reason = $reason WHERE id = $id AND disabled_at IS NULL");
                disable.Parameters.AddWithValue("$now", nowMs);
                disable.Parameters.AddWithValue("$reason", Truncate(reason));
                disable.Parameters.AddWithValue("$id", subscription);
                // Running instances reload the catalog and stop queueing events for it.
                if (disable.ExecuteNonQuery() > 0) writer.Command("UPDATE meta SET value = value + 1 WHERE key = 'catalog_version'").ExecuteNonQuery();
            }
            var fail = writer.Command("UPDATE outbox SET state = 3, last_error = $error, updated_at = $now WHERE channel_id = $channel AND state = 0");
            fail.Parameters.AddWithValue("$error", Truncate(reason));
            fail.Parameters.AddWithValue("$now", nowMs);
            fail.Parameters.AddWithValue("$channel", channelId);
            var count = fail.ExecuteNonQuery();
            var drop = writer.Command("DELETE FROM lanes WHERE channel_id = $channel");
            drop.Parameters.AddWithValue("$channel", channelId);
            drop.ExecuteNonQuery();
            return count;
        }, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _pending, -failed);
        return failed;
    }

    public Task WaitForDeliveriesAsync(TimeSpan timeout, CancellationToken cancellationToken) => _added.WaitAsync(timeout, cancellationToken);

    private static string Truncate(string text) => text.Length <= 1000 ? text : text[..1000];

    public void Dispose() => _added.Dispose();
}
