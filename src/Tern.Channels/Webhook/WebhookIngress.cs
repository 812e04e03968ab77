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

        var now = time.GetUtcNow();
        var standard = WebhookSettings.Of(channel).EffectiveInboundSignature == InboundSignatures.StandardWebhooks;
        if (channel.Secret is not null && SignatureProblem(channel, standard, context.Request.Headers, body, now) is { } problem)
        {
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Bad signature", detail: problem);
        }

        // A Standard Webhooks sender's webhook-id is the same on every retry: without an id in the body, it recognises a redelivery.
        string? senderId = standard ? context.Request.Headers[StandardWebhookSignature.IdHeader].ToString() : null;
        if (senderId is not { Length: > 0 and <= InboundMessageParser.MaxIdLength }) senderId = null;
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var envelope = InboundMessageParser.Parse(body, channel.Id, now.ToUnixTimeMilliseconds(), errors, senderId);
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

    /// <summary>
    /// Null when the request is signed with the channel's secret (or, during a rotation's overlap, the previous one), by the
    /// channel's scheme; else what the 401 says. Both schemes compare in constant time.
    /// </summary>
    private static string? SignatureProblem(ChannelDefinition channel, bool standard, IHeaderDictionary headers, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        var secrets = channel.SecretsAt(now);
        if (standard)
        {
            var keys = new byte[secrets.Count][];
            for (var i = 0; i < keys.Length; i++) keys[i] = WebhookSecret.KeyOf(secrets[i]);
            var problem = StandardWebhookSignature.Verify(keys, headers[StandardWebhookSignature.IdHeader], headers[StandardWebhookSignature.TimestampHeader],
                headers[StandardWebhookSignature.SignatureHeader], body, now);
            return problem is null ? null : $"Standard Webhooks signature refused: {problem} (docs/webhook-channel.md).";
        }
        var header = headers[WebhookHeaders.HmacSignature].ToString();
        var matched = false;
        foreach (var secret in secrets) matched |= Signatures.Verify(secret, body, header);
        return matched ? null : $"The {WebhookHeaders.HmacSignature} header must be sha256=<hex HMAC-SHA256 of the body with the channel's secret>.";
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
