using Microsoft.Extensions.Logging;

namespace Tern.Core.Memory;

/// <summary>Restarts Tern asked for, kept in the database so the count survives the restart itself.</summary>
public interface IRestartLog
{
    Task RecordAsync(DateTimeOffset at, string reason, CancellationToken cancellationToken);

    Task<int> CountSinceAsync(DateTimeOffset since, CancellationToken cancellationToken);
}

/// <summary>Whether ingress should turn work away for now.</summary>
public interface ILoadShedding
{
    /// <summary>Null when accepting; else why not.</summary>
    string? SheddingReason { get; }
}

/// <summary>
/// At restart-level pressure: records a restart and asks the host to drain and exit with
/// <see cref="ExitCode"/> so systemd or Docker starts a fresh process — unless the hour's restarts
/// are spent, in which case Tern stays up and sheds load until pressure falls.
/// </summary>
public sealed partial class RestartCoordinator(IRestartLog log, int maxPerHour, Action<int> requestExit, TimeProvider time, ILogger<RestartCoordinator> logger)
    : ILoadShedding
{
    /// <summary>EX_TEMPFAIL: "try again"; distinct from a crash (1) and a usage error (2).</summary>
    public const int ExitCode = 75;

    private volatile bool _shedding;
    private volatile bool _exiting;

    public int MaxPerHour => maxPerHour;

    public bool Shedding => _shedding;

    public bool Exiting => _exiting;

    public string? SheddingReason => _shedding ? $"memory pressure; the restart limit of {maxPerHour} per hour is reached" : null;

    public Task<int> RestartsThisHourAsync(CancellationToken cancellationToken) => log.CountSinceAsync(time.GetUtcNow().AddHours(-1), cancellationToken);

    public async Task OnRestartLevelAsync(CancellationToken cancellationToken)
    {
        if (_exiting || _shedding) return;
        var now = time.GetUtcNow();
        var recent = await log.CountSinceAsync(now.AddHours(-1), cancellationToken).ConfigureAwait(false);
        if (recent >= maxPerHour)
        {
            _shedding = true;
            LogShedding(recent, maxPerHour);
            return;
        }
        await log.RecordAsync(now, "memory pressure", cancellationToken).ConfigureAwait(false);
        _exiting = true;
        LogRestarting(recent + 1, maxPerHour, ExitCode);
        requestExit(ExitCode);
    }

    public void OnRelieved()
    {
        if (!_shedding) return;
        _shedding = false;
        LogRecovered();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Restart-level memory pressure; restarts this hour: {Recent} of {Max}. Shedding load instead of restarting until pressure falls")]
    private partial void LogShedding(int recent, int max);

    [LoggerMessage(Level = LogLevel.Error, Message = "Restart-level memory pressure; draining and exiting (restart {Count} of {Max} this hour, exit code {ExitCode})")]
    private partial void LogRestarting(int count, int max, int exitCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Memory pressure is below critical again; accepting load")]
    private partial void LogRecovered();
}
