using Microsoft.Data.Sqlite;
using Tern.Core.Delivery;

namespace Tern.Storage.Sqlite;

// Platform receipts (IReceiptStore): found by (channel, platform message id), recorded once in delivery_attempts, the
// message's receipt column moved when the rules say so, events added in the same transaction.
public sealed partial class SqliteOutboxStore
{
    private const string FindSentSql =
        "SELECT id, inbox_seq, chat, attempts, created_at, receipt FROM outbox " +
        "WHERE channel_id = $channel AND platform_message_id = $platform AND kind = 0 ORDER BY id LIMIT 1";

    private const string HistoryHasSql = "SELECT 1 FROM delivery_attempts WHERE delivery_id = $id AND at = $now AND status = $status LIMIT 1";

    private const string SetReceiptSql = "UPDATE outbox SET receipt = $status WHERE id = $id";

    private const string KeepEarlySql =
        "INSERT INTO early_receipts (channel_id, platform_message_id, status, at, detail, received_at) " +
        "VALUES ($channel, $platform, $status, $at, $detail, $now) ON CONFLICT DO NOTHING";

    private const string EarlyOfSql =
        "SELECT channel_id, platform_message_id, status, at, detail FROM early_receipts WHERE channel_id = $channel AND platform_message_id = $platform ORDER BY at";

    private const string KnownEarlySql =
        "SELECT e.channel_id, e.platform_message_id, e.status, e.at, e.detail FROM early_receipts e " +
        "WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.channel_id = e.channel_id AND o.platform_message_id = e.platform_message_id) ORDER BY e.at LIMIT 1000";

    private const string DropEarlySql = "DELETE FROM early_receipts WHERE channel_id = $channel AND platform_message_id = $platform";

    private const string DropStaleEarlySql = "DELETE FROM early_receipts WHERE received_at < $before";

    private long _early;

    public long EarlyCount => Interlocked.Read(ref _early);

    public async Task<ReceiptResult> ApplyAsync(IReadOnlyList<DeliveryReceipt> receipts, Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> decide, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var (result, added) = await _database.Writer.ExecuteAsync(writer =>
        {
            var result = default(ReceiptResult);
            var added = 0;
            foreach (var receipt in receipts) ApplyOne(writer, receipt, decide, keepEarly: true, now, ref result, ref added);
            return (result, added);
        }, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _early, result.Early);
        OnAdded(added);
        return result;
    }

    public async Task<ReceiptResult> ApplyEarlyAsync(string channelId, string platformMessageId, Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> decide, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var (result, added, dropped) = await _database.Writer.ExecuteAsync(writer =>
        {
            var early = ReadEarly(writer, EarlyOfSql, channelId, platformMessageId);
            var result = default(ReceiptResult);
            var added = 0;
            foreach (var receipt in early) ApplyOne(writer, receipt, decide, keepEarly: false, now, ref result, ref added);
            // Dropped only once they landed: while the message is not found they stay early.
            return (result, added, result.Applied + result.Repeated == 0 ? 0 : Drop(writer, channelId, platformMessageId));
        }, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _early, -dropped);
        OnAdded(added);
        return result;
    }

    public async Task<ReceiptResult> ReconcileEarlyAsync(Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> decide, long olderThanMs, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var (result, added, dropped) = await _database.Writer.ExecuteAsync(writer =>
        {
            var known = ReadEarly(writer, KnownEarlySql, null, null);
            var result = default(ReceiptResult);
            var added = 0;
            var dropped = 0;
            var done = new HashSet<(string, string)>();
            foreach (var receipt in known)
            {
                ApplyOne(writer, receipt, decide, keepEarly: false, now, ref result, ref added);
                if (done.Add((receipt.ChannelId, receipt.PlatformMessageId))) dropped += Drop(writer, receipt.ChannelId, receipt.PlatformMessageId);
            }
            var stale = writer.Command(DropStaleEarlySql);
            stale.Parameters.AddWithValue("$before", olderThanMs);
            dropped += stale.ExecuteNonQuery();
            return (result, added, dropped);
        }, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _early, -dropped);
        OnAdded(added);
        return result;
    }

    private static void ApplyOne(
        SqliteWriter writer, DeliveryReceipt receipt, Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> decide, bool keepEarly, long now, ref ReceiptResult result, ref int added)
    {
        var find = writer.Command(FindSentSql);
        find.Parameters.AddWithValue("$channel", receipt.ChannelId);
        find.Parameters.AddWithValue("$platform", receipt.PlatformMessageId);
        ReceiptTarget? target = null;
        using (var reader = find.ExecuteReader())
        {
            if (reader.Read())
            {
                target = new ReceiptTarget(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt64(1), receipt.ChannelId, reader.GetString(2),
                    reader.GetInt32(3), reader.GetInt64(4), reader.IsDBNull(5) ? null : reader.GetString(5));
            }
        }
        if (target is null)
        {
            if (!keepEarly) return;
            var keep = writer.Command(KeepEarlySql);
            keep.Parameters.AddWithValue("$channel", receipt.ChannelId);
            keep.Parameters.AddWithValue("$platform", receipt.PlatformMessageId);
            keep.Parameters.AddWithValue("$status", receipt.Status);
            keep.Parameters.AddWithValue("$at", receipt.AtMs);
            keep.Parameters.AddWithValue("$detail", (object?)receipt.Detail ?? DBNull.Value);
            keep.Parameters.AddWithValue("$now", now);
            if (keep.ExecuteNonQuery() == 1) result = result with { Early = result.Early + 1 };
            else result = result with { Repeated = result.Repeated + 1 };
            return;
        }

        var has = writer.Command(HistoryHasSql);
        has.Parameters.AddWithValue("$id", target.DeliveryId);
        has.Parameters.AddWithValue("$now", receipt.AtMs);
        has.Parameters.AddWithValue("$status", receipt.Status);
        if (has.ExecuteScalar() is not null)
        {
            result = result with { Repeated = result.Repeated + 1 };
            return;
        }
        var history = writer.Command(RecordAttemptSql);
        history.Parameters.AddWithValue("$id", target.DeliveryId);
        history.Parameters.AddWithValue("$now", receipt.AtMs);
        history.Parameters.AddWithValue("$status", receipt.Status);
        history.Parameters.AddWithValue("$detail", (object?)receipt.Detail ?? DBNull.Value);
        history.ExecuteNonQuery();

        var decision = decide(target, receipt);
        if (decision.SetCurrent)
        {
            var set = writer.Command(SetReceiptSql);
            set.Parameters.AddWithValue("$status", receipt.Status);
            set.Parameters.AddWithValue("$id", target.DeliveryId);
            set.ExecuteNonQuery();
        }
        added += InsertAll(writer, decision.Events);
        result = result with { Applied = result.Applied + 1 };
    }

    private static List<DeliveryReceipt> ReadEarly(SqliteWriter writer, string sql, string? channelId, string? platformMessageId)
    {
        var read = writer.Command(sql);
        if (channelId is not null) read.Parameters.AddWithValue("$channel", channelId);
        if (platformMessageId is not null) read.Parameters.AddWithValue("$platform", platformMessageId);
        var list = new List<DeliveryReceipt>();
        using var reader = read.ExecuteReader();
        while (reader.Read())
        {
            list.Add(new DeliveryReceipt(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
        }
        return list;
    }

    private static int Drop(SqliteWriter writer, string channelId, string platformMessageId)
    {
        var drop = writer.Command(DropEarlySql);
        drop.Parameters.AddWithValue("$channel", channelId);
        drop.Parameters.AddWithValue("$platform", platformMessageId);
        return drop.ExecuteNonQuery();
    }

    private static long CountEarly(SqliteConnection connection) => SqliteDatabase.Scalar(connection, null, "SELECT COUNT(*) FROM early_receipts");
}
