using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Tern.Server.Tests.Api;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.WhatsApp;

namespace Tern.Server.Tests.WhatsApp;

/// <summary>A sibling number's channel added outside this process (the CLI) a moment before Meta's POST still gets its messages.</summary>
public sealed class WhatsAppSiblingTests
{
    private const string AdminKey = "config-admin-key-wa-sibling-0123456789-abcdef";

    [Fact]
    public async Task A_sibling_channel_the_cli_just_added_gets_its_messages_not_skipped()
    {
        await using var graph = await GraphApiStandIn.StartAsync();
        using var home = TernHome.Create();
        // A long catalog interval: the server sees the CLI's channel only if it asks the store again.
        await using var tern = await InProcessTern.StartAsync(home, $"--Tern:Api:AdminKey={AdminKey}", "--Tern:Catalog:RefreshInterval=10m");
        var tenant = ApiServer.NewId("wa-sib");
        (await ApiCall.SendAsync(tern.Http, HttpMethod.Post, "/v1/tenants", AdminKey, ApiCall.Json(new { id = tenant, rate_limit_per_minute = ApiServer.HighRateLimit })))
            .AssertStatus(HttpStatusCode.Created);
        var key = (await ApiCall.SendAsync(tern.Http, HttpMethod.Post, "/v1/keys", AdminKey, ApiCall.Json(new { tenant, name = "t" })))
            .AssertStatus(HttpStatusCode.Created).Json.GetProperty("key").GetString()!;

        var appSecret = "sharedsecret" + Guid.NewGuid().ToString("N");
        var phoneA = graph.AddPhoneNumber("106540352200001", "+1 555-000-0001", "EAAJBtokenA" + Guid.NewGuid().ToString("N"));
        var phoneB = graph.AddPhoneNumber("106540352200002", "+1 555-000-0002", "EAAJBtokenB" + Guid.NewGuid().ToString("N"));
        const string ChannelA = "wa-sib-a", ChannelB = "wa-sib-b";
        (await ApiCall.SendAsync(tern.Http, HttpMethod.Post, "/v1/channels", key, ApiCall.Json(new
        {
            id = ChannelA,
            type = "whatsapp",
            whatsapp = new { phone_number_id = phoneA.Id, access_token = phoneA.AccessToken, app_secret = appSecret, verify_token = "verify-a-token", base_url = graph.BaseUrl.ToString() },
        }))).AssertStatus(HttpStatusCode.Created);
        await home.RunOkAsync("channels", "add", "--id", ChannelB, "--type", "whatsapp", "--phone-number-id", phoneB.Id, "--access-token", phoneB.AccessToken,
            "--app-secret", appSecret, "--verify-token", "verify-b-token", "--base-url", graph.BaseUrl.ToString());

        var forB = WhatsAppInbound.Text("16505551234", "for the number added by the CLI");
        var bytes = new WhatsAppWebhookBody().Entry("1", new WhatsAppChange(phoneB).Message(forB)).ToBytes();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(tern.BaseUrl, $"/hooks/whatsapp/{ChannelA}")) { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", WhatsAppWebhookSender.Sign(bytes, appSecret));
        using var response = await tern.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {text}");
        var answer = JsonDocument.Parse(text).RootElement;
        Assert.True(answer.GetProperty("messages").GetInt32() == 1 && answer.GetProperty("skipped").GetInt32() == 0, text);
        Assert.Equal(1, home.Database.InboxCountWithId(ChannelB, (string)forB["id"]!));
        Assert.Empty(home.Database.InboxIds(ChannelA));
    }
}
