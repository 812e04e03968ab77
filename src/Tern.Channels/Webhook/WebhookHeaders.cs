namespace Tern.Channels.Webhook;

/// <summary>The webhook channel's headers, in and out; the OpenAPI document declares the inbound ones from here.</summary>
public static class WebhookHeaders
{
    /// <summary>Inbound <c>hmac-sha256</c> signatures: <c>sha256=&lt;hex&gt;</c> HMAC-SHA256 of the raw body, under the name GitHub and Meta send it.</summary>
    public const string HmacSignature = "X-Hub-Signature-256";

    /// <summary>The webhook-id value, under the name receivers' idempotency middleware looks for.</summary>
    public const string IdempotencyKey = "Idempotency-Key";

    /// <summary>The webhook-id of a delivery: its outbox id, the same on every retry.</summary>
    public static string MessageId(long deliveryId) => "msg_" + deliveryId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>1 for the first try, 2 for the first retry, …</summary>
    public const string Attempt = "X-Tern-Attempt";

    /// <summary>The headers <c>POST /hooks/webhook/{channelId}</c> reads, as the OpenAPI document declares them.</summary>
    public static IReadOnlyList<HookHeader> Inbound { get; } =
    [
        new(HmacSignature, "Channels whose webhook.inbound_signature is hmac-sha256 (the default): sha256= and the lowercase hex HMAC-SHA256 of the raw body "
            + "with the UTF-8 bytes of the channel's secret (docs/webhook-channel.md). Required when the channel has a secret; a missing or wrong one is a 401.", Required: false),
        new(Http.StandardWebhookSignature.IdHeader, "Channels whose webhook.inbound_signature is standard-webhooks: the sender's message id, the same on every retry "
            + "(it is the message id when the body has none).", Required: false),
        new(Http.StandardWebhookSignature.TimestampHeader, "standard-webhooks channels: Unix seconds when it was sent; more than 5 minutes away from now is a 401.", Required: false),
        new(Http.StandardWebhookSignature.SignatureHeader, "standard-webhooks channels: v1,<base64 HMAC-SHA256 of \"{webhook-id}.{webhook-timestamp}.{body}\">, "
            + "several space-separated; one must match the channel's secret (or, during a rotation, the previous one).", Required: false),
    ];
}
