using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Tern.Storage.Copy;

/// <summary>A table the copy moves: its key (the order batches follow and resume from) and its identity column, if any.</summary>
/// <param name="UniqueKey">False for a table without a primary key: batches then end where the key value changes, so a batch never splits one key's rows.</param>
public sealed record CopiedTable(string Name, IReadOnlyList<string> Key, bool UniqueKey = true, string? Identity = null);

public sealed class CopyOptions
{
    /// <summary>Rows per batch (one target transaction each, with its progress).</summary>
    public int BatchRows { get; init; } = 1000;

    /// <summary>At most this many rows a second (0: as fast as the databases go), to spare a source that is in use.</summary>
    public int RowsPerSecond { get; init; }

    /// <summary>Delete everything in a non-empty target first instead of refusing.</summary>
    public bool Replace { get; init; }
}

/// <summary>Where the copy is: a table's rows so far of its total.</summary>
public readonly record struct CopyStatus(string Table, long Copied, long Total, bool Done, bool Resumed);

/// <summary>One table's verification: rows and checksum on each side.</summary>
public sealed record TableCheck(string Table, long SourceRows, long TargetRows, string SourceChecksum, string TargetChecksum)
{
    public bool Equal => SourceRows == TargetRows && SourceChecksum == TargetChecksum;
}

public sealed record CopyReport(IReadOnlyList<TableCheck> Tables, bool Resumed)
{
    public bool Verified => Tables.All(t => t.Equal);
}

/// <summary>The copy cannot start or go on as asked (a non-empty target, another key, a running instance); nothing was changed.</summary>
public sealed class CopyRefusedException(string message) : Exception(message);

/// <summary>
/// <c>tern db copy</c>: every row of one database into another, of either engine. The source is read in one snapshot;
/// the target gets batches in key order, each in one transaction with the copy's progress, so a copy killed at any point
/// resumes after the last batch that committed, and one that finished is verified table by table (rows and an
/// order-independent checksum of every value). Sealed secrets move as they are: both sides must use the same key.
/// </summary>
public static class DatabaseCopy
{
    /// <summary>
    /// In an order that keeps every reference pointing at a row copied before it. Every table of the schema is here
    /// but the migrations' own and the key check (each side has its own, and they must agree); a test holds the list
    /// to both engines' schema.
    /// </summary>
    public static readonly IReadOnlyList<CopiedTable> Tables =
    [
        new("meta", ["key"]),
        new("tenants", ["id"]),
        new("api_keys", ["id"]),
        new("channels", ["id"]),
        new("routes", ["id"]),
        new("webhooks", ["id"]),
        new("inbox", ["seq"], Identity: "seq"),
        new("outbox", ["id"], Identity: "id"),
        new("lanes", ["channel_id", "chat"]),
        new("delivery_attempts", ["delivery_id"], UniqueKey: false),
        new("early_receipts", ["channel_id", "platform_message_id", "status", "at"]),
        new("message_links", ["source_channel", "source_chat", "source_message", "dest_channel", "dest_chat", "dest_message"]),
        new("chat_migrations", ["channel_id", "old_chat"]),
        new("restarts", ["id"], Identity: "id"),
        new("leases", ["name"]),
    ];

    /// <summary>Tables of the schema the copy leaves alone.</summary>
    public static readonly IReadOnlySet<string> NotCopied = new HashSet<string>(StringComparer.Ordinal) { "schema_migrations", "secret_key_check", RawTables.ProgressTable };

    /// <summary>The progress row that says which source the recorded progress is of.</summary>
    private const string SourceRow = "(source)";

    public static async Task<CopyReport> RunAsync(IStorageEngine source, IStorageEngine target, CopyOptions options, Action<CopyStatus>? progress, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchRows, 1);
        // Both at the newest schema, each key checked against its database (another key throws SecretKeyException).
        await source.MigrateAsync(cancellationToken).ConfigureAwait(false);
        await target.MigrateAsync(cancellationToken).ConfigureAwait(false);
        await using var from = await source.OpenRawTablesAsync(cancellationToken).ConfigureAwait(false);
        await using var to = await target.OpenRawTablesAsync(cancellationToken).ConfigureAwait(false);

        await RefuseWhenUnsafeAsync(from, to, cancellationToken).ConfigureAwait(false);
        await from.BeginSnapshotAsync(cancellationToken).ConfigureAwait(false);

        var columns = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var table in Tables)
        {
            columns[table.Name] = await SameColumnsAsync(table.Name, from, to, cancellationToken).ConfigureAwait(false);
            totals[table.Name] = await from.CountAsync(table.Name, cancellationToken).ConfigureAwait(false);
        }
        var fingerprint = $"{from.Engine} {from.Location}: " + string.Join(",", Tables.Select(t => totals[t.Name].ToString(CultureInfo.InvariantCulture)));

        var recorded = await to.ReadProgressAsync(cancellationToken).ConfigureAwait(false);
        var resumed = false;
        if (recorded.TryGetValue(SourceRow, out var earlier) && earlier.LastKey == fingerprint && !options.Replace)
        {
            resumed = true;
        }
        else
        {
            if (recorded.Count > 0 && !options.Replace)
            {
                throw new CopyRefusedException($"the target holds an unfinished copy of another source ({earlier?.LastKey ?? "unknown"}), or the source changed since; pass --replace to delete everything in the target and start again");
            }
            var filled = await FilledTablesAsync(to, cancellationToken).ConfigureAwait(false);
            if (filled.Count > 0 && !options.Replace)
            {
                throw new CopyRefusedException($"the target is not empty ({string.Join(", ", filled)}); pass --replace to delete everything in it first");
            }
            if (options.Replace || recorded.Count > 0) await to.DeleteAllAsync(Tables.Select(t => t.Name).Reverse(), cancellationToken).ConfigureAwait(false);
            recorded.Clear();
            await to.EnsureProgressTableAsync(cancellationToken).ConfigureAwait(false);
            await to.SaveProgressAsync(new CopyProgressRow(SourceRow, fingerprint, 0, false), cancellationToken).ConfigureAwait(false);
        }

        var pace = Stopwatch.StartNew();
        long rowsThisRun = 0;
        foreach (var table in Tables)
        {
            var cols = columns[table.Name];
            var total = totals[table.Name];
            recorded.TryGetValue(table.Name, out var done);
            if (done is { Done: true })
            {
                progress?.Invoke(new CopyStatus(table.Name, done.Copied, total, true, true));
                continue;
            }
            var after = done?.LastKey is { } key ? ParseKey(key) : null;
            var copied = done?.Copied ?? 0;
            var keyIndexes = table.Key.Select(k => IndexOf(cols, k, table.Name)).ToArray();
            progress?.Invoke(new CopyStatus(table.Name, copied, total, false, done is not null));
            while (true)
            {
                var upTo = await from.KeyAtAsync(table.Name, table.Key, after, options.BatchRows - 1, cancellationToken).ConfigureAwait(false);
                var rows = await from.ReadAsync(table.Name, cols, table.Key, after, upTo, cancellationToken).ConfigureAwait(false);
                var last = rows.Count == 0 ? after : keyIndexes.Select(i => rows[^1][i]).ToArray();
                copied += rows.Count;
                var finished = upTo is null;
                var step = new CopyProgressRow(table.Name, last is null ? null : FormatKey(last), copied, finished);
                if (rows.Count > 0) await to.WriteBatchAsync(table.Name, cols, table.UniqueKey ? table.Key : null, rows, step, cancellationToken).ConfigureAwait(false);
                else await to.SaveProgressAsync(step, cancellationToken).ConfigureAwait(false);
                progress?.Invoke(new CopyStatus(table.Name, copied, total, finished, false));
                rowsThisRun += rows.Count;
                after = last;
                if (finished) break;
                await PaceAsync(options.RowsPerSecond, rowsThisRun, pace, cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var table in Tables.Where(t => t.Identity is not null))
        {
            var highWater = await from.IdentityHighWaterAsync(table.Name, table.Identity!, cancellationToken).ConfigureAwait(false);
            await to.RaiseIdentityAsync(table.Name, table.Identity!, highWater, cancellationToken).ConfigureAwait(false);
        }

        var checks = new List<TableCheck>();
        foreach (var table in Tables)
        {
            var cols = columns[table.Name];
            var (sourceRows, sourceSum) = await ChecksumAsync(from, table.Name, cols, to, cancellationToken).ConfigureAwait(false);
            var (targetRows, targetSum) = await ChecksumAsync(to, table.Name, cols, to, cancellationToken).ConfigureAwait(false);
            checks.Add(new TableCheck(table.Name, sourceRows, targetRows, sourceSum, targetSum));
        }
        var report = new CopyReport(checks, resumed);
        if (report.Verified) await to.DropProgressTableAsync(cancellationToken).ConfigureAwait(false);
        return report;
    }

    /// <summary>A running instance on either side would change rows under the copy; another key could not open the copied secrets.</summary>
    private static async Task RefuseWhenUnsafeAsync(RawTables from, RawTables to, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var side in new[] { from, to })
        {
            var holder = await side.ScalarAsync("SELECT holder FROM leases WHERE name = 'scheduler' AND expires_at > " + now.ToString(CultureInfo.InvariantCulture), [], cancellationToken).ConfigureAwait(false);
            if (holder is not null)
            {
                throw new CopyRefusedException($"Tern is running on {(side == from ? "the source" : "the target")} {side.Location} ({holder} holds the scheduler lease); stop it first");
            }
        }
        var sourceKey = await from.ScalarAsync("SELECT key_id FROM secret_key_check", [], cancellationToken).ConfigureAwait(false) as string;
        var targetKey = await to.ScalarAsync("SELECT key_id FROM secret_key_check", [], cancellationToken).ConfigureAwait(false) as string;
        if (sourceKey is not null && targetKey is not null && sourceKey != targetKey)
        {
            throw new CopyRefusedException($"the target is sealed with key {targetKey}, the source with {sourceKey}: copy with the source's key (Tern:Secrets:Key or Tern:Secrets:KeyFile) so its secrets open on the target");
        }
    }

    /// <summary>Tables of the target with rows of their own: anything but the counters and the default tenant its migrations made, and leases.</summary>
    private static async Task<List<string>> FilledTablesAsync(RawTables to, CancellationToken cancellationToken)
    {
        var filled = new List<string>();
        foreach (var table in Tables)
        {
            if (table.Name is "meta" or "leases") continue;
            var sql = table.Name == "tenants" ? "SELECT COUNT(*) FROM tenants WHERE id <> 'default'" : $"SELECT COUNT(*) FROM {table.Name}";
            var count = Convert.ToInt64(await to.ScalarAsync(sql, [], cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
            if (count > 0) filled.Add($"{table.Name}: {count.ToString(CultureInfo.InvariantCulture)} row{(count == 1 ? "" : "s")}");
        }
        return filled;
    }

    private static async Task<IReadOnlyList<string>> SameColumnsAsync(string table, RawTables from, RawTables to, CancellationToken cancellationToken)
    {
        var source = await from.ColumnsAsync(table, cancellationToken).ConfigureAwait(false);
        var target = await to.ColumnsAsync(table, cancellationToken).ConfigureAwait(false);
        var missing = source.Except(target, StringComparer.Ordinal).Concat(target.Except(source, StringComparer.Ordinal)).ToList();
        if (source.Count == 0 || missing.Count > 0)
        {
            throw new CopyRefusedException($"table {table}: the schemas differ ({(source.Count == 0 ? "missing in the source" : "columns " + string.Join(", ", missing))}); both sides must run the same Tern version");
        }
        return target;
    }

    private static int IndexOf(IReadOnlyList<string> columns, string column, string table)
    {
        for (var i = 0; i < columns.Count; i++) if (columns[i] == column) return i;
        throw new CopyRefusedException($"table {table}: no column {column}");
    }

    private static async Task PaceAsync(int rowsPerSecond, long rows, Stopwatch pace, CancellationToken cancellationToken)
    {
        if (rowsPerSecond <= 0) return;
        var due = TimeSpan.FromSeconds((double)rows / rowsPerSecond);
        if (due > pace.Elapsed) await Task.Delay(due - pace.Elapsed, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Rows and a checksum of every value that does not depend on row order (engines order text differently): the sum of
    /// each row's SHA-256 as two 64-bit halves. Text is taken as <paramref name="storedBy"/> stores it.
    /// </summary>
    private static async Task<(long Rows, string Checksum)> ChecksumAsync(RawTables side, string table, IReadOnlyList<string> columns, RawTables storedBy, CancellationToken cancellationToken)
    {
        ulong high = 0, low = 0;
        long rows = 0;
        var buffer = new ArrayBufferWriter<byte>(256);
        var hash = new byte[32];
        await foreach (var row in side.ScanAsync(table, columns, cancellationToken).ConfigureAwait(false))
        {
            buffer.ResetWrittenCount();
            foreach (var value in row) Canonical(buffer, value, storedBy);
            SHA256.HashData(buffer.WrittenSpan, hash);
            high += BinaryPrimitives.ReadUInt64BigEndian(hash);
            low += BinaryPrimitives.ReadUInt64BigEndian(hash.AsSpan(8));
            rows++;
        }
        return (rows, high.ToString("x16", CultureInfo.InvariantCulture) + low.ToString("x16", CultureInfo.InvariantCulture));
    }

    private static void Canonical(ArrayBufferWriter<byte> buffer, object? value, RawTables storedBy)
    {
        switch (value)
        {
            case null:
                buffer.Write([(byte)0]);
                break;
            case long number:
                var span = buffer.GetSpan(9);
                span[0] = 1;
                BinaryPrimitives.WriteInt64LittleEndian(span[1..], number);
                buffer.Advance(9);
                break;
            case string text:
                var stored = storedBy.Stored(text);
                var length = Encoding.UTF8.GetByteCount(stored);
                var head = buffer.GetSpan(5);
                head[0] = 2;
                BinaryPrimitives.WriteInt32LittleEndian(head[1..], length);
                buffer.Advance(5);
                buffer.Advance(Encoding.UTF8.GetBytes(stored, buffer.GetSpan(length)));
                break;
            default:
                throw new InvalidDataException($"a {value.GetType().Name} value; the copy carries only integers and text");
        }
    }

    private static string FormatKey(object?[] key)
    {
        var output = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartArray();
            foreach (var value in key)
            {
                switch (value)
                {
                    case null: json.WriteNullValue(); break;
                    case long number: json.WriteNumberValue(number); break;
                    case string text: json.WriteStringValue(text); break;
                    default: throw new InvalidDataException($"a key of type {value.GetType().Name}");
                }
            }
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    private static object?[] ParseKey(string key)
    {
        using var document = JsonDocument.Parse(key);
        return document.RootElement.EnumerateArray().Select(e => e.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.Number => (object?)e.GetInt64(),
            JsonValueKind.String => e.GetString(),
            _ => throw new InvalidDataException($"progress key {key}"),
        }).ToArray();
    }
}
