using Microsoft.Data.Sqlite;
using Tern.Storage.Secrets;

namespace Tern.Storage.Sqlite;

/// <summary>
/// The columns that hold secrets, sealed by the stores on write and unsealed on read; at start, the key check and the
/// sealing of plain values left from before sealing; the re-sealing of a key rotation.
/// </summary>
internal static class SqliteSecrets
{
    /// <summary>
    /// In one immediate transaction: checks <paramref name="key"/> against the database's check value (writing one on a new
    /// database), opens every sealed value (so a damaged one fails the start, not a send) and seals the plain ones.
    /// Returns how many plain values it sealed. Throws <see cref="SecretKeyMismatchException"/> for another key.
    /// </summary>
    public static int Open(SqliteConnection connection, SecretSealer key) => Scrubbed(connection, () => OpenChecked(connection, key), always: false);

    /// <summary>
    /// Runs a pass that replaces secrets with secure_delete on (the old cell contents are zeroed, not left in free space)
    /// and, when it changed any, truncates the WAL after it, so neither a plain value nor one sealed with a rotated-out
    /// key stays behind in the files.
    /// </summary>
    private static int Scrubbed(SqliteConnection connection, Func<int> pass, bool always)
    {
        SqliteDatabase.Execute(connection, null, "PRAGMA secure_delete = ON");
        int changed;
        try
        {
            changed = pass();
        }
        finally
        {
            SqliteDatabase.Execute(connection, null, "PRAGMA secure_delete = OFF");
        }
        if (changed > 0 || always) SqliteDatabase.Execute(connection, null, "PRAGMA wal_checkpoint(TRUNCATE)");
        return changed;
    }

    private static int OpenChecked(SqliteConnection connection, SecretSealer key)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        var check = ReadCheck(connection, transaction);
        if (check is null)
        {
            WriteCheck(connection, transaction, key);
        }
        else
        {
            SealedColumns.EnsureOpens(check.Value, key);
        }
        var sealedNow = 0;
        foreach (var (table, column) in SealedColumns.All)
        {
            foreach (var (id, value) in ReadColumn(connection, transaction, table, column))
            {
                var place = SealedColumns.Place(table, column, id);
                if (SecretSealer.IsSealed(value))
                {
                    key.Unseal(value, place);
                    continue;
                }
                Update(connection, transaction, table, column, id, key.Seal(value, place));
                sealedNow++;
            }
        }
        transaction.Commit();
        return sealedNow;
    }

    /// <summary>Re-seals every secret and the check value from <paramref name="current"/> to <paramref name="next"/> in one transaction; returns how many secrets.</summary>
    public static int Reseal(SqliteConnection connection, SecretSealer current, SecretSealer next) =>
        Scrubbed(connection, () => ResealChecked(connection, current, next), always: true);

    private static int ResealChecked(SqliteConnection connection, SecretSealer current, SecretSealer next)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        var check = ReadCheck(connection, transaction);
        if (check is not null) SealedColumns.EnsureOpens(check.Value, current);
        var count = 0;
        foreach (var (table, column) in SealedColumns.All)
        {
            foreach (var (id, value) in ReadColumn(connection, transaction, table, column))
            {
                var place = SealedColumns.Place(table, column, id);
                Update(connection, transaction, table, column, id, next.Seal(current.Unseal(value, place), place));
                count++;
            }
        }
        SqliteDatabase.Execute(connection, transaction, "DELETE FROM secret_key_check");
        WriteCheck(connection, transaction, next);
        transaction.Commit();
        return count;
    }

    private static (string KeyId, string Sealed)? ReadCheck(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT key_id, check_value FROM secret_key_check WHERE id = 1";
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetString(0), reader.GetString(1)) : null;
    }

    private static void WriteCheck(SqliteConnection connection, SqliteTransaction transaction, SecretSealer key)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO secret_key_check (id, key_id, check_value) VALUES (1, $kid, $check)";
        command.Parameters.AddWithValue("$kid", key.KeyId);
        command.Parameters.AddWithValue("$check", key.Seal(SealedColumns.CheckValue, SealedColumns.CheckPlace));
        command.ExecuteNonQuery();
    }

    private static List<(string Id, string Value)> ReadColumn(SqliteConnection connection, SqliteTransaction transaction, string table, string column)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
#pragma warning disable CA2100 // Table and column names come from SealedColumns.All.
        command.CommandText = $"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL";
#pragma warning restore CA2100
        using var reader = command.ExecuteReader();
        var rows = new List<(string, string)>();
        while (reader.Read()) rows.Add((reader.GetString(0), reader.GetString(1)));
        return rows;
    }

    private static void Update(SqliteConnection connection, SqliteTransaction transaction, string table, string column, string id, string value)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
#pragma warning disable CA2100 // Table and column names come from SealedColumns.All; values are bound.
        command.CommandText = $"UPDATE {table} SET {column} = $value WHERE id = $id";
#pragma warning restore CA2100
        command.Parameters.AddWithValue("$value", value);
        command.Parameters.AddWithValue("$id", id);
        command.ExecuteNonQuery();
    }
}
