using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http;

namespace Tern.Server.Tests.Infrastructure;

/// <summary>
/// <c>tern serve</c> as a child process on a free loopback port, on a <see cref="TernHome"/>'s database.
/// Captures stdout/stderr, can SIGKILL or SIGTERM it, and always kills it on dispose (also when the
/// test failed), so no test leaves a server behind.
/// </summary>
public sealed class TernProcess : ITernServer, IAsyncDisposable
{
    private const int MaxKeptLines = 20_000;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly ConcurrentDictionary<int, Process> Live = new();

    private readonly Process _process;
    private readonly ITestOutputHelper? _output;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly Stopwatch _age = Stopwatch.StartNew();

    static TernProcess()
    {
        // Last line of defence: a test host that exits (even after an unhandled failure) takes its servers along.
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

    private TernProcess(TernHome home, ITestOutputHelper? output, Uri baseUrl, IReadOnlyList<string> args)
    {
        Home = home;
        _output = output;
        BaseUrl = baseUrl;
        Arguments = args;
        Http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 4, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5) })
        {
            BaseAddress = baseUrl,
            Timeout = TimeSpan.FromSeconds(30),
        };
        _process = new Process { StartInfo = TernCli.StartInfo(home.Directory, args) };
        _process.OutputDataReceived += (_, e) => Keep(_stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(_stderr, e.Data);
        _process.Start();
        Live[_process.Id] = _process;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public TernHome Home { get; }

    public Uri BaseUrl { get; }

    public IReadOnlyList<string> Arguments { get; }

    /// <summary>A client for the server's own endpoints (health, hooks).</summary>
    public HttpClient Http { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Stdout => string.Join('\n', _stdout);

    public string Stderr => string.Join('\n', _stderr);

    /// <summary>Starts a server and waits until <c>/health</c> answers; retries on another port if the chosen one was taken.</summary>
    public static async Task<TernProcess> StartAsync(TernHome home, ITestOutputHelper? output, IReadOnlyList<string> settings)
    {
        for (var attempt = 1; ; attempt++)
        {
            var url = new Uri($"http://127.0.0.1:{FreePort.Next()}");
            // "{url}" in a setting is the server's own address (e.g. Tern:Http:PublicUrl for Telegram webhooks).
            var authority = url.GetLeftPart(UriPartial.Authority);
            List<string> args = ["serve", $"--Tern:Http:Url={authority}", $"--Tern:Storage:Path={home.DatabasePath}", .. settings.Select(s => s.Replace("{url}", authority, StringComparison.Ordinal))];
            var process = new TernProcess(home, output, url, args);
            try
            {
                if (await process.WaitUntilHealthyAsync()) return process;
            }
            catch
            {
                await process.DisposeAsync();
                throw;
            }
            await process.DisposeAsync();
            if (attempt == 3) Assert.Fail("tern could not get a free port three times in a row");
        }
    }

    /// <summary>True when healthy; false when the port was taken (try another); fails the test otherwise.</summary>
    private async Task<bool> WaitUntilHealthyAsync()
    {
        while (true)
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync();
                if (Stderr.Contains("cannot listen", StringComparison.OrdinalIgnoreCase) || Stderr.Contains("address already in use", StringComparison.OrdinalIgnoreCase)) return false;
                Assert.Fail($"tern exited with code {_process.ExitCode} before answering /health; stderr: {Stderr}; stdout: {Tail(_stdout, 20)}");
            }
            if (_age.Elapsed > StartTimeout) Assert.Fail($"tern did not answer /health within {StartTimeout.TotalSeconds} s; stderr: {Stderr}; stdout: {Tail(_stdout, 20)}");
            try
            {
                using var probe = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                using var response = await Http.GetAsync(new Uri("/health", UriKind.Relative), probe.Token);
                if (response.StatusCode == HttpStatusCode.OK) return true;
            }
            catch (HttpRequestException)
            {
            }
            catch (OperationCanceledException)
            {
            }
            await Task.Delay(50);
        }
    }

    public async Task<ReadySample> ReadyAsync()
    {
        using var response = await Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        return ReadySample.Parse((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task<HttpStatusCode> HealthAsync()
    {
        using var response = await Http.GetAsync(new Uri("/health", UriKind.Relative));
        return response.StatusCode;
    }

    /// <summary>SIGKILL: no chance to clean up, like a power cut to the process (not to the disk).</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>SIGTERM: asks for a graceful stop.</summary>
    public void Terminate() => Signals.Terminate(_process.Id);

    /// <summary>Waits for the process to end and returns its exit code; fails the test after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"tern (pid {_process.Id}) did not exit within {timeout.TotalSeconds} s; last output: {Tail(_stdout, 20)}; stderr: {Stderr}");
        }
        Live.TryRemove(_process.Id, out _);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
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
        WriteTail();
        _process.Dispose();
    }

    private void WriteTail()
    {
        if (_output is null) return;
        try
        {
            _output.WriteLine($"--- tern pid {_process.Id} ({string.Join(' ', Arguments)}), up {_age.Elapsed.TotalSeconds:0.0} s, last lines of stdout:");
            _output.WriteLine(Tail(_stdout, 15));
            if (!_stderr.IsEmpty) _output.WriteLine("--- stderr:\n" + Tail(_stderr, 15));
        }
        catch (InvalidOperationException)
        {
            // No test is running any more (disposed late); nothing to write to.
        }
    }

    private static string Tail(ConcurrentQueue<string> lines, int count) => string.Join('\n', lines.Skip(Math.Max(0, lines.Count - count)));

    private static void Keep(ConcurrentQueue<string> lines, string? line)
    {
        if (line is null) return;
        lines.Enqueue(line);
        while (lines.Count > MaxKeptLines) lines.TryDequeue(out _);
    }
}
