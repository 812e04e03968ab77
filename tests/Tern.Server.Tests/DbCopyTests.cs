using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Postgres;

namespace Tern.Server.Tests;

/// <summary><c>tern db copy</c> as an operator runs it: SQLite to PostgreSQL and back, refusals, and a SIGKILL halfway.</summary>
public sealed partial class DbCopyTests : IAsyncLifetime
{
    private readonly TernHome _home = TernHome.Create();
    private readonly List<string> _databases = [];
    private PrivatePostgres? _server;

    public async Task InitializeAsync() => _server = await PrivatePostgres.SharedAsync();

    public async Task DisposeAsync()
    {
        foreach (var database in _databases) await _server!.DropDatabaseAsync(database, CancellationToken.None);
        SqliteConnection.ClearAllPools();
        _home.Dispose();
    }

    [Fact]
    public async Task Copy_to_PostgreSQL_prints_every_table_verified_refuses_a_second_time_and_the_copy_serves_the_CLI()
    {
        await _home.RunOkAsync("channels", "add", "--id", "in", "--secret", TernHome.InboundSecret);
        await _home.RunOkAsync("channels", "add", "--id", "out", "--url", "http://127.0.0.1:9/hook");
        await _home.RunOkAsync("routes", "add", "--id", "in-to-out", "--from", "in", "--to", "out");
        var target = await NewDatabaseAsync();

        var copy = await _home.RunAsync(["db", "copy", "--from", $"sqlite:{_home.DatabasePath}", "--to", target]);

        Assert.True(copy.ExitCode == 0, copy.ToString());
        Assert.Contains("every count and checksum equal", copy.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"channels\s+2\s+2\s+[0-9a-f]{32}\s+ok", copy.Stdout);
        Assert.Matches(@"routes\s+1\s+1\s+[0-9a-f]{32}\s+ok", copy.Stdout);
        Assert.DoesNotContain("DIFFERENT", copy.Stdout, StringComparison.Ordinal);
        Assert.Contains("channels", copy.Stderr, StringComparison.Ordinal); // the progress

        // The copy is the database now: the CLI on it lists what was copied, its secrets opened with the same key.
        var listed = await _home.RunOkAsync("channels", "list", $"--Tern:Storage:ConnectionString={target}");
        Assert.Contains("in-to-out", (await _home.RunOkAsync("routes", "list", $"--Tern:Storage:ConnectionString={target}")).Stdout, StringComparison.Ordinal);
        Assert.Contains("out", listed.Stdout, StringComparison.Ordinal);

        var again = await _home.RunAsync(["db", "copy", "--from", $"sqlite:{_home.DatabasePath}", "--to", target]);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("not empty", again.Stderr, StringComparison.Ordinal);
        Assert.Contains("--replace", again.Stderr, StringComparison.Ordinal);
        Assert.Single(again.StderrLines);

        var replaced = await _home.RunAsync(["db", "copy", "--from", $"sqlite:{_home.DatabasePath}", "--to", target, "--replace"]);
        Assert.True(replaced.ExitCode == 0, replaced.ToString());

        // And back into a new SQLite file, which then opens with the key written beside it.
        var back = Path.Combine(_home.Directory, "back", "tern.db");
        var reverse = await _home.RunAsync(["db", "copy", "--from", target, "--to", $"sqlite:{back}"]);
        Assert.True(reverse.ExitCode == 0, reverse.ToString());
        Assert.True(File.Exists(Path.Combine(_home.Directory, "back", "secret.key")), reverse.ToString());
        var fromBack = await TernCli.RunAsync(_home.Directory, ["routes", "list", $"--Tern:Storage:Path={back}"]);
        Assert.True(fromBack.ExitCode == 0, fromBack.ToString());
        Assert.Contains("in-to-out", fromBack.Stdout, StringComparison.Ordinal);
    }

    public static TheoryData<string[], string> BadCopies => new()
    {
        { ["db", "copy", "--to", "postgres://u:p@127.0.0.1/db"], "--from" },
        { ["db", "copy", "--from", "sqlite:./data/tern.db"], "--to" },
        { ["db", "copy", "--from", "mysql://x", "--to", "postgres://u:p@127.0.0.1/db"], "--from" },
        { ["db", "copy", "--from", "sqlite:./data/tern.db", "--to", "postgres://u:s3cretpw@127.0.0.1"], "--to" },
        { ["db", "copy", "--from", "sqlite:./data/tern.db", "--to", "sqlite:./data/tern.db"], "--to" },
        { ["db", "copy", "--from", "sqlite:./data/tern.db", "--to", "postgres://u:p@127.0.0.1/db", "--batch", "0"], "--batch" },
        { ["db", "copy", "--from", "sqlite:./data/tern.db", "--to", "postgres://u:p@127.0.0.1/db", "--rows-per-second", "fast"], "--rows-per-second" },
        { ["db", "copy", "--from", "sqlite:./data/tern.db", "--to", "postgres://u:p@127.0.0.1/db", "--colour", "red"], "--colour" },
        { ["db", "move"], "db move" },
    };

    [Theory]
    [MemberData(nameof(BadCopies))]
    public async Task A_bad_copy_command_exits_2_with_one_line_naming_the_option(string[] args, string named)
    {
        var result = await TernCli.RunAsync(_home.Directory, args);

        Assert.True(result.ExitCode == 2, result.ToString());
        var line = Assert.Single(result.StderrLines);
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cretpw", line, StringComparison.Ordinal);
        Assert.Equal("", result.Stdout);
        Assert.False(File.Exists(_home.DatabasePath), "a refused copy created a database");
    }

    [Fact]
    public async Task A_copy_killed_halfway_with_SIGKILL_resumes_where_it_stopped_and_ends_verified()
    {
        await _home.RunOkAsync("migrate");
        const int Messages = 3000;
        InsertMessages(Messages);
        var target = await NewDatabaseAsync();

        // Paced at 150 rows a second (20 s for the inbox), so the kill lands mid-table however busy the machine is.
        var info = TernCli.StartInfo(_home.Directory, ["db", "copy", "--from", $"sqlite:{_home.DatabasePath}", "--to", target, "--batch", "100", "--rows-per-second", "150"]);
        using var process = new Process { StartInfo = info };
        var stderr = new StringBuilder();
        var midway = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            if (InboxProgress().Match(e.Data) is { Success: true } m && long.Parse(m.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture) is > 0 and var copied) midway.TrySetResult(copied);
        };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var copiedBeforeKill = await midway.Task.WaitAsync(TimeSpan.FromSeconds(60));
        process.Kill(); // SIGKILL
        await process.WaitForExitAsync();
        Assert.True(copiedBeforeKill < Messages, $"the copy had finished the inbox before the kill: {stderr}");

        var resumed = await _home.RunAsync(["db", "copy", "--from", $"sqlite:{_home.DatabasePath}", "--to", target, "--batch", "500"]);

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("(resumed)", resumed.Stdout, StringComparison.Ordinal);
        Assert.Matches($@"inbox\s+{Messages:N0}\s+{Messages:N0}\s+[0-9a-f]{{32}}\s+ok", resumed.Stdout);
        // The inbox went on from a batch boundary at or after what the killed run had shown, not from the start.
        var firstInboxLine = resumed.Stderr.Split('\n').First(l => l.StartsWith("inbox", StringComparison.Ordinal));
        var resumedFrom = long.Parse(InboxProgress().Match(firstInboxLine).Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        Assert.True(resumedFrom >= copiedBeforeKill && resumedFrom < Messages, $"resumed at {resumedFrom}, killed after {copiedBeforeKill}: {resumed.Stderr}");
    }

    private void InsertMessages(int count)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _home.DatabasePath, Pooling = false }.ToString());
        connection.Open();
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO inbox (channel_id, platform_id, chat, text, received_at, state) VALUES ('in', $id, 'chat', $text, $at, 1)";
        var id = command.Parameters.Add("$id", SqliteType.Text);
        var text = command.Parameters.Add("$text", SqliteType.Text);
        var at = command.Parameters.Add("$at", SqliteType.Integer);
        for (var i = 0; i < count; i++)
        {
            id.Value = "m" + i.ToString(CultureInfo.InvariantCulture);
            text.Value = $"message {i} 🙂";
            at.Value = 1_700_000_000_000L + i;
            command.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    /// <summary>A new database on the private server, as the postgres:// URL an operator gives.</summary>
    private async Task<string> NewDatabaseAsync()
    {
        var connection = await _server!.CreateDatabaseAsync(CancellationToken.None);
        _databases.Add(connection);
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connection);
        return $"postgres://{Uri.EscapeDataString(builder.Username!)}@{builder.Host}:{builder.Port.ToString(CultureInfo.InvariantCulture)}/{builder.Database}";
    }

    [GeneratedRegex(@"^inbox\s+\[[#.]+\]\s+([\d,]+)/")]
    private static partial Regex InboxProgress();
}
