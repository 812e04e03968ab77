using Microsoft.Extensions.Configuration;
using Tern.Channels.Webhook;
using Tern.Core.Delivery;
using Tern.Core.Pipeline;
using Tern.Storage;

namespace Tern.Server.Configuration;

/// <summary>Every setting Tern reads, validated once at start. See docs/configuration.md.</summary>
public sealed class TernOptions
{
    public required Uri Url { get; init; }
    public required StorageOptions Storage { get; init; }
    public required DispatcherOptions Dispatcher { get; init; }
    public required DeliveryOptions Delivery { get; init; }
    public required IngressOptions Ingress { get; init; }
    public required TimeSpan SendTimeout { get; init; }
    public required long MaxBacklog { get; init; }
    public required TimeSpan ShutdownTimeout { get; init; }
    public required TimeSpan CatalogRefresh { get; init; }

    /// <summary>Reads and validates; throws <see cref="ConfigurationException"/> naming the first bad key.</summary>
    public static TernOptions Read(IConfiguration configuration)
    {
        var s = new SettingReader(configuration);
        var ms = TimeSpan.FromMilliseconds(1);
        var shutdown = s.Duration("Tern:Shutdown:Timeout", TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        var options = new TernOptions
        {
            Url = s.HttpUrl("Tern:Http:Url", "http://127.0.0.1:8080"),
            Storage = new StorageOptions
            {
                Path = s.Text("Tern:Storage:Path", "./data/tern.db"),
                Synchronous = s.Enum("Tern:Storage:Synchronous", SqliteSynchronous.Normal),
                CacheKiB = (int)(s.Size("Tern:Storage:CacheSize", 2L << 20, 64L << 10, 1L << 30) / 1024),
                WriteQueue = s.WholeNumber("Tern:Storage:WriteQueue", 4096, 16, 1_000_000),
            },
            Dispatcher = new DispatcherOptions
            {
                Capacity = s.WholeNumber("Tern:Dispatcher:Capacity", 256, 1, 1_000_000),
                Workers = s.WholeNumber("Tern:Dispatcher:Workers", 2, 1, 64),
                PageSize = s.WholeNumber("Tern:Dispatcher:PageSize", 256, 1, 10_000),
                BatchSize = s.WholeNumber("Tern:Dispatcher:BatchSize", 128, 1, 10_000),
            },
            Delivery = new DeliveryOptions
            {
                Concurrency = s.WholeNumber("Tern:Sender:Concurrency", 16, 1, 1024),
                PerChannelConcurrency = s.WholeNumber("Tern:Sender:PerChannelConcurrency", 8, 1, 1024),
                LaneBatch = s.WholeNumber("Tern:Sender:LaneBatch", 32, 1, 10_000),
                BackoffBase = s.Duration("Tern:Sender:BackoffBase", TimeSpan.FromSeconds(1), ms, TimeSpan.FromHours(1)),
                BackoffMax = s.Duration("Tern:Sender:BackoffMax", TimeSpan.FromMinutes(5), ms, TimeSpan.FromDays(1)),
                ParkAfterFailures = s.WholeNumber("Tern:Sender:ParkAfterFailures", 10, 1, 1_000_000),
                Cooldown = s.Duration("Tern:Sender:Cooldown", TimeSpan.FromSeconds(60), TimeSpan.Zero, TimeSpan.FromDays(1)),
                GiveUpAfter = s.Duration("Tern:Sender:GiveUpAfter", TimeSpan.FromHours(24), TimeSpan.FromSeconds(1), TimeSpan.FromDays(30)),
                PollInterval = s.Duration("Tern:Sender:PollInterval", TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1)),
                ShutdownGrace = shutdown * 2 / 3,
            },
            SendTimeout = s.Duration("Tern:Sender:Timeout", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)),
            Ingress = new IngressOptions
            {
                MaxBodyBytes = (int)s.Size("Tern:Ingress:MaxBodyBytes", 256 * 1024, 64, 64L << 20),
                RetryAfter = s.Duration("Tern:Ingress:RetryAfter", TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            },
            MaxBacklog = s.WholeNumber("Tern:Ingress:MaxBacklog", 1_000_000, 1, int.MaxValue),
            ShutdownTimeout = shutdown,
            CatalogRefresh = s.Duration("Tern:Catalog:RefreshInterval", TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(10)),
        };
        if (options.Delivery.BackoffMax < options.Delivery.BackoffBase)
        {
            throw new ConfigurationException("Tern:Sender:BackoffMax", "must not be smaller than Tern:Sender:BackoffBase");
        }
        s.RejectUnknown("Tern");
        return options;
    }
}
