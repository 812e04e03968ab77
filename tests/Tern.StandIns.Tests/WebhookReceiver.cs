using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tern.StandIns.Tests;

/// <summary>One POST the receiver got.</summary>
public sealed record ReceivedPush(long UpdateId, string? Secret, string? ContentType, JsonElement Body, int AnsweredStatus);

/// <summary>A loopback HTTP endpoint standing in for the bot's webhook: answers from a script, records what it got.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly Queue<int> _script = new();
    private readonly List<ReceivedPush> _received = [];

    private WebhookReceiver(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    public IReadOnlyList<ReceivedPush> Received
    {
        get
        {
            lock (_lock) return [.. _received];
        }
    }

    public static async Task<WebhookReceiver> StartAsync(params int[] statuses)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        foreach (var status in statuses) receiver._script.Enqueue(status);
        app.MapPost("/hook", (Func<HttpContext, Task>)receiver.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Url = new Uri(new Uri(address), "/hook");
        return receiver;
    }

    /// <summary>Waits until <paramref name="count"/> pushes were answered 2xx.</summary>
    public async Task WhenAcknowledgedAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Received.Count(r => r.AnsweredStatus is >= 200 and < 300) < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"only {Received.Count} pushes arrived");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var document = await JsonDocument.ParseAsync(context.Request.Body);
        var body = document.RootElement.Clone();
        int status;
        lock (_lock)
        {
            status = _script.Count > 0 ? _script.Dequeue() : 200;
            _received.Add(new ReceivedPush(
                body.GetProperty("update_id").GetInt64(),
                context.Request.Headers["X-Telegram-Bot-Api-Secret-Token"].FirstOrDefault(),
                context.Request.ContentType,
                body,
                status));
        }

        context.Response.StatusCode = status;
    }
}
