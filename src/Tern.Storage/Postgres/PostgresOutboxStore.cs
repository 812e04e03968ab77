using Npgsql;
using NpgsqlTypes;
using Tern.Core.Catalog;
using Tern.Core.Cluster;
using Tern.Core.Delivery;
using Tern.Core.Pipeline;

namespace Tern.Storage.Postgres;

/// <summary>
/// The outbox on PostgreSQL: the same rows and rules as SQLite's, each change one statement (data-modifying CTEs), so
/// the writer can send a whole batch of them in one round trip.
/// </summary>
public sealed partial class PostgresOutboxStore : IOutboxStore, IReceiptStore, IDisposable
{
    /// <summary>New deliveries (the <c>@d_*</c> arrays, in order) filtered by <c>{filter}</c>; then their lanes opened.</summary>
    private const string InsertDeliveriesCte =
        "inserted AS (" +
        "INSERT INTO outbox (inbox_seq, route_id, channel_id, chat, payload, created_at, updated_at, kind, tenant_id, idempotency_key) " +
        "SELECT d.inbox_seq, d.route_id, d.channel_id, d.chat, d.payload, d.created_at, d.created_at, d.kind, d.tenant_id, d.idempotency_key " +
        "FROM unnest(@d_seq, @d_route, @d_channel, @d_chat, @d_payload, @d_created, @d_kind, @d_tenant, @d_key) WITH ORDINALITY " +
        "AS d(inbox_seq, route_id, channel_id, chat, payload, created_at, kind, tenant_id, idempotency_key, ord) " +
        "WHERE {filter} ORDER BY d.ord " +
        "ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id, channel_id, chat, created_at), " +
        "opened AS (INSERT INTO lanes (channel_id, chat, due_at) SELECT channel_id, chat, MIN(created_at) FROM inserted GROUP BY channel_id, chat ORDER BY channel_id, chat " +
        OpenLaneConflict + ")";

    private const string OpenLaneConflict = "ON CONFLICT (channel_id, chat) DO NOTHING RETURNING 1";

    /// <summary>
    /// In a cluster, a lane that exists is locked by the statement that adds to it (a no-op update), so another instance's
    /// release, which locks the lane before it looks for pending rows, either sees the new delivery or runs first and the
    /// lane is made again: without it a release could drop a lane whose new delivery it could not see yet.
    /// </summary>
    private const string OpenLaneConflictInCluster = "ON CONFLICT (channel_id, chat) DO UPDATE SET due_at = lanes.due_at RETURNING 1";

    /// <summary>In a cluster: the lane locked first, so the release's look for pending rows (a later statement) sees every commit before it.</summary>
    private const string LockLaneSql = "SELECT 1 FROM lanes WHERE channel_id = @channel AND chat = @chat FOR UPDATE";

    private static string InCluster(string sql) => sql.Replace(OpenLaneConflict, OpenLaneConflictInCluster, StringComparison.Ordinal);

    /// <summary>The database's clock in milliseconds: lease expiry is judged by one clock for every instance.</summary>
    private const string DatabaseNowMs = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

    /// <summary>
    /// A lane this instance may take: nobody's, its own, one whose owner's instance lease has lapsed (it died), or one of a
    /// channel whose lease this instance holds (a bot is sent for by its lease holder only: an owner that lost the bot's
    /// lease no longer sends its lanes, and must not keep them from the new holder).
    /// </summary>
    private const string ClaimableByMe =
        "(l.owner IS NULL OR l.owner = @me " +
        "OR NOT EXISTS (SELECT 1 FROM leases WHERE name = '" + LeaseNames.InstancePrefix + "' || l.owner AND expires_at > " + DatabaseNowMs + ") " +
        "OR EXISTS (SELECT 1 FROM leases WHERE name = '" + LeaseNames.ChannelPrefix + "' || l.channel_id AND holder = @me AND expires_at > " + DatabaseNowMs + "))";

    /// <summary>A lane change by an instance that lost the lane to another (it was taken for dead) changes nothing.</summary>
    private const string StillMine = "(@me::text IS NULL OR owner IS NULL OR owner = @me)";

    private static readonly string RouteSql =
        // In a cluster only the router lease's holder commits routing: one that lost the lease while a batch was in hand
        // changes nothing (its messages stay pending for the new router, in order).
        "WITH fresh AS (UPDATE inbox SET state = 1, routed_at = @now WHERE seq = ANY(@seqs) AND state = 0 AND (@me::text IS NULL OR EXISTS " +
        "(SELECT 1 FROM leases WHERE name = '" + LeaseNames.Router + "' AND holder = @me AND expires_at > " + DatabaseNowMs + ")) RETURNING seq), " +
        // Only messages this call moves from pending get their deliveries: routing the same row twice is a no-op.
        InsertDeliveries("d.inbox_seq IN (SELECT seq FROM fresh)") +
        " SELECT (SELECT COUNT(*) FROM fresh), (SELECT COUNT(*) FROM inserted)";

    private static readonly string AddSql =
        "WITH " + InsertDeliveries("true") + " SELECT COUNT(*) FROM inserted";

    private static readonly string EnqueueSql =
        "WITH " + InsertDeliveries("true") +
        " SELECT id, false FROM inserted UNION ALL " +
        "SELECT id, true FROM outbox WHERE tenant_id = @tenant AND idempotency_key = @key AND NOT EXISTS (SELECT 1 FROM inserted)";

    private const string InsertLinksCte =
        "linked AS (INSERT INTO message_links (source_channel, source_chat, source_message, dest_channel, dest_chat, dest_message, created_at) " +
        "SELECT l.source_channel, l.source_chat, l.source_message, l.dest_channel, l.dest_chat, l.dest_message, @now " +
        "FROM unnest(@l_source_channel, @l_source_chat, @l_source_message, @l_dest_channel, @l_dest_chat, @l_dest_message) " +
        "AS l(source_channel, source_chat, source_message, dest_channel, dest_chat, dest_message) ON CONFLICT DO NOTHING RETURNING 1)";

    // Events only for the call that made the change: a repeated mark reports nothing twice.
    private static readonly string MarkSentSql =
        "WITH changed AS (UPDATE outbox SET state = 2, attempts = attempts + 1, platform_message_id = @platform_id, last_error = NULL, updated_at = @now " +
        "WHERE id = @id AND state = 0 RETURNING id), " + InsertLinksCte + ", " +
        InsertDeliveries("EXISTS (SELECT 1 FROM changed)") +
        " SELECT (SELECT COUNT(*) FROM changed), (SELECT COUNT(*) FROM inserted)";

    private static readonly string MarkFailedSql =
        "WITH changed AS (UPDATE outbox SET state = 3, attempts = attempts + 1, last_error = @error, updated_at = @now WHERE id = @id AND state = 0 RETURNING id), " +
        InsertDeliveries("EXISTS (SELECT 1 FROM changed)") +
        " SELECT (SELECT COUNT(*) FROM changed), (SELECT COUNT(*) FROM inserted)";

    private const string ScheduleRetrySql =
        "WITH counted AS (UPDATE outbox SET attempts = attempts + 1, last_error = @error, updated_at = @now WHERE id = @id AND state = 0 RETURNING id), " +
        "history AS (INSERT INTO delivery_attempts (delivery_id, at, status, detail) VALUES (@id, @now, 'retrying', @error) RETURNING 1), " +
        "held AS (UPDATE lanes SET due_at = @due, owner = NULL WHERE channel_id = @channel AND chat = @chat AND " + StillMine + " RETURNING 1) " +
        "SELECT COUNT(*) FROM counted";

    // The delete and the update exclude each other, so one statement never touches the lane row twice.
    private const string ReleaseLaneSql =
        "WITH waiting AS (SELECT EXISTS (SELECT 1 FROM outbox WHERE channel_id = @channel AND chat = @chat AND state = 0) AS waiting_rows), " +
        "dropped AS (DELETE FROM lanes WHERE channel_id = @channel AND chat = @chat AND NOT (SELECT waiting_rows FROM waiting) RETURNING 1), " +
        "held AS (UPDATE lanes SET due_at = @now, owner = NULL WHERE channel_id = @channel AND chat = @chat AND (SELECT waiting_rows FROM waiting) AND " + StillMine + " RETURNING 1) " +
        "SELECT COUNT(*) FROM dropped";

    private const string DeferLaneSql =
        "WITH deferred AS (UPDATE lanes SET due_at = GREATEST(due_at, @until), owner = NULL WHERE channel_id = @channel AND chat = @chat AND " + StillMine + " RETURNING 1) SELECT COUNT(*) FROM deferred";

    private const string DeferChannelSql =
        "WITH deferred AS (UPDATE lanes SET due_at = GREATEST(due_at, @until) WHERE channel_id = @channel RETURNING 1) SELECT COUNT(*) FROM deferred";

    private const string ResumeChannelSql =
        "WITH resumed AS (UPDATE lanes SET due_at = @now WHERE channel_id = @channel AND due_at > @now AND due_at <= @until RETURNING 1) SELECT COUNT(*) FROM resumed";

    private const string RetireChannelSql =
        "WITH disabled AS (UPDATE webhooks SET disabled_at = @now, disabled_reason = @error WHERE id = @subscription AND disabled_at IS NULL RETURNING 1), " +
        // Running instances reload the catalog and stop queueing events for it.
        "bumped AS (UPDATE meta SET value = value + 1 WHERE key = 'catalog_version' AND EXISTS (SELECT 1 FROM disabled) RETURNING 1), " +
        "failed AS (UPDATE outbox SET state = 3, last_error = @error, updated_at = @now WHERE channel_id = @channel AND state = 0 RETURNING 1), " +
        "dropped AS (DELETE FROM lanes WHERE channel_id = @channel RETURNING 1) " +
        "SELECT COUNT(*) FROM failed";

    private const string ClaimSql = "SELECT channel_id, chat FROM lanes WHERE due_at <= @now AND NOT (channel_id = ANY(@skip)) ORDER BY due_at LIMIT @max";

    // A cluster: lanes another instance is locking right now are skipped, not waited for; the claimed ones become this
    // instance's until it releases them or its instance lease lapses, so a chat is sent by one instance at a time.
    private const string ClusterClaimSql =
        "WITH due AS (SELECT l.channel_id, l.chat, l.due_at FROM lanes l WHERE l.due_at <= @now AND NOT (l.channel_id = ANY(@skip)) AND " + ClaimableByMe +
        " ORDER BY l.due_at LIMIT @max FOR UPDATE OF l SKIP LOCKED), " +
        "claimed AS (UPDATE lanes SET owner = @me FROM due WHERE lanes.channel_id = due.channel_id AND lanes.chat = due.chat RETURNING lanes.channel_id, lanes.chat, due.due_at) " +
        "SELECT channel_id, chat FROM claimed ORDER BY due_at";

    private const string ReadLaneSql =
        "SELECT id, inbox_seq, route_id, payload, attempts, created_at, kind FROM outbox " +
        "WHERE channel_id = @channel AND chat = @chat AND state = 0 ORDER BY id LIMIT @max";

    private readonly PostgresDatabase _database;
    private readonly PostgresInboxStore _inbox;
    private readonly AsyncSignal _added = new();
    private const string CountSql = "SELECT COUNT(*) FROM outbox WHERE state = 0";

    private readonly BacklogCount _pending;
    private readonly string _routeSql;
    private readonly string _addSql;
    private readonly string _enqueueSql;
    private readonly string _markSentSql;
    private readonly string _markFailedSql;

    /// <summary>This instance in a cluster (lanes it claims are its own while its instance lease lives); null: one process.</summary>
    private readonly string? _instance;

    private PostgresOutboxStore(PostgresDatabase database, PostgresInboxStore inbox, long pending)
    {
        _database = database;
        _inbox = inbox;
        _instance = database.ClusterInstanceId;
        _pending = new BacklogCount(database, CountSql, pending, shared: _instance is not null);
        var cluster = _instance is not null;
        _routeSql = cluster ? InCluster(RouteSql) : RouteSql;
        _addSql = cluster ? InCluster(AddSql) : AddSql;
        _enqueueSql = cluster ? InCluster(EnqueueSql) : EnqueueSql;
        _markSentSql = cluster ? InCluster(MarkSentSql) : MarkSentSql;
        _markFailedSql = cluster ? InCluster(MarkFailedSql) : MarkFailedSql;
    }

    public static async Task<PostgresOutboxStore> OpenAsync(PostgresDatabase database, PostgresInboxStore inbox, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var pending = await PostgresDatabase.ScalarAsync(connection, null, CountSql, cancellationToken).ConfigureAwait(false);
        var store = new PostgresOutboxStore(database, inbox, pending);
        await store.CountEarlyAsync(connection, cancellationToken).ConfigureAwait(false);
        return store;
    }

    public long PendingCount => _pending.Value;

    public async Task CommitRoutedAsync(IReadOnlyList<long> inboxSeqs, IReadOnlyList<NewDelivery> deliveries, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var (routed, inserted) = await _database.Writer.ExecuteAsync(commands =>
        {
            var command = commands.Add(_routeSql);
            command.Parameters.AddWithValue("now", now);
            BindInstance(command);
            command.Parameters.AddWithValue("seqs", NpgsqlDbType.Array | NpgsqlDbType.Bigint, inboxSeqs as long[] ?? inboxSeqs.ToArray());
            BindDeliveries(command, deliveries);
        }, results => ((int)results.Int64(0), (int)Column(results, 0, 1)), cancellationToken, WriteChanges.Outbox).ConfigureAwait(false);
        // Outbox up before inbox down: the backlog the ingress gate reads never dips in between.
        OnAdded(inserted);
        _inbox.OnRouted(routed);
    }

    public async Task<EnqueueResult> EnqueueAsync(NewDelivery delivery, CancellationToken cancellationToken)
    {
        var result = await _database.Writer.ExecuteAsync(commands =>
        {
            var command = commands.Add(_enqueueSql);
            BindDeliveries(command, [delivery]);
            command.Parameters.AddWithValue("tenant", NpgsqlDbType.Text, (object?)delivery.TenantId ?? DBNull.Value);
            command.Parameters.AddWithValue("key", NpgsqlDbType.Text, (object?)delivery.IdempotencyKey ?? DBNull.Value);
        }, results => results.Rows(0) is [var row, ..]
            ? new EnqueueResult((long)row[0]!, Existing: (bool)row[1]!)
            : throw new InvalidOperationException($"delivery with idempotency key '{delivery.IdempotencyKey}' was inserted concurrently; retry"),
            cancellationToken, WriteChanges.Outbox).ConfigureAwait(false);
        if (!result.Existing) OnAdded(1);
        return result;
    }

    public async Task AddAsync(IReadOnlyList<NewDelivery> deliveries, CancellationToken cancellationToken)
    {
        if (deliveries.Count == 0) return;
        var inserted = await _database.Writer.ExecuteAsync(commands => BindDeliveries(commands.Add(_addSql), deliveries), results => (int)results.Int64(0), cancellationToken, WriteChanges.Outbox).ConfigureAwait(false);
        OnAdded(inserted);
    }

    /// <summary>Another instance added deliveries (a notification): the sender looks for due lanes now.</summary>
    internal void OnAddedElsewhere() => _added.Set();

    private void OnAdded(int count)
    {
        if (count == 0) return;
        _pending.Add(count);
        _added.Set();
    }

    public async Task<IReadOnlyList<Lane>> ClaimDueLanesAsync(long nowMs, int max, IReadOnlyCollection<string> skipChannels, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(_instance is null ? ClaimSql : ClusterClaimSql, connection);
        command.Parameters.AddWithValue("now", nowMs);
        if (_instance is not null) command.Parameters.AddWithValue("me", _instance);
        command.Parameters.AddWithValue("skip", NpgsqlDbType.Array | NpgsqlDbType.Text, skipChannels.ToArray());
        command.Parameters.AddWithValue("max", max);
        var lanes = new List<Lane>(max);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) lanes.Add(new Lane(reader.GetString(0), reader.GetString(1)));
        return lanes;
    }

    public async Task<IReadOnlyList<PendingDelivery>> ReadLaneAsync(Lane lane, int max, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(ReadLaneSql, connection);
        command.Parameters.AddWithValue("channel", lane.ChannelId);
        command.Parameters.AddWithValue("chat", lane.Chat);
        command.Parameters.AddWithValue("max", max);
        var deliveries = new List<PendingDelivery>(max);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            deliveries.Add(new PendingDelivery(
                reader.GetInt64(0),
                reader.IsDBNull(1) ? null : reader.GetInt64(1),
                PostgresText.Nullable(reader, 2),
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
        var (changed, added) = await _database.Writer.ExecuteAsync(commands =>
        {
            var command = commands.Add(_markSentSql);
            command.Parameters.AddWithValue("platform_id", NpgsqlDbType.Text, PostgresText.OrNull(platformMessageId));
            command.Parameters.AddWithValue("now", nowMs);
            command.Parameters.AddWithValue("id", deliveryId);
            BindLinks(command, links);
            BindDeliveries(command, events);
        }, results => ((int)results.Int64(0), (int)Column(results, 0, 1)), cancellationToken).ConfigureAwait(false);
        _pending.Add(-changed);
        OnAdded(added);
    }

    public async Task MarkFailedAsync(long deliveryId, string reason, long nowMs, IReadOnlyList<NewDelivery> events, CancellationToken cancellationToken)
    {
        var (changed, added) = await _database.Writer.ExecuteAsync(commands =>
        {
            var command = commands.Add(_markFailedSql);
            command.Parameters.AddWithValue("error", Truncate(reason));
            command.Parameters.AddWithValue("now", nowMs);
            command.Parameters.AddWithValue("id", deliveryId);
            BindDeliveries(command, events);
        }, results => ((int)results.Int64(0), (int)Column(results, 0, 1)), cancellationToken).ConfigureAwait(false);
        _pending.Add(-changed);
        OnAdded(added);
    }

    public Task ScheduleRetryAsync(long deliveryId, Lane lane, long dueAtMs, string error, long nowMs, CancellationToken cancellationToken) =>
        _database.Writer.ExecuteAsync(commands =>
        {
            var command = commands.Add(ScheduleRetrySql);
            command.Parameters.AddWithValue("error", Truncate(error));
            command.Parameters.AddWithValue("now", nowMs);
            command.Parameters.AddWithValue("id", deliveryId);
            command.Parameters.AddWithValue("due", dueAtMs);
            BindInstance(command);
            command.Parameters.AddWithValue("channel", lane.ChannelId);
            command.Parameters.AddWithValue("chat", lane.Chat);
        }, results => results.Int64(0), cancellationToken);

    public Task ReleaseLaneAsync(Lane lane, long nowMs, CancellationToken cancellationToken) =>
        _database.Writer.ExecuteAsync(commands =>
        {
            if (_instance is not null)
            {
                var locking = commands.Add(LockLaneSql);
                locking.Parameters.AddWithValue("channel", lane.ChannelId);
                locking.Parameters.AddWithValue("chat", lane.Chat);
            }
            var command = commands.Add(ReleaseLaneSql);
            BindInstance(command);
            command.Parameters.AddWithValue("channel", lane.ChannelId);
            command.Parameters.AddWithValue("chat", lane.Chat);
            command.Parameters.AddWithValue("now", nowMs);
        }, results => results.Int64(results.Count - 1), cancellationToken);

    public Task DeferLaneAsync(Lane lane, long untilMs, CancellationToken cancellationToken) =>
        _database.Writer.ExecuteAsync(commands =>
        {
            var command = commands.Add(DeferLaneSql);
            BindInstance(command);
            command.Parameters.AddWithValue("until", untilMs);
            command.Parameters.AddWithValue("channel", lane.ChannelId);
            command.Parameters.AddWithValue("chat", lane.Chat);
        }, results => (int)results.Int64(0), cancellationToken);

    public Task DeferChannelAsync(string channelId, long untilMs, CancellationToken cancellationToken) =>
        _database.Writer.ExecuteAsync(commands =>
        {
            var command = commands.Add(DeferChannelSql);
            command.Parameters.AddWithValue("until", untilMs);
            command.Parameters.AddWithValue("channel", channelId);
        }, results => (int)results.Int64(0), cancellationToken);

    public Task ResumeChannelAsync(string channelId, long heldUntilMs, long nowMs, CancellationToken cancellationToken) =>
        _database.Writer.ExecuteAsync(commands =>
        {
            var command = commands.Add(ResumeChannelSql);
            command.Parameters.AddWithValue("now", nowMs);
            command.Parameters.AddWithValue("until", heldUntilMs);
            command.Parameters.AddWithValue("channel", channelId);
        }, results => (int)results.Int64(0), cancellationToken);

    public async Task<int> RetireChannelAsync(string channelId, string reason, long nowMs, CancellationToken cancellationToken)
    {
        var failed = await _database.Writer.ExecuteAsync(commands =>
        {
            var command = commands.Add(RetireChannelSql);
            command.Parameters.AddWithValue("now", nowMs);
            command.Parameters.AddWithValue("error", Truncate(reason));
            command.Parameters.AddWithValue("channel", channelId);
            command.Parameters.AddWithValue("subscription", NpgsqlDbType.Text, ChannelTypes.TrySubscriptionId(channelId, out var subscription) ? subscription : DBNull.Value);
        }, results => (int)results.Int64(0), cancellationToken).ConfigureAwait(false);
        _pending.Add(-failed);
        return failed;
    }

    public Task WaitForDeliveriesAsync(TimeSpan timeout, CancellationToken cancellationToken) => _added.WaitAsync(timeout, cancellationToken);

    /// <summary>The deliveries as one array per column (<c>@d_*</c>), read back in order by <c>unnest … WITH ORDINALITY</c>.</summary>
    private static void BindDeliveries(NpgsqlBatchCommand command, IReadOnlyList<NewDelivery> deliveries)
    {
        var count = deliveries.Count;
        var seq = new long?[count];
        var route = new string?[count];
        var channel = new string[count];
        var chat = new string[count];
        var payload = new string[count];
        var created = new long[count];
        var kind = new int[count];
        var tenant = new string?[count];
        var key = new string?[count];
        for (var i = 0; i < count; i++)
        {
            var delivery = deliveries[i];
            seq[i] = delivery.InboxSeq;
            route[i] = delivery.RouteId;
            channel[i] = delivery.ChannelId;
            chat[i] = delivery.Chat;
            payload[i] = PostgresText.Clean(delivery.Payload);
            created[i] = delivery.CreatedAtMs;
            kind[i] = (int)delivery.Kind;
            tenant[i] = delivery.TenantId;
            key[i] = delivery.IdempotencyKey;
        }
        var p = command.Parameters;
        p.AddWithValue("d_seq", NpgsqlDbType.Array | NpgsqlDbType.Bigint, seq);
        p.AddWithValue("d_route", NpgsqlDbType.Array | NpgsqlDbType.Text, route);
        p.AddWithValue("d_channel", NpgsqlDbType.Array | NpgsqlDbType.Text, channel);
        p.AddWithValue("d_chat", NpgsqlDbType.Array | NpgsqlDbType.Text, chat);
        p.AddWithValue("d_payload", NpgsqlDbType.Array | NpgsqlDbType.Text, payload);
        p.AddWithValue("d_created", NpgsqlDbType.Array | NpgsqlDbType.Bigint, created);
        p.AddWithValue("d_kind", NpgsqlDbType.Array | NpgsqlDbType.Integer, kind);
        p.AddWithValue("d_tenant", NpgsqlDbType.Array | NpgsqlDbType.Text, tenant);
        p.AddWithValue("d_key", NpgsqlDbType.Array | NpgsqlDbType.Text, key);
    }

    private static void BindLinks(NpgsqlBatchCommand command, IReadOnlyList<MessageLink> links)
    {
        var p = command.Parameters;
        p.AddWithValue("l_source_channel", NpgsqlDbType.Array | NpgsqlDbType.Text, links.Select(l => l.SourceChannel).ToArray());
        p.AddWithValue("l_source_chat", NpgsqlDbType.Array | NpgsqlDbType.Text, links.Select(l => l.SourceChat).ToArray());
        p.AddWithValue("l_source_message", NpgsqlDbType.Array | NpgsqlDbType.Text, links.Select(l => l.SourceMessageId).ToArray());
        p.AddWithValue("l_dest_channel", NpgsqlDbType.Array | NpgsqlDbType.Text, links.Select(l => l.DestinationChannel).ToArray());
        p.AddWithValue("l_dest_chat", NpgsqlDbType.Array | NpgsqlDbType.Text, links.Select(l => l.DestinationChat).ToArray());
        p.AddWithValue("l_dest_message", NpgsqlDbType.Array | NpgsqlDbType.Text, links.Select(l => l.DestinationMessageId).ToArray());
    }

    private void BindInstance(NpgsqlBatchCommand command) => command.Parameters.AddWithValue("me", NpgsqlDbType.Text, (object?)_instance ?? DBNull.Value);

    private static string InsertDeliveries(string filter) => InsertDeliveriesCte.Replace("{filter}", filter, StringComparison.Ordinal);

    private static long Column(WriteResults results, int statement, int column) =>
        results.Rows(statement) is [var row, ..] && row[column] is { } value ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) : 0;

    private static string Truncate(string text) => PostgresText.Clean(text.Length <= 1000 ? text : text[..1000]);

    public void Dispose() => _added.Dispose();
}
