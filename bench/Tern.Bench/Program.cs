using System.Runtime.InteropServices;
using static System.FormattableString;

namespace Tern.Bench;

/// <summary>
/// Tern's benchmarks. <c>--scenario webhook</c> (default, bench/webhook.sh): webhook → webhook with a
/// loopback receiver hosted here. <c>--scenario telegram</c> (bench/telegram.sh): a getUpdates backlog
/// forwarded bot → bot through the Bot API stand-in hosted here. <c>--scenario whatsapp</c> (bench/whatsapp.sh):
/// signed WhatsApp webhook POSTs ingested, the Graph API stand-in hosted here. For each tern binary and each N the
/// scenario starts tern in a fresh directory, drives the load, samples the tern process's memory from
/// /proc every 100 ms, counts lost and duplicated messages and prints one table row.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync("Tern.Bench: " + ex.Message + "\n\n" + BenchOptions.Usage);
            return 2;
        }

        await using var storage = await BenchStorage.StartAsync(options.Storage);
        return options.Scenario switch
        {
            BenchOptions.Telegram => await TelegramBench.RunAsync(options, storage),
            BenchOptions.WhatsApp => await WhatsAppBench.RunAsync(options, storage),
            _ => await WebhookBench.RunAsync(options, storage),
        };
    }
}

/// <summary>A run's row in the results table.</summary>
internal interface IRunResult
{
    string Row { get; }

    /// <summary>Nothing lost and a clean exit: what decides the driver's exit code.</summary>
    bool Passed { get; }
}

/// <summary>What both scenarios share: the machine line, the runs in order, and the table at the end.</summary>
internal static class Runs
{
    public static void PrintMachine() =>
        Console.WriteLine(Invariant($"machine: {Environment.ProcessorCount} cores, {Machine.TotalMemoryMb()} MB RAM, {RuntimeInformation.OSDescription}, driver on .NET {Environment.Version}"));

    /// <summary>Every N × every target, each row printed as it finishes and all of them again as one table.</summary>
    public static async Task<int> RunAllAsync<TResult>(BenchOptions options, string header, string rule, Func<Target, int, Task<TResult>> run)
        where TResult : IRunResult
    {
        var results = new List<TResult>();
        foreach (var n in options.Counts)
        {
            foreach (var target in options.Targets)
            {
                Console.WriteLine(Invariant($"--- {target.Name}, N = {n}"));
                var result = await run(target, n);
                results.Add(result);
                Console.WriteLine(header);
                Console.WriteLine(result.Row);
            }
        }

        Console.WriteLine();
        Console.WriteLine(header);
        Console.WriteLine(rule);
        foreach (var result in results) Console.WriteLine(result.Row);
        return results.All(r => r.Passed) ? 0 : 1;
    }

    /// <summary>A fresh directory for one run under $TMPDIR.</summary>
    public static string NewHome()
    {
        var home = Path.Combine(Path.GetTempPath(), "tern-bench-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(home);
        return home;
    }

    public static void Finish(string home, bool keep)
    {
        if (keep)
        {
            Console.WriteLine("kept " + home);
            return;
        }
        try
        {
            Directory.Delete(home, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>"—" on SQLite (no server of its own), else PostgreSQL's CPU time per message.</summary>
    public static string PostgresCpu(string storage, double seconds, int n) => storage == BenchOptions.Postgres ? Invariant($"{seconds * 1000 / n:F2}") : "—";

    /// <summary>The connections-used figure: "—" on SQLite.</summary>
    public static string Connections(long? connections) => connections is { } c ? c.ToString(System.Globalization.CultureInfo.InvariantCulture) : "—";

    public static long DatabaseBytes(string home) => Directory.GetFiles(Path.Combine(home, "data")).Sum(f => new FileInfo(f).Length);
}
