using System.Globalization;
using Microsoft.Data.Sqlite;
using Tern.Storage.Copy;

namespace Tern.Storage.Sqlite;

/// <summary>SQLite's dialect of <see cref="RawTables"/>: a deferred transaction is a snapshot (WAL), AUTOINCREMENT keeps its high-water mark in sqlite_sequence.</summary>
internal sealed class SqliteTables(SqliteConnection connection, string location) : RawTables(connection, location)
{
    public override string Engine => SqliteStorageEngine.EngineName;

    protected override string Parameter(int index) => "$p" + index.ToString(CultureInfo.InvariantCulture);

    // Deferred: no lock is taken, so a running Tern could still write; the copy checks the scheduler lease first.
    protected override string BeginSnapshotSql => "BEGIN DEFERRED";

    public override async Task<IReadOnlyList<string>> TablesAsync(CancellationToken cancellationToken) =>
        await ListAsync("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name", [], cancellationToken).ConfigureAwait(false);

    public override async Task<IReadOnlyList<string>> ColumnsAsync(string table, CancellationToken cancellationToken) =>
        await ListAsync("SELECT name FROM pragma_table_info($p0) ORDER BY cid", [table], cancellationToken).ConfigureAwait(false);

    public override async Task<long> IdentityHighWaterAsync(string table, string column, CancellationToken cancellationToken)
    {
        var sequence = await ScalarAsync("SELECT seq FROM sqlite_sequence WHERE name = $p0", [table], cancellationToken).ConfigureAwait(false);
        var max = await ScalarAsync($"SELECT MAX({Quote(column)}) FROM {Quote(table)}", [], cancellationToken).ConfigureAwait(false);
        return Math.Max(sequence is null ? 0 : Convert.ToInt64(sequence, CultureInfo.InvariantCulture), max is null ? 0 : Convert.ToInt64(max, CultureInfo.InvariantCulture));
    }

    public override async Task RaiseIdentityAsync(string table, string column, long highWater, CancellationToken cancellationToken)
    {
        if (highWater <= 0) return;
        await ExecuteAsync("UPDATE sqlite_sequence SET seq = $p1 WHERE name = $p0 AND seq < $p1", [table, highWater], cancellationToken).ConfigureAwait(false);
        await ExecuteAsync("INSERT INTO sqlite_sequence (name, seq) SELECT $p0, $p1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = $p0)", [table, highWater], cancellationToken).ConfigureAwait(false);
    }
}
