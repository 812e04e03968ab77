using System.Buffers;
using System.Text.Json.Nodes;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Events;
using Tern.Core.Pipeline;
using Tern.Core.Tenancy;

namespace Tern.Server.Application;

/// <summary>One attachment of a message to send: a media type and either a URL or a platform file id.</summary>
public sealed record MessageMedia(string? Type, string? Url, string? FileId);

/// <summary>A message to send, as submitted.</summary>
/// <param name="OptionsProperty">The name a channel type's send options object came under (<see cref="IChannelSendOptions.SendOptionsProperty"/>); null with none.</param>
public sealed record MessageInput(
    string? Channel, string? Chat, string? Text, MessageMedia? Media, string? IdempotencyKey, string? OptionsProperty = null, JsonObject? Options = null);

/// <summary>A message taken for sending; <paramref name="Existing"/> when the idempotency key named one sent before.</summary>
public sealed record SentMessage(MessageView Message, bool Existing);

/// <summary>Sending messages through a tenant's channels: checked, then queued in the durable outbox.</summary>
public sealed class MessageService(ChannelService channels, ChannelTypeRegistry types, IOutboxStore outbox, IMessageQueries queries, IngressGate gate, TimeProvider time)
{
    public const int MaxTextLength = 4096;
    public const int MaxIdempotencyKeyLength = 200;

    /// <summary>Media types a sent message can carry.</summary>
    public static IReadOnlyList<string> MediaTypes { get; } = ["photo", "video", "document", "audio", "voice", "sticker", "animation"];

    /// <summary>
    /// Checks and queues a message. A busy Tern (backlog over its bound, or shedding load) is a failure of kind
    /// <see cref="FailureKind.Unavailable"/> whose detail says why.
    /// </summary>
    public async Task<Result<SentMessage>> SendAsync(string tenant, MessageInput input, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors();
        ChannelDefinition? channel = null;
        if (input.Channel is null) errors.Check("channel", "is required");
        else if ((channel = await channels.FindAsync(tenant, input.Channel, cancellationToken).ConfigureAwait(false)) is null) errors.Check("channel", $"no channel '{input.Channel}'");
        else if (channel.Type == ChannelTypes.Webhook && channel.Url is null) errors.Check("channel", $"channel '{input.Channel}' has no URL to deliver to");
        errors.Check("chat", CatalogRules.Chat(input.Chat));
        var platform = PlatformOptions(input, channel, errors);
        if (input.Text is null && input.Media is null && input.OptionsProperty is null) errors.Check("text", "text or media is required");
        if (input.Text is { Length: > MaxTextLength }) errors.Check("text", $"must be at most {MaxTextLength} characters");
        if (input.Media is { } media)
        {
            if (media.Type is null || !MediaTypes.Contains(media.Type)) errors.Check("media.type", $"must be one of: {string.Join(", ", MediaTypes)}");
            if ((media.Url is null) == (media.FileId is null)) errors.Check("media", "give exactly one of url and file_id");
            if (media.Url is not null && CatalogRules.Url(media.Url, out _) is { } urlProblem) errors.Check("media.url", urlProblem);
            if (media.FileId is { Length: 0 or > 512 }) errors.Check("media.file_id", "must be 1 to 512 characters");
        }
        if (input.IdempotencyKey is { Length: > MaxIdempotencyKeyLength }) errors.Check("idempotency_key", $"must be at most {MaxIdempotencyKeyLength} characters");
        if (errors.Count > 0) return errors.ToFailure();

        if (gate.RefusalReason() is { } reason) return ValidationFailure.Unavailable($"Not accepting messages now: {reason}.");

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var delivery = new NewDelivery(null, null, channel!.Id, input.Chat!, Payload(input, tenant, platform), now, DeliveryKind.Message, tenant, input.IdempotencyKey);
        var result = await outbox.EnqueueAsync(delivery, cancellationToken).ConfigureAwait(false);
        var stored = await queries.GetAsync(tenant, TenantEvents.OutboundId(result.Id), cancellationToken).ConfigureAwait(false);
        return new SentMessage(stored!.Value.Message, result.Existing);
    }

    /// <summary>The channel type's send options object, checked by the type; null when none was given or it has problems (then in <paramref name="errors"/>).</summary>
    private string? PlatformOptions(MessageInput input, ChannelDefinition? channel, FieldErrors errors)
    {
        if (input.OptionsProperty is not { } property) return null;
        if (types.BySendOptionsProperty(property) is null)
        {
            errors.Check(property, "is not a known field");
            return null;
        }
        if (channel is null) return null; // the channel's own problem is already named
        if (types.Find(channel.Type) is not IChannelSendOptions owner || owner.SendOptionsProperty != property)
        {
            errors.Check(property, $"does not apply to channel '{channel.Id}', a {channel.Type} channel");
            return null;
        }
        var problems = new List<FieldError>();
        var json = owner.CheckSendOptions(input.Options ?? [], input.Text is not null, input.Media is not null, problems);
        errors.AddUnder(property, problems);
        return problems.Count == 0 ? json : null;
    }

    /// <summary>The same neutral message shape routing produces, so a destination cannot tell an API send from a routed one except by its source.</summary>
    private static string Payload(MessageInput input, string tenant, string? platform) => new DeliveryPayload
    {
        Platform = platform is null ? null : new RawJson(platform),
        Chat = input.Chat!,
        Text = input.Text,
        Attachments = input.Media is { } media ? DeliveryPayload.AttachmentsJson(new DeliveryAttachment(media.Type, media.FileId, media.Url, null)) : null,
        Source = new DeliverySource { Api = tenant, IdempotencyKey = input.IdempotencyKey },
    }.ToJson(new ArrayBufferWriter<byte>(256));
}
