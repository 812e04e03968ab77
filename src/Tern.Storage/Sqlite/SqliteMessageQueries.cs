using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Tenancy;

namespace Tern.Storage.Sqlite;

/// <summary>The REST API's read side: inbound messages (inbox) and outbound ones (outbox) of a tenant's channels.</summary>
public sealed class SqliteMessageQueries(SqliteDatabase database) : IMessageQueries
{
    private const string InboundSelect =
        "SELECT 'in' AS dir, seq AS id, channel_id, chat, CASE state WHEN 0 THEN 'received' ELSE 'routed' END AS status, " +
        "platform_id, text, sender, attachments, NULL AS payload, 0 AS attempts, NULL AS last_error, received_at AS created, COALESCE(routed_at, received_at) AS updated " +
        "FROM inbox WHERE channel_id IN (SELECT id FROM channels WHERE tenant_id = $tenant) " +
        // Channel ids are global and reusable: rows from before the channel was (re)created belong to its previous owner.
        "AND inbox.received_at >= (SELECT c.created_at FROM channels c WHERE c.id = inbox.channel_id)";

    private const string OutboundSelect =
        "SELECT 'out' AS dir, id, channel_id, chat, " +
        // A sent message shows the platform's latest receipt (delivered, read, played, failed) once there is one.
        "CASE WHEN state = 2 THEN COALESCE(receipt, 'sent') WHEN state = 3 THEN 'failed' WHEN attempts > 0 THEN 'retrying' ELSE 'queued' END AS status, " +
        "platform_message_id, json_extract(payload, '" + DeliveryPayload.TextJsonPath + "'), NULL, NULL, payload, attempts, last_error, created_at AS created, updated_at AS updated " +
        "FROM outbox WHERE kind = 0 AND channel_id IN (SELECT id FROM channels WHERE tenant_id = $tenant) " +
        "AND outbox.created_at >= (SELECT c.created_at FROM channels c WHERE c.id = outbox.channel_id)";

    /// <summary>Only rows of the channel as it is now, not of an earlier channel with the same id (another tenant's, perhaps).</summary>
    private const string SinceChannelCreated = " AND created_at >= (SELECT c.created_at FROM channels c WHERE c.id = $channel)";

    public async Task<PageOf<MessageView>> ListAsync(MessageFilter filter, CancellationToken cancellationToken)
    {
        var source = filter.Direction switch
        {
            MessageDirection.In => InboundSelect,
            MessageDirection.Out => OutboundSelect,
            _ => InboundSelect + " UNION ALL " + OutboundSelect,
        };
        var where = new StringBuilder(" WHERE 1 = 1");
        if (filter.ChannelId is not null) where.Append(" AND channel_id = $channel");
        if (filter.Chat is not null) where.Append(" AND chat = $chat");
        if (filter.Status is not null) where.Append(" AND status = $status");
        if (filter.Since is not null) where.Append(" AND created >= $since");
        if (filter.Until is not null) where.Append(" AND created < $until");

        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // One read transaction: the page and the total come from the same snapshot.
        await using var transaction = connection.BeginTransaction(deferred: true);
        long total;
        await using (var count = connection.CreateCommand())
        {
            count.Transaction = transaction;
#pragma warning disable CA2100 // Built from constants; values are bound.
            count.CommandText = $"SELECT COUNT(*) FROM ({source}){where}";
#pragma warning restore CA2100
            Bind(count, filter);
            total = Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
        }

        var items = new List<MessageView>(filter.PageSize);
        await using (var query = connection.CreateCommand())
        {
            query.Transaction = transaction;
#pragma warning disable CA2100 // Built from constants; values are bound.
            query.CommandText = $"SELECT * FROM ({source}){where} ORDER BY created DESC, dir, id DESC LIMIT $limit OFFSET $offset";
#pragma warning restore CA2100
            Bind(query, filter);
            query.Parameters.AddWithValue("$limit", filter.PageSize);
            query.Parameters.AddWithValue("$offset", (long)(filter.Page - 1) * filter.PageSize);
            await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) items.Add(ReadMessage(reader));
        }
        return new PageOf<MessageView>(items, filter.Page, filter.PageSize, total);
    }

    private static void Bind(SqliteCommand command, MessageFilter filter)
    {
        command.Parameters.AddWithValue("$tenant", filter.TenantId);
        if (filter.ChannelId is not null) command.Parameters.AddWithValue("$channel", filter.ChannelId);
        if (filter.Chat is not null) command.Parameters.AddWithValue("$chat", filter.Chat);
        if (filter.Status is not null) command.Parameters.AddWithValue("$status", filter.Status);
        if (filter.Since is { } since) command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        if (filter.Until is { } until) command.Parameters.AddWithValue("$until", until.ToUnixTimeMilliseconds());
    }

    private static MessageView ReadMessage(SqliteDataReader r)
    {
        var direction = r.GetString(0) == "in" ? MessageDirection.In : MessageDirection.Out;
        var id = r.GetInt64(1).ToString(CultureInfo.InvariantCulture);
        return new MessageView(
            (direction == MessageDirection.In ? "in_" : "out_") + id,
            direction,
            r.GetString(2),
            r.GetString(3),
            r.GetString(4),
            SqliteInboxStore.NullableString(r, 5),
            r.IsDBNull(6) ? null : Convert.ToString(r.GetValue(6), CultureInfo.InvariantCulture),
            SqliteInboxStore.NullableString(r, 7),
            SqliteInboxStore.NullableString(r, 8),
            SqliteInboxStore.NullableString(r, 9),
            r.GetInt32(10),
            SqliteInboxStore.NullableString(r, 11),
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(12)),
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(13)));
    }

    public async Task<(MessageView Message, IReadOnlyList<MessageStatusChange> History)?> GetAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        var inbound = id.StartsWith("in_", StringComparison.Ordinal);
        if (!(inbound || id.StartsWith("out_", StringComparison.Ordinal))) return null;
        if (!long.TryParse(id.AsSpan(inbound ? 3 : 4), NumberStyles.None, CultureInfo.InvariantCulture, out var number)) return null;

        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: true);
        MessageView? message = null;
        await using (var query = connection.CreateCommand())
        {
            query.Transaction = transaction;
#pragma warning disable CA2100 // Constants.
            query.CommandText = $"SELECT * FROM ({(inbound ? InboundSelect : OutboundSelect)}) WHERE id = $id";
#pragma warning restore CA2100
            query.Parameters.AddWithValue("$tenant", tenantId);
            query.Parameters.AddWithValue("$id", number);
            await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) message = ReadMessage(reader);
        }
        if (message is null) return null;

        var history = new List<MessageStatusChange>();
        if (inbound)
        {
            history.Add(new MessageStatusChange(message.CreatedAt, "received", null));
            if (message.Status == "routed") history.Add(new MessageStatusChange(message.UpdatedAt, "routed", null));
            return (message, history);
        }

        history.Add(new MessageStatusChange(message.CreatedAt, "queued", null));
        await using (var attempts = connection.CreateCommand())
        {
            attempts.Transaction = transaction;
            attempts.CommandText = "SELECT at, status, detail FROM delivery_attempts WHERE delivery_id = $id ORDER BY at, rowid";
            attempts.Parameters.AddWithValue("$id", number);
            await using var reader = await attempts.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                history.Add(new MessageStatusChange(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0)), reader.GetString(1), SqliteInboxStore.NullableString(reader, 2)));
            }
        }
        MessageHistory.AddOutcome(message, history);
        return (message, history);
    }

    public async Task<PageOf<EventDeliveryView>> WebhookDeliveriesAsync(string tenantId, string webhookId, int page, int pageSize, CancellationToken cancellationToken)
    {
        var channel = ChannelTypes.SubscriptionChannelId(webhookId);
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: true);
        long total;
        await using (var count = connection.CreateCommand())
        {
            count.Transaction = transaction;
            count.CommandText = "SELECT COUNT(*) FROM outbox WHERE kind = 1 AND tenant_id = $tenant AND channel_id = $channel";
            count.Parameters.AddWithValue("$tenant", tenantId);
            count.Parameters.AddWithValue("$channel", channel);
            total = Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
        }
        var items = new List<EventDeliveryView>(pageSize);
        await using (var query = connection.CreateCommand())
        {
            query.Transaction = transaction;
            query.CommandText =
                "SELECT id, json_extract(payload, '$.type'), chat, " +
                "CASE WHEN state = 2 THEN 'sent' WHEN state = 3 THEN 'failed' WHEN attempts > 0 THEN 'retrying' ELSE 'queued' END, " +
                "attempts, last_error, created_at, updated_at FROM outbox WHERE kind = 1 AND tenant_id = $tenant AND channel_id = $channel " +
                "ORDER BY id DESC LIMIT $limit OFFSET $offset";
            query.Parameters.AddWithValue("$tenant", tenantId);
            query.Parameters.AddWithValue("$channel", channel);
            query.Parameters.AddWithValue("$limit", pageSize);
            query.Parameters.AddWithValue("$offset", (long)(page - 1) * pageSize);
            await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                items.Add(new EventDeliveryView(reader.GetInt64(0), SqliteInboxStore.NullableString(reader, 1) ?? "", reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                    SqliteInboxStore.NullableString(reader, 5), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7))));
            }
        }
        return new PageOf<EventDeliveryView>(items, page, pageSize, total);
    }

    public async Task<ChannelStatusView> ChannelStatusAsync(string channelId, long nowMs, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: true);
        long pending = 0, failed = 0, sent = 0;
        long? oldestPending = null;
        await using (var counts = connection.CreateCommand())
        {
            counts.Transaction = transaction;
            counts.CommandText =
                "SELECT SUM(state = 0), SUM(state = 3), SUM(state = 2), MIN(CASE WHEN state = 0 THEN created_at END) FROM outbox WHERE channel_id = $channel AND kind = 0" + SinceChannelCreated;
            counts.Parameters.AddWithValue("$channel", channelId);
            await using var reader = await counts.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                pending = reader.IsDBNull(0) ? 0 : reader.GetInt64(0);
                failed = reader.IsDBNull(1) ? 0 : reader.GetInt64(1);
                sent = reader.IsDBNull(2) ? 0 : reader.GetInt64(2);
                oldestPending = reader.IsDBNull(3) ? null : reader.GetInt64(3);
            }
        }
        string? lastError = null;
        DateTimeOffset? lastErrorAt = null;
        await using (var error = connection.CreateCommand())
        {
            error.Transaction = transaction;
            error.CommandText = "SELECT last_error, updated_at FROM outbox WHERE channel_id = $channel AND kind = 0 AND last_error IS NOT NULL" + SinceChannelCreated + " ORDER BY updated_at DESC LIMIT 1";
            error.Parameters.AddWithValue("$channel", channelId);
            await using var reader = await error.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                lastError = reader.GetString(0);
                lastErrorAt = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1));
            }
        }
        double? lag = oldestPending is { } oldest ? Math.Max(0, nowMs - oldest) / 1000.0 : null;
        return new ChannelStatusView(channelId, pending, failed, sent, lag, lastError, lastErrorAt);
    }
}
