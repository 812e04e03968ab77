using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Tern.Server.Tests.Infrastructure;

/// <summary>Read-only looks into a tern SQLite file (also while the server runs: WAL lets readers in).</summary>
public sealed class TernDatabase(string path)
{
    public const int InboxPending = 0;
    public const int InboxRouted = 1;
    public const int OutboxPending = 0;
    public const int OutboxSent = 2;
    public const int OutboxFailed = 3;

    public long InboxCount(int? state = null) =>
        Scalar("SELECT COUNT(*) FROM inbox WHERE $state IS NULL OR state = $state", ("$state", state));

    public long OutboxCount(int? state = null) =>
        Scalar("SELECT COUNT(*) FROM outbox WHERE $state IS NULL OR state = $state", ("$state", state));

    public long InboxCountWithId(string channelId, string platformId) =>
        Scalar("SELECT COUNT(*) FROM inbox WHERE channel_id = $channel AND platform_id = $id", ("$channel", channelId), ("$id", platformId));

    public long OutboxCountForInboxId(string channelId, string platformId) =>
        Scalar("SELECT COUNT(*) FROM outbox o JOIN inbox i ON i.seq = o.inbox_seq WHERE i.channel_id = $channel AND i.platform_id = $id",
            ("$channel", channelId), ("$id", platformId));

    /// <summary>The platform ids stored in the inbox for a channel.</summary>
    public IReadOnlySet<string> InboxIds(string channelId)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT platform_id FROM inbox WHERE channel_id = $channel";
        command.Parameters.AddWithValue("$channel", channelId);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        using var reader = command.ExecuteReader();
        while (reader.Read()) ids.Add(reader.GetString(0));
        return ids;
    }

    /// <summary>The first column of every row <paramref name="sql"/> selects, as stored (NULLs left out).</summary>
    public IReadOnlyList<string> Texts(string sql)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var texts = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read()) if (!reader.IsDBNull(0)) texts.Add(reader.GetString(0));
        return texts;
    }

    /// <summary>Outbox rows that took more than one attempt.</summary>
    public long OutboxRetried() => Scalar("SELECT COUNT(*) FROM outbox WHERE attempts > 1");

    /// <summary>A one-line summary for failure messages.</summary>
    public string Describe()
    {
        try
        {
            return $"inbox {InboxCount()} rows ({InboxCount(InboxPending)} pending); outbox {OutboxCount()} rows " +
                $"({OutboxCount(OutboxPending)} pending, {OutboxCount(OutboxSent)} sent, {OutboxCount(OutboxFailed)} failed)";
        }
        catch (SqliteException ex)
        {
            return "database unreadable: " + ex.Message;
        }
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString());
        connection.Open();
        return connection;
    }

    private long Scalar(string sql, params (string Name, object? Value)[] parameters)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }
}
