using System.Data.Common;
using System.Globalization;
using System.Text;

namespace Tern.Storage.Copy;

/// <summary>
/// The rows of one database as plain values (<see cref="long"/>, <see cref="string"/> or null), for <c>tern db copy</c>.
/// Both engines keep the same schema in the same value types (times are Unix ms, flags are integers), so a row read from
/// one is written to the other unchanged. One connection, held for the whole copy: the source reads in one snapshot, the
/// target writes each batch in its own transaction together with its progress, so an interrupted copy resumes exactly.
/// An engine adds only its dialect (how a snapshot starts, identity high-water marks, parameter names).
/// </summary>
public abstract class RawTables : IAsyncDisposable
{
    /// <summary>Where the copy keeps its progress in the target, in the same transaction as each batch; dropped once verified.</summary>
    public const string ProgressTable = "tern_copy_progress";

    private readonly DbConnection _connection;
    private bool _inSnapshot;

    protected RawTables(DbConnection connection, string location)
    {
        _connection = connection;
        Location = location;
    }

    /// <summary>Host and database, or the file; never a password.</summary>
    public string Location { get; }

    /// <summary>The engine's name (<c>sqlite</c>, <c>postgres</c>).</summary>
    public abstract string Engine { get; }

    /// <summary>Parameter <paramref name="index"/>'s name in SQL text (<c>$p0</c>, <c>@p0</c>).</summary>
    protected abstract string Parameter(int index);

    /// <summary>The statement that starts a read-only transaction seeing one snapshot of the whole database (run as SQL, not through the driver's transaction, so commands need none).</summary>
    protected abstract string BeginSnapshotSql { get; }

    /// <summary>A text value as this engine stores it (PostgreSQL's text cannot hold U+0000).</summary>
    public virtual string Stored(string value) => value;

    /// <summary>The columns of <paramref name="table"/> in schema order; empty when there is no such table.</summary>
    public abstract Task<IReadOnlyList<string>> ColumnsAsync(string table, CancellationToken cancellationToken);

    /// <summary>The tables of the schema (none of the engine's own catalog).</summary>
    public abstract Task<IReadOnlyList<string>> TablesAsync(CancellationToken cancellationToken);

    /// <summary>The highest number the identity column of <paramref name="table"/> has handed out (deleted rows included); 0 when none.</summary>
    public abstract Task<long> IdentityHighWaterAsync(string table, string column, CancellationToken cancellationToken);

    /// <summary>Makes the identity of <paramref name="table"/> hand out numbers above <paramref name="highWater"/> only.</summary>
    public abstract Task RaiseIdentityAsync(string table, string column, long highWater, CancellationToken cancellationToken);

    /// <summary>Starts the read-only snapshot every later read on this connection sees (the source's side of a copy).</summary>
    public async Task BeginSnapshotAsync(CancellationToken cancellationToken)
    {
        if (_inSnapshot) return;
        await ExecuteAsync(BeginSnapshotSql, [], cancellationToken).ConfigureAwait(false);
        _inSnapshot = true;
    }

    public async Task<long> CountAsync(string table, CancellationToken cancellationToken) =>
        Convert.ToInt64(await ScalarAsync($"SELECT COUNT(*) FROM {Quote(table)}", [], cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);

    /// <summary>
    /// The key of the row <paramref name="offset"/> places after <paramref name="after"/> (or from the start) in key order,
    /// or null when there are fewer rows: where the next batch ends.
    /// </summary>
    public async Task<object?[]?> KeyAtAsync(string table, IReadOnlyList<string> key, object?[]? after, int offset, CancellationToken cancellationToken)
    {
        var values = new List<object?>();
        var sql = new StringBuilder("SELECT ").Append(string.Join(", ", key.Select(Quote))).Append(" FROM ").Append(Quote(table));
        if (after is not null) sql.Append(" WHERE ").Append(KeyCompare(key, ">", after, values));
        sql.Append(" ORDER BY ").Append(string.Join(", ", key.Select(Quote)));
        sql.Append(" LIMIT 1 OFFSET ").Append(offset.ToString(CultureInfo.InvariantCulture));
        await using var command = Command(sql.ToString(), values);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) return null;
        var row = new object?[key.Count];
        for (var i = 0; i < row.Length; i++) row[i] = Value(reader, i);
        return row;
    }

    /// <summary>The rows whose key is after <paramref name="after"/> and at most <paramref name="upTo"/> (null: to the end), in key order.</summary>
    public async Task<List<object?[]>> ReadAsync(string table, IReadOnlyList<string> columns, IReadOnlyList<string> key, object?[]? after, object?[]? upTo, CancellationToken cancellationToken)
    {
        var values = new List<object?>();
        var sql = new StringBuilder("SELECT ").Append(string.Join(", ", columns.Select(Quote))).Append(" FROM ").Append(Quote(table));
        var conditions = new List<string>();
        if (after is not null) conditions.Add(KeyCompare(key, ">", after, values));
        if (upTo is not null) conditions.Add(KeyCompare(key, "<=", upTo, values));
        if (conditions.Count > 0) sql.Append(" WHERE ").Append(string.Join(" AND ", conditions));
        sql.Append(" ORDER BY ").Append(string.Join(", ", key.Select(Quote)));
        await using var command = Command(sql.ToString(), values);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<object?[]>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var row = new object?[columns.Count];
            for (var i = 0; i < row.Length; i++) row[i] = Value(reader, i);
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>Every row of <paramref name="table"/>, one at a time (for the checksum), in no particular order.</summary>
    public async IAsyncEnumerable<object?[]> ScanAsync(string table, IReadOnlyList<string> columns, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = Command($"SELECT {string.Join(", ", columns.Select(Quote))} FROM {Quote(table)}", []);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var row = new object?[columns.Count];
            for (var i = 0; i < row.Length; i++) row[i] = Value(reader, i);
            yield return row;
        }
    }

    /// <summary>
    /// In one transaction: inserts <paramref name="rows"/> (a row whose <paramref name="conflictKey"/> exists already is
    /// replaced: the rows migrations create, such as the default tenant) and records <paramref name="progress"/>.
    /// </summary>
    public async Task WriteBatchAsync(string table, IReadOnlyList<string> columns, IReadOnlyList<string>? conflictKey, IReadOnlyList<object?[]> rows, CopyProgressRow progress, CancellationToken cancellationToken)
    {
        await using var transaction = await _connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // Each statement stays under both engines' limit of bound values (SQLite 32,766; PostgreSQL 65,535).
        var perStatement = Math.Max(1, 30_000 / columns.Count);
        for (var start = 0; start < rows.Count; start += perStatement)
        {
            var values = new List<object?>();
            var sql = new StringBuilder("INSERT INTO ").Append(Quote(table)).Append(" (").Append(string.Join(", ", columns.Select(Quote))).Append(") VALUES ");
            var end = Math.Min(rows.Count, start + perStatement);
            for (var r = start; r < end; r++)
            {
                if (r > start) sql.Append(", ");
                sql.Append('(');
                for (var c = 0; c < columns.Count; c++)
                {
                    if (c > 0) sql.Append(", ");
                    sql.Append(Parameter(values.Count));
                    values.Add(rows[r][c]);
                }
                sql.Append(')');
            }
            if (conflictKey is not null)
            {
                var others = columns.Where(c => !conflictKey.Contains(c)).ToList();
                sql.Append(" ON CONFLICT (").Append(string.Join(", ", conflictKey.Select(Quote))).Append(')');
                sql.Append(others.Count == 0 ? " DO NOTHING" : " DO UPDATE SET " + string.Join(", ", others.Select(c => $"{Quote(c)} = excluded.{Quote(c)}")));
            }
            await using var insert = Command(sql.ToString(), values, transaction);
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await SaveProgressAsync(progress, transaction, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the progress table when missing.</summary>
    public Task EnsureProgressTableAsync(CancellationToken cancellationToken) =>
        ExecuteAsync($"CREATE TABLE IF NOT EXISTS {ProgressTable} (table_name TEXT PRIMARY KEY, last_key TEXT NULL, copied BIGINT NOT NULL, done INTEGER NOT NULL)", [], cancellationToken);

    public async Task<bool> HasProgressTableAsync(CancellationToken cancellationToken) => (await TablesAsync(cancellationToken).ConfigureAwait(false)).Contains(ProgressTable);

    /// <summary>The progress an earlier (interrupted) copy recorded, by table.</summary>
    public async Task<Dictionary<string, CopyProgressRow>> ReadProgressAsync(CancellationToken cancellationToken)
    {
        var progress = new Dictionary<string, CopyProgressRow>(StringComparer.Ordinal);
        if (!await HasProgressTableAsync(cancellationToken).ConfigureAwait(false)) return progress;
        await using var command = Command($"SELECT table_name, last_key, copied, done FROM {ProgressTable}", []);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var name = reader.GetString(0);
            progress[name] = new CopyProgressRow(name, reader.IsDBNull(1) ? null : reader.GetString(1), Convert.ToInt64(reader.GetValue(2), CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(3), CultureInfo.InvariantCulture) != 0);
        }
        return progress;
    }

    public Task SaveProgressAsync(CopyProgressRow progress, CancellationToken cancellationToken) => SaveProgressAsync(progress, null, cancellationToken);

    private async Task SaveProgressAsync(CopyProgressRow progress, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        var sql = $"INSERT INTO {ProgressTable} (table_name, last_key, copied, done) VALUES ({Parameter(0)}, {Parameter(1)}, {Parameter(2)}, {Parameter(3)}) " +
            "ON CONFLICT (table_name) DO UPDATE SET last_key = excluded.last_key, copied = excluded.copied, done = excluded.done";
        await using var command = Command(sql, [progress.Table, progress.LastKey, progress.Copied, progress.Done ? 1L : 0L], transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task DropProgressTableAsync(CancellationToken cancellationToken) => ExecuteAsync($"DROP TABLE IF EXISTS {ProgressTable}", [], cancellationToken);

    /// <summary>Deletes every row of <paramref name="tables"/> and the progress, in one transaction (<c>--replace</c>).</summary>
    public async Task DeleteAllAsync(IEnumerable<string> tables, CancellationToken cancellationToken)
    {
        await using var transaction = await _connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        foreach (var table in tables)
        {
            await using var command = Command($"DELETE FROM {Quote(table)}", [], transaction);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using (var progress = Command($"DROP TABLE IF EXISTS {ProgressTable}", [], transaction))
        {
            await progress.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One value of a query in the SQL both engines speak.</summary>
    public async Task<object?> ScalarAsync(string sql, IReadOnlyList<object?> values, CancellationToken cancellationToken)
    {
        await using var command = Command(sql, values);
        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is DBNull ? null : value;
    }

    public async Task ExecuteAsync(string sql, IReadOnlyList<object?> values, CancellationToken cancellationToken)
    {
        await using var command = Command(sql, values);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The first column of every row, as text (table and column names from the engine's catalog).</summary>
    protected async Task<List<string>> ListAsync(string sql, IReadOnlyList<object?> values, CancellationToken cancellationToken)
    {
        await using var command = Command(sql, values);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var names = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) names.Add(reader.GetString(0));
        return names;
    }

    /// <summary>A command on the copy's connection, its values bound in order.</summary>
    protected DbCommand Command(string sql, IReadOnlyList<object?> values, DbTransaction? transaction = null)
    {
        var command = _connection.CreateCommand();
#pragma warning disable CA2100 // Table and column names come from the copy's own list and the schema; values are bound.
        command.CommandText = sql;
#pragma warning restore CA2100
        command.Transaction = transaction;
        for (var i = 0; i < values.Count; i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = Parameter(i);
            parameter.Value = values[i] switch
            {
                null => DBNull.Value,
                string text => Stored(text),
                var other => other,
            };
            command.Parameters.Add(parameter);
        }
        return command;
    }

    /// <summary><c>(a, b) &gt; ($p0, $p1)</c>: row-value comparison, which both engines have.</summary>
    private string KeyCompare(IReadOnlyList<string> key, string op, object?[] bound, List<object?> values)
    {
        var parameters = new List<string>();
        foreach (var value in bound)
        {
            parameters.Add(Parameter(values.Count));
            values.Add(value);
        }
        return key.Count == 1
            ? $"{Quote(key[0])} {op} {parameters[0]}"
            : $"({string.Join(", ", key.Select(Quote))}) {op} ({string.Join(", ", parameters)})";
    }

    /// <summary>A value as the copy carries it: integers as <see cref="long"/>, text as <see cref="string"/>, NULL as null.</summary>
    private static object? Value(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetValue(ordinal) switch
    {
        int number => (long)number,
        short number => (long)number,
        long number => number,
        string text => text,
        var other => throw new InvalidDataException($"column {reader.GetName(ordinal)}: a {other.GetType().Name}; the copy carries only integers and text"),
    };

    protected static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public async ValueTask DisposeAsync()
    {
        if (_inSnapshot)
        {
            await using var rollback = _connection.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        await _connection.DisposeAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }
}

/// <summary>How far the copy of one table got: the key of its last copied row (a JSON array) and how many rows so far.</summary>
public sealed record CopyProgressRow(string Table, string? LastKey, long Copied, bool Done);
