using System.Globalization;
using Tern.StandIns.Http;
using Shared = Tern.StandIns.Http.LoopbackReceiver;

namespace Tern.Channels.Tests;

/// <summary>
/// The shared loopback receiver as an xunit fixture, answering by the path: <c>/{test-id}/{behaviour}/{args…}</c>;
/// every request is recorded under its path.
/// </summary>
public sealed class LoopbackReceiver : IAsyncLifetime
{
    private Shared? _receiver;

    public Uri BaseUri => _receiver!.BaseUrl;

    public IReadOnlyList<RecordedRequest> RequestsTo(string path) => _receiver!.RequestsTo(path);

    public async Task InitializeAsync()
    {
        _receiver = await Shared.StartAsync();
        _receiver.Respond = ByPath;
    }

    public async Task DisposeAsync()
    {
        if (_receiver is not null) await _receiver.DisposeAsync();
    }

    private static Reply ByPath(RecordedRequest request)
    {
        var segments = request.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var behaviour = segments.Length > 1 ? segments[1] : "";
        var args = segments.Skip(2).ToArray();
        int Status() => int.Parse(args[0], CultureInfo.InvariantCulture);
        switch (behaviour)
        {
            case "json":
                // /{id}/json/{status}/{raw JSON, URL-escaped}
                return new Reply(Status()) { ContentType = "application/json", Body = Uri.UnescapeDataString(args[1]) };
            case "text":
                return Reply.Text(Status(), Uri.UnescapeDataString(args[1]));
            case "status":
                var status = Status();
                return new Reply(status)
                {
                    RetryAfter = args.Length > 1 ? Uri.UnescapeDataString(args[1]) : null,
                    ContentType = status == 204 ? null : "text/plain",
                    Body = status == 204 ? null : $"error body for {args[0]}",
                };
            case "long-body":
                return Reply.Text(Status(), new string('b', 1_000));
            case "redirect":
                return new Reply(Status()) { Location = "/" + segments[0] + "/redirect-target" };
            case "slow":
                return new Reply { Hang = true };
            default:
                return Reply.Ok;
        }
    }
}
