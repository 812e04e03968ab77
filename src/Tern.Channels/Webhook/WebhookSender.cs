using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Tern.Channels.Http;
using Tern.Core.Catalog;
using Tern.Core.Delivery;

namespace Tern.Channels.Webhook;

/// <summary>
/// Delivers to a webhook channel or a tenant's event subscription: POSTs the JSON to its URL as a Standard Webhook
/// (webhook-id, webhook-timestamp, webhook-signature; docs/api.md), the delivery id as the webhook id and as an
/// idempotency key, so a receiver can drop the one duplicate a crash may cause.
/// </summary>
public sealed class WebhookSender(HttpClient http, TimeSpan timeout, TimeProvider time, string channelType = ChannelTypes.Webhook) : IChannelSender
{
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromHours(1);

    /// <summary>Tenant events: signed the same way; a receiver answering 410 Gone disables its subscription.</summary>
    public static WebhookSender ForTenantEvents(HttpClient http, TimeSpan timeout, TimeProvider time) =>
        new(http, timeout, time, ChannelTypes.TenantWebhook);

    public string ChannelType => channelType;

    public async Task<SendResult> SendAsync(ChannelDefinition channel, PendingDelivery delivery, CancellationToken cancellationToken)
    {
        if (channel.Url is null) return SendResult.Rejected($"channel '{channel.Id}' has no URL to deliver to");

        var body = Encoding.UTF8.GetBytes(delivery.Payload);
        using var request = new HttpRequestMessage(HttpMethod.Post, channel.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        // The same id on every retry (the specification's idempotency key); the timestamp is this attempt's.
        var id = WebhookHeaders.MessageId(delivery.Id);
        var now = time.GetUtcNow();
        request.Headers.Add(StandardWebhookSignature.IdHeader, id);
        request.Headers.Add(StandardWebhookSignature.TimestampHeader, now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(WebhookHeaders.IdempotencyKey, id);
        request.Headers.Add(WebhookHeaders.Attempt, (delivery.Attempts + 1).ToString(CultureInfo.InvariantCulture));
        var secrets = channel.SecretsAt(now);
        if (secrets.Count > 0)
        {
            // During a rotation both the new and the previous secret sign: a receiver that knows either accepts.
            request.Headers.Add(StandardWebhookSignature.SignatureHeader,
                StandardWebhookSignature.Sign(secrets.Select(WebhookSecret.KeyOf).ToArray(), id, now.ToUnixTimeSeconds(), body));
        }

        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeoutSource.Token).ConfigureAwait(false);
            return await ClassifyAsync(response, timeoutSource.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return SendResult.Transient($"no answer within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch (HttpRequestException ex) when (DestinationRefusedException.In(ex) is { } refused)
        {
            // Not a fault that passes: the address is one Tern must not call (the name now resolves to it, or the allow-list changed).
            return SendResult.Rejected("refused: " + refused.Message);
        }
        catch (HttpRequestException ex)
        {
            return SendResult.Transient("network: " + (ex.HttpRequestError == HttpRequestError.Unknown ? ex.Message : ex.HttpRequestError.ToString()));
        }
    }

    private async Task<SendResult> ClassifyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        if (status is >= 200 and < 300) return SendResult.Ok(await ReadMessageIdAsync(response, cancellationToken).ConfigureAwait(false));

        var reason = $"HTTP {status.ToString(CultureInfo.InvariantCulture)} {response.ReasonPhrase}";
        var retryAfter = RetryAfter.From(response.Headers.RetryAfter, time.GetUtcNow(), MaxRetryAfter);
        return response.StatusCode switch
        {
            HttpStatusCode.TooManyRequests => SendResult.Transient(reason, retryAfter, destinationFault: false),
            // Standard Webhooks: 410 means the receiver is gone for good; a subscription is disabled, not retried.
            HttpStatusCode.Gone when channelType == ChannelTypes.TenantWebhook =>
                SendResult.Rejected(reason + " (the subscription is disabled; enable it again with POST /v1/webhooks/{id}/enable)") with { RetireChannel = true },
            HttpStatusCode.RequestTimeout => SendResult.Transient(reason, retryAfter),
            _ when status >= 500 => SendResult.Transient(reason, retryAfter),
            _ when status is >= 300 and < 400 => SendResult.Rejected(reason + " (redirects are not followed; configure the final URL)"),
            _ => SendResult.Rejected(reason + await ReadSnippetAsync(response, cancellationToken).ConfigureAwait(false)),
        };
    }

    /// <summary>A receiver may answer <c>{"id": …}</c>; that becomes the delivery's platform message id.</summary>
    private static async Task<string?> ReadMessageIdAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentType?.MediaType != "application/json" || response.Content.Headers.ContentLength is 0 or > 64 * 1024) return null;
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (bytes.Length == 0 || bytes.Length > 64 * 1024) return null;
            using var document = JsonDocument.Parse(bytes);
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("id", out var id)) return null;
            return id.ValueKind switch
            {
                JsonValueKind.String => id.GetString(),
                JsonValueKind.Number => id.GetRawText(),
                _ => null,
            };
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task<string> ReadSnippetAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            text = text.Trim();
            if (text.Length == 0) return "";
            return ": " + (text.Length > 200 ? text[..200] + "…" : text);
        }
        catch (HttpRequestException)
        {
            return "";
        }
    }
}
