using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;
using Tern.Channels.Http;
using Tern.Channels.Webhook;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.StandIns.Http;

namespace Tern.Channels.Tests;

public sealed class WebhookSenderTests : IClassFixture<LoopbackReceiver>, IDisposable
{
    private const string Payload = """{"chat":"c-1","text":"hello ✓","source":{"channel":"in","chat":"c-1","id":"m-1","received_at":1},"route":"r1"}""";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private readonly LoopbackReceiver _receiver;
    private readonly string _testId = Guid.NewGuid().ToString("N");

    // Configured the way the server configures it: redirects are not followed, no overall timeout.
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, ConnectTimeout = TimeSpan.FromSeconds(10) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public WebhookSenderTests(LoopbackReceiver receiver) => _receiver = receiver;

    public void Dispose() => _http.Dispose();

    private static PendingDelivery Delivery(long id = 42, int attempts = 0) => new(id, 7, "r1", "hook", "c-1", Payload, attempts, 1_000);

    private string PathFor(string behaviour) => $"/{_testId}/{behaviour}";

    private ChannelDefinition Channel(string behaviour, string? secret = null) =>
        new("hook", ChannelTypes.Webhook, secret, new Uri(_receiver.BaseUri, PathFor(behaviour).TrimStart('/')), null);

    private async Task<SendResult> SendAsync(string behaviour, string? secret = null, TimeSpan? timeout = null, PendingDelivery? delivery = null)
    {
        var sender = new WebhookSender(_http, timeout ?? Generous, TimeProvider.System);
        return await sender.SendAsync(Channel(behaviour, secret), delivery ?? Delivery(), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void It_serves_the_webhook_channel_type() =>
        Assert.Equal(ChannelTypes.Webhook, new WebhookSender(_http, Generous, TimeProvider.System).ChannelType);

    [Theory]
    [InlineData(200, """{"id":"abc-123"}""", "abc-123")]
    [InlineData(201, """{"id":98765,"other":true}""", "98765")]
    [InlineData(200, """{"ok":true}""", null)]
    [InlineData(200, """["id"]""", null)]
    [InlineData(200, """{"id":{"nested":1}}""", null)]
    [InlineData(200, "not json at all", null)]
    public async Task A_2xx_is_sent_and_a_JSON_id_becomes_the_platform_id(int status, string body, string? expectedId)
    {
        var result = await SendAsync($"json/{status}/{Uri.EscapeDataString(body)}");

        Assert.Equal(SendOutcome.Sent, result.Outcome);
        Assert.Equal(expectedId, result.PlatformMessageId);
        Assert.Null(result.Error);
    }

    [Fact]
    public async Task A_2xx_with_a_non_JSON_content_type_is_sent_without_a_platform_id()
    {
        var result = await SendAsync($"text/200/{Uri.EscapeDataString("""{"id":"ignored"}""")}");

        Assert.Equal(SendOutcome.Sent, result.Outcome);
        Assert.Null(result.PlatformMessageId);
    }

    [Fact]
    public async Task A_204_is_sent()
    {
        var result = await SendAsync("status/204");

        Assert.Equal(SendResult.Ok(null), result);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(503)]
    public async Task A_5xx_is_retried_as_a_destination_fault(int status)
    {
        var result = await SendAsync($"status/{status}");

        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.True(result.DestinationFault);
        Assert.Null(result.RetryAfter);
        Assert.StartsWith($"HTTP {status}", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_503_with_Retry_After_is_retried_after_that_wait()
    {
        var result = await SendAsync("status/503/7");

        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.True(result.DestinationFault);
        Assert.Equal(TimeSpan.FromSeconds(7), result.RetryAfter);
    }

    [Fact]
    public async Task A_Retry_After_date_far_ahead_is_capped_at_an_hour()
    {
        var date = DateTimeOffset.UtcNow.AddDays(2).ToString("r");

        var result = await SendAsync($"status/503/{Uri.EscapeDataString(date)}");

        Assert.Equal(TimeSpan.FromHours(1), result.RetryAfter);
    }

    [Fact]
    public async Task A_429_with_Retry_After_is_retried_after_it_and_is_not_a_destination_fault()
    {
        var result = await SendAsync("status/429/2");

        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.False(result.DestinationFault);
        Assert.Equal(TimeSpan.FromSeconds(2), result.RetryAfter);
        Assert.StartsWith("HTTP 429", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_429_without_Retry_After_leaves_the_wait_to_the_backoff()
    {
        var result = await SendAsync("status/429");

        Assert.Equal((SendOutcome.Retry, false, (TimeSpan?)null), (result.Outcome, result.DestinationFault, result.RetryAfter));
    }

    [Fact]
    public async Task A_408_is_retried()
    {
        var result = await SendAsync("status/408");

        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.StartsWith("HTTP 408", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(400, "Bad Request")]
    [InlineData(401, "Unauthorized")]
    [InlineData(403, "Forbidden")]
    [InlineData(404, "Not Found")]
    [InlineData(410, "Gone")]
    [InlineData(422, "Unprocessable Entity")]
    public async Task Other_4xx_are_permanent_with_the_status_and_a_body_snippet(int status, string reason)
    {
        var result = await SendAsync($"status/{status}");

        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.False(result.DestinationFault);
        Assert.Equal($"HTTP {status} {reason}: error body for {status}", result.Error);
    }

    [Fact]
    public async Task A_long_error_body_is_cut_to_a_snippet()
    {
        var result = await SendAsync("long-body/400");

        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.Equal("HTTP 400 Bad Request: " + new string('b', 200) + "…", result.Error);
    }

    [Theory]
    [InlineData(301)]
    [InlineData(302)]
    [InlineData(307)]
    [InlineData(308)]
    public async Task A_redirect_is_permanent_and_not_followed(int status)
    {
        var result = await SendAsync($"redirect/{status}");

        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.Contains($"HTTP {status}", result.Error, StringComparison.Ordinal);
        Assert.Contains("redirects are not followed", result.Error, StringComparison.Ordinal);
        Assert.Single(_receiver.RequestsTo(PathFor($"redirect/{status}")));
        Assert.Empty(_receiver.RequestsTo(PathFor("redirect-target")));
    }

    [Fact]
    public async Task A_server_slower_than_the_timeout_is_retried()
    {
        var result = await SendAsync("slow", timeout: TimeSpan.FromMilliseconds(300));

        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.True(result.DestinationFault);
        Assert.Equal("no answer within 0.3 s", result.Error);
    }

    [Fact]
    public async Task A_refused_connection_is_retried_as_a_destination_fault()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var channel = new ChannelDefinition("hook", ChannelTypes.Webhook, null, new Uri($"http://127.0.0.1:{port}/closed"), null);

        var result = await new WebhookSender(_http, Generous, TimeProvider.System).SendAsync(channel, Delivery(), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(SendOutcome.Retry, result.Outcome);
        Assert.True(result.DestinationFault);
        Assert.StartsWith("network: ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_channel_without_a_URL_is_a_permanent_failure()
    {
        var channel = new ChannelDefinition("no-url", ChannelTypes.Webhook, null, null, null);

        var result = await new WebhookSender(_http, Generous, TimeProvider.System).SendAsync(channel, Delivery(), CancellationToken.None);

        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.Contains("no-url", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_caller_cancelling_a_send_is_not_reported_as_a_result()
    {
        using var cancel = new CancellationTokenSource();
        var sender = new WebhookSender(_http, Generous, TimeProvider.System);
        var send = sender.SendAsync(Channel("slow"), Delivery(), cancel.Token);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_receiver.RequestsTo(PathFor("slow")).Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(5);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    private static readonly string ChannelSecret = WebhookSecret.Generate();
    private static readonly string OtherSecret = WebhookSecret.Generate();

    /// <summary>
    /// The StandardWebhooks package's own verifier (not Tern's code): null when it accepts, else its message. The package (1.1.2)
    /// looks only at the first of several space-separated signatures, so each one is shown to it alone; the npm package checks
    /// the whole header (TenantEventTests).
    /// </summary>
    private static string? Verified(RecordedRequest request, string secret)
    {
        string? refusal = "no webhook-signature";
        foreach (var signature in (request.Header("webhook-signature") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var headers = new HeaderDictionary { ["webhook-signature"] = signature };
            foreach (var name in new[] { "webhook-id", "webhook-timestamp" })
            {
                if (request.Header(name) is { } value) headers[name] = value;
            }
            try
            {
                new StandardWebhook(secret).Verify(request.BodyText, headers);
                return null;
            }
            catch (WebhookVerificationException ex)
            {
                refusal = ex.Message;
            }
        }
        return refusal;
    }

    [Fact]
    public async Task A_signed_post_is_a_Standard_Webhook_the_StandardWebhooks_package_verifies()
    {
        var result = await SendAsync("ok", secret: ChannelSecret, delivery: Delivery(id: 4242, attempts: 2));

        Assert.Equal(SendOutcome.Sent, result.Outcome);
        var request = Assert.Single(_receiver.RequestsTo(PathFor("ok")));
        Assert.Equal("POST", request.Method);
        Assert.Equal(Payload, request.BodyText);
        Assert.Equal("application/json; charset=utf-8", request.Header("Content-Type"));
        Assert.Equal("msg_4242", request.Header("webhook-id"));
        Assert.Equal("msg_4242", request.Header(WebhookHeaders.IdempotencyKey));
        Assert.Equal("3", request.Header(WebhookHeaders.Attempt));
        var timestamp = long.Parse(request.Header("webhook-timestamp")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - timestamp, 0, 60);
        Assert.Matches("^v1,[A-Za-z0-9+/]{43}=$", request.Header("webhook-signature"));
        Assert.Null(Verified(request, ChannelSecret));
        Assert.NotNull(Verified(request, OtherSecret));
        Assert.Null(request.Header("X-Tern-Signature"));
    }

    [Fact]
    public async Task During_a_rotation_the_new_and_the_previous_secret_both_sign_and_after_it_only_the_new_one()
    {
        var sender = new WebhookSender(_http, Generous, TimeProvider.System);
        var rotating = Channel("ok", ChannelSecret) with { PreviousSecret = OtherSecret, PreviousSecretUntil = DateTimeOffset.UtcNow.AddHours(1) };
        await sender.SendAsync(rotating, Delivery(id: 1), CancellationToken.None);
        await sender.SendAsync(rotating with { PreviousSecretUntil = DateTimeOffset.UtcNow.AddSeconds(-1) }, Delivery(id: 2), CancellationToken.None);

        var requests = _receiver.RequestsTo(PathFor("ok"));
        Assert.Equal(2, requests.Count);
        Assert.Equal(2, requests[0].Header("webhook-signature")!.Split(' ').Length);
        Assert.Null(Verified(requests[0], ChannelSecret));
        Assert.Null(Verified(requests[0], OtherSecret));
        Assert.Single(requests[1].Header("webhook-signature")!.Split(' '));
        Assert.Null(Verified(requests[1], ChannelSecret));
        Assert.NotNull(Verified(requests[1], OtherSecret));
    }

    [Fact]
    public async Task Without_a_secret_there_is_no_signature_but_the_delivery_headers_remain()
    {
        await SendAsync("ok", secret: null, delivery: Delivery(id: 5, attempts: 0));

        var request = Assert.Single(_receiver.RequestsTo(PathFor("ok")));
        Assert.Null(request.Header("webhook-signature"));
        Assert.Equal("msg_5", request.Header("webhook-id"));
        Assert.NotNull(request.Header("webhook-timestamp"));
        Assert.Equal("msg_5", request.Header(WebhookHeaders.IdempotencyKey));
        Assert.Equal("1", request.Header(WebhookHeaders.Attempt));
        Assert.Equal(Payload, request.BodyText);
    }

    [Fact]
    public async Task A_410_from_a_subscription_retires_it_and_from_a_webhook_channel_only_fails_the_delivery()
    {
        var events = WebhookSender.ForTenantEvents(_http, Generous, TimeProvider.System);
        var subscription = Channel("status/410", ChannelSecret) with { Type = ChannelTypes.TenantWebhook };
        var gone = await events.SendAsync(subscription, Delivery(), CancellationToken.None);
        var channel = await SendAsync("status/410", ChannelSecret);

        Assert.Equal((SendOutcome.Permanent, true), (gone.Outcome, gone.RetireChannel));
        Assert.Contains("disabled", gone.Error, StringComparison.Ordinal);
        Assert.Equal((SendOutcome.Permanent, false), (channel.Outcome, channel.RetireChannel));
    }

    [Fact]
    public async Task Every_retry_of_a_delivery_has_the_same_idempotency_key_and_a_growing_attempt()
    {
        for (var attempts = 0; attempts < 3; attempts++) await SendAsync("ok", delivery: Delivery(id: 77, attempts: attempts));

        var requests = _receiver.RequestsTo(PathFor("ok"));
        Assert.Equal(["msg_77", "msg_77", "msg_77"], requests.Select(r => r.Header(WebhookHeaders.IdempotencyKey)));
        Assert.Equal(["msg_77", "msg_77", "msg_77"], requests.Select(r => r.Header("webhook-id")));
        Assert.Equal(["1", "2", "3"], requests.Select(r => r.Header(WebhookHeaders.Attempt)));
    }
}
