using System.Runtime.InteropServices;
using System.Text;
using Tern.StandIns.Processes;

namespace Tern.Bench;

internal sealed record Target(string Name, string Path);

/// <summary>A tern child process (the shared <see cref="ChildProcess"/>) with its output going to a log file.</summary>
internal sealed class TernProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly StreamWriter _log;

    private TernProcess(ChildProcess process, StreamWriter log)
    {
        _process = process;
        _log = log;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public static TernProcess Start(string path, string workingDirectory, IEnumerable<string> args, string logPath, IReadOnlyDictionary<string, string>? environment = null)
    {
        var log = new StreamWriter(logPath, append: true, Encoding.UTF8);
        // The stand-ins and receivers are on loopback, which Tern calls only when the operator allows it.
        var withAllowList = new Dictionary<string, string>(environment ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            ["Tern__Security__AllowedPrivateNetworks"] = "127.0.0.0/8,::1/128",
        };
        var process = ChildProcess.Start(ChildProcess.StartInfo(path, args, workingDirectory, withAllowList), keptLines: 50, sink: log.WriteLine);
        return new TernProcess(process, log);
    }

    public static async Task RunToEndAsync(string path, string workingDirectory, IEnumerable<string> args)
    {
        var argList = args.ToList();
        await using var tern = Start(path, workingDirectory, argList, Path.Combine(workingDirectory, "tern-cli.log"));
        var exitCode = await tern._process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"`tern {string.Join(' ', argList)}` exited with {exitCode}:\n{tern.Tail(20)}");
        }
    }

    public string Tail(int lines) => _process.Tail(lines);

    /// <summary>SIGTERM, then the exit code (or -1 after killing it when it does not stop in time).</summary>
    public Task<int> TerminateAsync(TimeSpan timeout) => _process.TerminateAsync(timeout);

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        _log.Dispose();
    }
}

internal static class Native
{
    [DllImport("libc", EntryPoint = "sysconf")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern long SysConf(int name);

    public const int ScClkTck = 2;
}
