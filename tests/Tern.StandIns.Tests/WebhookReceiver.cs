using System.Text.Json;
using Tern.StandIns.Http;

namespace Tern.StandIns.Tests;

/// <summary>One POST the receiver got.</summary>
public sealed record ReceivedPush(long UpdateId, string? Secret, string? ContentType, JsonElement Body, int AnsweredStatus);

/// <summary>The bot's webhook for these tests: the shared <see cref="LoopbackReceiver"/> at <c>/hook</c>, answering from a script, read as Bot API pushes.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly LoopbackReceiver _receiver;

    private WebhookReceiver(LoopbackReceiver receiver) => _receiver = receiver;

    public Uri Url => _receiver.Url;

    public IReadOnlyList<ReceivedPush> Received => [.. _receiver.Requests.Select(ToPush)];

    /// <summary>Answers the first pushes with <paramref name="statuses"/>, in order, then 200.</summary>
    public static async Task<WebhookReceiver> StartAsync(params int[] statuses)
    {
        var receiver = await LoopbackReceiver.StartAsync("/hook", "POST");
        receiver.Enqueue([.. statuses.Select(s => Reply.WithStatus(s))]);
        return new WebhookReceiver(receiver);
    }

    /// <summary>Waits until <paramref name="count"/> pushes were answered 2xx.</summary>
    public async Task WhenAcknowledgedAsync(int count, TimeSpan timeout)
    {
        try
        {
            await _receiver.WhenDistinctAtLeast(count).WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"only {Received.Count} pushes arrived");
        }
    }

    public ValueTask DisposeAsync() => _receiver.DisposeAsync();

    private static ReceivedPush ToPush(RecordedRequest request)
    {
        using var document = JsonDocument.Parse(request.Body);
        var body = document.RootElement.Clone();
        return new ReceivedPush(
            body.GetProperty("update_id").GetInt64(),
            request.Header("X-Telegram-Bot-Api-Secret-Token"),
            request.Header("Content-Type"),
            body,
            request.Status);
    }
}
