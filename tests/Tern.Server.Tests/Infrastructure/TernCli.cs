using System.Diagnostics;
using System.Text;

namespace Tern.Server.Tests.Infrastructure;

/// <summary>What a finished <c>tern</c> command printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public IReadOnlyList<string> StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit code {ExitCode}; stdout: [{Stdout.Trim()}]; stderr: [{Stderr.Trim()}]";
}

/// <summary>Starts the built <c>tern</c> (the apphost next to the tests, or <c>dotnet tern.dll</c>).</summary>
public static class TernCli
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static ProcessStartInfo StartInfo(string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var directory = AppContext.BaseDirectory;
        var apphost = Path.Combine(directory, OperatingSystem.IsWindows() ? "tern.exe" : "tern");
        var info = File.Exists(apphost) ? new ProcessStartInfo(apphost) : new ProcessStartInfo("dotnet") { ArgumentList = { Path.Combine(directory, "tern.dll") } };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.WorkingDirectory = workingDirectory;
        info.UseShellExecute = false;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = false;
        // Settings come only from what the test passes, never from the machine running it.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("TERN__", StringComparison.OrdinalIgnoreCase) || k.Equals("ASPNETCORE_URLS", StringComparison.OrdinalIgnoreCase)).ToList()) info.Environment.Remove(key);
        if (environment is not null)
        {
            foreach (var (key, value) in environment) info.Environment[key] = value;
        }
        return info;
    }

    /// <summary>Runs a command to completion; kills it and fails the test if it takes longer than <paramref name="timeout"/>.</summary>
    public static async Task<CliResult> RunAsync(string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var argList = args.ToList();
        using var process = new Process { StartInfo = StartInfo(workingDirectory, argList, environment) };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.Append(e.Data).Append('\n'); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            Assert.Fail($"`tern {string.Join(' ', argList)}` did not finish within {(timeout ?? DefaultTimeout).TotalSeconds} s and was killed; stdout: {stdout}; stderr: {stderr}");
        }
        lock (stdout)
        lock (stderr)
        {
            return new CliResult(process.ExitCode, stdout.ToString(), stderr.ToString());
        }
    }
}
