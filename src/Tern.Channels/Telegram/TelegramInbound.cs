using Tern.Channels.Telegram.BotApi;
using Tern.Core.Delivery;
using Tern.Core.Messages;
using Tern.Core.Pipeline;

namespace Tern.Channels.Telegram;

/// <summary>
/// Commits a batch of Telegram updates to the inbox, for the poller and the webhook alike. The appends
/// go into the group-commit writer together (one commit for a page of 100), in update order; the call
/// returns only when every one is durable, so the caller may then confirm them to Telegram.
/// </summary>
public sealed class TelegramInbound(IInboxStore inbox, RecentInboundIds recent, PipelineCounters counters, IChatMigrations migrations, IngressStatusBoard status, TimeProvider time)
{
    /// <summary>Commits the updates; returns how many were new.</summary>
    public async Task<int> CommitAsync(string channelId, IReadOnlyList<Update> updates, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var envelopes = new List<Envelope>(updates.Count);
        foreach (var update in updates)
        {
            var mapped = UpdateMapper.Map(update, channelId, now);
            if (mapped.MigratedFrom is { } move)
            {
                // A source group became a supergroup: routes from (and to) it follow the new id.
                await migrations.RecordAsync(channelId, move.Old, move.New, now, cancellationToken).ConfigureAwait(false);
            }
            if (mapped.Envelope is not { } envelope) continue;
            // A redelivered update seen a moment ago is dropped here, before the database's unique key.
            if (recent.TryGet(envelope.ChannelId, envelope.PlatformId, out _))
            {
                counters.OnReceived(duplicate: true);
                continue;
            }
            envelopes.Add(envelope);
        }
        if (envelopes.Count == 0) return 0;

        // Issued in order into the writer's queue, so sequence numbers follow update order.
        var appends = new Task<InboxAppendResult>[envelopes.Count];
        for (var i = 0; i < envelopes.Count; i++) appends[i] = inbox.AppendAsync(envelopes[i], cancellationToken);
        await Task.WhenAll(appends).ConfigureAwait(false);

        var fresh = 0;
        for (var i = 0; i < envelopes.Count; i++)
        {
            var result = appends[i].Result;
            counters.OnReceived(result.Duplicate);
            recent.Remember(envelopes[i].ChannelId, envelopes[i].PlatformId, result.Seq);
            if (!result.Duplicate) fresh++;
        }
        status.OnUpdates(channelId, fresh, now);
        return fresh;
    }
}
