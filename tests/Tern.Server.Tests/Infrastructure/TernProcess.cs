using System.Net;
using System.Net.Http;
using Tern.StandIns.Processes;

namespace Tern.Server.Tests.Infrastructure;

/// <summary>
/// <c>tern serve</c> as a child process on a free loopback port, on a <see cref="TernHome"/>'s database.
/// The process itself is the shared <see cref="ChildProcess"/> (captured stdout/stderr, SIGKILL or SIGTERM,
/// always killed on dispose, also when the test failed, so no test leaves a server behind); this wrapper adds
/// what is xunit's: failing the test, and the output's tail written to the test output.
/// </summary>
public sealed class TernProcess : ITernServer, IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly ChildProcess _process;
    private readonly ITestOutputHelper? _output;

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
        _process = ChildProcess.Start(TernCli.StartInfo(home.Directory, args));
    }

    public TernHome Home { get; }

    public Uri BaseUrl { get; }

    public IReadOnlyList<string> Arguments { get; }

    /// <summary>A client for the server's own endpoints (health, hooks).</summary>
    public HttpClient Http { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Stdout => _process.Stdout;

    public string Stderr => _process.Stderr;

    /// <summary>Starts a server and waits until <c>/health</c> answers; retries on another port if the chosen one was taken.</summary>
    public static async Task<TernProcess> StartAsync(TernHome home, ITestOutputHelper? output, IReadOnlyList<string> settings)
    {
        for (var attempt = 1; ; attempt++)
        {
            var url = new Uri($"http://127.0.0.1:{FreePort.Next()}");
            // "{url}" in a setting is the server's own address (e.g. Tern:Http:PublicUrl for Telegram webhooks).
            var authority = url.GetLeftPart(UriPartial.Authority);
            List<string> args = ["serve", $"--Tern:Http:Url={authority}", $"--Tern:Storage:Path={home.DatabasePath}", TernHome.LoopbackAllowed, .. settings.Select(s => s.Replace("{url}", authority, StringComparison.Ordinal))];
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
                await _process.WaitForExitAsync(Timeout.InfiniteTimeSpan);
                if (Stderr.Contains("cannot listen", StringComparison.OrdinalIgnoreCase) || Stderr.Contains("address already in use", StringComparison.OrdinalIgnoreCase)) return false;
                Assert.Fail($"tern exited with code {_process.ExitCode} before answering /health; stderr: {Stderr}; stdout: {_process.StdoutTail(20)}");
            }
            if (_process.Age > StartTimeout) Assert.Fail($"tern did not answer /health within {StartTimeout.TotalSeconds} s; stderr: {Stderr}; stdout: {_process.StdoutTail(20)}");
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
    public void Kill() => _process.Kill();

    /// <summary>SIGTERM: asks for a graceful stop.</summary>
    public void Terminate() => _process.Terminate();

    /// <summary>Waits for the process to end and returns its exit code; fails the test after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            return await _process.WaitForExitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"tern (pid {_process.Id}) did not exit within {timeout.TotalSeconds} s; last output: {_process.StdoutTail(20)}; stderr: {Stderr}");
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        var pid = _process.Id;
        await _process.DisposeAsync();
        WriteTail(pid);
    }

    private void WriteTail(int pid)
    {
        if (_output is null) return;
        try
        {
            _output.WriteLine($"--- tern pid {pid} ({string.Join(' ', Arguments)}), up {_process.Age.TotalSeconds:0.0} s, last lines of stdout:");
            _output.WriteLine(_process.StdoutTail(15));
            if (_process.HasStderr) _output.WriteLine("--- stderr:\n" + _process.StderrTail(15));
        }
        catch (InvalidOperationException)
        {
            // No test is running any more (disposed late); nothing to write to.
        }
    }
}
