using System.Net;

namespace Tern.Channels.Http;

/// <summary>The outbound HTTP clients: bounded pools, no redirects, no cookies, no implicit timeouts (each call sets its own).</summary>
public static class OutboundHttp
{
    /// <summary>The DI key of the client every sender shares: at most one connection per concurrent send.</summary>
    public const string SendClient = "tern.send";

    public static HttpClient CreateClient(int maxConnectionsPerServer) =>
        new(new SocketsHttpHandler
        {
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
