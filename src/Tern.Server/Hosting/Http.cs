using System.Net;

namespace Tern.Server.Hosting;

/// <summary>The outbound HTTP clients: bounded pools, no redirects, no cookies, no implicit timeouts (each call sets its own).</summary>
internal static class Http
{
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
