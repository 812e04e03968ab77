namespace Tern.Core.Messages;

/// <summary>
/// One inbound message, normalized the same way for every platform.
/// </summary>
/// <param name="ChannelId">The channel it arrived on.</param>
/// <param name="PlatformId">The platform's id for it; unique per channel, so a redelivery is a no-op.</param>
/// <param name="Chat">The conversation it belongs to (chat id, phone number, …).</param>
/// <param name="Sender">Who sent it, when the platform says.</param>
/// <param name="Text">Text or caption.</param>
/// <param name="AttachmentsJson">Attachments as a JSON array, kept verbatim.</param>
/// <param name="ReceivedAtMs">Unix milliseconds when Tern accepted it.</param>
public sealed record Envelope(
    string ChannelId,
    string PlatformId,
    string Chat,
    string? Sender,
    string? Text,
    string? AttachmentsJson,
    long ReceivedAtMs);

/// <summary>An envelope as stored in the inbox, with its sequence number.</summary>
public sealed record InboxItem(long Seq, Envelope Envelope);

/// <summary>What the inbox said about an append.</summary>
/// <param name="Seq">The inbox sequence number of the stored (or already stored) message.</param>
/// <param name="Duplicate">True when the same (channel, platform id) was already stored.</param>
public readonly record struct InboxAppendResult(long Seq, bool Duplicate);
