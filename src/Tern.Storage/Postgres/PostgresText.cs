using System.Data.Common;

namespace Tern.Storage.Postgres;

/// <summary>Text values to and from PostgreSQL.</summary>
internal static class PostgresText
{
    /// <summary>
    /// A value for a nullable text parameter. PostgreSQL's text cannot hold U+0000 (SQLite's can); a platform may still
    /// send one inside a message, and refusing the row would lose the message, so it becomes U+FFFD (the replacement
    /// character) on this engine.
    /// </summary>
    public static object OrNull(string? value) => value is null ? DBNull.Value : Clean(value);

    public static string Clean(string value) => value.Contains('\0', StringComparison.Ordinal) ? value.Replace('\0', '\uFFFD') : value;

    public static string? Nullable(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
