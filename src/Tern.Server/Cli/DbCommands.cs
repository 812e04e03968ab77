using System.Globalization;
using Tern.Server.Configuration;
using Tern.Server.Hosting;
using Tern.Storage;
using Tern.Storage.Copy;
using Tern.Storage.Postgres;
using Tern.Storage.Secrets;
using Tern.Storage.Sqlite;

namespace Tern.Server.Cli;

/// <summary>
/// <c>tern db copy --from sqlite:./data/tern.db --to postgres://… [--replace] [--batch N] [--rows-per-second N]</c>:
/// moves a whole database to another engine (or back), resumable and verified (<see cref="DatabaseCopy"/>).
/// </summary>
internal static class DbCommands
{
    public static async Task<int> RunAsync(string noun, CommandLine line, TernOptions options, TextWriter output, TextWriter messages, CancellationToken cancellationToken)
    {
        if (noun != "copy") throw new UsageException(noun.Length == 0 ? "'db': say copy" : $"'db {noun}': say copy");
        var from = Endpoint(line.Required("from"), "from");
        var to = Endpoint(line.Required("to"), "to");
        var replace = line.Flag("replace");
        var batch = WholeNumber(line.Optional("batch"), "batch", 1000, 1, 100_000);
        var rate = WholeNumber(line.Optional("rows-per-second"), "rows-per-second", 0, 1, 10_000_000);
        line.RejectUnused();
        if (from.Engine == to.Engine && from.Location == to.Location) throw new UsageException("--to: is the source itself");

        // One key for both sides: sealed secrets move as they are. Tern:Secrets:Key, else Tern:Secrets:KeyFile, else the file
        // beside the SQLite source, else the one `tern serve` uses with this configuration (beside Tern:Storage:Path).
        var keyFile = options.Storage.SecretKeyFile is not null || from.Engine != SqliteStorageEngine.EngineName
            ? options.Storage.SecretKeyFilePath
            : SecretKeyFile.DefaultPath(from.Location);
        await using var source = StorageEngines.Create(Options(from, options.Storage, keyFile));
        await using var target = StorageEngines.Create(Options(to, options.Storage, keyFile));

        var view = new ProgressView(messages);
        CopyReport report;
        try
        {
            report = await DatabaseCopy.RunAsync(source, target, new CopyOptions { BatchRows = batch, RowsPerSecond = rate, Replace = replace }, view.Show, cancellationToken).ConfigureAwait(false);
        }
        catch (CopyRefusedException ex)
        {
            throw new UsageException($"db copy: {ex.Message}");
        }
        view.End();

        await output.WriteLineAsync($"  {"table",-20} {"source rows",12} {"target rows",12}  {"checksum",-32}  ").ConfigureAwait(false);
        foreach (var check in report.Tables)
        {
            var sum = check.SourceChecksum == check.TargetChecksum ? check.SourceChecksum : $"{check.SourceChecksum} != {check.TargetChecksum}";
            await output.WriteLineAsync($"  {check.Table,-20} {N(check.SourceRows),12} {N(check.TargetRows),12}  {sum,-32}  {(check.Equal ? "ok" : "DIFFERENT")}").ConfigureAwait(false);
        }
        if (!report.Verified)
        {
            var bad = string.Join(", ", report.Tables.Where(t => !t.Equal).Select(t => t.Table));
            await messages.WriteLineAsync($"tern: db copy: the target differs from the source in {bad}; run the copy again with --replace").ConfigureAwait(false);
            return 1;
        }

        // A SQLite target opens with the key file beside it (unless Tern:Secrets:Key is set): give it the key its secrets are sealed with.
        if (to.Engine == SqliteStorageEngine.EngineName && options.Storage.SecretKey is null && options.Storage.SecretKeyFile is null)
        {
            var beside = SecretKeyFile.DefaultPath(to.Location);
            if (beside != keyFile && File.Exists(keyFile) && SecretKeyFile.Write(beside, SecretKeyFile.Load(keyFile), overwrite: false))
            {
                await messages.WriteLineAsync($"wrote the secret key beside the target: {beside}").ConfigureAwait(false);
            }
        }
        var rows = report.Tables.Sum(t => t.TargetRows);
        await output.WriteLineAsync($"copied {from.Engine} {from.Location} to {to.Engine} {to.Location}{(report.Resumed ? " (resumed)" : "")}: {N(rows)} rows in {report.Tables.Count} tables, every count and checksum equal").ConfigureAwait(false);
        return 0;
    }

    /// <summary>A side of the copy: <c>sqlite:PATH</c>, a <c>postgres://</c> URL, or <c>postgres:</c> followed by Npgsql keywords.</summary>
    private static (string Engine, string Location, string Value) Endpoint(string value, string option)
    {
        if (value.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = value["sqlite:".Length..];
            if (path.StartsWith("//", StringComparison.Ordinal)) path = path[2..];
            if (path.Length == 0) throw new UsageException($"--{option}: sqlite: needs a file (sqlite:./data/tern.db)");
            return (SqliteStorageEngine.EngineName, Path.GetFullPath(path), path);
        }
        string? connection = null;
        if (value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)) connection = value;
        else if (value.StartsWith("postgres:", StringComparison.OrdinalIgnoreCase)) connection = value["postgres:".Length..];
        if (connection is null) throw new UsageException($"--{option}: say sqlite:PATH or postgres://user:password@host:5432/database");
        // The message names what is wrong, never the value: it may hold a password.
        if (StorageEngines.ConnectionStringProblem(connection) is { } problem) throw new UsageException($"--{option}: {problem}");
        return (PostgresStorageEngine.EngineName, PostgresConnectionString.Describe(PostgresConnectionString.Parse(connection)), connection);
    }

    private static StorageOptions Options((string Engine, string Location, string Value) side, StorageOptions configured, string keyFile) => new()
    {
        Engine = side.Engine,
        Path = side.Engine == SqliteStorageEngine.EngineName ? side.Value : configured.Path,
        ConnectionString = side.Engine == PostgresStorageEngine.EngineName ? side.Value : null,
        Synchronous = configured.Synchronous,
        CacheKiB = configured.CacheKiB,
        WriteQueue = configured.WriteQueue,
        MaxReadConnections = Math.Max(2, configured.MaxReadConnections),
        ConnectionIdleLifetime = configured.ConnectionIdleLifetime,
        ConnectionPruningInterval = configured.ConnectionPruningInterval,
        SecretKey = configured.SecretKey,
        SecretKeyFile = keyFile,
    };

    private static int WholeNumber(string? value, string option, int fallback, int min, int max)
    {
        if (value is null) return fallback;
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < min || number > max)
        {
            throw new UsageException($"--{option} '{value}': must be a whole number from {N(min)} to {N(max)}");
        }
        return number;
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>
    /// The progress bar: rewritten in place on a terminal; on a pipe or a log, a line when a table starts and ends and at
    /// most one a second in between.
    /// </summary>
    private sealed class ProgressView(TextWriter messages)
    {
        private readonly bool _terminal = !Console.IsErrorRedirected && ReferenceEquals(messages, Console.Error);
        private long _lastLineAt = -1;
        private string? _table;

        public void Show(CopyStatus status)
        {
            var now = Environment.TickCount64;
            var starting = status.Table != _table;
            _table = status.Table;
            if (!_terminal && !status.Done && (starting ? status.Total == 0 : now - _lastLineAt < 1000)) return;
            _lastLineAt = now;
            var percent = status.Total == 0 ? 100 : Math.Min(100, status.Copied * 100 / status.Total);
            var bar = new string('#', (int)(percent / 5)).PadRight(20, '.');
            var text = $"{status.Table,-20} [{bar}] {N(status.Copied)}/{N(status.Total)}{(status.Resumed ? " (resumed)" : "")}{(status.Done ? " done" : "")}";
            if (_terminal)
            {
                messages.Write("\r" + text.PadRight(79));
                if (status.Done) messages.WriteLine();
            }
            else
            {
                messages.WriteLine(text);
            }
        }

        public void End()
        {
            if (_terminal) messages.Flush();
        }
    }
}
