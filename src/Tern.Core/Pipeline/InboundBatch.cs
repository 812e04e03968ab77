using Tern.Core.Messages;

namespace Tern.Core.Pipeline;

/// <summary>
/// Commits a batch of inbound messages a channel took at once (a page of Telegram updates, one Meta webhook body): what was
/// seen a moment ago is dropped before the database's unique key, the rest goes into the group-commit writer together and in
/// order (so sequence numbers follow the batch), and the ids are remembered for the next redelivery.
/// </summary>
public sealed class InboundBatch(IInboxStore inbox, RecentInboundIds recent, PipelineCounters counters)
{
    /// <summary>How many were new and how many were redeliveries (seen a moment ago, or by the unique key).</summary>
    public async Task<(int Fresh, int Duplicates)> CommitAsync(IReadOnlyList<Envelope> envelopes, CancellationToken cancellationToken)
    {
        var duplicates = 0;
        List<Envelope>? unseen = null;
        for (var i = 0; i < envelopes.Count; i++)
        {
            if (recent.TryGet(envelopes[i].ChannelId, envelopes[i].PlatformId, out _))
            {
                counters.OnReceived(duplicate: true);
                duplicates++;
                // Copy only once something is dropped: the common batch has no redelivery.
                unseen ??= [.. envelopes.Take(i)];
            }
            else
            {
                unseen?.Add(envelopes[i]);
            }
        }
        IReadOnlyList<Envelope> batch = unseen ?? envelopes;
        if (batch.Count == 0) return (0, duplicates);

        // Issued in order into the writer's queue, so sequence numbers follow the batch's order.
        var appends = new Task<InboxAppendResult>[batch.Count];
        for (var i = 0; i < batch.Count; i++) appends[i] = inbox.AppendAsync(batch[i], cancellationToken);
        await Task.WhenAll(appends).ConfigureAwait(false);

        var fresh = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            var result = appends[i].Result;
            counters.OnReceived(result.Duplicate);
            recent.Remember(batch[i].ChannelId, batch[i].PlatformId, result.Seq);
            if (result.Duplicate) duplicates++;
            else fresh++;
        }
        return (fresh, duplicates);
    }
}
