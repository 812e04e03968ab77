using System.Globalization;
using Npgsql;
using Tern.Storage.Copy;

namespace Tern.Storage.Postgres;

/// <summary>PostgreSQL's dialect of <see cref="RawTables"/>: a repeatable-read snapshot, identity sequences, no U+0000 in text.</summary>
internal sealed class PostgresTables(NpgsqlConnection connection, string location) : RawTables(connection, location)
{
    public override string Engine => PostgresStorageEngine.EngineName;

    protected override string Parameter(int index) => "@p" + index.ToString(CultureInfo.InvariantCulture);

    protected override string BeginSnapshotSql => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

    public override string Stored(string value) => PostgresText.Clean(value);

    public override async Task<IReadOnlyList<string>> TablesAsync(CancellationToken cancellationToken) =>
        await ListAsync("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name", [], cancellationToken).ConfigureAwait(false);

    public override async Task<IReadOnlyList<string>> ColumnsAsync(string table, CancellationToken cancellationToken) =>
        await ListAsync("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = @p0 ORDER BY ordinal_position", [table], cancellationToken).ConfigureAwait(false);

    public override async Task<long> IdentityHighWaterAsync(string table, string column, CancellationToken cancellationToken)
    {
        var max = await ScalarAsync($"SELECT MAX({Quote(column)}) FROM {Quote(table)}", [], cancellationToken).ConfigureAwait(false);
        var handedOut = await ScalarAsync(
            // last_value is NULL until the sequence hands out its first number.
            "SELECT COALESCE(last_value, 0) FROM pg_sequences WHERE schemaname || '.' || sequencename = pg_get_serial_sequence(@p0, @p1)", [table, column], cancellationToken).ConfigureAwait(false);
        return Math.Max(max is null ? 0 : Convert.ToInt64(max, CultureInfo.InvariantCulture), handedOut is null ? 0 : Convert.ToInt64(handedOut, CultureInfo.InvariantCulture));
    }

    public override async Task RaiseIdentityAsync(string table, string column, long highWater, CancellationToken cancellationToken)
    {
        if (highWater <= 0) return;
        // Rows copied with their own ids do not move the identity: it is set to the higher of the source's mark and what is here.
        var current = await IdentityHighWaterAsync(table, column, cancellationToken).ConfigureAwait(false);
        await ScalarAsync("SELECT setval(pg_get_serial_sequence(@p0, @p1), @p2, true)", [table, column, Math.Max(highWater, current)], cancellationToken).ConfigureAwait(false);
    }
}
