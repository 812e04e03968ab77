using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.WhatsApp;

namespace Tern.Server.Tests.WhatsApp;

/// <summary>
/// Issue 11: a SIGKILL during a burst of signed WhatsApp webhook POSTs loses nothing that got a 200, and Meta's
/// redelivery of the same bytes after the restart stores nothing twice.
/// </summary>
[Collection(HeavyTests.Name)]
public sealed class WhatsAppCrashTests(ITestOutputHelper output)
{
    private const string ChannelId = "wa-crash";
    private const string Alice = "16505551234";
    private const int Posters = 6, PerPost = 5, PostsPerPoster = 200, KillAfter = 120;

    /// <summary>One webhook POST of the burst: its bytes, its wamids, and how it was answered (null: no answer, the process died).</summary>
    private sealed class Post(byte[] body, string[] wamids)
    {
        public byte[] Body { get; } = body;

        public string[] Wamids { get; } = wamids;

        public int? Status { get; set; }
    }

    [Fact]
    public async Task SIGKILL_while_signed_webhooks_are_being_posted_keeps_every_acknowledged_message_once()
    {
        await using var graph = await GraphApiStandIn.StartAsync();
        using var home = TernHome.Create();
        var appSecret = "crashsecret" + Guid.NewGuid().ToString("N");
        var phone = graph.AddPhoneNumber("106540359900001", "+1 555-990-0001", "EAAJBcrash" + Guid.NewGuid().ToString("N"));
        // The CLI checks the token with GET /{phone-number-id} at the stand-in, as the API would.
        await home.RunOkAsync("channels", "add", "--id", ChannelId, "--type", "whatsapp", "--phone-number-id", phone.Id, "--access-token", phone.AccessToken,
            "--app-secret", appSecret, "--verify-token", "verify-crash-token", "--base-url", graph.BaseUrl.ToString());

        var posts = Enumerable.Range(0, Posters).Select(p => Enumerable.Range(0, PostsPerPoster).Select(n => NewPost(phone, p, n)).ToArray()).ToArray();
        var answered200 = 0;
        var started = 0;
        var killNow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Past twice KillAfter every POST holds half its body back until after the kill: however slowly the kill follows
        // the K-th 200, posting has not finished, and a poster that gets that far keeps a POST in flight for the kill to cut off.
        var afterKill = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var first = await home.StartAsync(output);
        Task posting;
        try
        {
            var hook = new Uri(first.BaseUrl, $"/hooks/whatsapp/{ChannelId}");
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Posters, UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
            posting = Task.WhenAll(posts.Select(mine => Task.Run(async () =>
            {
                foreach (var post in mine)
                {
                    using var content = Interlocked.Increment(ref started) > 2 * KillAfter ? new HeldContent(post.Body, afterKill.Task) : (HttpContent)new ByteArrayContent(post.Body);
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                    using var request = new HttpRequestMessage(HttpMethod.Post, hook) { Content = content };
                    request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", WhatsAppWebhookSender.Sign(post.Body, appSecret));
                    try
                    {
                        using var response = await http.SendAsync(request);
                        post.Status = (int)response.StatusCode;
                    }
                    catch (HttpRequestException)
                    {
                        // The server died under this POST (or before it): unanswered, and this poster stops like Meta's connection would.
                        return;
                    }
                    if (post.Status == 200 && Interlocked.Increment(ref answered200) == KillAfter) killNow.TrySetResult();
                }
                // A poster that ran out of POSTs before the kill: only possible if the hold did not hold.
                killNow.TrySetResult();
            })));
            await Eventually.WithinAsync(killNow.Task, TimeSpan.FromSeconds(40), () => $"{Volatile.Read(ref answered200)} POSTs answered 200; {home.Database.Describe()}");
            first.Kill();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
            afterKill.SetResult();
            await Eventually.WithinAsync(posting, TimeSpan.FromSeconds(30), () => "posters stopping after the kill");
        }
        finally
        {
            afterKill.TrySetResult();
            await first.DisposeAsync();
        }

        var all = posts.SelectMany(p => p).ToList();
        var acknowledged = all.Where(p => p.Status == 200).ToList();
        var unanswered = all.Count(p => p.Status is null && WasAttempted(posts, p));
        output.WriteLine($"SIGKILLed after {acknowledged.Count} POSTs answered 200 ({acknowledged.Count * PerPost} messages); {unanswered} POSTs cut off; " +
            $"other answers: {string.Join(", ", all.Where(p => p.Status is not null and not 200).GroupBy(p => p.Status).Select(g => $"{g.Count()}×{g.Key}"))}");
        Assert.InRange(acknowledged.Count, KillAfter, Posters * PostsPerPoster - 1);
        Assert.True(unanswered > 0, "no POST was cut off by the kill; it came too late to test anything");

        // Every acknowledged wamid is on disk exactly once; the cut-off ones may or may not be (never acknowledged).
        var stored = StoredCounts(home);
        var ackWamids = acknowledged.SelectMany(p => p.Wamids).ToList();
        var lost = ackWamids.Where(w => !stored.ContainsKey(w)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged messages are not in the inbox, e.g. {string.Join(", ", lost.Take(5))}");
        AssertNoDuplicates(stored);
        Assert.InRange(stored.Count, ackWamids.Count, ackWamids.Count + unanswered * PerPost);
        output.WriteLine($"before the restart: {stored.Count} messages stored, {stored.Count - ackWamids.Count} of them from POSTs the kill cut off");

        // Meta redelivers whatever it did not get a 200 for, and now and then what it did: the same bytes, after the restart.
        await using var second = await home.StartAsync(output);
        var unacknowledged = all.Where(p => p.Status != 200 && WasAttempted(posts, p)).ToList();
        var again = acknowledged.Take(20).ToList();
        foreach (var post in unacknowledged)
        {
            // Stored before the kill or not, its messages are now stored (new) or recognised (redeliveries), never both.
            var (messages, duplicates) = await RedeliverAsync(second, post.Body, appSecret);
            Assert.Equal(PerPost, messages + duplicates);
        }
        foreach (var post in again)
        {
            Assert.Equal((0, PerPost), await RedeliverAsync(second, post.Body, appSecret));
        }
        var redelivered = unacknowledged.Concat(again).ToList();

        var after = StoredCounts(home);
        AssertNoDuplicates(after);
        var expected = acknowledged.Concat(redelivered).SelectMany(p => p.Wamids).Distinct(StringComparer.Ordinal).ToList();
        var missing = expected.Where(w => !after.ContainsKey(w)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} messages missing after the redelivery, e.g. {string.Join(", ", missing.Take(5))}");
        Assert.Equal(expected.Count, after.Count);
        output.WriteLine($"after restart and {redelivered.Count} redeliveries: {after.Count} messages stored, each once");
    }

    /// <summary>POST <paramref name="n"/> of poster <paramref name="poster"/>: <see cref="PerPost"/> texts with wamids that name it.</summary>
    private static Post NewPost(WhatsAppPhoneNumber phone, int poster, int n)
    {
        var change = new WhatsAppChange(phone).Contact(Alice, "Alice");
        var wamids = new string[PerPost];
        for (var k = 0; k < PerPost; k++)
        {
            wamids[k] = string.Create(CultureInfo.InvariantCulture, $"wamid.crash-p{poster}-n{n:D3}-m{k}");
            change.Message(WhatsAppInbound.Text(Alice, $"poster {poster} post {n} message {k}", id: wamids[k]));
        }
        return new Post(new WhatsAppWebhookBody().Entry(phone.WabaId, change).ToBytes(), wamids);
    }

    /// <summary>
    /// A POST was attempted when it was answered or it is the first unanswered one of its poster (a poster stops
    /// at its first failed POST; the ones after it were never sent).
    /// </summary>
    private static bool WasAttempted(Post[][] posts, Post post)
    {
        var mine = posts.First(p => p.Contains(post));
        return post.Status is not null || Array.Find(mine, p => p.Status is null) == post;
    }

    /// <summary>Each stored wamid of the channel and how many inbox rows it has.</summary>
    private static Dictionary<string, int> StoredCounts(TernHome home) =>
        home.Database.Texts($"SELECT platform_id FROM inbox WHERE channel_id = '{ChannelId}'")
            .GroupBy(w => w, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    private static void AssertNoDuplicates(Dictionary<string, int> stored)
    {
        var twice = stored.Where(p => p.Value > 1).ToList();
        Assert.True(twice.Count == 0, $"{twice.Count} wamids stored more than once, e.g. {string.Join(", ", twice.Take(5).Select(p => $"{p.Key}×{p.Value}"))}");
    }

    /// <summary>Posts the same bytes, signed, once more (it must be a 200) and returns the answer's <c>messages</c> and <c>duplicates</c>.</summary>
    private static async Task<(int Messages, int Duplicates)> RedeliverAsync(TernProcess tern, byte[] body, string appSecret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/hooks/whatsapp/{ChannelId}", UriKind.Relative)) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", WhatsAppWebhookSender.Sign(body, appSecret));
        using var response = await tern.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"a redelivery after the restart was answered {response.StatusCode}: {text}");
        var answer = JsonDocument.Parse(text).RootElement;
        return (answer.GetProperty("messages").GetInt32(), answer.GetProperty("duplicates").GetInt32());
    }
}
