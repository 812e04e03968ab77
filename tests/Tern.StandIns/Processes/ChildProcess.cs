using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Tern.StandIns.Processes;

/// <summary>
/// A child process (a <c>tern</c>, in the tests and the benchmarks) whose stdout and stderr are captured line by
/// line. It can be SIGKILLed or SIGTERMed, and is killed on dispose and when the parent process exits, so nothing
/// is left behind. It asserts nothing: a wait that runs out throws <see cref="TimeoutException"/>.
/// </summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private static readonly ConcurrentDictionary<int, Process> Live = new();

    private readonly Process _process;
    private readonly int _keptLines;
    private readonly Action<string>? _sink;
    private readonly Lock _lock = new();
    private readonly Queue<string> _stdout = new();
    private readonly Queue<string> _stderr = new();
    private readonly Queue<string> _both = new();
    private readonly Stopwatch _age = Stopwatch.StartNew();

    static ChildProcess()
    {
        // Last line of defence: a parent that exits (even after an unhandled failure) takes its children along.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var process in Live.Values)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }
            }
        };
    }

    private ChildProcess(ProcessStartInfo info, int keptLines, Action<string>? sink)
    {
        _keptLines = keptLines;
        _sink = sink;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        _process = new Process { StartInfo = info };
        _process.OutputDataReceived += (_, e) => Keep(_stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(_stderr, e.Data);
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Time since the process was started.</summary>
    public TimeSpan Age => _age.Elapsed;

    /// <summary>The stdout lines kept (the last <c>keptLines</c>), joined by '\n'.</summary>
    public string Stdout
    {
        get
        {
            lock (_lock) return string.Join('\n', _stdout);
        }
    }

    public string Stderr
    {
        get
        {
            lock (_lock) return string.Join('\n', _stderr);
        }
    }

    public bool HasStderr
    {
        get
        {
            lock (_lock) return _stderr.Count > 0;
        }
    }

    /// <summary>
    /// A start for <paramref name="fileName"/> with <paramref name="args"/> in <paramref name="workingDirectory"/>.
    /// Settings come only from what the caller passes, never from the machine: <c>TERN__*</c> variables are removed.
    /// </summary>
    public static ProcessStartInfo StartInfo(string fileName, IEnumerable<string> args, string workingDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName) { WorkingDirectory = workingDirectory, UseShellExecute = false };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("TERN__", StringComparison.OrdinalIgnoreCase) || k.Equals("ASPNETCORE_URLS", StringComparison.OrdinalIgnoreCase)).ToList()) info.Environment.Remove(key);
        if (environment is not null)
        {
            foreach (var (key, value) in environment) info.Environment[key] = value;
        }
        return info;
    }

    /// <summary>Starts the process; every output line is kept (the last <paramref name="keptLines"/> of each stream) and given to <paramref name="sink"/>.</summary>
    public static ChildProcess Start(ProcessStartInfo info, int keptLines = 20_000, Action<string>? sink = null)
    {
        var child = new ChildProcess(info, keptLines, sink);
        child._process.Start();
        Live[child._process.Id] = child._process;
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    /// <summary>The last <paramref name="count"/> stdout lines.</summary>
    public string StdoutTail(int count) => Tail(_stdout, count);

    public string StderrTail(int count) => Tail(_stderr, count);

    /// <summary>The last <paramref name="count"/> lines of stdout and stderr together, in the order they came.</summary>
    public string Tail(int count) => Tail(_both, count);

    /// <summary>SIGKILL (the whole tree): no chance to clean up, like a power cut to the process (not to the disk).</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>
    /// Closes the write end of the child's stdin (started with <c>RedirectStandardInput</c>): the child reads EOF, as it
    /// does when this process dies. A watchdog that waits on its stdin can be tested with it.
    /// </summary>
    public void CloseStandardInput() => _process.StandardInput.Close();

    /// <summary>SIGTERM: asks for a graceful stop.</summary>
    public void Terminate()
    {
        try
        {
            if (SendSignal(_process.Id, SigTerm) != 0) throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed with errno {Marshal.GetLastPInvokeError()}");
        }
        catch (DllNotFoundException)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })
                ?? throw new InvalidOperationException("could not run kill");
            kill.WaitForExit();
            if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -TERM {_process.Id} exited with {kill.ExitCode}");
        }
    }

    /// <summary>Waits for the process to end (its output read to the end) and returns its exit code; throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"pid {_process.Id} did not exit within {timeout.TotalSeconds} s");
        }
        _process.WaitForExit();
        Live.TryRemove(_process.Id, out _);
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, then the exit code; -1 after killing it when it does not stop within <paramref name="timeout"/>.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        if (_process.HasExited) return _process.ExitCode;
        try
        {
            Terminate();
        }
        catch (InvalidOperationException)
        {
            // Gone in between (or the signal failed): the wait below tells which.
        }
        try
        {
            return await WaitForExitAsync(timeout);
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
            return -1;
        }
    }

    /// <summary>Kills the process if it still runs and waits (up to 15 s) for it to go.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                await _process.WaitForExitAsync(deadline.Token);
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (OperationCanceledException)
        {
        }
        Live.TryRemove(_process.Id, out _);
        _process.Dispose();
    }

    [LibraryImport("libc.so.6", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    private string Tail(Queue<string> lines, int count)
    {
        lock (_lock) return string.Join('\n', lines.Skip(Math.Max(0, lines.Count - count)));
    }

    private void Keep(Queue<string> lines, string? line)
    {
        if (line is null) return;
        lock (_lock)
        {
            _sink?.Invoke(line);
            lines.Enqueue(line);
            _both.Enqueue(line);
            while (lines.Count > _keptLines) lines.Dequeue();
            while (_both.Count > _keptLines) _both.Dequeue();
        }
    }
}
