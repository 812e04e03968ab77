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
/// Delivers to a webhook channel: POSTs the message JSON to the channel's URL, signed with its secret,
/// with the delivery id as an idempotency key so a receiver can drop the one duplicate a crash may cause.
/// Tenant event subscriptions use the same sender with a timestamped signature (see <see cref="ForTenantEvents"/>).
/// </summary>
public sealed class WebhookSender(HttpClient http, TimeSpan timeout, TimeProvider time, string channelType = ChannelTypes.Webhook, bool timestamped = false) : IChannelSender
{
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromHours(1);

    /// <summary>
    /// Tenant events: the signature covers "{timestamp}.{body}" and the timestamp travels in
    /// X-Tern-Timestamp, so a receiver can refuse replays older than its window (docs/api.md).
    /// </summary>
    public static WebhookSender ForTenantEvents(HttpClient http, TimeSpan timeout, TimeProvider time) =>
        new(http, timeout, time, ChannelTypes.TenantWebhook, timestamped: true);

    public string ChannelType => channelType;

    public async Task<SendResult> SendAsync(ChannelDefinition channel, PendingDelivery delivery, CancellationToken cancellationToken)
    {
        if (channel.Url is null) return SendResult.Rejected($"channel '{channel.Id}' has no URL to deliver to");

        var body = Encoding.UTF8.GetBytes(delivery.Payload);
        using var request = new HttpRequestMessage(HttpMethod.Post, channel.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        var id = delivery.Id.ToString(CultureInfo.InvariantCulture);
        request.Headers.Add(WebhookHeaders.DeliveryId, id);
        request.Headers.Add(WebhookHeaders.IdempotencyKey, id);
        request.Headers.Add(WebhookHeaders.Attempt, (delivery.Attempts + 1).ToString(CultureInfo.InvariantCulture));
        if (timestamped)
        {
            var timestamp = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            request.Headers.Add(WebhookHeaders.Timestamp, timestamp);
            if (channel.Secret is not null) request.Headers.Add(WebhookHeaders.Signature, Signatures.SignTimestamped(channel.Secret, timestamp, body));
        }
        else if (channel.Secret is not null)
        {
            request.Headers.Add(WebhookHeaders.Signature, Signatures.Sign(channel.Secret, body));
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
