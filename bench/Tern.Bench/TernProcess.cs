using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Tern.Bench;

internal sealed record Target(string Name, string Path);

/// <summary>A tern child process with its output going to a log file.</summary>
internal sealed class TernProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Queue<string> _tail = new();

    private TernProcess(Process process, StreamWriter log)
    {
        _process = process;
        _log = log;
        _process.OutputDataReceived += (_, e) => Write(e.Data);
        _process.ErrorDataReceived += (_, e) => Write(e.Data);
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public static TernProcess Start(string path, string workingDirectory, IEnumerable<string> args, string logPath, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(path)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("TERN__", StringComparison.OrdinalIgnoreCase)).ToList()) info.Environment.Remove(key);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        var log = new StreamWriter(logPath, append: true, Encoding.UTF8);
        var process = new Process { StartInfo = info };
        var tern = new TernProcess(process, log);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return tern;
    }

    public static async Task RunToEndAsync(string path, string workingDirectory, IEnumerable<string> args)
    {
        var argList = args.ToList();
        await using var tern = Start(path, workingDirectory, argList, Path.Combine(workingDirectory, "tern-cli.log"));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await tern._process.WaitForExitAsync(deadline.Token);
        tern._process.WaitForExit();
        if (tern._process.ExitCode != 0)
        {
            throw new InvalidOperationException($"`tern {string.Join(' ', argList)}` exited with {tern._process.ExitCode}:\n{tern.Tail(20)}");
        }
    }

    public string Tail(int lines)
    {
        lock (_tail) return string.Join('\n', _tail.TakeLast(lines));
    }

    /// <summary>SIGTERM, then the exit code (or -1 after killing it when it does not stop in time).</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        if (_process.HasExited) return _process.ExitCode;
        _ = Native.Kill(_process.Id, Native.SigTerm);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
            return -1;
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process.Dispose();
        lock (_tail) _log.Dispose();
    }

    private void Write(string? line)
    {
        if (line is null) return;
        lock (_tail)
        {
            _log.WriteLine(line);
            _tail.Enqueue(line);
            if (_tail.Count > 50) _tail.Dequeue();
        }
    }
}

internal static class Native
{
    public const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern int Kill(int pid, int signal);

    [DllImport("libc", EntryPoint = "sysconf")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern long SysConf(int name);

    public const int ScClkTck = 2;
}
