using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tern.Channels.Http;
using Tern.Channels.Webhook;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Memory;
using Tern.Core.Messages;
using Tern.Core.Pipeline;

namespace Tern.Channels.WhatsApp;

/// <summary>
/// <c>/hooks/whatsapp/{channelId}</c>, where Meta's webhooks for the channel's app arrive.
/// <list type="bullet">
/// <item><c>GET</c>: the verification handshake — <c>hub.mode=subscribe</c> and the channel's verify token echo <c>hub.challenge</c>; anything else is a 403.</item>
/// <item><c>POST</c>: <c>X-Hub-Signature-256</c> (HMAC-SHA256 of the raw bytes with the app secret) checked in constant time, 401 when
/// wrong or missing; every message of the body committed to the inbox before the 200, so a crash before the answer means Meta sends
/// it again, and a redelivery is a no-op (keyed on the wamid).</item>
/// </list>
/// Meta sends one app's webhooks to one URL: a change for another phone number of the same app (a channel with the same app secret)
/// is committed to that number's channel; a change for a number Tern has no channel for is acknowledged and not stored.
/// </summary>
public sealed class WhatsAppWebhookIngress(
    CatalogCache catalog, InboundBatch batch, IngressGate gate, IngressStatusBoard status,
    WhatsAppIngressOptions options, IngressOptions ingress, WhatsAppPostSlots slots, DeliveryReceipts receipts, TimeProvider time)
{
    public const string SignatureHeader = "X-Hub-Signature-256";

    public static HookShape VerifyShape { get; } = new(
        "verifyWhatsAppWebhook",
        "Meta's webhook verification (WhatsApp)",
        "Meta calls this once when the webhook is set up in the app dashboard: with hub.mode=subscribe and the channel's verify token the answer is hub.challenge as text; a wrong token is a 403. See docs/whatsapp.md.",
        null,
        [],
        [new(StatusCodes.Status200OK, "The challenge, echoed as text/plain.", typeof(string), "text/plain")],
        [
            new("hub.mode", "Always subscribe.", Required: true),
            new("hub.verify_token", "The verify token entered in Meta's dashboard; must be the channel's.", Required: true),
            new("hub.challenge", "What to answer with.", Required: true),
        ],
        [StatusCodes.Status403Forbidden]);

    public static HookShape PushShape { get; } = new(
        "postWhatsAppWebhook",
        "Receive Meta's WhatsApp webhooks (messages and statuses)",
        "Meta's messages webhook for the channel's app: many entries, changes, messages and statuses per body. Signed with the app secret; every message is committed before the 200 and a redelivery (same wamid) is a no-op. See docs/whatsapp.md.",
        typeof(WhatsAppWebhookShape),
        [new(SignatureHeader, "sha256= and the hex HMAC-SHA256 of the raw body, keyed with the app secret; a missing or wrong one is a 401.", Required: true)],
        [new(StatusCodes.Status200OK, "Committed (redeliveries recognised).", typeof(WhatsAppAccepted))]);

    public async Task<IResult> VerifyAsync(string channelId, HttpContext context)
    {
        var channel = await catalog.FindChannelAsync(channelId, context.RequestAborted).ConfigureAwait(false);
        if (channel is null || channel.Type != WhatsAppChannelType.TypeName || WhatsAppSettings.Of(channel) is not { } settings)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown channel", detail: $"No WhatsApp channel '{channelId}'.");
        }
        var query = context.Request.Query;
        var mode = query["hub.mode"].ToString();
        var token = query["hub.verify_token"].ToString();
        var challenge = query["hub.challenge"].ToString();
        if (mode != "subscribe" || !SameSecret(settings.VerifyToken, token))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Verification refused",
                detail: "hub.mode must be subscribe and hub.verify_token the channel's verify token.");
        }
        if (challenge.Length is 0 or > 1024)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["hub.challenge"] = ["is required (1–1024 characters)"] }, title: "The verification request is not valid");
        }
        status.Set(channel.Id, "webhook", "ok", "verified by Meta", time.GetUtcNow().ToUnixTimeMilliseconds());
        return Results.Text(challenge, "text/plain", Encoding.UTF8);
    }

    public async Task<IResult> PushAsync(string channelId, HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var channel = await catalog.FindChannelAsync(channelId, cancellationToken).ConfigureAwait(false);
        if (channel is null || channel.Type != WhatsAppChannelType.TypeName || WhatsAppSettings.Of(channel) is not { } settings)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown channel", detail: $"No WhatsApp channel '{channelId}'.");
        }

        // Bodies of a few MB: only a few are read and parsed at once, the others wait their turn before reading.
        await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Kestrel's server-wide limit follows Tern:Ingress:MaxBodyBytes (at least 1 MB); Meta's batches may be larger,
            // up to Tern:WhatsApp:MaxBodyBytes, so this request gets that bound instead (the body is not read yet).
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = options.MaxBodyBytes + 1L;
            using var body = await BoundedBody.ReadAsync(context.Request, options.MaxBodyBytes, cancellationToken).ConfigureAwait(false);
            if (body is null) return BoundedBody.TooLarge(context, options.MaxBodyBytes);

            var now = time.GetUtcNow();
            var signature = context.Request.Headers[SignatureHeader].ToString();
            string? appSecret = null;
            foreach (var secret in channel.SecretsAt(now))
            {
                if (Signatures.Verify(secret, body.Span, signature)) appSecret ??= secret;
            }
            if (appSecret is null)
            {
                return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Bad signature",
                    detail: signature.Length == 0
                        ? $"The {SignatureHeader} header is missing: Meta signs every webhook with the app secret."
                        : $"The {SignatureHeader} header must be sha256=<hex HMAC-SHA256 of the raw body, keyed with the channel's app secret>.");
            }

            var nowMs = now.ToUnixTimeMilliseconds();
            var payload = WebhookPayloadReader.Read(body.Span, nowMs, out var problem);
            if (payload is null)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [problem!] }, title: "The webhook is not valid");
            }

            if (payload.Messages.Count > 0 && gate.RefusalReason() is { } reason)
            {
                // Meta retries a webhook that is not answered 200, for up to 7 days: the messages wait on their side.
                context.Response.Headers.RetryAfter = ((int)Math.Ceiling(ingress.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Busy", detail: $"Not accepting messages now: {reason}.");
            }

            var (fresh, duplicates, skipped) = await CommitAsync(channel, settings, appSecret, payload, nowMs, cancellationToken).ConfigureAwait(false);
            skipped += await ApplyStatusesAsync(channel, settings, appSecret, payload.Statuses, cancellationToken).ConfigureAwait(false);
            return Results.Json(new WhatsAppAccepted(fresh, duplicates, payload.Statuses.Count, skipped + payload.Unusable),
                ChannelsJsonContext.Default.WhatsAppAccepted, statusCode: StatusCodes.Status200OK);
        }
        finally
        {
            slots.Release();
        }
    }

    /// <summary>Commits the body's messages in body order (one group commit); returns how many were new, redeliveries, and for no channel of Tern's.</summary>
    private async Task<(int Fresh, int Duplicates, int Skipped)> CommitAsync(
        ChannelDefinition channel, WhatsAppSettings settings, string appSecret, WebhookPayload payload, long nowMs, CancellationToken cancellationToken)
    {
        Dictionary<string, string?>? others = null;
        var envelopes = new List<Envelope>(payload.Messages.Count);
        var skipped = 0;
        foreach (var (phoneNumberId, unassigned) in payload.Messages)
        {
            string? channelId = channel.Id;
            if (phoneNumberId != settings.PhoneNumberId)
            {
                others ??= [];
                if (!others.TryGetValue(phoneNumberId, out channelId))
                {
                    channelId = await SiblingAsync(appSecret, phoneNumberId, cancellationToken).ConfigureAwait(false);
                    others[phoneNumberId] = channelId;
                }
                if (channelId is null)
                {
                    skipped++;
                    continue;
                }
            }
            envelopes.Add(unassigned with { ChannelId = channelId });
        }
        if (envelopes.Count == 0) return (0, 0, skipped);
        var (fresh, duplicates) = await batch.CommitAsync(envelopes, cancellationToken).ConfigureAwait(false);
        status.OnUpdates(channel.Id, fresh, nowMs);
        return (fresh, duplicates, skipped);
    }

    /// <summary>
    /// The statuses of messages Tern sent, as receipts on those messages (committed before the 200 like the messages); returns
    /// how many were for a number Tern has no channel for.
    /// </summary>
    private async Task<int> ApplyStatusesAsync(
        ChannelDefinition channel, WhatsAppSettings settings, string appSecret, List<WhatsAppStatusUpdate> statuses, CancellationToken cancellationToken)
    {
        if (statuses.Count == 0) return 0;
        var list = new List<DeliveryReceipt>(statuses.Count);
        Dictionary<string, string?>? others = null;
        var skipped = 0;
        foreach (var status in statuses)
        {
            string? channelId = channel.Id;
            if (status.PhoneNumberId != settings.PhoneNumberId)
            {
                others ??= [];
                if (!others.TryGetValue(status.PhoneNumberId, out channelId))
                {
                    channelId = await SiblingAsync(appSecret, status.PhoneNumberId, cancellationToken).ConfigureAwait(false);
                    others[status.PhoneNumberId] = channelId;
                }
            }
            if (channelId is null || !DeliveryReceipts.Statuses.Contains(status.Status))
            {
                skipped++;
                continue;
            }
            list.Add(new DeliveryReceipt(channelId, status.Wamid, status.Status, status.TimestampSeconds * 1000, status.Errors));
        }
        await receipts.ApplyAsync(list, cancellationToken).ConfigureAwait(false);
        return skipped;
    }

    /// <summary>The WhatsApp channel of another phone number of the same app: the same app secret signed this body.</summary>
    private async Task<string?> SiblingAsync(string appSecret, string phoneNumberId, CancellationToken cancellationToken)
    {
        var snapshot = await catalog.GetAsync(cancellationToken).ConfigureAwait(false);
        if (Find(snapshot) is { } found) return found;
        // A channel the CLI or another instance added a moment ago is not in the snapshot yet: ask the store once more
        // before skipping, as a skipped message is answered 200 and Meta never sends it again.
        snapshot = await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return Find(snapshot);

        string? Find(CatalogSnapshot channels)
        {
            foreach (var candidate in channels.Channels.Values)
            {
                if (candidate.Type == WhatsAppChannelType.TypeName && candidate.Secret == appSecret && WhatsAppSettings.Of(candidate)?.PhoneNumberId == phoneNumberId)
                {
                    return candidate.Id;
                }
            }
            return null;
        }
    }

    private static bool SameSecret(string expected, string given)
    {
        // Hashes first, so the comparison takes the same time whatever the lengths.
        var a = SHA256.HashData(Encoding.UTF8.GetBytes(expected));
        var b = SHA256.HashData(Encoding.UTF8.GetBytes(given));
        return CryptographicOperations.FixedTimeEquals(a, b);
    }
}

/// <summary>What a webhook POST did: messages stored, redeliveries recognised, statuses received (each recorded on its message), items for no channel of Tern's.</summary>
public sealed record WhatsAppAccepted(int Messages, int Duplicates, int Statuses, int Skipped);

/// <summary>
/// Meta's webhook body as the OpenAPI document shows it (the hook reads the JSON itself, Meta's fields as documented in the
/// messages webhook reference); never deserialized.
/// </summary>
public sealed record WhatsAppWebhookShape([property: System.Text.Json.Serialization.JsonPropertyName("object")] string Kind, WhatsAppEntryShape[] Entry);

public sealed record WhatsAppEntryShape(string Id, WhatsAppChangeShape[] Changes);

public sealed record WhatsAppChangeShape(string Field, System.Text.Json.JsonElement Value);

/// <summary>How many webhook POSTs are read and parsed at once (each holds its body, up to a few MB, and its JSON): a bound in <c>/memory</c>.</summary>
public sealed class WhatsAppPostSlots(int capacity) : IBoundedStructure, IDisposable
{
    private readonly SemaphoreSlim _slots = new(capacity, capacity);
    private long _waited;

    public string Name => "whatsapp_posts";

    public int Count => capacity - _slots.CurrentCount;

    public int Capacity => capacity;

    /// <summary>POSTs that had to wait for a slot (reported where other structures report evictions).</summary>
    public long Evictions => Interlocked.Read(ref _waited);

    public int Trim(double fraction) => 0;

    public Task WaitAsync(CancellationToken cancellationToken)
    {
        if (_slots.Wait(0, CancellationToken.None)) return Task.CompletedTask;
        Interlocked.Increment(ref _waited);
        return _slots.WaitAsync(cancellationToken);
    }

    public void Release() => _slots.Release();

    public void Dispose() => _slots.Dispose();
}
