namespace Tern.Channels.Webhook;

/// <summary>The webhook channel's headers, in and out; the OpenAPI document declares the inbound ones from here.</summary>
public static class WebhookHeaders
{
    /// <summary>HMAC-SHA256 of the raw body with the channel's secret, <c>sha256=&lt;hex&gt;</c>.</summary>
    public const string Signature = "X-Tern-Signature";

    /// <summary>The outbox delivery id; the same on every retry of one delivery.</summary>
    public const string DeliveryId = "X-Tern-Delivery";

    /// <summary>Same value as <see cref="DeliveryId"/>, under the name receivers' idempotency middleware looks for.</summary>
    public const string IdempotencyKey = "Idempotency-Key";

    /// <summary>Unix seconds when a tenant event was sent; part of what its signature covers.</summary>
    public const string Timestamp = "X-Tern-Timestamp";

    /// <summary>1 for the first try, 2 for the first retry, …</summary>
    public const string Attempt = "X-Tern-Attempt";

    /// <summary>The headers <c>POST /hooks/webhook/{channelId}</c> reads, as the OpenAPI document declares them.</summary>
    public static IReadOnlyList<HookHeader> Inbound { get; } =
    [
        new(Signature, "sha256= and the lowercase hex HMAC-SHA256 of the raw body with the channel's secret (docs/webhook-channel.md). "
            + "Required when the channel has a secret; a missing or wrong one is a 401.", Required: false),
    ];
}
