using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tern.Core.Catalog;
using Tern.Core.Messages;
using Tern.Core.Pipeline;
using Tern.Core.Tests.Doubles;

namespace Tern.Core.Tests;

public sealed class DispatcherTests : IDisposable
{
    private readonly InMemoryInboxStore _inbox = new();
    private readonly InMemoryOutboxStore _outbox;
    private readonly InMemoryCatalogStore _catalogStore = new();
    private readonly CatalogCache _catalog;
    private readonly PipelineCounters _counters = new();

    public DispatcherTests()
    {
        _outbox = new InMemoryOutboxStore(_inbox);
        _catalog = new CatalogCache(_catalogStore, TimeProvider.System, TimeSpan.FromMinutes(1));
    }

    public void Dispose()
    {
        _catalog.Dispose();
        _outbox.Dispose();
        _inbox.Dispose();
    }

    private async Task AddRouteAsync(params Destination[] destinations) =>
        await _catalogStore.AddRouteAsync(new RouteDefinition("r1", "in", null, destinations), CancellationToken.None);

    private async Task<List<long>> AppendAsync(int count, int chats)
    {
        var seqs = new List<long>(count);
        for (var i = 0; i < count; i++)
        {
            var result = await _inbox.AppendAsync(new Envelope("in", $"m{i}", $"chat-{i % chats}", null, $"text {i}", null, 1_000 + i), CancellationToken.None);
            seqs.Add(result.Seq);
        }
        return seqs;
    }

    private Dispatcher Create(DispatcherOptions options, TimeProvider? time = null) =>
        new(_inbox, _outbox, _catalog, options, _counters, time ?? TimeProvider.System, NullLogger<Dispatcher>.Instance);

    private static async Task RunUntilAsync(Dispatcher dispatcher, Func<bool> done, string what, Action? whileWaiting = null)
    {
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => dispatcher.RunAsync(stop.Token));
        try
        {
            await Wait.UntilAsync(() =>
            {
                whileWaiting?.Invoke();
                return done() || run.IsCompleted;
            }, what, timeoutSeconds: 120);
        }
        finally
        {
            await stop.CancelAsync();
            await run.GuardAsync();
        }
        Assert.True(done(), what);
    }

    [Fact]
    public async Task Never_holds_more_than_its_capacity_in_memory_while_draining_a_large_backlog()
    {
        await AddRouteAsync(new Destination("out", null));
        const int Backlog = 10_000;
        await AppendAsync(Backlog, chats: 50);
        var options = new DispatcherOptions { Capacity = 16, Workers = 2, PageSize = 64, BatchSize = 4 };
        var dispatcher = Create(options);
        var maxQueued = 0;
        void Sample() => maxQueued = Math.Max(maxQueued, dispatcher.Queued);
        _outbox.BeforeCommit = async () =>
        {
            Sample();
            await Task.Yield();
        };

        await RunUntilAsync(dispatcher, () => _inbox.PendingCount == 0, "the backlog routed", Sample);

        Assert.Equal(16, dispatcher.Capacity);
        Assert.InRange(maxQueued, 1, dispatcher.Capacity);
        // Read from the inbox and not yet routed: one page being handed over, the queue, and one batch per worker.
        Assert.InRange(_inbox.MaxReadNotRouted, 1, options.PageSize + options.Capacity + (options.Workers * options.BatchSize));
        Assert.Equal(Backlog, _counters.Routed);
        Assert.Equal(Backlog, _outbox.Committed.Count);
    }

    [Fact]
    public async Task Routes_everything_once_and_keeps_each_chats_order_with_several_workers()
    {
        await AddRouteAsync(new Destination("out", null), new Destination("audit", "all"));
        var seqs = await AppendAsync(2_000, chats: 20);
        var chatOf = new Dictionary<long, string>();
        for (var i = 0; i < seqs.Count; i++) chatOf[seqs[i]] = $"chat-{i % 20}";
        var dispatcher = Create(new DispatcherOptions { Capacity = 64, Workers = 4, PageSize = 50, BatchSize = 8 });
        _outbox.BeforeCommit = () => Task.Delay(Random.Shared.Next(0, 2));

        await RunUntilAsync(dispatcher, () => _inbox.PendingCount == 0, "all routed");

        var committed = _outbox.Committed;
        Assert.Equal(4_000, committed.Count);
        Assert.Equal(2_000, committed.Count(d => d.ChannelId == "out"));
        Assert.Equal(seqs.Order(), committed.Where(d => d.ChannelId == "out").Select(d => d.InboxSeq!.Value).Order());
        Assert.Equal(seqs.Order(), committed.Where(d => d.ChannelId == "audit").Select(d => d.InboxSeq!.Value).Order());
        Assert.All(committed.Where(d => d.ChannelId == "out"), d => Assert.Equal(chatOf[d.InboxSeq!.Value], d.Chat));
        Assert.All(committed.Where(d => d.ChannelId == "audit"), d => Assert.Equal("all", d.Chat));
        foreach (var chat in chatOf.Values.Distinct())
        {
            foreach (var channel in new[] { "out", "audit" })
            {
                var order = committed.Where(d => d.ChannelId == channel && chatOf[d.InboxSeq!.Value] == chat).Select(d => d.InboxSeq!.Value).ToList();
                Assert.Equal(order.Order(), order);
            }
        }
        Assert.Equal(2_000, _counters.Routed);
    }

    [Fact]
    public async Task A_message_no_route_matches_is_still_marked_routed()
    {
        await _catalogStore.AddRouteAsync(new RouteDefinition("r1", "in", ["chat-0"], [new Destination("out", null)]), CancellationToken.None);
        await AppendAsync(10, chats: 2);

        await RunUntilAsync(Create(new DispatcherOptions { Capacity = 8, Workers = 2 }), () => _inbox.PendingCount == 0, "all routed");

        Assert.Equal(5, _outbox.Committed.Count);
        Assert.All(_outbox.Committed, d => Assert.Equal("chat-0", d.Chat));
        Assert.Equal(10, _counters.Routed);
    }

    [Fact]
    public async Task Messages_appended_while_running_are_picked_up()
    {
        await AddRouteAsync(new Destination("out", null));
        var dispatcher = Create(new DispatcherOptions { Capacity = 8, Workers = 2 });
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => dispatcher.RunAsync(stop.Token));
        await Wait.UntilAsync(() => _inbox.Reads > 0, "the first read");

        await AppendAsync(25, chats: 3);
        await Wait.UntilAsync(() => _inbox.PendingCount == 0, "the new messages routed");
        await stop.CancelAsync();
        await run.GuardAsync();

        Assert.Equal(25, _outbox.Committed.Count);
        Assert.False(dispatcher.Running);
    }

    [Fact]
    public async Task A_failed_commit_leaves_the_messages_pending_and_they_are_routed_later_in_order()
    {
        await AddRouteAsync(new Destination("out", null));
        var seqs = await AppendAsync(100, chats: 1);
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
        var dispatcher = Create(new DispatcherOptions { Capacity = 16, Workers = 1, PageSize = 16, BatchSize = 4 }, time);
        var failures = 0;
        _outbox.BeforeCommit = () =>
        {
            if (Interlocked.Increment(ref failures) == 1) throw new IOException("disk I/O error");
            return Task.CompletedTask;
        };

        // The dispatcher waits a second (on its clock) after a failure.
        await RunUntilAsync(dispatcher, () => _inbox.PendingCount == 0, "all routed after the failure", () => time.Advance(TimeSpan.FromMilliseconds(100)));

        Assert.True(failures > 1);
        Assert.Equal(seqs, _outbox.Committed.Select(d => d.InboxSeq!.Value));
        Assert.Equal(100, _counters.Routed);
    }

    [Fact]
    public async Task A_failed_inbox_read_is_retried()
    {
        await AddRouteAsync(new Destination("out", null));
        await AppendAsync(10, chats: 2);
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
        var reads = 0;
        _inbox.BeforeRead = () =>
        {
            if (Interlocked.Increment(ref reads) == 1) throw new IOException("database is locked");
        };

        await RunUntilAsync(Create(new DispatcherOptions(), time), () => _inbox.PendingCount == 0, "all routed after the failed read", () => time.Advance(TimeSpan.FromMilliseconds(100)));

        Assert.Equal(10, _outbox.Committed.Count);
    }

    [Fact]
    public async Task Routed_payloads_carry_the_message_and_its_source()
    {
        await AddRouteAsync(new Destination("out", "fixed"));
        await _inbox.AppendAsync(new Envelope("in", "id-1", "c1", "bob", "hey", null, 42), CancellationToken.None);

        await RunUntilAsync(Create(new DispatcherOptions()), () => _inbox.PendingCount == 0, "routed");

        var delivery = Assert.Single(_outbox.Committed);
        Assert.Equal(("r1", "out", "fixed"), (delivery.RouteId, delivery.ChannelId, delivery.Chat));
        using var json = JsonDocument.Parse(delivery.Payload);
        Assert.Equal("hey", json.RootElement.GetProperty("text").GetString());
        Assert.Equal("id-1", json.RootElement.GetProperty("source").GetProperty("id").GetString());
    }

    [Theory]
    [InlineData(0, 16)]
    [InlineData(2, 0)]
    public void Workers_and_capacity_below_one_are_refused(int workers, int capacity) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Create(new DispatcherOptions { Workers = workers, Capacity = capacity }));

    [Fact]
    public async Task Albums_are_routed_whole_before_their_chat_moves_on_and_a_quiet_one_waits_for_its_quiet_time()
    {
        await AddRouteAsync(new Destination("out", null));
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
        async Task<long> Add(string id, string chat, string? group) =>
            (await _inbox.AppendAsync(new Envelope("in", id, chat, null, id, """[{"type":"photo","file_id":"f"}]""", 1, MessageKind.Message, id, null, group), CancellationToken.None)).Seq;
        var a1 = await Add("a1", "A", "ga");
        await Add("b1", "B", "gb");
        var a2 = await Add("a2", "A", "ga");
        await Add("b2", "B", "gb");
        var a3 = await Add("a3", "A", "ga");
        var after = await Add("a-next", "A", null);
        var dispatcher = Create(new DispatcherOptions { Workers = 1, AlbumQuiet = TimeSpan.FromSeconds(1) }, time);

        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => dispatcher.RunAsync(stop.Token));
        try
        {
            // Chat A moved on, so its album is complete at once; chat B's album waits on the (fake) clock.
            await Wait.UntilAsync(() => _outbox.Committed.Count == 2, "chat A's album and its next message");
            Assert.Equal([a1, after], _outbox.Committed.Select(d => d.InboxSeq!.Value));
            var album = JsonDocument.Parse(_outbox.Committed[0].Payload).RootElement.GetProperty("album");
            Assert.Equal(["a1", "a2", "a3"], album.EnumerateArray().Select(i => i.GetProperty("message_id").GetString()));
            Assert.Equal(2, _inbox.PendingCount);
            Assert.Equal(1, dispatcher.Albums.Count);

            time.Advance(TimeSpan.FromSeconds(1));
            await Wait.UntilAsync(() => _outbox.Committed.Count == 3, "chat B's album after its quiet second");
            Assert.Equal(["b1", "b2"], JsonDocument.Parse(_outbox.Committed[2].Payload).RootElement.GetProperty("album").EnumerateArray().Select(i => i.GetProperty("message_id").GetString()));
            Assert.Equal(0, _inbox.PendingCount);
            Assert.Equal(0, dispatcher.Albums.Count);
            Assert.Equal(6, _counters.Routed);
            _ = (a2, a3);
        }
        finally
        {
            await stop.CancelAsync();
            await run.GuardAsync();
        }
    }

    [Fact]
    public async Task An_open_album_is_left_pending_in_the_inbox_when_the_dispatcher_stops()
    {
        await AddRouteAsync(new Destination("out", null));
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
        await _inbox.AppendAsync(new Envelope("in", "x1", "A", null, "x", null, 1, MessageKind.Message, "1", null, "g"), CancellationToken.None);
        var dispatcher = Create(new DispatcherOptions { Workers = 1 }, time);
        using (var stop = new CancellationTokenSource())
        {
            var run = Task.Run(() => dispatcher.RunAsync(stop.Token));
            await Wait.UntilAsync(() => dispatcher.Albums.Count == 1, "the album is open");
            await stop.CancelAsync();
            await run.GuardAsync();
        }
        Assert.Equal(1, _inbox.PendingCount);
        Assert.Empty(_outbox.Committed);
        Assert.Equal(0, dispatcher.Albums.Count);
    }
}
