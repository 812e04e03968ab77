using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tern.Channels.Tests;

/// <summary>
/// A real Kestrel server on 127.0.0.1 with a free port. What it answers is chosen by the path:
/// <c>/{test-id}/{behaviour}/{args…}</c>; every request is recorded under its path.
/// </summary>
public sealed class LoopbackReceiver : IAsyncLifetime
{
    private readonly ConcurrentQueue<ReceivedRequest> _requests = new();
    private WebApplication? _app;

    public Uri BaseUri { get; private set; } = null!;

    public IReadOnlyList<ReceivedRequest> RequestsTo(string path) => _requests.Where(r => r.Path == path).ToList();

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.Run(HandleAsync);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        BaseUri = new Uri(address.EndsWith('/') ? address : address + "/");
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, context.RequestAborted);
        _requests.Enqueue(new ReceivedRequest(
            request.Method,
            request.Path.Value ?? "",
            request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            body.ToArray()));

        var segments = (request.Path.Value ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        var behaviour = segments.Length > 1 ? segments[1] : "";
        var args = segments.Skip(2).ToArray();
        var response = context.Response;
        switch (behaviour)
        {
            case "json":
                // /{id}/json/{status}/{raw JSON, URL-escaped}
                response.StatusCode = int.Parse(args[0], CultureInfo.InvariantCulture);
                response.ContentType = "application/json";
                await response.WriteAsync(Uri.UnescapeDataString(args[1]), context.RequestAborted);
                break;
            case "text":
                response.StatusCode = int.Parse(args[0], CultureInfo.InvariantCulture);
                response.ContentType = "text/plain";
                await response.WriteAsync(Uri.UnescapeDataString(args[1]), context.RequestAborted);
                break;
            case "status":
                response.StatusCode = int.Parse(args[0], CultureInfo.InvariantCulture);
                if (args.Length > 1) response.Headers.RetryAfter = Uri.UnescapeDataString(args[1]);
                if (response.StatusCode != StatusCodes.Status204NoContent)
                {
                    response.ContentType = "text/plain";
                    await response.WriteAsync($"error body for {args[0]}", context.RequestAborted);
                }
                break;
            case "long-body":
                response.StatusCode = int.Parse(args[0], CultureInfo.InvariantCulture);
                response.ContentType = "text/plain";
                await response.WriteAsync(new string('b', 1_000), context.RequestAborted);
                break;
            case "redirect":
                response.StatusCode = int.Parse(args[0], CultureInfo.InvariantCulture);
                response.Headers.Location = "/" + segments[0] + "/redirect-target";
                break;
            case "slow":
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
                break;
            default:
                response.StatusCode = StatusCodes.Status200OK;
                break;
        }
    }
}

public sealed record ReceivedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public string BodyText => Encoding.UTF8.GetString(Body);
}
