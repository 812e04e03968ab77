using Npgsql;
using Tern.Storage.Secrets;

namespace Tern.Storage.Postgres;

/// <summary>
/// At start, the key check and the sealing of plain values; the re-sealing of a key rotation (the columns and the
/// check are <see cref="SealedColumns"/>, the same as SQLite's, so sealed values copy between engines unchanged).
/// </summary>
internal static class PostgresSecrets
{
    /// <summary>
    /// In one transaction (the check row locked, so two instances starting at once do not both write one): checks
    /// <paramref name="key"/> against the check value (writing one on a new database), opens every sealed value and
    /// seals the plain ones. Returns how many it sealed; throws <see cref="SecretKeyMismatchException"/> for another key.
    /// </summary>
    public static async Task<int> OpenAsync(NpgsqlConnection connection, SecretSealer key, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var check = await ReadCheckAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        if (check is null) await WriteCheckAsync(connection, transaction, key, cancellationToken).ConfigureAwait(false);
        else SealedColumns.EnsureOpens(check.Value, key);
        var sealedNow = 0;
        foreach (var (table, column) in SealedColumns.All)
        {
            foreach (var (id, value) in await ReadColumnAsync(connection, transaction, table, column, cancellationToken).ConfigureAwait(false))
            {
                var place = SealedColumns.Place(table, column, id);
                if (SecretSealer.IsSealed(value))
                {
                    key.Unseal(value, place);
                    continue;
                }
                await UpdateAsync(connection, transaction, table, column, id, key.Seal(value, place), cancellationToken).ConfigureAwait(false);
                sealedNow++;
            }
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return sealedNow;
    }

    /// <summary>
    /// Re-seals every secret and the check value from <paramref name="current"/> to <paramref name="next"/> in one
    /// transaction; returns how many secrets. The replaced row versions stay in the table files until VACUUM reclaims
    /// them (autovacuum does, soon after a change this size).
    /// </summary>
    public static async Task<int> ResealAsync(NpgsqlConnection connection, SecretSealer current, SecretSealer next, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var check = await ReadCheckAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        if (check is not null) SealedColumns.EnsureOpens(check.Value, current);
        var count = 0;
        foreach (var (table, column) in SealedColumns.All)
        {
            foreach (var (id, value) in await ReadColumnAsync(connection, transaction, table, column, cancellationToken).ConfigureAwait(false))
            {
                var place = SealedColumns.Place(table, column, id);
                await UpdateAsync(connection, transaction, table, column, id, next.Seal(current.Unseal(value, place), place), cancellationToken).ConfigureAwait(false);
                count++;
            }
        }
        await PostgresDatabase.ExecuteAsync(connection, transaction, "DELETE FROM secret_key_check", cancellationToken).ConfigureAwait(false);
        await WriteCheckAsync(connection, transaction, next, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return count;
    }

    private static async Task<(string KeyId, string Sealed)?> ReadCheckAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        // The lock makes a second instance starting on a new database wait here, then read the check the first wrote.
        await PostgresDatabase.ExecuteAsync(connection, transaction, "LOCK TABLE secret_key_check IN SHARE ROW EXCLUSIVE MODE", cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT key_id, check_value FROM secret_key_check WHERE id = 1", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? (reader.GetString(0), reader.GetString(1)) : null;
    }

    private static async Task WriteCheckAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, SecretSealer key, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("INSERT INTO secret_key_check (id, key_id, check_value) VALUES (1, @kid, @check)", connection, transaction);
        command.Parameters.AddWithValue("kid", key.KeyId);
        command.Parameters.AddWithValue("check", key.Seal(SealedColumns.CheckValue, SealedColumns.CheckPlace));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<(string Id, string Value)>> ReadColumnAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string table, string column, CancellationToken cancellationToken)
    {
#pragma warning disable CA2100 // Table and column names come from SealedColumns.All.
        await using var command = new NpgsqlCommand($"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY id", connection, transaction);
#pragma warning restore CA2100
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<(string, string)>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) rows.Add((reader.GetString(0), reader.GetString(1)));
        return rows;
    }

    private static async Task UpdateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string table, string column, string id, string value, CancellationToken cancellationToken)
    {
#pragma warning disable CA2100 // Table and column names come from SealedColumns.All; values are bound.
        await using var command = new NpgsqlCommand($"UPDATE {table} SET {column} = @value WHERE id = @id", connection, transaction);
#pragma warning restore CA2100
        command.Parameters.AddWithValue("value", value);
        command.Parameters.AddWithValue("id", id);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
