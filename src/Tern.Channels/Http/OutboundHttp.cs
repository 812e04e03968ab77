using System.Net;

namespace Tern.Channels.Http;

/// <summary>
/// The outbound HTTP clients: bounded pools, no redirects, no cookies, no implicit timeouts (each call sets its own),
/// every connection checked by the <see cref="DestinationPolicy"/>. No proxy either: behind a proxy the policy would
/// see only the proxy's address, never the destination's.
/// </summary>
public static class OutboundHttp
{
    /// <summary>The DI key of the client every sender shares: at most one connection per concurrent send.</summary>
    public const string SendClient = "tern.send";

    public static HttpClient CreateClient(int maxConnectionsPerServer, DestinationPolicy policy) =>
        new(new SocketsHttpHandler
        {
            ConnectCallback = policy.ConnectAsync,
            UseProxy = false,
            MaxConnectionsPerServer = maxConnectionsPerServer,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
}
