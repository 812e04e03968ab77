using System.Globalization;
using System.Net;
using System.Text;
using Tern.StandIns.Http;

namespace Tern.StandIns.Tests;

/// <summary>The shared loopback receiver the Channels and Server tests post to.</summary>
public sealed class LoopbackReceiverTests
{
    private static readonly string Secret = TestSecrets.For("receiver");
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(60) };

    private static async Task<HttpResponseMessage> PostAsync(Uri url, string body, string? signature = null, DateTimeOffset? at = null, string id = "msg_1")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        if (signature is not null) request.Headers.Add("webhook-signature", signature);
        return await Client.SendAsync(request);
    }

    /// <summary>Signed by the StandardWebhooks package itself.</summary>
    private static string SignedBy(string secret, string body, DateTimeOffset? at = null, string id = "msg_1") =>
        new StandardWebhooks.StandardWebhook(secret).Sign(id, at ?? DateTimeOffset.UtcNow, body);

    [Fact]
    public async Task A_Standard_Webhook_signed_with_the_secret_is_accepted_and_any_other_is_refused()
    {
        await using var receiver = await LoopbackReceiver.StartAsync("/in", "POST", SignatureScheme.StandardWebhooks, Secret);
        var body = """{"n":1}""";
        var old = DateTimeOffset.UtcNow.AddMinutes(-10);

        using var good = await PostAsync(receiver.Url, body, SignedBy(Secret, body));
        using var wrongSecret = await PostAsync(receiver.Url, body, SignedBy(TestSecrets.For("other"), body));
        using var otherBody = await PostAsync(receiver.Url, """{"n":2}""", SignedBy(Secret, body));
        using var otherId = await PostAsync(receiver.Url, body, SignedBy(Secret, body), id: "msg_2");
        using var stale = await PostAsync(receiver.Url, body, SignedBy(Secret, body, old), old);
        using var unsigned = await PostAsync(receiver.Url, body);
        using var rotation = await PostAsync(receiver.Url, body, SignedBy(TestSecrets.For("other"), body) + " " + SignedBy(Secret, body));

        Assert.Equal([200, 401, 401, 401, 401, 401, 200], new[] { good, wrongSecret, otherBody, otherId, stale, unsigned, rotation }.Select(r => (int)r.StatusCode));
        var requests = receiver.Requests;
        Assert.Equal([true, false, false, false, false, false, true], requests.Select(r => r.SignatureValid));
        Assert.Equal("Message timestamp too old", Assert.Single(requests[4].SignatureProblems));
        Assert.Equal(2, receiver.Accepted.Count);
    }

    [Fact]
    public async Task Scripted_failures_come_first_then_Respond_answers()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        receiver.FailNext(2, 429, "7");
        receiver.Enqueue(Reply.Text(503, "busy"));
        receiver.Respond = r => Reply.Json(201, $$"""{"path":"{{r.Path}}"}""");

        var answers = new List<(HttpStatusCode Status, string? RetryAfter, string Body)>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await PostAsync(new Uri(receiver.BaseUrl, $"p/{i}"), "{}");
            answers.Add((response.StatusCode, response.Headers.RetryAfter?.ToString(), await response.Content.ReadAsStringAsync()));
        }

        Assert.Equal([HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.ServiceUnavailable, HttpStatusCode.Created, HttpStatusCode.Created], answers.Select(a => a.Status));
        Assert.Equal(["7", "7", null, null, null], answers.Select(a => a.RetryAfter));
        Assert.Equal("busy", answers[2].Body);
        Assert.Equal("""{"path":"/p/4"}""", answers[4].Body);
        Assert.Equal(["/p/0", "/p/1", "/p/2", "/p/3", "/p/4"], receiver.Requests.Select(r => r.Path));
        Assert.Equal(2, receiver.DistinctAccepted);
    }

    [Fact]
    public async Task PauseAt_holds_every_request_after_the_ceiling_until_Resume()
    {
        await using var receiver = await LoopbackReceiver.StartAsync("/in", "POST");
        receiver.Respond = r => Reply.Ok with { Key = r.BodyText };
        receiver.PauseAt(2);

        using var first = await PostAsync(receiver.Url, "a");
        using var again = await PostAsync(receiver.Url, "a");
        using var second = await PostAsync(receiver.Url, "b");
        Assert.Equal(2, receiver.DistinctAccepted);
        Assert.Equal(1, receiver.RepeatedAccepts);

        // The ceiling is reached: what arrives now is held before its body is read, however long the test takes.
        var held = Enumerable.Range(0, 3).Select(i => PostAsync(receiver.Url, "c" + i)).ToList();
        while (receiver.Arrived < 6) await Task.Delay(10);
        await Task.Delay(200);
        Assert.All(held, h => Assert.False(h.IsCompleted));
        Assert.Equal(3, receiver.Requests.Count);
        Assert.Equal(3, receiver.InFlight);
        Assert.Equal(["c0", "c1", "c2"], receiver.Missing(["a", "c0", "b", "c1", "c2"]));

        var all = receiver.WhenDistinctAtLeast(5);
        Assert.False(all.IsCompleted);
        receiver.Resume();
        foreach (var response in await Task.WhenAll(held).WaitAsync(Generous)) Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await all.WaitAsync(Generous);
        Assert.Empty(receiver.Missing(["a", "b", "c0", "c1", "c2"]));
    }

    [Fact]
    public async Task Pause_holds_requests_until_Resume_and_a_stopped_receiver_refuses_connections_until_started_again()
    {
        await using var receiver = await LoopbackReceiver.StartAsync("/in", "POST");
        receiver.Pause();
        var held = PostAsync(receiver.Url, "x");
        while (receiver.Arrived < 1) await Task.Delay(10);
        Assert.False(held.IsCompleted);
        receiver.Resume();
        using (var answered = await held.WaitAsync(Generous)) Assert.Equal(HttpStatusCode.OK, answered.StatusCode);

        var url = receiver.Url;
        await receiver.StopAsync();
        await Assert.ThrowsAsync<HttpRequestException>(() => PostAsync(url, "refused"));
        await receiver.StartAgainAsync();
        Assert.Equal(url, receiver.Url);
        using var again = await PostAsync(url, "y");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(["x", "y"], receiver.Requests.Select(r => r.BodyText));
    }
}
