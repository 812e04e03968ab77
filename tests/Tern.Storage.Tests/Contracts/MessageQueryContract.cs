using System.Buffers;
using System.Globalization;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Events;
using Tern.Core.Messages;
using Tern.Core.Tenancy;

namespace Tern.Storage.Tests.Contracts;

/// <summary>
/// What every <see cref="IMessageQueries"/> must do: the REST API's read models over the inbox and the outbox, each
/// scoped to one tenant. The data is written through the store interfaces; only a channel's creation time is set with
/// plain SQL (the catalog stamps the wall clock), so that message times can be small fixed numbers.
/// </summary>
public abstract class MessageQueryContract<TFactory> : StoreContract<TFactory>
    where TFactory : StoreFactory, new()
{
    private const string Acme = "acme";
    private const string Globex = "globex";
    private static readonly Lane AcmeOut = new("acme-out", "chat-1");

    // --- fields and statuses ---------------------------------------------------------------------------------------

    [Fact]
    public async Task An_inbound_message_is_in_seq_received_with_every_field_until_it_is_routed()
    {
        await ChannelAsync("acme-in", Acme);
        const string attachments = "[{\"type\":\"photo\",\"file_id\":\"f-1\"}]";
        var seq = await ReceiveAsync("acme-in", "chat-1", 10_000, text: "hi there", sender: "alice", attachments: attachments, platformId: "update-42");

        var listed = Assert.Single((await ListAsync(Acme)).Items);
        var expected = new MessageView("in_" + seq.ToString(CultureInfo.InvariantCulture), MessageDirection.In, "acme-in", "chat-1", "received", "update-42",
            "hi there", "alice", attachments, null, 0, null, At(10_000), At(10_000));
        Assert.Equal(expected, listed);
        var got = await GetAsync(Acme, listed.Id);
        Assert.Equal(expected, got.Message);
        Assert.Equal([new MessageStatusChange(At(10_000), "received", null)], got.History);

        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Stores.Outbox.CommitRoutedAsync([seq], [], Ct);
        var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var routed = Assert.Single((await ListAsync(Acme)).Items);
        Assert.Equal("routed", routed.Status);
        Assert.Equal(At(10_000), routed.CreatedAt);
        Assert.InRange(routed.UpdatedAt.ToUnixTimeMilliseconds(), before, after);
        Assert.Equal(expected with { Status = "routed", UpdatedAt = routed.UpdatedAt }, routed);
        var history = (await GetAsync(Acme, routed.Id)).History;
        Assert.Equal([new MessageStatusChange(At(10_000), "received", null), new MessageStatusChange(routed.UpdatedAt, "routed", null)], history);
    }

    [Fact]
    public async Task An_inbound_message_without_text_sender_or_attachments_has_nulls()
    {
        await ChannelAsync("acme-in", Acme);
        var seq = await ReceiveAsync("acme-in", "chat-1", 10_000, text: null, sender: null, attachments: null);

        var view = (await GetAsync(Acme, "in_" + seq.ToString(CultureInfo.InvariantCulture))).Message;

        Assert.Equal((null, null, null, null, null), (view.Text, view.Sender, view.AttachmentsJson, view.Payload, view.LastError));
    }

    [Fact]
    public async Task A_routed_delivery_is_out_id_queued_with_its_payload_and_the_payloads_text_but_no_sender_or_attachments()
    {
        await ChannelAsync("acme-in", Acme);
        await ChannelAsync("acme-out", Acme);
        var seq = await ReceiveAsync("acme-in", "chat-1", 10_000);
        var payload = Payload("chat-9", "the copy", attachments: "[{\"type\":\"photo\",\"file_id\":\"f-1\"}]");

        var id = await RouteAsync(seq, new Lane("acme-out", "chat-9"), 20_000, payload);

        var expected = new MessageView(Out(id), MessageDirection.Out, "acme-out", "chat-9", "queued", null, "the copy", null, null, payload, 0, null, At(20_000), At(20_000));
        var page = await ListAsync(Acme, direction: MessageDirection.Out);
        Assert.Equal(expected, Assert.Single(page.Items));
        var got = await GetAsync(Acme, Out(id));
        Assert.Equal(expected, got.Message);
        Assert.Equal([new MessageStatusChange(At(20_000), "queued", null)], got.History);
    }

    [Fact]
    public async Task An_api_send_is_listed_like_a_routed_delivery_and_a_payload_without_text_has_null_text()
    {
        await ChannelAsync("acme-out", Acme);
        var withText = await EnqueueAsync("acme-out", "chat-1", 5_000, Payload("chat-1", "from the api"));
        var withoutText = await EnqueueAsync("acme-out", "chat-1", 6_000, Payload("chat-1", null));

        var items = (await ListAsync(Acme)).Items;

        Assert.Equal([Out(withoutText), Out(withText)], items.Select(m => m.Id));
        Assert.Equal(("queued", "from the api"), (items[1].Status, items[1].Text));
        Assert.Equal(("queued", (string?)null), (items[0].Status, items[0].Text));
        Assert.All(items, m => Assert.Equal(MessageDirection.Out, m.Direction));
    }

    [Fact]
    public async Task Retries_make_a_delivery_retrying_and_sending_it_makes_it_sent_with_every_attempt_in_its_history()
    {
        await ChannelAsync("acme-out", Acme);
        var id = await EnqueueAsync(AcmeOut.ChannelId, AcmeOut.Chat, 20_000, Payload(AcmeOut.Chat, "x"));

        await Stores.Outbox.ScheduleRetryAsync(id, AcmeOut, 31_000, "HTTP 503", 30_000, Ct);
        var retrying = (await GetAsync(Acme, Out(id))).Message;
        Assert.Equal(("retrying", 1, "HTTP 503", At(20_000), At(30_000)), (retrying.Status, retrying.Attempts, retrying.LastError, retrying.CreatedAt, retrying.UpdatedAt));

        await Stores.Outbox.ScheduleRetryAsync(id, AcmeOut, 41_000, "timeout", 40_000, Ct);
        await Stores.Outbox.MarkSentAsync(id, "pm-7", 50_000, [], [], Ct);

        var (sent, history) = await GetAsync(Acme, Out(id));
        Assert.Equal(("sent", 3, (string?)null, "pm-7", At(50_000)), (sent.Status, sent.Attempts, sent.LastError, sent.PlatformId, sent.UpdatedAt));
        Assert.Equal(
            [
                new MessageStatusChange(At(20_000), "queued", null),
                new MessageStatusChange(At(30_000), "retrying", "HTTP 503"),
                new MessageStatusChange(At(40_000), "retrying", "timeout"),
                new MessageStatusChange(At(50_000), "sent", null),
            ],
            history);
        Assert.Equal(sent, Assert.Single((await ListAsync(Acme)).Items));
    }

    [Fact]
    public async Task A_delivery_that_fails_for_good_is_failed_with_its_reason_as_last_error_and_last_history_entry()
    {
        await ChannelAsync("acme-out", Acme);
        var direct = await EnqueueAsync(AcmeOut.ChannelId, AcmeOut.Chat, 20_000, Payload(AcmeOut.Chat, "a"));
        var afterRetry = await EnqueueAsync(AcmeOut.ChannelId, "chat-2", 20_000, Payload("chat-2", "b"));

        await Stores.Outbox.MarkFailedAsync(direct, "HTTP 400 chat not found", 25_000, [], Ct);
        await Stores.Outbox.ScheduleRetryAsync(afterRetry, new Lane(AcmeOut.ChannelId, "chat-2"), 31_000, "HTTP 502", 30_000, Ct);
        await Stores.Outbox.MarkFailedAsync(afterRetry, "HTTP 403 blocked", 35_000, [], Ct);

        var (first, firstHistory) = await GetAsync(Acme, Out(direct));
        Assert.Equal(("failed", 1, "HTTP 400 chat not found", (string?)null, At(25_000)), (first.Status, first.Attempts, first.LastError, first.PlatformId, first.UpdatedAt));
        Assert.Equal([new MessageStatusChange(At(20_000), "queued", null), new MessageStatusChange(At(25_000), "failed", "HTTP 400 chat not found")], firstHistory);

        var (second, secondHistory) = await GetAsync(Acme, Out(afterRetry));
        Assert.Equal(("failed", 2, "HTTP 403 blocked"), (second.Status, second.Attempts, second.LastError));
        Assert.Equal(
            [
                new MessageStatusChange(At(20_000), "queued", null),
                new MessageStatusChange(At(30_000), "retrying", "HTTP 502"),
                new MessageStatusChange(At(35_000), "failed", "HTTP 403 blocked"),
            ],
            secondHistory);
    }

    [Fact]
    public async Task A_long_error_comes_back_cut_to_1000_characters_in_the_view_and_the_history()
    {
        await ChannelAsync("acme-out", Acme);
        var retried = await EnqueueAsync(AcmeOut.ChannelId, AcmeOut.Chat, 20_000, Payload(AcmeOut.Chat, "a"));
        var failed = await EnqueueAsync(AcmeOut.ChannelId, "chat-2", 20_000, Payload("chat-2", "b"));
        var error = string.Concat(Enumerable.Repeat("0123456789", 150));

        await Stores.Outbox.ScheduleRetryAsync(retried, AcmeOut, 31_000, error, 30_000, Ct);
        await Stores.Outbox.MarkFailedAsync(failed, error, 30_000, [], Ct);

        var (view, history) = await GetAsync(Acme, Out(retried));
        Assert.Equal(error[..1000], view.LastError);
        Assert.Equal(error[..1000], history[^1].Detail);
        var (failedView, failedHistory) = await GetAsync(Acme, Out(failed));
        Assert.Equal(error[..1000], failedView.LastError);
        Assert.Equal(error[..1000], failedHistory[^1].Detail);
    }

    [Fact]
    public async Task History_lists_attempts_by_their_time_and_attempts_of_the_same_millisecond_in_the_order_they_were_recorded()
    {
        await ChannelAsync("acme-out", Acme);
        var id = await EnqueueAsync(AcmeOut.ChannelId, AcmeOut.Chat, 20_000, Payload(AcmeOut.Chat, "x"));

        await Stores.Outbox.ScheduleRetryAsync(id, AcmeOut, 41_000, "recorded first, later", 40_000, Ct);
        await Stores.Outbox.ScheduleRetryAsync(id, AcmeOut, 31_000, "recorded second, earlier", 30_000, Ct);
        await Stores.Outbox.ScheduleRetryAsync(id, AcmeOut, 51_000, "tie one", 50_000, Ct);
        await Stores.Outbox.ScheduleRetryAsync(id, AcmeOut, 51_000, "tie two", 50_000, Ct);
        await Stores.Outbox.ScheduleRetryAsync(id, AcmeOut, 51_000, "tie three", 50_000, Ct);

        var (view, history) = await GetAsync(Acme, Out(id));

        Assert.Equal(["queued", "recorded second, earlier", "recorded first, later", "tie one", "tie two", "tie three"], history.Select(h => h.Detail ?? h.Status));
        Assert.Equal([20_000L, 30_000, 40_000, 50_000, 50_000, 50_000], history.Select(h => h.At.ToUnixTimeMilliseconds()));
        Assert.Equal(("retrying", 5, "tie three"), (view.Status, view.Attempts, view.LastError));
    }

    // --- order and paging ------------------------------------------------------------------------------------------

    [Fact]
    public async Task The_list_is_newest_first_and_at_the_same_time_inbound_before_outbound_and_higher_ids_first()
    {
        await ChannelAsync("acme-in", Acme);
        await ChannelAsync("acme-out", Acme);
        var in1000 = await ReceiveAsync("acme-in", "chat-1", 1_000);
        var in3000 = await ReceiveAsync("acme-in", "chat-1", 3_000);
        var in4000a = await ReceiveAsync("acme-in", "chat-1", 4_000);
        var in4000b = await ReceiveAsync("acme-in", "chat-2", 4_000);
        var out3000 = await EnqueueAsync("acme-out", "chat-1", 3_000, Payload("chat-1", "a"));
        var out2000 = await EnqueueAsync("acme-out", "chat-1", 2_000, Payload("chat-1", "b"));
        var out3000b = await EnqueueAsync("acme-out", "chat-2", 3_000, Payload("chat-2", "c"));

        var page = await ListAsync(Acme);

        Assert.Equal([In(in4000b), In(in4000a), In(in3000), Out(out3000b), Out(out3000), Out(out2000), In(in1000)], page.Items.Select(m => m.Id));
        Assert.Equal(7, page.Total);
    }

    [Fact]
    public async Task Paging_returns_page_size_items_a_page_and_the_total_counts_every_match_on_every_page()
    {
        await ChannelAsync("acme-in", Acme);
        await ChannelAsync("acme-out", Acme);
        // In at 1000, 1200, 1400, 1600; out at 1100, 1300, 1500: newest first they alternate.
        var ins = new List<string>();
        var outs = new List<string>();
        for (var i = 0; i < 4; i++) ins.Add(In(await ReceiveAsync("acme-in", "chat-1", 1_000 + (i * 200))));
        for (var i = 0; i < 3; i++) outs.Add(Out(await EnqueueAsync("acme-out", "chat-1", 1_100 + (i * 200), Payload("chat-1", "x"))));
        List<string> all = [ins[3], outs[2], ins[2], outs[1], ins[1], outs[0], ins[0]];
        Assert.Equal(all, (await ListAsync(Acme, pageSize: 50)).Items.Select(m => m.Id));

        var pages = new List<PageOf<MessageView>>();
        for (var page = 1; page <= 4; page++) pages.Add(await ListAsync(Acme, page: page, pageSize: 3));

        Assert.Equal(all[..3], pages[0].Items.Select(m => m.Id));
        Assert.Equal(all[3..6], pages[1].Items.Select(m => m.Id));
        Assert.Equal(all[6..], pages[2].Items.Select(m => m.Id));
        Assert.Empty(pages[3].Items);
        Assert.All(pages, p => Assert.Equal(7, p.Total));
        Assert.Equal([1, 2, 3, 4], pages.Select(p => p.Page));
        Assert.All(pages, p => Assert.Equal(3, p.PageSize));

        var filtered = await ListAsync(Acme, direction: MessageDirection.Out, page: 2, pageSize: 2);
        Assert.Equal(3, filtered.Total);
        Assert.Single(filtered.Items);
    }

    // --- filters ---------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Channel_direction_status_and_chat_filter_and_combine_and_the_total_counts_the_filtered_rows()
    {
        await ChannelAsync("acme-in", Acme);
        await ChannelAsync("acme-out", Acme);
        await ChannelAsync("acme-other", Acme);
        var received = await ReceiveAsync("acme-in", "c1", 1_000);
        var routedSeq = await ReceiveAsync("acme-in", "c2", 2_000);
        var elsewhere = await ReceiveAsync("acme-other", "c1", 3_000);
        await Stores.Outbox.CommitRoutedAsync([routedSeq],
            [
                Delivery(routedSeq, new Lane("acme-out", "c1"), 4_000, Payload("c1", "q")),
                Delivery(routedSeq, new Lane("acme-out", "c1"), 5_000, Payload("c1", "r")),
                Delivery(routedSeq, new Lane("acme-out", "c2"), 6_000, Payload("c2", "s")),
                Delivery(routedSeq, new Lane("acme-out", "c2"), 7_000, Payload("c2", "f")),
            ], Ct);
        var c1 = await Stores.Outbox.ReadLaneAsync(new Lane("acme-out", "c1"), 10, Ct);
        var c2 = await Stores.Outbox.ReadLaneAsync(new Lane("acme-out", "c2"), 10, Ct);
        var (queued, retrying, sent, failed) = (c1[0].Id, c1[1].Id, c2[0].Id, c2[1].Id);
        await Stores.Outbox.ScheduleRetryAsync(retrying, new Lane("acme-out", "c1"), 9_000, "HTTP 500", 8_000, Ct);
        await Stores.Outbox.MarkSentAsync(sent, "p-1", 8_000, [], [], Ct);
        await Stores.Outbox.MarkFailedAsync(failed, "HTTP 400", 8_000, [], Ct);
        var (rcv, rtd, oth) = (In(received), In(routedSeq), In(elsewhere));
        var (q, r, s, f) = (Out(queued), Out(retrying), Out(sent), Out(failed));

        await AssertListed([f, s, r, q, oth, rtd, rcv], await ListAsync(Acme));
        await AssertListed([f, s, r, q], await ListAsync(Acme, channel: "acme-out"));
        await AssertListed([rtd, rcv], await ListAsync(Acme, channel: "acme-in"));
        await AssertListed([oth, rtd, rcv], await ListAsync(Acme, direction: MessageDirection.In));
        await AssertListed([f, s, r, q], await ListAsync(Acme, direction: MessageDirection.Out));
        await AssertListed([oth, rcv], await ListAsync(Acme, status: "received"));
        await AssertListed([rtd], await ListAsync(Acme, status: "routed"));
        await AssertListed([q], await ListAsync(Acme, status: "queued"));
        await AssertListed([r], await ListAsync(Acme, status: "retrying"));
        await AssertListed([s], await ListAsync(Acme, status: "sent"));
        await AssertListed([f], await ListAsync(Acme, status: "failed"));
        await AssertListed([r, q, oth, rcv], await ListAsync(Acme, chat: "c1"));
        await AssertListed([rtd], await ListAsync(Acme, channel: "acme-in", chat: "c2"));
        await AssertListed([r], await ListAsync(Acme, direction: MessageDirection.Out, chat: "c1", status: "retrying"));
        await AssertListed([], await ListAsync(Acme, direction: MessageDirection.In, status: "sent"));
        await AssertListed([], await ListAsync(Acme, status: "delivered"));
        await AssertListed([], await ListAsync(Acme, chat: "C1"));
        await AssertListed([], await ListAsync(Acme, channel: "no-such-channel"));
    }

    [Fact]
    public async Task Since_is_inclusive_and_until_exclusive_and_both_compare_the_creation_time_not_the_last_update()
    {
        await ChannelAsync("acme-in", Acme);
        await ChannelAsync("acme-out", Acme);
        var in1 = In(await ReceiveAsync("acme-in", "chat-1", 1_000));
        var in2 = In(await ReceiveAsync("acme-in", "chat-1", 2_000));
        var in3 = In(await ReceiveAsync("acme-in", "chat-1", 3_000));
        var outId = await EnqueueAsync(AcmeOut.ChannelId, AcmeOut.Chat, 2_000, Payload(AcmeOut.Chat, "x"));
        await Stores.Outbox.MarkSentAsync(outId, null, 9_000, [], [], Ct);
        var out2 = Out(outId);

        await AssertListed([in3, in2, out2], await ListAsync(Acme, since: 2_000));
        await AssertListed([in3], await ListAsync(Acme, since: 2_001));
        await AssertListed([in2, out2, in1], await ListAsync(Acme, until: 3_000));
        await AssertListed([in1], await ListAsync(Acme, until: 2_000));
        await AssertListed([in2, out2], await ListAsync(Acme, since: 2_000, until: 3_000));
        await AssertListed([in2, out2], await ListAsync(Acme, since: 1_001, until: 2_001));
        await AssertListed([], await ListAsync(Acme, since: 2_000, until: 2_000));
        await AssertListed([], await ListAsync(Acme, since: 5_000));
        await AssertListed([out2], await ListAsync(Acme, direction: MessageDirection.Out, since: 2_000, until: 2_001));
    }

    // --- tenant scoping --------------------------------------------------------------------------------------------

    [Fact]
    public async Task Another_tenants_messages_are_never_listed_or_got()
    {
        await ChannelAsync("acme-in", Acme);
        await ChannelAsync("globex-in", Globex);
        var acmeIn = In(await ReceiveAsync("acme-in", "shared-chat", 1_000));
        var acmeOut = Out(await EnqueueAsync("acme-in", "shared-chat", 2_000, Payload("shared-chat", "acme words")));
        var globexIn = In(await ReceiveAsync("globex-in", "shared-chat", 1_500));
        var globexOut = Out(await EnqueueAsync("globex-in", "shared-chat", 2_500, Payload("shared-chat", "globex words"), Globex));

        await AssertListed([acmeOut, acmeIn], await ListAsync(Acme));
        await AssertListed([globexOut, globexIn], await ListAsync(Globex), Globex);
        await AssertListed([], await ListAsync(Acme, channel: "globex-in"));
        await AssertListed([acmeOut, acmeIn], await ListAsync(Acme, chat: "shared-chat"));
        await AssertListed([], await ListAsync("nobody"));

        Assert.Null(await Stores.Messages.GetAsync(Acme, globexIn, Ct));
        Assert.Null(await Stores.Messages.GetAsync(Acme, globexOut, Ct));
        Assert.Null(await Stores.Messages.GetAsync(Globex, acmeIn, Ct));
        Assert.Null(await Stores.Messages.GetAsync(Globex, acmeOut, Ct));
        Assert.Null(await Stores.Messages.GetAsync("nobody", acmeIn, Ct));
        Assert.Equal("globex words", (await GetAsync(Globex, globexOut)).Message.Text);
        Assert.Equal(acmeIn, (await GetAsync(Acme, acmeIn)).Message.Id);
    }

    [Fact]
    public async Task Messages_of_a_channel_no_tenant_has_are_not_listed()
    {
        await ChannelAsync("acme-in", Acme);
        var mine = In(await ReceiveAsync("acme-in", "chat-1", 1_000));
        var stray = await ReceiveAsync("unknown-channel", "chat-1", 1_000);
        var strayOut = await EnqueueAsync("unknown-channel", "chat-1", 1_000, Payload("chat-1", "x"));

        await AssertListed([mine], await ListAsync(Acme));
        Assert.Null(await Stores.Messages.GetAsync(Acme, In(stray), Ct));
        Assert.Null(await Stores.Messages.GetAsync(Acme, Out(strayOut), Ct));
    }

    [Fact]
    public async Task Rows_from_before_the_channel_was_created_are_hidden_and_a_reused_channel_id_does_not_bring_them_to_its_new_owner()
    {
        await ChannelAsync("shared", Acme, createdAtMs: 1_000);
        var tooEarlyIn = In(await ReceiveAsync("shared", "chat-1", 999));
        var atCreationIn = In(await ReceiveAsync("shared", "chat-1", 1_000));
        var tooEarlyOut = Out(await EnqueueAsync("shared", "chat-1", 999, Payload("chat-1", "early")));
        var atCreationOut = Out(await EnqueueAsync("shared", "chat-1", 1_000, Payload("chat-1", "acme private")));

        await AssertListed([atCreationIn, atCreationOut], await ListAsync(Acme));
        await AssertListed([atCreationIn, atCreationOut], await ListAsync(Acme, channel: "shared"));
        Assert.Null(await Stores.Messages.GetAsync(Acme, tooEarlyIn, Ct));
        Assert.Null(await Stores.Messages.GetAsync(Acme, tooEarlyOut, Ct));
        Assert.Equal(1, (await Stores.Messages.ChannelStatusAsync("shared", 2_000, Ct)).Pending);

        Assert.True(await Stores.Catalog.RemoveChannelAsync("shared", Ct));
        await AssertListed([], await ListAsync(Acme));
        Assert.Null(await Stores.Messages.GetAsync(Acme, atCreationIn, Ct));

        await ChannelAsync("shared", Globex, createdAtMs: 5_000);
        var globexIn = In(await ReceiveAsync("shared", "chat-1", 5_000));
        var globexOut = Out(await EnqueueAsync("shared", "chat-1", 6_000, Payload("chat-1", "globex"), Globex));

        await AssertListed([globexOut, globexIn], await ListAsync(Globex), Globex);
        await AssertListed([globexOut, globexIn], await ListAsync(Globex, channel: "shared"), Globex);
        await AssertListed([], await ListAsync(Acme));
        foreach (var old in new[] { tooEarlyIn, atCreationIn, tooEarlyOut, atCreationOut })
        {
            Assert.Null(await Stores.Messages.GetAsync(Globex, old, Ct));
            Assert.Null(await Stores.Messages.GetAsync(Acme, old, Ct));
        }
        var status = await Stores.Messages.ChannelStatusAsync("shared", 7_000, Ct);
        Assert.Equal((1L, 0L, 0L, 1.0), (status.Pending, status.Failed, status.Sent, status.LagSeconds));
    }

    [Fact]
    public async Task A_channel_added_through_the_catalog_hides_what_its_id_received_before_it_was_added()
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Stores.Tenants.AddTenantAsync(new Tenant(Acme, null, DateTimeOffset.UnixEpoch), Ct);
        Assert.True(await Stores.Catalog.AddChannelAsync(new ChannelDefinition("acme-in", ChannelTypes.Webhook, null, null, null, Acme), Ct));
        var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var earlier = In(await ReceiveAsync("acme-in", "chat-1", before - 60_000));
        var later = In(await ReceiveAsync("acme-in", "chat-1", after + 60_000));

        await AssertListed([later], await ListAsync(Acme));
        Assert.Null(await Stores.Messages.GetAsync(Acme, earlier, Ct));
    }

    [Fact]
    public async Task Tenant_events_in_the_outbox_are_not_messages_even_on_a_message_channel()
    {
        await ChannelAsync("acme-out", Acme);
        await SubscribeAsync("wh-1", Acme, TenantEvents.MessageSent);
        var message = await EnqueueAsync(AcmeOut.ChannelId, AcmeOut.Chat, 1_000, Payload(AcmeOut.Chat, "real"));
        var pending = Assert.Single(await Stores.Outbox.ReadLaneAsync(AcmeOut, 10, Ct));
        var events = TenantEvents.Outcome(await Stores.Catalog.LoadAsync(Ct), pending, TenantEvents.MessageSent, "pm-1", null, 2_000);
        Assert.Single(events);
        await Stores.Outbox.MarkSentAsync(message, "pm-1", 2_000, events, [], Ct);
        // An event row whose lane channel is the message channel itself: only the kind tells it apart.
        await Stores.Outbox.AddAsync([new NewDelivery(null, null, AcmeOut.ChannelId, "other-chat", "{\"type\":\"channel.status\"}", 3_000, DeliveryKind.Event, Acme)], Ct);
        var eventIds = (await Stores.Outbox.ReadLaneAsync(new Lane(AcmeOut.ChannelId, "other-chat"), 10, Ct))
            .Concat(await Stores.Outbox.ReadLaneAsync(new Lane(ChannelTypes.SubscriptionChannelId("wh-1"), Out(message)), 10, Ct))
            .Select(d => d.Id).ToList();
        Assert.Equal(2, eventIds.Count);

        await AssertListed([Out(message)], await ListAsync(Acme));
        await AssertListed([Out(message)], await ListAsync(Acme, direction: MessageDirection.Out));
        await AssertListed([], await ListAsync(Acme, status: "queued"));
        foreach (var id in eventIds) Assert.Null(await Stores.Messages.GetAsync(Acme, Out(id), Ct));
        var status = await Stores.Messages.ChannelStatusAsync(AcmeOut.ChannelId, 10_000, Ct);
        Assert.Equal((0L, 0L, 1L, (double?)null), (status.Pending, status.Failed, status.Sent, status.LagSeconds));
    }

    // --- GetAsync ids ----------------------------------------------------------------------------------------------

    [Fact]
    public async Task GetAsync_answers_null_for_unknown_and_malformed_ids()
    {
        await ChannelAsync("acme-in", Acme);
        var seq = await ReceiveAsync("acme-in", "chat-1", 1_000);
        var id = seq.ToString(CultureInfo.InvariantCulture);
        Assert.NotNull(await Stores.Messages.GetAsync(Acme, "in_" + id, Ct));

        string[] ids =
        [
            "out_" + id, "in_" + (seq + 1).ToString(CultureInfo.InvariantCulture), "out_9223372036854775807", "in_9223372036854775807",
            "in_99999999999999999999", "", "in_", "out_", "in", "_" + id, id, "msg_" + id, "IN_" + id, "In_" + id, "inn_" + id, "in-" + id,
            "in_-" + id, "in_+" + id, "in_ " + id, "in_" + id + " ", " in_" + id, "in_" + id + ".0", "in_0x" + id, "in_" + id + "a", "in_abc", "in_١", "in__" + id,
        ];
        foreach (var bad in ids) Assert.True(await Stores.Messages.GetAsync(Acme, bad, Ct) is null, $"'{bad}' found a message");
    }

    // --- webhook deliveries ----------------------------------------------------------------------------------------

    [Fact]
    public async Task WebhookDeliveries_lists_a_subscriptions_events_newest_first_paged_with_status_attempts_and_errors()
    {
        await SubscribeAsync("wh-1", Acme, TenantEvents.MessageSent);
        await SubscribeAsync("wh-2", Acme, TenantEvents.MessageSent);
        var lane = ChannelTypes.SubscriptionChannelId("wh-1");
        await Stores.Outbox.AddAsync(
            [
                Event("wh-1", Acme, "out_1", TenantEvents.MessageSent, 1_000),
                Event("wh-1", Acme, "out_2", TenantEvents.MessageFailed, 2_000),
                Event("wh-1", Acme, "out_3", TenantEvents.MessageReceived, 3_000),
                new NewDelivery(null, null, lane, "out_4", "{\"data\":{}}", 4_000, DeliveryKind.Event, Acme),
                Event("wh-1", Acme, "channel:acme-out", TenantEvents.ChannelStatus, 5_000),
                Event("wh-2", Acme, "out_1", TenantEvents.MessageSent, 1_000),
            ], Ct);
        var ids = new List<long>();
        foreach (var key in new[] { "out_1", "out_2", "out_3", "out_4", "channel:acme-out" }) ids.Add(Assert.Single(await Stores.Outbox.ReadLaneAsync(new Lane(lane, key), 10, Ct)).Id);
        await Stores.Outbox.MarkSentAsync(ids[0], null, 1_500, [], [], Ct);
        await Stores.Outbox.ScheduleRetryAsync(ids[1], new Lane(lane, "out_2"), 3_000, "HTTP 500", 2_500, Ct);
        await Stores.Outbox.MarkFailedAsync(ids[2], "HTTP 410 Gone", 3_500, [], Ct);

        var all = await Stores.Messages.WebhookDeliveriesAsync(Acme, "wh-1", 1, 50, Ct);

        Assert.Equal(5, all.Total);
        Assert.Equal(
            [
                new EventDeliveryView(ids[4], TenantEvents.ChannelStatus, "channel:acme-out", "queued", 0, null, At(5_000), At(5_000)),
                new EventDeliveryView(ids[3], "", "out_4", "queued", 0, null, At(4_000), At(4_000)),
                new EventDeliveryView(ids[2], TenantEvents.MessageReceived, "out_3", "failed", 1, "HTTP 410 Gone", At(3_000), At(3_500)),
                new EventDeliveryView(ids[1], TenantEvents.MessageFailed, "out_2", "retrying", 1, "HTTP 500", At(2_000), At(2_500)),
                new EventDeliveryView(ids[0], TenantEvents.MessageSent, "out_1", "sent", 1, null, At(1_000), At(1_500)),
            ],
            all.Items);

        var second = await Stores.Messages.WebhookDeliveriesAsync(Acme, "wh-1", 2, 2, Ct);
        Assert.Equal((2, 2, 5L), (second.Page, second.PageSize, second.Total));
        Assert.Equal([ids[2], ids[1]], second.Items.Select(d => d.Id));
        Assert.Equal([ids[0]], (await Stores.Messages.WebhookDeliveriesAsync(Acme, "wh-1", 3, 2, Ct)).Items.Select(d => d.Id));
        var beyond = await Stores.Messages.WebhookDeliveriesAsync(Acme, "wh-1", 4, 2, Ct);
        Assert.Empty(beyond.Items);
        Assert.Equal(5, beyond.Total);

        var other = await Stores.Messages.WebhookDeliveriesAsync(Acme, "wh-2", 1, 50, Ct);
        Assert.Equal(1, other.Total);
        Assert.Equal(("out_1", "queued"), (Assert.Single(other.Items).OrderKey, other.Items[0].Status));

        // A receiver that answered 410 Gone: its pending events fail with the reason, no attempt counted.
        Assert.Equal(1, await Stores.Outbox.RetireChannelAsync(ChannelTypes.SubscriptionChannelId("wh-2"), "HTTP 410 Gone", 6_000, Ct));
        var retired = Assert.Single((await Stores.Messages.WebhookDeliveriesAsync(Acme, "wh-2", 1, 50, Ct)).Items);
        Assert.Equal(("failed", 0, "HTTP 410 Gone", At(6_000)), (retired.Status, retired.Attempts, retired.LastError, retired.UpdatedAt));
        Assert.Equal(["queued", "queued", "failed", "retrying", "sent"], (await Stores.Messages.WebhookDeliveriesAsync(Acme, "wh-1", 1, 50, Ct)).Items.Select(d => d.Status));
    }

    [Fact]
    public async Task WebhookDeliveries_are_scoped_to_the_tenant_and_show_the_events_an_outcome_wrote()
    {
        await ChannelAsync("acme-out", Acme);
        await SubscribeAsync("wh-1", Acme, TenantEvents.MessageSent, TenantEvents.MessageFailed);
        var sent = await EnqueueAsync(AcmeOut.ChannelId, AcmeOut.Chat, 1_000, Payload(AcmeOut.Chat, "a"));
        var failed = await EnqueueAsync(AcmeOut.ChannelId, "chat-2", 1_000, Payload("chat-2", "b"));
        var catalog = await Stores.Catalog.LoadAsync(Ct);
        var pendingSent = Assert.Single(await Stores.Outbox.ReadLaneAsync(AcmeOut, 10, Ct));
        var pendingFailed = Assert.Single(await Stores.Outbox.ReadLaneAsync(new Lane(AcmeOut.ChannelId, "chat-2"), 10, Ct));
        await Stores.Outbox.MarkSentAsync(sent, "pm-1", 2_000, TenantEvents.Outcome(catalog, pendingSent, TenantEvents.MessageSent, "pm-1", null, 2_000), [], Ct);
        await Stores.Outbox.MarkFailedAsync(failed, "HTTP 400", 3_000, TenantEvents.Outcome(catalog, pendingFailed, TenantEvents.MessageFailed, null, "HTTP 400", 3_000), Ct);

        var deliveries = await Stores.Messages.WebhookDeliveriesAsync(Acme, "wh-1", 1, 10, Ct);

        Assert.Equal(2, deliveries.Total);
        Assert.Equal([(TenantEvents.MessageFailed, Out(failed), "queued", At(3_000)), (TenantEvents.MessageSent, Out(sent), "queued", At(2_000))],
            deliveries.Items.Select(d => (d.Type, d.OrderKey, d.Status, d.CreatedAt)));

        var foreign = await Stores.Messages.WebhookDeliveriesAsync(Globex, "wh-1", 1, 10, Ct);
        Assert.Empty(foreign.Items);
        Assert.Equal(0, foreign.Total);
        var unknown = await Stores.Messages.WebhookDeliveriesAsync(Acme, "wh-none", 1, 10, Ct);
        Assert.Empty(unknown.Items);
        Assert.Equal(0, unknown.Total);
    }

    // --- channel status --------------------------------------------------------------------------------------------

    [Fact]
    public async Task ChannelStatus_counts_pending_failed_and_sent_and_measures_the_lag_from_the_oldest_pending()
    {
        await ChannelAsync("acme-out", Acme);
        await ChannelAsync("acme-quiet", Acme);
        var oldest = await EnqueueAsync("acme-out", "c1", 10_000, Payload("c1", "1"));
        var retrying = await EnqueueAsync("acme-out", "c2", 20_000, Payload("c2", "2"));
        var sent = await EnqueueAsync("acme-out", "c3", 5_000, Payload("c3", "3"));
        var failed = await EnqueueAsync("acme-out", "c4", 6_000, Payload("c4", "4"));
        var sentAfterError = await EnqueueAsync("acme-out", "c5", 7_000, Payload("c5", "5"));
        await EnqueueAsync("acme-quiet", "c1", 1_000, Payload("c1", "elsewhere"));
        await Stores.Outbox.ScheduleRetryAsync(retrying, new Lane("acme-out", "c2"), 36_000, "HTTP 502", 35_000, Ct);
        await Stores.Outbox.MarkSentAsync(sent, "p", 30_000, [], [], Ct);
        await Stores.Outbox.MarkFailedAsync(failed, "HTTP 400 bad chat", 40_000, [], Ct);
        await Stores.Outbox.ScheduleRetryAsync(sentAfterError, new Lane("acme-out", "c5"), 46_000, "newer but cleared", 45_000, Ct);
        await Stores.Outbox.MarkSentAsync(sentAfterError, "q", 50_000, [], [], Ct);
        Assert.NotEqual(oldest, retrying);

        var status = await Stores.Messages.ChannelStatusAsync("acme-out", 70_000, Ct);
        Assert.Equal(new ChannelStatusView("acme-out", 2, 1, 2, 60.0, "HTTP 400 bad chat", At(40_000)), status);

        Assert.Equal(0.0, (await Stores.Messages.ChannelStatusAsync("acme-out", 9_000, Ct)).LagSeconds);
        Assert.Equal(0.25, (await Stores.Messages.ChannelStatusAsync("acme-out", 10_250, Ct)).LagSeconds);

        await Stores.Outbox.MarkSentAsync(oldest, "r", 71_000, [], [], Ct);
        Assert.Equal(50.0, (await Stores.Messages.ChannelStatusAsync("acme-out", 70_000, Ct)).LagSeconds);
        await Stores.Outbox.MarkFailedAsync(retrying, "gave up", 72_000, [], Ct);
        var drained = await Stores.Messages.ChannelStatusAsync("acme-out", 80_000, Ct);
        Assert.Equal(new ChannelStatusView("acme-out", 0, 2, 3, null, "gave up", At(72_000)), drained);
    }

    [Fact]
    public async Task ChannelStatus_of_a_channel_without_deliveries_or_an_unknown_channel_is_all_zero()
    {
        await ChannelAsync("acme-out", Acme);
        await EnqueueAsync("acme-busy", "c1", 1_000, Payload("c1", "x"));

        Assert.Equal(new ChannelStatusView("acme-out", 0, 0, 0, null, null, null), await Stores.Messages.ChannelStatusAsync("acme-out", 5_000, Ct));
        Assert.Equal(new ChannelStatusView("acme-busy", 0, 0, 0, null, null, null), await Stores.Messages.ChannelStatusAsync("acme-busy", 5_000, Ct));
    }

    // --- text ------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Unicode_text_round_trips_and_a_nul_comes_back_as_nul_or_the_replacement_character()
    {
        await ChannelAsync("acme-in", Acme);
        await ChannelAsync("acme-out", Acme);
        const string text = "Привет, мир 👋🏽 a\0b — 漢字";
        const string attachments = "[{\"type\":\"document\",\"file_name\":\"отчёт 📄.pdf\"}]";
        var seq = await ReceiveAsync("acme-in", "чат-1", 1_000, text: text, sender: "Алиса 🐱", attachments: attachments);
        var payload = Payload("чат-1", text);
        Assert.Contains("\\u0000", payload, StringComparison.Ordinal);
        var outId = await EnqueueAsync("acme-out", "чат-1", 2_000, payload);

        var items = (await ListAsync(Acme, chat: "чат-1")).Items;
        Assert.Equal([Out(outId), In(seq)], items.Select(m => m.Id));
        foreach (var view in items.Append((await GetAsync(Acme, In(seq))).Message).Append((await GetAsync(Acme, Out(outId))).Message))
        {
            Assert.Equal("чат-1", view.Chat);
            AssertTextWithNul(text, view.Text);
        }
        var inbound = items[1];
        Assert.Equal(("Алиса 🐱", attachments), (inbound.Sender, inbound.AttachmentsJson));
        // The payload's JSON escapes every non-ASCII character, so it is stored exactly on every engine.
        Assert.Equal(payload, items[0].Payload);
    }

    [Fact]
    public async Task An_escaped_backslash_before_u0000_in_outbound_text_is_text_not_a_nul()
    {
        await ChannelAsync("acme-out", Acme);
        const string literal = @"C:\u0000 and \\u0000 stay";
        const string mixed = "\\\0 after a backslash";
        var literalId = await EnqueueAsync("acme-out", "c1", 1_000, Payload("c1", literal));
        var mixedId = await EnqueueAsync("acme-out", "c1", 2_000, Payload("c1", mixed));
        var withNulId = await EnqueueAsync("acme-out", "c1", 3_000, Payload("c1", "\0\0 two"));

        Assert.Equal(literal, (await GetAsync(Acme, Out(literalId))).Message.Text);
        AssertTextWithNul(mixed, (await GetAsync(Acme, Out(mixedId))).Message.Text);
        AssertTextWithNul("\0\0 two", (await GetAsync(Acme, Out(withNulId))).Message.Text);
        var texts = (await ListAsync(Acme)).Items.Select(m => m.Text).ToList();
        Assert.Equal(literal, texts[2]);
        AssertTextWithNul(mixed, texts[1]);
    }

    [Fact]
    public async Task A_payload_whose_verbatim_attachments_hold_a_lone_surrogate_escape_still_lists_with_its_text()
    {
        // Attachments pass through Tern verbatim (a webhook channel keeps the JSON text it was given); JSON's grammar
        // allows an escaped surrogate without its pair, so the payload holds one. The listing, the message and the
        // webhook delivery log must still work, with the text that is fine.
        await ChannelAsync("acme-in", Acme);
        await ChannelAsync("acme-out", Acme);
        await SubscribeAsync("wh-1", Acme, TenantEvents.MessageReceived);
        const string attachments = @"[{""type"":""document"",""file_name"":""half \ud83d and \udc4b"",""url"":""https://files.example.test/1""}]";
        var seq = await ReceiveAsync("acme-in", "chat-1", 1_000, text: "caption", attachments: attachments);
        var payload = Payload("chat-1", "caption", attachments);
        Assert.Contains(@"\ud83d", payload, StringComparison.Ordinal);
        var events = new List<NewDelivery>();
        TenantEvents.Received(await Stores.Catalog.LoadAsync(Ct), new InboxItem(seq, new Envelope("acme-in", "p", "chat-1", "alice", "caption", attachments, 1_000)), 1_500, events, new ArrayBufferWriter<byte>());
        Assert.Contains(@"\ud83d", Assert.Single(events).Payload, StringComparison.Ordinal);
        await Stores.Outbox.CommitRoutedAsync([seq], [Delivery(seq, new Lane("acme-out", "chat-1"), 2_000, payload), .. events], Ct);

        var items = (await ListAsync(Acme)).Items;

        Assert.Equal([MessageDirection.Out, MessageDirection.In], items.Select(m => m.Direction));
        Assert.Equal(("caption", payload), (items[0].Text, items[0].Payload));
        Assert.Equal(("caption", attachments), (items[1].Text, items[1].AttachmentsJson));
        Assert.Equal("caption", (await GetAsync(Acme, items[0].Id)).Message.Text);
        Assert.Equal(TenantEvents.MessageReceived, Assert.Single((await Stores.Messages.WebhookDeliveriesAsync(Acme, "wh-1", 1, 10, Ct)).Items).Type);

        // In the text itself the lone half cannot be text; what is around it still is, and the listing still works.
        var halfText = await EnqueueAsync("acme-out", "chat-1", 3_000, @"{""chat"":""chat-1"",""text"":""half \ud83d \u00e9nd \ud83d\udc4b"",""source"":{""api"":""acme""}}");
        var text = (await GetAsync(Acme, Out(halfText))).Message.Text;
        Assert.NotNull(text);
        Assert.StartsWith("half ", text, StringComparison.Ordinal);
        Assert.EndsWith(" énd 👋", text, StringComparison.Ordinal);
        Assert.Equal(3, (await ListAsync(Acme)).Total);
    }

    // --- helpers ---------------------------------------------------------------------------------------------------

    /// <summary>A channel of <paramref name="tenant"/> that counts as created at <paramref name="createdAtMs"/>.</summary>
    private async Task ChannelAsync(string id, string tenant, long createdAtMs = 0)
    {
        await Stores.Tenants.AddTenantAsync(new Tenant(tenant, null, DateTimeOffset.UnixEpoch), Ct);
        Assert.True(await Stores.Catalog.AddChannelAsync(new ChannelDefinition(id, ChannelTypes.Webhook, null, new Uri("http://127.0.0.1:9/" + id), null, tenant), Ct));
        Assert.Equal(1, await Stores.ExecuteSqlAsync($"UPDATE channels SET created_at = {createdAtMs.ToString(CultureInfo.InvariantCulture)} WHERE id = '{id}'", Ct));
    }

    private async Task SubscribeAsync(string id, string tenant, params string[] events)
    {
        await Stores.Tenants.AddTenantAsync(new Tenant(tenant, null, DateTimeOffset.UnixEpoch), Ct);
        Assert.True(await Stores.Tenants.AddWebhookAsync(new WebhookSubscription(id, tenant, new Uri("http://127.0.0.1:9/events"), "whsec", events, DateTimeOffset.UnixEpoch), Ct));
    }

    private async Task<long> ReceiveAsync(string channel, string chat, long atMs, string? text = "hello", string? sender = "alice", string? attachments = null, string? platformId = null)
    {
        var result = await Stores.Inbox.AppendAsync(new Envelope(channel, platformId ?? NextPlatformId(), chat, sender, text, attachments, atMs), Ct);
        Assert.False(result.Duplicate);
        return result.Seq;
    }

    /// <summary>Routes inbox message <paramref name="seq"/> to one delivery; returns its id.</summary>
    private async Task<long> RouteAsync(long seq, Lane lane, long createdAtMs, string payload)
    {
        await Stores.Outbox.CommitRoutedAsync([seq], [Delivery(seq, lane, createdAtMs, payload)], Ct);
        return Assert.Single(await Stores.Outbox.ReadLaneAsync(lane, 10, Ct), d => d.InboxSeq == seq).Id;
    }

    /// <summary>An API send (no inbox message behind it); returns its id.</summary>
    private async Task<long> EnqueueAsync(string channel, string chat, long createdAtMs, string payload, string tenant = Acme)
    {
        var result = await Stores.Outbox.EnqueueAsync(new NewDelivery(null, null, channel, chat, payload, createdAtMs, TenantId: tenant), Ct);
        Assert.False(result.Existing);
        return result.Id;
    }

    /// <summary>A payload as the router and the API write it (non-ASCII, and U+0000, as JSON escapes).</summary>
    private static string Payload(string chat, string? text, string? attachments = null) =>
        new DeliveryPayload
        {
            Chat = chat,
            Text = text,
            Attachments = attachments is null ? null : new RawJson(attachments),
            Source = new DeliverySource { Api = Acme },
        }.ToJson(new ArrayBufferWriter<byte>());

    private static NewDelivery Event(string webhook, string tenant, string orderKey, string type, long createdAtMs) =>
        new(null, null, ChannelTypes.SubscriptionChannelId(webhook), orderKey, $"{{\"type\":\"{type}\",\"tenant\":\"{tenant}\",\"created_at\":{createdAtMs},\"data\":{{}}}}",
            createdAtMs, DeliveryKind.Event, tenant);

    private Task<PageOf<MessageView>> ListAsync(
        string tenant, string? channel = null, MessageDirection? direction = null, string? status = null, string? chat = null,
        long? since = null, long? until = null, int page = 1, int pageSize = 50) =>
        Stores.Messages.ListAsync(new MessageFilter(tenant, channel, direction, status, chat, since is { } s ? At(s) : null, until is { } u ? At(u) : null, page, pageSize), Ct);

    private async Task<(MessageView Message, IReadOnlyList<MessageStatusChange> History)> GetAsync(string tenant, string id) =>
        await Stores.Messages.GetAsync(tenant, id, Ct) ?? throw new Xunit.Sdk.XunitException($"{id} not found for {tenant}");

    /// <summary>The page holds exactly these ids in this order, the total counts them, and each one can be got.</summary>
    private async Task AssertListed(string[] expected, PageOf<MessageView> page, string tenant = Acme)
    {
        Assert.Equal(expected, page.Items.Select(m => m.Id));
        Assert.Equal(expected.Length, page.Total);
        foreach (var message in page.Items) Assert.Equal(message, (await GetAsync(tenant, message.Id)).Message);
    }

    /// <summary>U+0000 as stored: SQLite keeps it, PostgreSQL's text cannot hold it and stores U+FFFD (PostgresText); everything else is exact.</summary>
    private static void AssertTextWithNul(string expected, string? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Length, actual.Length);
        Assert.Equal(expected, actual.Replace('\uFFFD', '\0'));
        var nul = actual.Contains('\0', StringComparison.Ordinal);
        var replaced = actual.Contains('\uFFFD', StringComparison.Ordinal);
        Assert.True(nul != replaced, "a NUL comes back either as NUL or as U+FFFD, the same way every time");
    }

    private static DateTimeOffset At(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static string In(long seq) => TenantEvents.InboundId(seq);

    private static string Out(long id) => TenantEvents.OutboundId(id);
}
