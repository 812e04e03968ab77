using Npgsql;
using NpgsqlTypes;
using Tern.Core.Delivery;

namespace Tern.Storage.Postgres;

// Platform receipts (IReceiptStore) on PostgreSQL. The rules decide between reading a message and writing its receipt, so
// this runs in a transaction of its own (not through the batching writer): the message row is locked while its receipt is
// decided, so two receipts of one message (two instances, or two posts) are applied one after the other.
public sealed partial class PostgresOutboxStore
{
    private const string FindSentSql =
        "SELECT id, inbox_seq, chat, attempts, created_at, receipt FROM outbox " +
        "WHERE channel_id = @channel AND platform_message_id = @platform AND kind = 0 ORDER BY id LIMIT 1 FOR UPDATE";

    private const string HistoryHasSql = "SELECT 1 FROM delivery_attempts WHERE delivery_id = @id AND at = @at AND status = @status LIMIT 1";

    private const string RecordReceiptSql = "INSERT INTO delivery_attempts (delivery_id, at, status, detail) VALUES (@id, @at, @status, @detail)";

    private const string SetReceiptSql = "UPDATE outbox SET receipt = @status WHERE id = @id";

    private const string KeepEarlySql =
        "INSERT INTO early_receipts (channel_id, platform_message_id, status, at, detail, received_at) " +
        "VALUES (@channel, @platform, @status, @at, @detail, @now) ON CONFLICT DO NOTHING";

    private const string EarlyOfSql =
        "SELECT channel_id, platform_message_id, status, at, detail FROM early_receipts WHERE channel_id = @channel AND platform_message_id = @platform ORDER BY at";

    private const string KnownEarlySql =
        "SELECT e.channel_id, e.platform_message_id, e.status, e.at, e.detail FROM early_receipts e " +
        "WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.channel_id = e.channel_id AND o.platform_message_id = e.platform_message_id) ORDER BY e.at LIMIT 1000";

    private const string DropEarlySql = "DELETE FROM early_receipts WHERE channel_id = @channel AND platform_message_id = @platform";

    private const string DropStaleEarlySql = "DELETE FROM early_receipts WHERE received_at < @before";

    private long _early;

    /// <summary>Early receipts this instance knows of (counted at open and as they come and go here; the scheduler's job finds the others).</summary>
    public long EarlyCount => Interlocked.Read(ref _early);

    internal async Task CountEarlyAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        _early = await PostgresDatabase.ScalarAsync(connection, null, "SELECT COUNT(*) FROM early_receipts", cancellationToken).ConfigureAwait(false);

    public Task<ReceiptResult> ApplyAsync(IReadOnlyList<DeliveryReceipt> receipts, Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> decide, CancellationToken cancellationToken) =>
        InTransactionAsync(async (connection, transaction, state) =>
        {
            foreach (var receipt in receipts) await ApplyOneAsync(connection, transaction, receipt, decide, keepEarly: true, state, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    public Task<ReceiptResult> ApplyEarlyAsync(string channelId, string platformMessageId, Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> decide, CancellationToken cancellationToken) =>
        InTransactionAsync(async (connection, transaction, state) =>
        {
            var early = await ReadEarlyAsync(connection, transaction, EarlyOfSql, channelId, platformMessageId, cancellationToken).ConfigureAwait(false);
            foreach (var receipt in early) await ApplyOneAsync(connection, transaction, receipt, decide, keepEarly: false, state, cancellationToken).ConfigureAwait(false);
            // Dropped only once they landed: while the message is not found they stay early.
            if (state.Result.Applied + state.Result.Repeated > 0) state.Dropped += await DropAsync(connection, transaction, channelId, platformMessageId, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    public Task<ReceiptResult> ReconcileEarlyAsync(Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> decide, long olderThanMs, CancellationToken cancellationToken) =>
        InTransactionAsync(async (connection, transaction, state) =>
        {
            var known = await ReadEarlyAsync(connection, transaction, KnownEarlySql, null, null, cancellationToken).ConfigureAwait(false);
            var done = new HashSet<(string, string)>();
            foreach (var receipt in known)
            {
                await ApplyOneAsync(connection, transaction, receipt, decide, keepEarly: false, state, cancellationToken).ConfigureAwait(false);
                if (done.Add((receipt.ChannelId, receipt.PlatformMessageId)))
                {
                    state.Dropped += await DropAsync(connection, transaction, receipt.ChannelId, receipt.PlatformMessageId, cancellationToken).ConfigureAwait(false);
                }
            }
            await using var stale = new NpgsqlCommand(DropStaleEarlySql, connection, transaction);
            stale.Parameters.AddWithValue("before", olderThanMs);
            state.Dropped += await stale.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    private sealed class ReceiptState
    {
        public ReceiptResult Result;
        public int Added;
        public int Dropped;
        public readonly List<NewDelivery> Events = [];
    }

    private async Task<ReceiptResult> InTransactionAsync(Func<NpgsqlConnection, NpgsqlTransaction, ReceiptState, Task> work, CancellationToken cancellationToken)
    {
        var state = new ReceiptState();
        try
        {
            await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await work(connection, transaction, state).ConfigureAwait(false);
            if (state.Events.Count > 0)
            {
                await using var batch = new NpgsqlBatch(connection, transaction);
                var add = new NpgsqlBatchCommand(_addSql);
                BindDeliveries(add, state.Events);
                batch.BatchCommands.Add(add);
                if (_instance is not null) batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT pg_notify('{PostgresNotifications.OutboxChannel}', '')"));
                state.Added = Convert.ToInt32(await batch.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (PostgresFailures.Unavailable(ex) is { } unavailable)
        {
            throw unavailable;
        }
        Interlocked.Add(ref _early, state.Result.Early - state.Dropped);
        OnAdded(state.Added);
        return state.Result;
    }

    private static async Task ApplyOneAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, DeliveryReceipt receipt, Func<ReceiptTarget, DeliveryReceipt, ReceiptDecision> decide, bool keepEarly,
        ReceiptState state, CancellationToken cancellationToken)
    {
        ReceiptTarget? target = null;
        await using (var find = new NpgsqlCommand(FindSentSql, connection, transaction))
        {
            find.Parameters.AddWithValue("channel", receipt.ChannelId);
            find.Parameters.AddWithValue("platform", PostgresText.Clean(receipt.PlatformMessageId));
            await using var reader = await find.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                target = new ReceiptTarget(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt64(1), receipt.ChannelId, reader.GetString(2),
                    reader.GetInt32(3), reader.GetInt64(4), reader.IsDBNull(5) ? null : reader.GetString(5));
            }
        }
        if (target is null)
        {
            if (!keepEarly) return;
            await using var keep = new NpgsqlCommand(KeepEarlySql, connection, transaction);
            keep.Parameters.AddWithValue("channel", receipt.ChannelId);
            keep.Parameters.AddWithValue("platform", PostgresText.Clean(receipt.PlatformMessageId));
            keep.Parameters.AddWithValue("status", receipt.Status);
            keep.Parameters.AddWithValue("at", receipt.AtMs);
            keep.Parameters.AddWithValue("detail", NpgsqlDbType.Text, PostgresText.OrNull(receipt.Detail));
            keep.Parameters.AddWithValue("now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            if (await keep.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1) state.Result = state.Result with { Early = state.Result.Early + 1 };
            else state.Result = state.Result with { Repeated = state.Result.Repeated + 1 };
            return;
        }

        await using (var has = new NpgsqlCommand(HistoryHasSql, connection, transaction))
        {
            has.Parameters.AddWithValue("id", target.DeliveryId);
            has.Parameters.AddWithValue("at", receipt.AtMs);
            has.Parameters.AddWithValue("status", receipt.Status);
            if (await has.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null)
            {
                state.Result = state.Result with { Repeated = state.Result.Repeated + 1 };
                return;
            }
        }
        await using (var history = new NpgsqlCommand(RecordReceiptSql, connection, transaction))
        {
            history.Parameters.AddWithValue("id", target.DeliveryId);
            history.Parameters.AddWithValue("at", receipt.AtMs);
            history.Parameters.AddWithValue("status", receipt.Status);
            history.Parameters.AddWithValue("detail", NpgsqlDbType.Text, PostgresText.OrNull(receipt.Detail));
            await history.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        var decision = decide(target, receipt);
        if (decision.SetCurrent)
        {
            await using var set = new NpgsqlCommand(SetReceiptSql, connection, transaction);
            set.Parameters.AddWithValue("status", receipt.Status);
            set.Parameters.AddWithValue("id", target.DeliveryId);
            await set.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        state.Events.AddRange(decision.Events);
        state.Result = state.Result with { Applied = state.Result.Applied + 1 };
    }

    private static async Task<List<DeliveryReceipt>> ReadEarlyAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, string? channelId, string? platformMessageId, CancellationToken cancellationToken)
    {
        await using var read = new NpgsqlCommand(sql, connection, transaction);
        if (channelId is not null) read.Parameters.AddWithValue("channel", channelId);
        if (platformMessageId is not null) read.Parameters.AddWithValue("platform", PostgresText.Clean(platformMessageId));
        var list = new List<DeliveryReceipt>();
        await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new DeliveryReceipt(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
        }
        return list;
    }

    private static async Task<int> DropAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string channelId, string platformMessageId, CancellationToken cancellationToken)
    {
        await using var drop = new NpgsqlCommand(DropEarlySql, connection, transaction);
        drop.Parameters.AddWithValue("channel", channelId);
        drop.Parameters.AddWithValue("platform", PostgresText.Clean(platformMessageId));
        return await drop.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
