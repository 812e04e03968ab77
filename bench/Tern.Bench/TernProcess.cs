using System.Runtime.InteropServices;
using System.Text;
using static System.FormattableString;
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

    /// <summary>Runs a CLI verb that must succeed; its stdout (e.g. the key `tern keys create` prints).</summary>
    public static async Task<string> RunToEndAsync(string path, string workingDirectory, IEnumerable<string> args)
    {
        var argList = args.ToList();
        await using var tern = Start(path, workingDirectory, argList, Path.Combine(workingDirectory, "tern-cli.log"));
        var exitCode = await tern._process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"`tern {string.Join(' ', argList)}` exited with {exitCode}:\n{tern.Tail(20)}");
        }
        return tern._process.Stdout;
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

/// <summary>
/// The `tern serve` processes of one run: one, or with <c>--instances N</c> N of them on one PostgreSQL database as a
/// cluster (Tern:Cluster:Enabled=true, InstanceId bench-0 …), each on a port and in a directory of its own.
/// </summary>
internal sealed class TernInstances : IAsyncDisposable
{
    private readonly List<TernProcess> _processes;

    private TernInstances(List<TernProcess> processes, List<string> baseUrls)
    {
        _processes = processes;
        BaseUrls = baseUrls;
    }

    public IReadOnlyList<string> BaseUrls { get; }

    public IReadOnlyList<int> Ids => _processes.Select(p => p.Id).ToArray();

    public int Count => _processes.Count;

    public bool AnyExited => _processes.Any(p => p.HasExited);

    /// <param name="serveArgs">the arguments of `tern serve` but the cluster's, given an instance's base URL</param>
    /// <param name="logName">the log's file name (instance 0), e.g. tern.log; instance k writes tern-k.log</param>
    public static TernInstances Start(string path, string home, int count, Func<string, List<string>> serveArgs, string logName, IReadOnlyDictionary<string, string> environment)
    {
        var processes = new List<TernProcess>();
        var urls = new List<string>();
        for (var k = 0; k < count; k++)
        {
            var url = Invariant($"http://127.0.0.1:{Ports.Free()}");
            var args = serveArgs(url);
            if (count > 1) args.AddRange(["--Tern:Cluster:Enabled=true", Invariant($"--Tern:Cluster:InstanceId=bench-{k}")]);
            var directory = k == 0 ? home : Path.Combine(home, Invariant($"node-{k}"));
            Directory.CreateDirectory(directory);
            var log = k == 0 ? logName : Path.GetFileNameWithoutExtension(logName) + Invariant($"-{k}") + Path.GetExtension(logName);
            processes.Add(TernProcess.Start(path, directory, args, Path.Combine(home, log), environment));
            urls.Add(url);
        }
        return new TernInstances(processes, urls);
    }

    public async Task WaitReadyAsync(HttpClient http)
    {
        await Task.WhenAll(_processes.Select((p, k) => TernHttp.WaitReadyAsync(http, BaseUrls[k], p)));
    }

    /// <summary>The last log lines of every instance that exited (all of them when none did).</summary>
    public string Tail(int lines)
    {
        var exited = _processes.Where(p => p.HasExited).ToList();
        var shown = exited.Count > 0 ? exited : _processes;
        return string.Join("\n", shown.Select(p => Invariant($"[instance {_processes.IndexOf(p)}]\n{p.Tail(lines)}")));
    }

    /// <summary>SIGTERM to all at once; the first non-zero exit code, else 0.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        var codes = await Task.WhenAll(_processes.Select(p => p.TerminateAsync(timeout)));
        for (var k = 0; k < codes.Length; k++)
        {
            if (codes[k] != 0) Console.WriteLine(Invariant($"instance {k} exit code {codes[k]}; last log lines:\n{_processes[k].Tail(20)}"));
        }
        return codes.FirstOrDefault(c => c != 0);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes) await process.DisposeAsync();
    }
}

internal static class Native
{
    [DllImport("libc", EntryPoint = "sysconf")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern long SysConf(int name);

    public const int ScClkTck = 2;
}
