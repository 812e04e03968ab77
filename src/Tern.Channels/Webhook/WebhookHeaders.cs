namespace Tern.Channels.Webhook;

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
}
