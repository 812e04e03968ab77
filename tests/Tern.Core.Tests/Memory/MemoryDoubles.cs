using Microsoft.Extensions.Logging;
using Tern.Core.Memory;

namespace Tern.Core.Tests.Memory;

/// <summary>A memory reader whose resident size the test sets; every read is counted.</summary>
internal sealed class FakeMemoryReader : IMemoryReader
{
    private long _resident;
    private int _reads;

    public long ResidentBytes
    {
        get => Interlocked.Read(ref _resident);
        set => Interlocked.Exchange(ref _resident, value);
    }

    public int Reads => Volatile.Read(ref _reads);

    public MemorySample Read()
    {
        Interlocked.Increment(ref _reads);
        var resident = ResidentBytes;
        return new MemorySample(resident, resident, resident / 2, resident / 2, 0, 1, 1, 1, 10);
    }
}

/// <summary>Pressure actions that only record what was asked of them, in order.</summary>
internal sealed class RecordingPressureActions : IPressureActions
{
    private readonly Lock _lock = new();
    private readonly List<string> _calls = [];

    /// <summary>Runs on each restart-level call (e.g. a real <see cref="RestartCoordinator"/>).</summary>
    public Func<CancellationToken, Task>? OnRestart { get; init; }

    public Action? OnRelief { get; init; }

    public IReadOnlyList<string> Calls
    {
        get
        {
            lock (_lock) return [.. _calls];
        }
    }

    public int Count(string call)
    {
        lock (_lock) return _calls.Count(c => c == call);
    }

    private int _compactions;

    /// <summary>Counted apart from <see cref="Calls"/>: every critical relief compacts, and the call order asserts the rest.</summary>
    public int Compactions => Volatile.Read(ref _compactions);

    public void CompactHeap() => Interlocked.Increment(ref _compactions);

    public void ShrinkPools() => Record("shrink");

    public Task OnRestartLevelAsync(CancellationToken cancellationToken)
    {
        Record("restart");
        return OnRestart?.Invoke(cancellationToken) ?? Task.CompletedTask;
    }

    public void OnRelieved()
    {
        Record("relieved");
        OnRelief?.Invoke();
    }

    private void Record(string call)
    {
        lock (_lock) _calls.Add(call);
    }
}

/// <summary>A restart log that really keeps the timestamps, like the database table does.</summary>
internal sealed class InMemoryRestartLog : IRestartLog
{
    private readonly Lock _lock = new();
    private readonly List<(DateTimeOffset At, string Reason)> _entries = [];

    public IReadOnlyList<(DateTimeOffset At, string Reason)> Entries
    {
        get
        {
            lock (_lock) return [.. _entries];
        }
    }

    public Task RecordAsync(DateTimeOffset at, string reason, CancellationToken cancellationToken)
    {
        lock (_lock) _entries.Add((at, reason));
        return Task.CompletedTask;
    }

    public Task<int> CountSinceAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        lock (_lock) return Task.FromResult(_entries.Count(e => e.At >= since));
    }
}

/// <summary>A logger that keeps every entry (level and formatted message).</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly Lock _lock = new();
    private readonly List<(LogLevel Level, string Message)> _entries = [];

    public IReadOnlyList<(LogLevel Level, string Message)> Entries
    {
        get
        {
            lock (_lock) return [.. _entries];
        }
    }

    public int CountContaining(string text) => Entries.Count(e => e.Message.Contains(text, StringComparison.Ordinal));

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lock) _entries.Add((logLevel, formatter(state, exception)));
    }
}
