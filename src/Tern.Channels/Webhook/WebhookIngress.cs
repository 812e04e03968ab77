using System.Globalization;
using Microsoft.AspNetCore.Http;
using Tern.Channels.Http;
using Tern.Core.Catalog;
using Tern.Core.Memory;
using Tern.Core.Pipeline;

namespace Tern.Channels.Webhook;

/// <summary>
/// <c>POST /hooks/webhook/{channelId}</c>: checks, parses and commits an inbound message, and answers
/// 2xx only after the commit. Nothing is stored for a rejected request.
/// </summary>
public sealed class WebhookIngress(
    IInboxStore inbox, CatalogCache catalog, IngressGate gate, RecentInboundIds recent, IngressOptions options, PipelineCounters counters, TimeProvider time)
{
    public static HookShape Shape { get; } = new(
        "postWebhookMessage",
        "Push a message into a webhook channel",
        "Commits the message to the inbox before answering 2xx. Unknown fields are ignored (senders may add their own); nothing is stored for a rejected request. See docs/webhook-channel.md.",
        typeof(InboundMessageShape),
        WebhookHeaders.Inbound,
        [
            new(StatusCodes.Status202Accepted, "Committed to the inbox.", typeof(AcceptedMessage)),
            new(StatusCodes.Status200OK, "This id was stored before; nothing new was stored (duplicate is true).", typeof(AcceptedMessage)),
        ]);

    public async Task<IResult> HandleAsync(string channelId, HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var channel = await catalog.FindChannelAsync(channelId, cancellationToken).ConfigureAwait(false);
        if (channel is null || channel.Type != ChannelTypes.Webhook)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown channel", detail: $"No webhook channel '{channelId}'.");
        }

        using var read = await BoundedBody.ReadAsync(context.Request, options.MaxBodyBytes, cancellationToken).ConfigureAwait(false);
        if (read is null) return BoundedBody.TooLarge(context, options.MaxBodyBytes);
        var body = read.Span;

        if (channel.Secret is not null && !Signatures.Verify(channel.Secret, body, context.Request.Headers[WebhookHeaders.Signature]))
        {
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Bad signature",
                detail: $"The {WebhookHeaders.Signature} header must be sha256=<hex HMAC-SHA256 of the body with the channel's secret>.");
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var envelope = InboundMessageParser.Parse(body, channel.Id, time.GetUtcNow().ToUnixTimeMilliseconds(), errors);
        if (envelope is null) return Results.ValidationProblem(errors, title: "The message is not valid");

        // A redelivery seen a moment ago is answered from memory, without a trip to the database.
        if (recent.TryGet(envelope.ChannelId, envelope.PlatformId, out var knownSeq))
        {
            counters.OnReceived(duplicate: true);
            return Results.Json(new AcceptedMessage(knownSeq.ToString(CultureInfo.InvariantCulture), envelope.PlatformId, Duplicate: true),
                ChannelsJsonContext.Default.AcceptedMessage, statusCode: StatusCodes.Status200OK);
        }

        if (gate.RefusalReason() is { } reason)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Busy", detail: $"Not accepting messages now: {reason}.");
        }

        var result = await inbox.AppendAsync(envelope, cancellationToken).ConfigureAwait(false);
        counters.OnReceived(result.Duplicate);
        recent.Remember(envelope.ChannelId, envelope.PlatformId, result.Seq);
        var accepted = new AcceptedMessage(result.Seq.ToString(CultureInfo.InvariantCulture), envelope.PlatformId, result.Duplicate);
        return result.Duplicate
            ? Results.Json(accepted, ChannelsJsonContext.Default.AcceptedMessage, statusCode: StatusCodes.Status200OK)
            : Results.Json(accepted, ChannelsJsonContext.Default.AcceptedMessage, statusCode: StatusCodes.Status202Accepted);
    }
}

/// <summary>The answer to an accepted inbound message.</summary>
/// <param name="Seq">Tern's inbox sequence number.</param>
/// <param name="Id">The message id (the one sent, or the one Tern made up).</param>
/// <param name="Duplicate">True when this id was already stored; nothing new was stored.</param>
public sealed record AcceptedMessage(string Seq, string Id, bool Duplicate);

/// <summary>
/// The inbound body as the OpenAPI document shows it: <see cref="InboundMessageParser"/> reads the JSON itself (it also takes
/// integers for the ids and ignores unknown fields), so this record is never deserialized.
/// </summary>
/// <param name="Chat">The conversation, 1–256 characters (an integer is taken too).</param>
/// <param name="Id">With an id a redelivery is recognised and stored once.</param>
/// <param name="Attachments">Objects or strings (URLs), kept verbatim. Text or attachments is required.</param>
public sealed record InboundMessageShape(string Chat, string? Id, string? Sender, string? Text, System.Text.Json.JsonElement[]? Attachments);
