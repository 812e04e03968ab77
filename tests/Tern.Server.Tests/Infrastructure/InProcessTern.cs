using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Tern.Server.Hosting;

namespace Tern.Server.Tests.Infrastructure;

/// <summary>
/// A Tern host built in the test process: the same composition as <c>tern serve</c>, real Kestrel on a port the
/// kernel picks, on a <see cref="TernHome"/>'s database file. For API, validation and pipeline tests; what needs a
/// process of its own (SIGKILL, exit codes, restart limits, memory figures, published builds) uses <see cref="TernProcess"/>.
/// </summary>
public sealed class InProcessTern : ITernServer, IAsyncDisposable
{
    private const int MaxKeptLines = 5_000;

    private readonly TernHost _host;
    private readonly ConcurrentQueue<string> _log;

    private InProcessTern(TernHost host, ConcurrentQueue<string> log)
    {
        _host = host;
        _log = log;
        BaseUrl = host.ListeningUrl;
        Http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 4, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5) })
        {
            BaseAddress = BaseUrl,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    public Uri BaseUrl { get; }

    /// <summary>A client for the server's own endpoints.</summary>
    public HttpClient Http { get; }

    /// <summary>The host's services (the stores, the catalog), for tests that look behind the HTTP surface.</summary>
    public IServiceProvider Services => _host.App.Services;

    /// <summary>What the host logged, the last few thousand lines.</summary>
    public string Log => string.Join('\n', _log);

    /// <summary>Builds and starts a host on <paramref name="home"/>'s database with extra <c>--Tern:Key=value</c> settings.</summary>
    public static async Task<InProcessTern> StartAsync(TernHome home, params string[] settings)
    {
        var log = new ConcurrentQueue<string>();
        string[] args = ["--Tern:Http:Url=http://127.0.0.1:0", $"--Tern:Storage:Path={home.DatabasePath}", TernHome.LoopbackAllowed, .. settings];
        var host = await TernHost.CreateAsync(args, home.Directory, logging => logging.AddProvider(new QueueLoggerProvider(log)));
        try
        {
            await host.App.StartAsync();
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
        return new InProcessTern(host, log);
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

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await _host.App.StopAsync(deadline.Token);
        }
        await _host.DisposeAsync();
    }

    private sealed class QueueLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new QueueLogger(lines, categoryName);

        public void Dispose()
        {
        }
    }

    private sealed class QueueLogger(ConcurrentQueue<string> lines, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            lines.Enqueue($"{logLevel}: {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
            while (lines.Count > MaxKeptLines) lines.TryDequeue(out _);
        }
    }
}
