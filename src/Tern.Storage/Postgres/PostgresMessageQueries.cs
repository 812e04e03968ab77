using System.Data;
using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Tenancy;

namespace Tern.Storage.Postgres;

/// <summary>The REST API's read side: inbound messages (inbox) and outbound ones (outbox) of a tenant's channels.</summary>
public sealed class PostgresMessageQueries(PostgresDatabase database) : IMessageQueries
{
    // Both branches of the UNION ALL must agree on each column's type: the literals are cast to the other branch's.
    private const string InboundSelect =
        "SELECT 'in'::text AS dir, seq AS id, channel_id, chat, CASE state WHEN 0 THEN 'received' ELSE 'routed' END::text AS status, " +
        "platform_id, text, sender, attachments, NULL::text AS payload, 0::integer AS attempts, NULL::text AS last_error, received_at AS created, COALESCE(routed_at, received_at) AS updated " +
        "FROM inbox WHERE channel_id IN (SELECT id FROM channels WHERE tenant_id = @tenant) " +
        // Channel ids are global and reusable: rows from before the channel was (re)created belong to its previous owner.
        "AND inbox.received_at >= (SELECT c.created_at FROM channels c WHERE c.id = inbox.channel_id)";

    private static readonly string OutboundSelect =
        "SELECT 'out'::text AS dir, id, channel_id, chat, " +
        "(" + MessageStateColumn + ")::text AS status, " +
        // The text is read from the payload in .NET (PayloadJson), not with payload::jsonb here.
        "platform_message_id, NULL::text, NULL::text, NULL::text, payload, attempts, last_error, created_at AS created, updated_at AS updated " +
        "FROM outbox WHERE kind = 0 AND channel_id IN (SELECT id FROM channels WHERE tenant_id = @tenant) " +
        "AND outbox.created_at >= (SELECT c.created_at FROM channels c WHERE c.id = outbox.channel_id)";

    /// <summary>Only rows of the channel as it is now, not of an earlier channel with the same id (another tenant's, perhaps).</summary>
    private const string SinceChannelCreated = " AND created_at >= (SELECT c.created_at FROM channels c WHERE c.id = @channel)";

    /// <summary>A sent message shows the platform's latest receipt (delivered, read, played, failed) once there is one.</summary>
    private const string MessageStateColumn = "CASE WHEN state = 2 THEN COALESCE(receipt, 'sent') WHEN state = 3 THEN 'failed' WHEN attempts > 0 THEN 'retrying' ELSE 'queued' END";

    private const string StateColumn = "CASE WHEN state = 2 THEN 'sent' WHEN state = 3 THEN 'failed' WHEN attempts > 0 THEN 'retrying' ELSE 'queued' END";

    public async Task<PageOf<MessageView>> ListAsync(MessageFilter filter, CancellationToken cancellationToken)
    {
        var source = filter.Direction switch
        {
            MessageDirection.In => InboundSelect,
            MessageDirection.Out => OutboundSelect,
            _ => InboundSelect + " UNION ALL " + OutboundSelect,
        };
        var where = new StringBuilder(" WHERE 1 = 1");
        if (filter.ChannelId is not null) where.Append(" AND channel_id = @channel");
        if (filter.Chat is not null) where.Append(" AND chat = @chat");
        if (filter.Status is not null) where.Append(" AND status = @status");
        if (filter.Since is not null) where.Append(" AND created >= @since");
        if (filter.Until is not null) where.Append(" AND created < @until");

        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // One read transaction: the page and the total come from the same snapshot (read committed would take one per statement).
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        long total;
#pragma warning disable CA2100 // Built from constants; values are bound.
        await using (var count = new NpgsqlCommand($"SELECT COUNT(*) FROM ({source}) AS m{where}", connection, transaction))
#pragma warning restore CA2100
        {
            Bind(count, filter);
            total = Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
        }

        var items = new List<MessageView>(filter.PageSize);
        // dir is 'in' or 'out': the same order under any collation, as in SQLite.
#pragma warning disable CA2100 // Built from constants; values are bound.
        await using (var query = new NpgsqlCommand($"SELECT * FROM ({source}) AS m{where} ORDER BY created DESC, dir, id DESC LIMIT @limit OFFSET @offset", connection, transaction))
#pragma warning restore CA2100
        {
            Bind(query, filter);
            query.Parameters.AddWithValue("limit", filter.PageSize);
            query.Parameters.AddWithValue("offset", (long)(filter.Page - 1) * filter.PageSize);
            await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) items.Add(ReadMessage(reader));
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new PageOf<MessageView>(items, filter.Page, filter.PageSize, total);
    }

    private static void Bind(NpgsqlCommand command, MessageFilter filter)
    {
        command.Parameters.AddWithValue("tenant", filter.TenantId);
        if (filter.ChannelId is not null) command.Parameters.AddWithValue("channel", filter.ChannelId);
        if (filter.Chat is not null) command.Parameters.AddWithValue("chat", filter.Chat);
        if (filter.Status is not null) command.Parameters.AddWithValue("status", filter.Status);
        if (filter.Since is { } since) command.Parameters.AddWithValue("since", since.ToUnixTimeMilliseconds());
        if (filter.Until is { } until) command.Parameters.AddWithValue("until", until.ToUnixTimeMilliseconds());
    }

    private static MessageView ReadMessage(NpgsqlDataReader r)
    {
        var direction = r.GetString(0) == "in" ? MessageDirection.In : MessageDirection.Out;
        var id = r.GetInt64(1).ToString(CultureInfo.InvariantCulture);
        return new MessageView(
            (direction == MessageDirection.In ? "in_" : "out_") + id,
            direction,
            r.GetString(2),
            r.GetString(3),
            r.GetString(4),
            PostgresText.Nullable(r, 5),
            // SQLite's json_extract(payload, '$.text'); U+0000 as U+FFFD, as this engine stores it in every other text.
            direction == MessageDirection.Out ? CleanOrNull(PayloadJson.Extract(PostgresText.Nullable(r, 9), DeliveryPayload.TextJsonPath)) : PostgresText.Nullable(r, 6),
            PostgresText.Nullable(r, 7),
            PostgresText.Nullable(r, 8),
            PostgresText.Nullable(r, 9),
            r.GetInt32(10),
            PostgresText.Nullable(r, 11),
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(12)),
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(13)));
    }

    public async Task<(MessageView Message, IReadOnlyList<MessageStatusChange> History)?> GetAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        var inbound = id.StartsWith("in_", StringComparison.Ordinal);
        if (!(inbound || id.StartsWith("out_", StringComparison.Ordinal))) return null;
        if (!long.TryParse(id.AsSpan(inbound ? 3 : 4), NumberStyles.None, CultureInfo.InvariantCulture, out var number)) return null;

        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // The message and its history from one snapshot, as SQLite's read transaction gives.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        MessageView? message = null;
#pragma warning disable CA2100 // Constants.
        await using (var query = new NpgsqlCommand($"SELECT * FROM ({(inbound ? InboundSelect : OutboundSelect)}) AS m WHERE id = @id", connection, transaction))
#pragma warning restore CA2100
        {
            query.Parameters.AddWithValue("tenant", tenantId);
            query.Parameters.AddWithValue("id", number);
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
        // SQLite breaks a tie on the same millisecond by rowid (insertion order); delivery_attempts has no key here, so
        // by ctid, the row's place in the table: insertion order unless a vacuum let a later row reuse an earlier place.
        // Two attempts of one delivery in the same millisecond do not happen in practice (retries wait a backoff).
        await using (var attempts = new NpgsqlCommand("SELECT at, status, detail FROM delivery_attempts WHERE delivery_id = @id ORDER BY at, ctid", connection, transaction))
        {
            attempts.Parameters.AddWithValue("id", number);
            await using var reader = await attempts.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                history.Add(new MessageStatusChange(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0)), reader.GetString(1), PostgresText.Nullable(reader, 2)));
            }
        }
        MessageHistory.AddOutcome(message, history);
        return (message, history);
    }

    public async Task<PageOf<EventDeliveryView>> WebhookDeliveriesAsync(string tenantId, string webhookId, int page, int pageSize, CancellationToken cancellationToken)
    {
        var channel = ChannelTypes.SubscriptionChannelId(webhookId);
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // The page and the total from one snapshot.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        long total;
        await using (var count = new NpgsqlCommand("SELECT COUNT(*) FROM outbox WHERE kind = 1 AND tenant_id = @tenant AND channel_id = @channel", connection, transaction))
        {
            count.Parameters.AddWithValue("tenant", tenantId);
            count.Parameters.AddWithValue("channel", channel);
            total = Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
        }
        var items = new List<EventDeliveryView>(pageSize);
#pragma warning disable CA2100 // Constants.
        await using (var query = new NpgsqlCommand(
            "SELECT id, payload, chat, " + StateColumn + ", " +
            "attempts, last_error, created_at, updated_at FROM outbox WHERE kind = 1 AND tenant_id = @tenant AND channel_id = @channel " +
            "ORDER BY id DESC LIMIT @limit OFFSET @offset", connection, transaction))
#pragma warning restore CA2100
        {
            query.Parameters.AddWithValue("tenant", tenantId);
            query.Parameters.AddWithValue("channel", channel);
            query.Parameters.AddWithValue("limit", pageSize);
            query.Parameters.AddWithValue("offset", (long)(page - 1) * pageSize);
            await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                items.Add(new EventDeliveryView(reader.GetInt64(0), CleanOrNull(PayloadJson.Extract(reader.GetString(1), "$.type")) ?? "", reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                    PostgresText.Nullable(reader, 5), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7))));
            }
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new PageOf<EventDeliveryView>(items, page, pageSize, total);
    }

    public async Task<ChannelStatusView> ChannelStatusAsync(string channelId, long nowMs, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // The counts and the last error from one snapshot.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        long pending = 0, failed = 0, sent = 0;
        long? oldestPending = null;
        // COUNT … FILTER is SQLite's SUM(state = n) (PostgreSQL does not add booleans), and 0 rather than NULL on no rows: the same 0 below.
        await using (var counts = new NpgsqlCommand(
            "SELECT COUNT(*) FILTER (WHERE state = 0), COUNT(*) FILTER (WHERE state = 3), COUNT(*) FILTER (WHERE state = 2), MIN(created_at) FILTER (WHERE state = 0) " +
            "FROM outbox WHERE channel_id = @channel AND kind = 0" + SinceChannelCreated, connection, transaction))
        {
            counts.Parameters.AddWithValue("channel", channelId);
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
        await using (var error = new NpgsqlCommand(
            "SELECT last_error, updated_at FROM outbox WHERE channel_id = @channel AND kind = 0 AND last_error IS NOT NULL" + SinceChannelCreated + " ORDER BY updated_at DESC LIMIT 1",
            connection, transaction))
        {
            error.Parameters.AddWithValue("channel", channelId);
            await using var reader = await error.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                lastError = reader.GetString(0);
                lastErrorAt = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1));
            }
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        double? lag = oldestPending is { } oldest ? Math.Max(0, nowMs - oldest) / 1000.0 : null;
        return new ChannelStatusView(channelId, pending, failed, sent, lag, lastError, lastErrorAt);
    }

    private static string? CleanOrNull(string? text) => text is null ? null : PostgresText.Clean(text);
}
