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
public sealed class TelegramInbound(InboundBatch batch, IChatMigrations migrations, IngressStatusBoard status, TimeProvider time)
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
            if (mapped.Envelope is { } envelope) envelopes.Add(envelope);
        }
        if (envelopes.Count == 0) return 0;
        var (fresh, _) = await batch.CommitAsync(envelopes, cancellationToken).ConfigureAwait(false);
        status.OnUpdates(channelId, fresh, now);
        return fresh;
    }
}
