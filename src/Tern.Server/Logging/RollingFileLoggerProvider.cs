using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tern.Core.Memory;
using Tern.Server.Configuration;
using Tern.Storage;

namespace Tern.Server.Logging;

/// <summary>
/// The optional log file: one line per entry, rotated by size (tern.log → tern.log.1 → …) with a
/// fixed number of files kept. Written by hand because Serilog, the usual choice, still produces trim
/// warnings and Tern publishes trimmed. Lines go through a bounded queue to one writer task, so a slow
/// disk never blocks a request; when the queue is full the oldest line is dropped and counted.
/// </summary>
public sealed class RollingFileLoggerProvider : ILoggerProvider, IBoundedStructure
{
    private const int QueueCapacity = 10_000;
    private readonly LogFileOptions _options;
    private readonly Channel<string> _queue;
    private readonly Task _writer;
    private long _dropped;

    public RollingFileLoggerProvider(LogFileOptions options)
    {
        _options = options;
        var folder = Path.GetDirectoryName(Path.GetFullPath(options.Path));
        if (!string.IsNullOrEmpty(folder)) OwnerOnly.CreateFolder(folder);
        _queue = Channel.CreateBounded<string>(new BoundedChannelOptions(QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        }, _ => Interlocked.Increment(ref _dropped));
        _writer = Task.Run(WriteAsync);
    }

    public string Name => "log-queue";

    public int Count => _queue.Reader.Count;

    public int Capacity => QueueCapacity;

    public long Evictions => Interlocked.Read(ref _dropped);

    public int Trim(double fraction) => 0;

    public ILogger CreateLogger(string categoryName) => new FileLogger(categoryName, this);

    private void Enqueue(string line) => _queue.Writer.TryWrite(line);

    private async Task WriteAsync()
    {
        var path = Path.GetFullPath(_options.Path);
        FileStream? stream = null;
        try
        {
            stream = Open(path);
            var buffer = new StringBuilder();
            while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                buffer.Clear();
                // A batch stays well under MaxSize (UTF-8 takes up to 3 bytes a char), so a file only outgrows it by a line longer than that.
                while (buffer.Length < Math.Min(64 * 1024, _options.MaxBytes / 4) && _queue.Reader.TryRead(out var line)) buffer.Append(line);
                var bytes = Encoding.UTF8.GetBytes(buffer.ToString());
                if (stream.Length > 0 && stream.Length + bytes.Length > _options.MaxBytes)
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                    Rotate(path, _options.RetainedFiles);
                    stream = Open(path);
                }
                await stream.WriteAsync(bytes).ConfigureAwait(false);
                await stream.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (IOException ex)
        {
            await Console.Error.WriteLineAsync($"tern: Tern:Logging:File:Path: cannot write {path}: {ex.Message}").ConfigureAwait(false);
        }
        catch (UnauthorizedAccessException ex)
        {
            await Console.Error.WriteLineAsync($"tern: Tern:Logging:File:Path: cannot write {path}: {ex.Message}").ConfigureAwait(false);
        }
        finally
        {
            if (stream is not null) await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    // Owner-only from creation: a log line can name channels, chats and addresses (never a secret, but still private).
    private static FileStream Open(string path) => new(path, OwnerOnly.StreamOptions(FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete));

    /// <summary>tern.log.(n-1) → tern.log.n …, tern.log → tern.log.1; keeps <paramref name="retained"/> files in all.</summary>
    internal static void Rotate(string path, int retained)
    {
        var oldest = $"{path}.{(retained - 1).ToString(CultureInfo.InvariantCulture)}";
        if (retained <= 1)
        {
            File.Delete(path);
            return;
        }
        if (File.Exists(oldest)) File.Delete(oldest);
        for (var i = retained - 2; i >= 1; i--)
        {
            var from = $"{path}.{i.ToString(CultureInfo.InvariantCulture)}";
            if (File.Exists(from)) File.Move(from, $"{path}.{(i + 1).ToString(CultureInfo.InvariantCulture)}");
        }
        File.Move(path, path + ".1");
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _writer.Wait(TimeSpan.FromSeconds(5));
    }

    private sealed class FileLogger(string category, RollingFileLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var line = new StringBuilder(256)
                .Append(DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture))
                .Append(' ').Append(Level(logLevel)).Append(": ").Append(category)
                .Append('[').Append(eventId.Id.ToString(CultureInfo.InvariantCulture)).Append("] ")
                .Append(formatter(state, exception).ReplaceLineEndings(" "));
            if (exception is not null) line.Append(Environment.NewLine).Append(exception);
            line.Append(Environment.NewLine);
            provider.Enqueue(line.ToString());
        }

        private static string Level(LogLevel level) => level switch
        {
            LogLevel.Trace => "trce",
            LogLevel.Debug => "dbug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warn",
            LogLevel.Error => "fail",
            _ => "crit",
        };
    }
}
