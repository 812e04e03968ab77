namespace Tern.Core.Messages;

/// <summary>What an inbound update is about.</summary>
public enum MessageKind
{
    /// <summary>A new message (or channel post).</summary>
    Message = 0,

    /// <summary>A new version of a message received earlier (<see cref="Envelope.MessageId"/> names it).</summary>
    Edit = 1,

    /// <summary>A button press (an inline button's callback); <see cref="Envelope.Text"/> holds its data.</summary>
    Callback = 2,
}

/// <summary>
/// One inbound message, normalized the same way for every platform.
/// </summary>
/// <param name="ChannelId">The channel it arrived on.</param>
/// <param name="PlatformId">The platform's id for the update; unique per channel, so a redelivery is a no-op.</param>
/// <param name="Chat">The conversation it belongs to (chat id, phone number, …).</param>
/// <param name="Sender">Who sent it, when the platform says.</param>
/// <param name="Text">Text or caption.</param>
/// <param name="AttachmentsJson">Attachments as a JSON array of objects with a "type", kept verbatim.</param>
/// <param name="ReceivedAtMs">Unix milliseconds when Tern accepted it.</param>
/// <param name="Kind">New message, edit or button press.</param>
/// <param name="MessageId">The platform's id of the message within its chat (what copies, edits and replies refer to).</param>
/// <param name="ReplyToId">The message (in the same chat) this one answers.</param>
/// <param name="GroupId">Album id: messages sharing it travel together.</param>
/// <param name="MetaJson">Platform-specific facts as a JSON object (chat type and title, sender names, topic), kept verbatim.</param>
public sealed record Envelope(
    string ChannelId,
    string PlatformId,
    string Chat,
    string? Sender,
    string? Text,
    string? AttachmentsJson,
    long ReceivedAtMs,
    MessageKind Kind = MessageKind.Message,
    string? MessageId = null,
    string? ReplyToId = null,
    string? GroupId = null,
    string? MetaJson = null);

/// <summary>An envelope as stored in the inbox, with its sequence number.</summary>
public sealed record InboxItem(long Seq, Envelope Envelope);

/// <summary>What the inbox said about an append.</summary>
/// <param name="Seq">The inbox sequence number of the stored (or already stored) message.</param>
/// <param name="Duplicate">True when the same (channel, platform id) was already stored.</param>
public readonly record struct InboxAppendResult(long Seq, bool Duplicate);
