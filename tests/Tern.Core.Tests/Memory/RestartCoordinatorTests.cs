using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tern.Core.Memory;
using Tern.Core.Pipeline;
using Tern.Core.Tests.Doubles;

namespace Tern.Core.Tests.Memory;

public sealed class RestartCoordinatorTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryRestartLog _log = new();
    private readonly List<int> _exits = [];

    private RestartCoordinator Create(int maxPerHour = 2) =>
        new(_log, maxPerHour, code =>
        {
            lock (_exits) _exits.Add(code);
        }, _time, NullLogger<RestartCoordinator>.Instance);

    [Fact]
    public async Task Under_the_limit_a_restart_is_recorded_and_exit_75_requested()
    {
        var coordinator = Create();

        await coordinator.OnRestartLevelAsync(CancellationToken.None);

        Assert.Equal(new[] { 75 }, _exits);
        Assert.Equal(75, RestartCoordinator.ExitCode);
        var entry = Assert.Single(_log.Entries);
        Assert.Equal(_time.GetUtcNow(), entry.At);
        Assert.Equal("memory pressure", entry.Reason);
        Assert.True(coordinator.Exiting);
        Assert.False(coordinator.Shedding);
        Assert.Null(coordinator.SheddingReason);
        Assert.Equal(1, await coordinator.RestartsThisHourAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Once_exiting_further_restart_levels_record_nothing_more()
    {
        var coordinator = Create();

        await coordinator.OnRestartLevelAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(2));
        await coordinator.OnRestartLevelAsync(CancellationToken.None);
        await coordinator.OnRestartLevelAsync(CancellationToken.None);

        Assert.Single(_exits);
        Assert.Single(_log.Entries);
    }

    [Fact]
    public async Task Restarts_counted_across_processes_stop_at_the_limit_and_the_next_one_sheds_load()
    {
        // Each process has its own coordinator; the log (the database) is what they share.
        var first = Create();
        await first.OnRestartLevelAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(5));
        var second = Create();
        await second.OnRestartLevelAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(5));
        var third = Create();

        await third.OnRestartLevelAsync(CancellationToken.None);

        Assert.Equal(new[] { 75, 75 }, _exits);
        Assert.Equal(2, _log.Entries.Count);
        Assert.True(third.Shedding);
        Assert.False(third.Exiting);
        Assert.NotNull(third.SheddingReason);
        Assert.Contains("restart limit of 2 per hour", third.SheddingReason, StringComparison.Ordinal);
        Assert.Equal(2, await third.RestartsThisHourAsync(CancellationToken.None));

        // Repeated restart levels while shedding neither exit nor record.
        await third.OnRestartLevelAsync(CancellationToken.None);
        Assert.Equal(2, _exits.Count);
        Assert.Equal(2, _log.Entries.Count);
    }

    [Fact]
    public async Task While_shedding_the_ingress_gate_refuses_with_the_reason_and_accepts_again_after_relief()
    {
        await _log.RecordAsync(_time.GetUtcNow().AddMinutes(-30), "memory pressure", CancellationToken.None);
        var coordinator = Create(maxPerHour: 1);
        using var inbox = new InMemoryInboxStore();
        using var outbox = new InMemoryOutboxStore(inbox);
        var gate = new IngressGate(inbox, outbox, maxBacklog: 1000, coordinator);
        Assert.Null(gate.RefusalReason());

        await coordinator.OnRestartLevelAsync(CancellationToken.None);

        Assert.Empty(_exits);
        Assert.True(coordinator.Shedding);
        Assert.Equal(coordinator.SheddingReason, gate.RefusalReason());
        Assert.Contains("memory pressure", gate.RefusalReason(), StringComparison.Ordinal);

        coordinator.OnRelieved();

        Assert.False(coordinator.Shedding);
        Assert.Null(coordinator.SheddingReason);
        Assert.Null(gate.RefusalReason());
    }

    [Fact]
    public async Task Restarts_older_than_an_hour_do_not_count()
    {
        var now = _time.GetUtcNow();
        await _log.RecordAsync(now.AddMinutes(-61), "memory pressure", CancellationToken.None);
        await _log.RecordAsync(now.AddMinutes(-90), "memory pressure", CancellationToken.None);
        await _log.RecordAsync(now.AddMinutes(-59), "memory pressure", CancellationToken.None);
        var coordinator = Create(maxPerHour: 2);
        Assert.Equal(1, await coordinator.RestartsThisHourAsync(CancellationToken.None));

        await coordinator.OnRestartLevelAsync(CancellationToken.None);

        Assert.Equal(new[] { 75 }, _exits);
        Assert.False(coordinator.Shedding);
        Assert.Equal(2, await coordinator.RestartsThisHourAsync(CancellationToken.None));
    }

    [Fact]
    public async Task After_an_hour_the_spent_limit_is_available_again()
    {
        var shedding = Create(maxPerHour: 1);
        await _log.RecordAsync(_time.GetUtcNow(), "memory pressure", CancellationToken.None);
        await shedding.OnRestartLevelAsync(CancellationToken.None);
        Assert.True(shedding.Shedding);
        shedding.OnRelieved();

        _time.Advance(TimeSpan.FromMinutes(61));
        await shedding.OnRestartLevelAsync(CancellationToken.None);

        Assert.False(shedding.Shedding);
        Assert.Equal(new[] { 75 }, _exits);
        Assert.Equal(2, _log.Entries.Count);
    }

    [Fact]
    public async Task A_limit_of_zero_never_restarts_and_sheds_at_once()
    {
        var coordinator = Create(maxPerHour: 0);

        await coordinator.OnRestartLevelAsync(CancellationToken.None);

        Assert.Empty(_exits);
        Assert.Empty(_log.Entries);
        Assert.True(coordinator.Shedding);
        Assert.Equal(0, coordinator.MaxPerHour);
    }

    [Fact]
    public void OnRelieved_without_shedding_changes_nothing()
    {
        var coordinator = Create();

        coordinator.OnRelieved();

        Assert.False(coordinator.Shedding);
        Assert.False(coordinator.Exiting);
        Assert.Empty(_exits);
    }
}
