using System.Globalization;
using Microsoft.Extensions.Logging;
using Tern.Server.Configuration;
using Tern.Server.Logging;

namespace Tern.Server.Tests.Memory;

/// <summary>The optional log file, written in-process: rotation by size, a fixed number of files, nothing lost in between.</summary>
public sealed class RollingFileLoggerTests : IDisposable
{
    private const long MaxBytes = 64L << 10;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tern-log-tests", Guid.NewGuid().ToString("N"));

    private string LogPath => Path.Combine(_folder, "tern.log");

    private static string Line(int n) => $"line {n.ToString("D7", CultureInfo.InvariantCulture)} " + new string('x', 150);

    /// <summary>Writes lines <paramref name="from"/>..<paramref name="to"/> (exclusive) and closes the provider, which flushes the file.</summary>
    private void WriteLines(int from, int to, int retained)
    {
        using var provider = new RollingFileLoggerProvider(new LogFileOptions(LogPath, MaxBytes, retained));
        var logger = provider.CreateLogger("Tern.Test");
        for (var n = from; n < to; n++)
        {
            logger.LogInformation("{Line}", Line(n));
            // The queue holds 10,000 lines; stay well below it so none is dropped and the files can be checked line by line.
            if (provider.Count > 5000) SpinWait.SpinUntil(() => provider.Count < 1000, TimeSpan.FromSeconds(30));
            // Never more files than retained, also while rotating.
            if (n % 250 == 0) Assert.InRange(Directory.GetFiles(_folder).Length, 0, retained);
        }
    }

    private List<string> Files() => Directory.GetFiles(_folder).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();

    private static List<int> Numbers(string path) =>
        File.ReadAllLines(path).Select(l =>
        {
            var at = l.IndexOf("line ", StringComparison.Ordinal);
            Assert.True(at >= 0, $"{path}: unexpected line {l}");
            return int.Parse(l.AsSpan(at + 5, 7), NumberStyles.None, CultureInfo.InvariantCulture);
        }).ToList();

    [Fact]
    public void Many_lines_rotate_into_three_files_that_hold_the_newest_lines_in_order()
    {
        const int lines = 6000; // ~1.1 MB: about 17 files' worth

        WriteLines(0, lines, retained: 3);

        Assert.Equal(new[] { "tern.log", "tern.log.1", "tern.log.2" }, Files());
        var newest = Numbers(LogPath);
        var middle = Numbers(LogPath + ".1");
        var oldest = Numbers(LogPath + ".2");
        var kept = oldest.Concat(middle).Concat(newest).ToList();
        // Contiguous, in order, ending with the last line written: nothing lost or reordered between the files.
        Assert.Equal(Enumerable.Range(kept[0], kept.Count), kept);
        Assert.Equal(lines - 1, kept[^1]);
        Assert.True(kept.Count < lines, "nothing was rotated away");
        foreach (var file in Files())
        {
            var size = new FileInfo(Path.Combine(_folder, file)).Length;
            Assert.True(size > 0, $"{file} is empty");
            Assert.True(size <= MaxBytes, $"{file} is {size} bytes, above the {MaxBytes} byte maximum");
        }
        var line = File.ReadLines(LogPath).Last();
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info: Tern\.Test\[0\] line \d{7} x+$", line);
    }

    [Fact]
    public void Reopening_appends_and_keeps_rotating_within_the_same_files()
    {
        WriteLines(0, 100, retained: 3);
        Assert.Equal(new[] { "tern.log" }, Files());

        WriteLines(100, 3000, retained: 3);
        WriteLines(3000, 6000, retained: 3);

        Assert.Equal(new[] { "tern.log", "tern.log.1", "tern.log.2" }, Files());
        var kept = Numbers(LogPath + ".2").Concat(Numbers(LogPath + ".1")).Concat(Numbers(LogPath)).ToList();
        Assert.Equal(Enumerable.Range(kept[0], kept.Count), kept);
        Assert.Equal(5999, kept[^1]);
    }

    [Fact]
    public void With_one_retained_file_only_the_current_file_remains()
    {
        WriteLines(0, 3000, retained: 1);

        Assert.Equal(new[] { "tern.log" }, Files());
        var kept = Numbers(LogPath);
        Assert.Equal(2999, kept[^1]);
        Assert.Equal(Enumerable.Range(kept[0], kept.Count), kept);
    }

    [Fact]
    public void The_queue_is_a_bounded_structure_and_exceptions_keep_their_lines_together()
    {
        using (var provider = new RollingFileLoggerProvider(new LogFileOptions(LogPath, MaxBytes, 3)))
        {
            Assert.Equal("log-queue", provider.Name);
            Assert.Equal(10_000, provider.Capacity);
            Assert.InRange(provider.Count, 0, provider.Capacity);
            Assert.Equal(0, provider.Trim(0.5));
            provider.CreateLogger("Tern.Test").LogError(new InvalidOperationException("boom"), "failed {What}", "here\nand there");
        }

        var text = File.ReadAllText(LogPath);
        Assert.Contains("fail: Tern.Test[0] failed here and there", text, StringComparison.Ordinal);
        Assert.Contains("System.InvalidOperationException: boom", text, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
