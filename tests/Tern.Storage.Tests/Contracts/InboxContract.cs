using Tern.Core.Delivery;
using Tern.Core.Messages;

namespace Tern.Storage.Tests.Contracts;

/// <summary>What every <see cref="Tern.Core.Pipeline.IInboxStore"/> must do.</summary>
public abstract class InboxContract<TFactory> : StoreContract<TFactory>
    where TFactory : StoreFactory, new()
{
    [Fact]
    public async Task Append_commits_the_envelope_and_returns_its_sequence_number()
    {
        var envelope = new Envelope("in", "p-1", "chat-9", "bob", "hi there", "[{\"url\":\"https://example.test/a.png\"}]", 1_234_567);

        var result = await Stores.Inbox.AppendAsync(envelope, Ct);

        Assert.False(result.Duplicate);
        Assert.True(result.Seq > 0);
        var item = Assert.Single(await Stores.Inbox.ReadPendingAsync(0, 10, Ct));
        Assert.Equal(result.Seq, item.Seq);
        Assert.Equal(envelope, item.Envelope);
        Assert.Equal(1, Stores.Inbox.PendingCount);
    }

    [Fact]
    public async Task Optional_envelope_fields_round_trip_as_null()
    {
        var envelope = new Envelope("in", "p-1", "chat-1", null, null, "[\"https://example.test/x\"]", 5);

        await Stores.Inbox.AppendAsync(envelope, Ct);

        var item = Assert.Single(await Stores.Inbox.ReadPendingAsync(0, 10, Ct));
        Assert.Null(item.Envelope.Sender);
        Assert.Null(item.Envelope.Text);
        Assert.Equal(envelope, item.Envelope);
    }

    [Fact]
    public async Task Sequence_numbers_increase_with_each_append()
    {
        var seqs = new List<long>();
        for (var i = 0; i < 5; i++) seqs.Add(await AppendAsync());

        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(5, seqs.Distinct().Count());
    }

    [Fact]
    public async Task The_same_channel_and_platform_id_twice_is_a_duplicate_with_one_row()
    {
        var first = await Stores.Inbox.AppendAsync(Message("dup-1", text: "first"), Ct);
        var second = await Stores.Inbox.AppendAsync(Message("dup-1", text: "second"), Ct);

        Assert.False(first.Duplicate);
        Assert.True(second.Duplicate);
        Assert.Equal(first.Seq, second.Seq);
        Assert.Equal(1, await Stores.CountInboxRowsAsync("in", "dup-1", Ct));
        var item = Assert.Single(await Stores.Inbox.ReadPendingAsync(0, 10, Ct));
        Assert.Equal("first", item.Envelope.Text);
        Assert.Equal(1, Stores.Inbox.PendingCount);
    }

    [Fact]
    public async Task The_same_platform_id_on_another_channel_is_not_a_duplicate()
    {
        var a = await Stores.Inbox.AppendAsync(Message("42", channel: "in-a"), Ct);
        var b = await Stores.Inbox.AppendAsync(Message("42", channel: "in-b"), Ct);

        Assert.False(b.Duplicate);
        Assert.NotEqual(a.Seq, b.Seq);
        Assert.Equal(2, Stores.Inbox.PendingCount);
    }

    [Fact]
    public async Task A_redelivery_of_a_routed_message_is_still_a_duplicate_and_stays_routed()
    {
        var first = await Stores.Inbox.AppendAsync(Message("again"), Ct);
        await Stores.Outbox.CommitRoutedAsync([first.Seq], [], Ct);

        var second = await Stores.Inbox.AppendAsync(Message("again"), Ct);

        Assert.True(second.Duplicate);
        Assert.Equal(first.Seq, second.Seq);
        Assert.Empty(await Stores.Inbox.ReadPendingAsync(0, 10, Ct));
        Assert.Equal(0, Stores.Inbox.PendingCount);
    }

    [Fact]
    public async Task Concurrent_appends_from_many_tasks_are_all_committed_each_task_in_its_order()
    {
        const int Tasks = 50;
        const int PerTask = 20;
        var results = await Task.WhenAll(Enumerable.Range(0, Tasks).Select(t => Task.Run(async () =>
        {
            var mine = new List<InboxAppendResult>();
            for (var i = 0; i < PerTask; i++)
            {
                mine.Add(await Stores.Inbox.AppendAsync(Message($"t{t}-{i}", chat: $"chat-{t}"), Ct));
            }
            return mine;
        })));

        var all = results.SelectMany(r => r).ToList();
        Assert.All(all, r => Assert.False(r.Duplicate));
        Assert.Equal(Tasks * PerTask, all.Select(r => r.Seq).Distinct().Count());
        Assert.Equal(Tasks * PerTask, Stores.Inbox.PendingCount);
        Assert.Equal(Tasks * PerTask, await Stores.CountInboxRowsAsync(Ct));
        var pending = await Stores.Inbox.ReadPendingAsync(0, 10_000, Ct);
        Assert.Equal(all.Select(r => r.Seq).Order(), pending.Select(p => p.Seq));

        // Each task's messages keep their order: a later append of one task has a higher seq.
        foreach (var mine in results) Assert.Equal(mine.Select(r => r.Seq).Order(), mine.Select(r => r.Seq));
    }

    [Fact]
    public async Task ReadPending_returns_pages_in_sequence_order_after_the_cursor()
    {
        var seqs = new List<long>();
        for (var i = 0; i < 10; i++) seqs.Add(await AppendAsync(chat: $"chat-{i % 3}"));

        var read = new List<long>();
        long cursor = 0;
        var pages = 0;
        while (true)
        {
            var page = await Stores.Inbox.ReadPendingAsync(cursor, 4, Ct);
            if (page.Count == 0) break;
            Assert.True(page.Count <= 4);
            Assert.All(page, item => Assert.True(item.Seq > cursor));
            read.AddRange(page.Select(p => p.Seq));
            cursor = page[^1].Seq;
            pages++;
        }

        Assert.Equal(seqs, read);
        Assert.Equal(3, pages);
    }

    [Fact]
    public async Task ReadPending_leaves_out_routed_messages()
    {
        var seqs = new List<long>();
        for (var i = 0; i < 6; i++) seqs.Add(await AppendAsync());

        await Stores.Outbox.CommitRoutedAsync([seqs[1], seqs[3]], [], Ct);

        var pending = await Stores.Inbox.ReadPendingAsync(0, 100, Ct);
        Assert.Equal(new[] { seqs[0], seqs[2], seqs[4], seqs[5] }, pending.Select(p => p.Seq));
        Assert.Equal(4, Stores.Inbox.PendingCount);
        Assert.Equal(6, await Stores.CountInboxRowsAsync(Ct));
    }

    [Fact]
    public async Task WaitForAppend_completes_when_a_message_is_appended()
    {
        var wait = Stores.Inbox.WaitForAppendAsync(Timeout.InfiniteTimeSpan, Ct);

        await AppendAsync();

        // Without the wake-up the wait never ends; the guard only stops a hung test.
        await wait.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.True(wait.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Pending_count_is_rebuilt_from_storage_after_reopening()
    {
        var seqs = new List<long>();
        for (var i = 0; i < 5; i++) seqs.Add(await AppendAsync());
        await Stores.Outbox.CommitRoutedAsync([seqs[0], seqs[1]], [Delivery(seqs[0], new Lane("out", "c"), 1_000)], Ct);
        Assert.Equal(3, Stores.Inbox.PendingCount);

        await ReopenAsync();

        Assert.Equal(3, Stores.Inbox.PendingCount);
        Assert.Equal(seqs.Skip(2), (await Stores.Inbox.ReadPendingAsync(0, 100, Ct)).Select(p => p.Seq));
    }

    [Fact]
    public async Task A_duplicate_after_reopening_is_still_recognised()
    {
        var first = await Stores.Inbox.AppendAsync(Message("durable-id"), Ct);
        await ReopenAsync();

        var second = await Stores.Inbox.AppendAsync(Message("durable-id"), Ct);

        Assert.True(second.Duplicate);
        Assert.Equal(first.Seq, second.Seq);
        Assert.Equal(1, Stores.Inbox.PendingCount);
    }

    [Fact]
    public async Task Sequence_numbers_keep_increasing_after_reopening()
    {
        var before = await AppendAsync();
        await ReopenAsync();

        var after = await AppendAsync();

        Assert.True(after > before);
    }
}
