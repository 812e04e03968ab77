using System.Net;
using Tern.Channels.Http;
using Tern.Channels.Webhook;
using Tern.Core.Catalog;
using Tern.Core.Delivery;

namespace Tern.Channels.Tests;

/// <summary>Which addresses Tern refuses to call on a tenant's behalf, and that the outbound clients refuse them on connect.</summary>
public sealed class DestinationPolicyTests(LoopbackReceiver receiver) : IClassFixture<LoopbackReceiver>
{
    private readonly string _testId = Guid.NewGuid().ToString("N");

    [Theory]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("0.1.2.3", "unspecified")]
    [InlineData("::", "unspecified")]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.255.255.254", "loopback")]
    [InlineData("::1", "loopback")]
    [InlineData("10.0.0.1", "private")]
    [InlineData("172.16.0.1", "private")]
    [InlineData("172.31.255.255", "private")]
    [InlineData("192.168.0.1", "private")]
    [InlineData("100.64.0.1", "private")]
    [InlineData("100.127.255.255", "private")]
    [InlineData("169.254.169.254", "link-local")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("febf::1", "link-local")]
    [InlineData("fec0::1", "site-local")]
    [InlineData("fc00::1", "unique-local")]
    [InlineData("fd12:3456::1", "unique-local")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("239.255.255.250", "multicast")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("240.0.0.1", "reserved")]
    [InlineData("255.255.255.255", "reserved")]
    [InlineData("192.0.0.8", "reserved")]
    [InlineData("198.18.0.1", "reserved")]
    [InlineData("2001:db8::1", "reserved")]
    [InlineData("::7f00:1", "reserved")]
    // Forms that carry an IPv4 address are judged by it.
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("::ffff:10.1.2.3", "private")]
    [InlineData("64:ff9b::a9fe:a9fe", "link-local")]
    [InlineData("64:ff9b::7f00:1", "loopback")]
    [InlineData("2002:c0a8:0101::1", "private")]
    [InlineData("64:ff9b:1::1", "private")]
    public void Non_public_addresses_are_classified(string address, string kind) =>
        Assert.Equal(kind, DestinationPolicy.Classify(IPAddress.Parse(address)));

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("149.154.167.220")] // api.telegram.org
    [InlineData("172.32.0.1")]
    [InlineData("172.15.255.255")]
    [InlineData("100.128.0.1")]
    [InlineData("169.253.1.1")]
    [InlineData("192.169.0.1")]
    [InlineData("223.255.255.255")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("2a00:1450:4001::200e")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    [InlineData("2002:0808:0808::1")]
    public void Public_addresses_are_not(string address) =>
        Assert.Null(DestinationPolicy.Classify(IPAddress.Parse(address)));

    [Fact]
    public void The_allow_list_admits_its_networks_and_no_others()
    {
        var policy = new DestinationPolicy([IPNetwork.Parse("10.20.0.0/16"), IPNetwork.Parse("fd00::/8")]);
        Assert.Null(policy.Refuses(IPAddress.Parse("10.20.3.4")));
        Assert.Null(policy.Refuses(IPAddress.Parse("::ffff:10.20.3.4")));
        Assert.Null(policy.Refuses(IPAddress.Parse("fd01::5")));
        Assert.Equal("private", policy.Refuses(IPAddress.Parse("10.21.0.1")));
        Assert.Equal("loopback", policy.Refuses(IPAddress.Parse("127.0.0.1")));
        Assert.Equal("unique-local", policy.Refuses(IPAddress.Parse("fc00::1")));
        Assert.Null(policy.Refuses(IPAddress.Parse("8.8.8.8")));
    }

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a link-local address")]
    [InlineData("http://[::1]:9/", "::1, a loopback address")]
    [InlineData("http://localhost:9/", "localhost resolves to ")]
    public async Task A_url_is_checked_by_the_addresses_its_host_has(string url, string expected)
    {
        var problem = await DestinationPolicy.PublicOnly.CheckAsync(new Uri(url), CancellationToken.None);
        Assert.NotNull(problem);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
        Assert.Contains(DestinationPolicy.SettingKey, problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_public_literal_and_a_name_that_does_not_resolve_pass_the_write_check()
    {
        Assert.Null(await DestinationPolicy.PublicOnly.CheckAsync(new Uri("https://203.0.114.1/hook"), CancellationToken.None));
        // The connection is checked again, so a name without an answer yet is not a reason to refuse the write.
        Assert.Null(await DestinationPolicy.PublicOnly.CheckAsync(new Uri("https://no-such-host.invalid/hook"), CancellationToken.None));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public async Task The_outbound_client_refuses_the_connection_itself_and_nothing_reaches_the_receiver(string host)
    {
        using var http = OutboundHttp.CreateClient(2, DestinationPolicy.PublicOnly);
        var url = new UriBuilder(receiver.BaseUri) { Host = host, Path = $"/{_testId}/ok" }.Uri;

        var failure = await Assert.ThrowsAsync<HttpRequestException>(() => http.PostAsync(url, new StringContent("{}")));
        var refused = DestinationRefusedException.In(failure);
        Assert.NotNull(refused);
        Assert.Contains("a loopback address", refused.Message, StringComparison.Ordinal);
        Assert.Empty(receiver.RequestsTo($"/{_testId}/ok"));
    }

    [Fact]
    public async Task With_loopback_allowed_the_same_request_arrives()
    {
        using var http = OutboundHttp.CreateClient(2, new DestinationPolicy([IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")]));
        var url = new UriBuilder(receiver.BaseUri) { Host = "localhost", Path = $"/{_testId}/ok" }.Uri;

        using var response = await http.PostAsync(url, new StringContent("{}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(receiver.RequestsTo($"/{_testId}/ok"));
    }

    [Fact]
    public async Task A_refused_delivery_is_rejected_not_retried_and_says_why()
    {
        using var http = OutboundHttp.CreateClient(2, DestinationPolicy.PublicOnly);
        var sender = new WebhookSender(http, TimeSpan.FromSeconds(30), TimeProvider.System);
        var channel = new ChannelDefinition("hook", ChannelTypes.Webhook, null, new Uri(receiver.BaseUri, $"{_testId}/ok"), null);

        var result = await sender.SendAsync(channel, new PendingDelivery(1, 1, "r1", "hook", "c-1", "{}", 0, 1_000), CancellationToken.None);

        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.StartsWith("refused: 127.0.0.1, a loopback address", result.Error, StringComparison.Ordinal);
        Assert.Empty(receiver.RequestsTo($"/{_testId}/ok"));
    }
}
