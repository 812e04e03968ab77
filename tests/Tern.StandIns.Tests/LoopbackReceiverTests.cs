using System.Globalization;
using System.Net;
using System.Text;
using Tern.StandIns.Http;

namespace Tern.StandIns.Tests;

/// <summary>The shared loopback receiver the Channels and Server tests post to.</summary>
public sealed class LoopbackReceiverTests
{
    private const string Secret = "receiver-secret";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(60) };

    private static async Task<HttpResponseMessage> PostAsync(Uri url, string body, string? signature = null, string? timestamp = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (signature is not null) request.Headers.Add("X-Tern-Signature", signature);
        if (timestamp is not null) request.Headers.Add("X-Tern-Timestamp", timestamp);
        return await Client.SendAsync(request);
    }

    [Fact]
    public async Task A_body_signature_made_with_the_secret_is_accepted_and_any_other_is_refused()
    {
        await using var receiver = await LoopbackReceiver.StartAsync("/in", "POST", SignatureScheme.Body, Secret);
        var body = """{"n":1}""";

        using var good = await PostAsync(receiver.Url, body, LoopbackReceiver.Sign(Secret, Encoding.UTF8.GetBytes(body)));
        using var wrongSecret = await PostAsync(receiver.Url, body, LoopbackReceiver.Sign("other", Encoding.UTF8.GetBytes(body)));
        using var otherBody = await PostAsync(receiver.Url, """{"n":2}""", LoopbackReceiver.Sign(Secret, Encoding.UTF8.GetBytes(body)));
        using var unsigned = await PostAsync(receiver.Url, body);

        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongSecret.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, otherBody.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        var requests = receiver.Requests;
        Assert.Equal([true, false, false, false], requests.Select(r => r.SignatureValid));
        Assert.Equal([200, 401, 401, 401], requests.Select(r => r.Status));
        Assert.Single(receiver.Accepted);
    }

    [Fact]
    public async Task A_timestamped_signature_covers_the_timestamp_and_must_be_recent()
    {
        await using var receiver = await LoopbackReceiver.StartAsync("/events", "POST", SignatureScheme.Timestamped, Secret);
        receiver.BadSignatureStatus = null;
        receiver.Respond = r => r.SignatureValid ? Reply.Ok : Reply.WithStatus(400);
        var body = """{"type":"message.sent"}""";
        var bytes = Encoding.UTF8.GetBytes(body);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var old = DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

        using var good = await PostAsync(receiver.Url, body, LoopbackReceiver.SignTimestamped(Secret, now, bytes), now);
        using var swapped = await PostAsync(receiver.Url, body, LoopbackReceiver.SignTimestamped(Secret, old, bytes), now);
        using var stale = await PostAsync(receiver.Url, body, LoopbackReceiver.SignTimestamped(Secret, old, bytes), old);
        using var bodyOnly = await PostAsync(receiver.Url, body, LoopbackReceiver.Sign(Secret, bytes), now);

        Assert.Equal([200, 400, 400, 400], new[] { good, swapped, stale, bodyOnly }.Select(r => (int)r.StatusCode));
        var requests = receiver.Requests;
        Assert.Empty(requests[0].SignatureProblems);
        Assert.Equal(["bad signature"], requests[1].SignatureProblems);
        Assert.Equal([$"X-Tern-Timestamp {old} outside the replay window"], requests[2].SignatureProblems);
        Assert.Equal(["bad signature"], requests[3].SignatureProblems);
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
