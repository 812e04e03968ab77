using System.Net;
using Microsoft.Extensions.Configuration;
using Tern.Channels;
using Tern.Channels.Http;
using Tern.Channels.Webhook;
using Tern.Core.Cluster;
using Tern.Core.Delivery;
using Tern.Core.Memory;
using Tern.Core.Pipeline;
using Tern.Server.Hosting;
using Tern.Storage;
using Tern.Storage.Secrets;

namespace Tern.Server.Configuration;

/// <summary>Every setting Tern reads, validated once at start. See docs/configuration.md.</summary>
public sealed class TernOptions
{
    /// <summary>The first address Kestrel listens on (for messages); <see cref="Listen"/> has them all.</summary>
    public Uri Url => Listen.First;
    public required ListenUrls Listen { get; init; }
    public required StorageOptions Storage { get; init; }
    public required ClusterOptions Cluster { get; init; }
    public required DispatcherOptions Dispatcher { get; init; }
    public required DeliveryOptions Delivery { get; init; }
    public required IngressOptions Ingress { get; init; }
    public required TimeSpan SendTimeout { get; init; }
    public required long MaxBacklog { get; init; }
    public required TimeSpan ShutdownTimeout { get; init; }
    public required TimeSpan CatalogRefresh { get; init; }
    public required MemoryPlan Memory { get; init; }
    public required MemoryMonitorOptions Monitor { get; init; }
    public required int MaxRestartsPerHour { get; init; }
    public required int DedupCapacity { get; init; }
    public required TimeSpan RetainFinished { get; init; }
    public required TimeSpan RetentionInterval { get; init; }
    public required TimeSpan StatsInterval { get; init; }
    public required LogFileOptions? LogFile { get; init; }
    public required ApiOptions Api { get; init; }
    /// <summary>Every channel type, with the settings it read for itself (<see cref="TernChannels"/>).</summary>
    public required IReadOnlyList<IChannelModule> Channels { get; init; }
    public required int ChatLimitWindows { get; init; }
    /// <summary>Where Tern may connect on a tenant's behalf: public addresses and the networks the operator allows.</summary>
    public required DestinationPolicy Destinations { get; init; }
    public required TimeSpan RetainMessageLinks { get; init; }
    /// <summary>How long a replaced webhook secret still signs (and is still accepted) after a rotation.</summary>
    public required TimeSpan SecretOverlap { get; init; }

    /// <summary>Reads and validates; throws <see cref="ConfigurationException"/> naming the first bad key.</summary>
    public static TernOptions Read(IConfiguration configuration)
    {
        var s = new SettingReader(configuration);
        var ms = TimeSpan.FromMilliseconds(1);
        var connectionString = ReadConnectionString(s);
        var plan = ReadPlan(s, connectionString is not null);
        var idleLifetime = s.Duration("Tern:Storage:ConnectionIdleLifetime", plan.DatabaseIdleLifetime, TimeSpan.FromSeconds(1), TimeSpan.FromHours(24));
        var pruningInterval = s.Duration("Tern:Storage:ConnectionPruningInterval", Min(plan.DatabasePruningInterval, idleLifetime), TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        if (pruningInterval > idleLifetime)
        {
            throw new ConfigurationException("Tern:Storage:ConnectionPruningInterval", $"must be at most Tern:Storage:ConnectionIdleLifetime ({idleLifetime.TotalSeconds} s): the pool looks for idle connections more often than it keeps them");
        }
        var cluster = ReadCluster(s);
        var shutdown = s.Duration("Tern:Shutdown:Timeout", TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        var options = new TernOptions
        {
            Listen = ListenUrls.Read(s),
            Storage = new StorageOptions
            {
                // A connection string alone chooses PostgreSQL; Tern:Storage:Engine may still say so (or say sqlite).
                Engine = s.Choice("Tern:Storage:Engine", connectionString is null ? StorageEngines.Default : StorageEngines.ServerDefault, StorageEngines.Names),
                ConnectionString = connectionString,
                Path = s.Text("Tern:Storage:Path", "./data/tern.db"),
                Synchronous = s.Enum("Tern:Storage:Synchronous", SqliteSynchronous.Normal),
                CacheKiB = (int)(s.Size("Tern:Storage:CacheSize", plan.SqliteCacheBytes, 64L << 10, 1L << 30) / 1024),
                WriteQueue = s.WholeNumber("Tern:Storage:WriteQueue", plan.WriteQueue, 16, 1_000_000),
                MaxReadConnections = s.WholeNumber("Tern:Storage:ReadConnections", plan.DatabasePoolSize, 1, 1024),
                ConnectionIdleLifetime = idleLifetime,
                ConnectionPruningInterval = pruningInterval,
                SecretKey = ReadSecretKey(s),
                SecretKeyFile = s.OptionalString("Tern:Secrets:KeyFile"),
                ClusterInstanceId = cluster.Enabled ? cluster.InstanceId : null,
            },
            Cluster = cluster,
            Dispatcher = new DispatcherOptions
            {
                Capacity = s.WholeNumber("Tern:Dispatcher:Capacity", plan.DispatchCapacity, 1, 1_000_000),
                Workers = s.WholeNumber("Tern:Dispatcher:Workers", plan.DispatchWorkers, 1, 64),
                PageSize = s.WholeNumber("Tern:Dispatcher:PageSize", 256, 1, 10_000),
                BatchSize = s.WholeNumber("Tern:Dispatcher:BatchSize", 128, 1, 10_000),
                AlbumGroups = s.WholeNumber("Tern:Memory:AlbumGroups", plan.AlbumGroups, 1, 1_000_000),
                AlbumQuiet = s.Duration("Tern:Routing:AlbumQuiet", TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1)),
                AlbumMaxAge = s.Duration("Tern:Routing:AlbumMaxAge", plan.AlbumMaxAge, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)),
            },
            Delivery = new DeliveryOptions
            {
                Concurrency = s.WholeNumber("Tern:Sender:Concurrency", plan.SenderConcurrency, 1, 1024),
                PerChannelConcurrency = s.WholeNumber("Tern:Sender:PerChannelConcurrency", plan.PerChannelConcurrency, 1, 1024),
                LaneBatch = s.WholeNumber("Tern:Sender:LaneBatch", plan.LaneBatch, 1, 10_000),
                BackoffBase = s.Duration("Tern:Sender:BackoffBase", TimeSpan.FromSeconds(1), ms, TimeSpan.FromHours(1)),
                BackoffMax = s.Duration("Tern:Sender:BackoffMax", TimeSpan.FromMinutes(5), ms, TimeSpan.FromDays(1)),
                ParkAfterFailures = s.WholeNumber("Tern:Sender:ParkAfterFailures", 10, 1, 1_000_000),
                Cooldown = s.Duration("Tern:Sender:Cooldown", TimeSpan.FromSeconds(60), TimeSpan.Zero, TimeSpan.FromDays(1)),
                GiveUpAfter = s.Duration("Tern:Sender:GiveUpAfter", TimeSpan.FromHours(24), TimeSpan.FromSeconds(1), TimeSpan.FromDays(30)),
                PollInterval = s.Duration("Tern:Sender:PollInterval", TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1)),
                ShutdownGrace = shutdown * 2 / 3,
                FailureRecords = s.WholeNumber("Tern:Memory:FailureRecords", plan.FailureRecords, 1, 1_000_000),
                FailureMemory = s.Duration("Tern:Sender:FailureMemory", TimeSpan.FromHours(24), TimeSpan.FromMinutes(1), TimeSpan.FromDays(30)),
            },
            SendTimeout = s.Duration("Tern:Sender:Timeout", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)),
            Ingress = new IngressOptions
            {
                MaxBodyBytes = (int)s.Size("Tern:Ingress:MaxBodyBytes", 256 * 1024, 64, 64L << 20),
                RetryAfter = s.Duration("Tern:Ingress:RetryAfter", TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
                MaxConcurrentRequests = s.WholeNumber("Tern:Ingress:MaxConcurrentRequests", plan.IngressConcurrency, 1, 10_000),
            },
            MaxBacklog = s.WholeNumber("Tern:Ingress:MaxBacklog", 1_000_000, 1, int.MaxValue),
            ShutdownTimeout = shutdown,
            CatalogRefresh = s.Duration("Tern:Catalog:RefreshInterval", TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(10)),
            Memory = plan,
            Monitor = new MemoryMonitorOptions
            {
                SampleInterval = s.Duration("Tern:Memory:SampleInterval", TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5)),
                TrimFraction = s.WholeNumber("Tern:Memory:TrimPercent", 50, 0, 100) / 100.0,
                CriticalRepeat = s.Duration("Tern:Memory:CriticalRepeat", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            },
            MaxRestartsPerHour = s.WholeNumber("Tern:Memory:MaxRestartsPerHour", 2, 0, 60),
            DedupCapacity = s.WholeNumber("Tern:Memory:DedupCapacity", plan.DedupCapacity, 1, 10_000_000),
            RetainFinished = s.Duration("Tern:Retention:FinishedRows", TimeSpan.FromDays(7), TimeSpan.FromMinutes(1), TimeSpan.FromDays(3650)),
            RetentionInterval = s.Duration("Tern:Retention:Interval", TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)),
            StatsInterval = s.Duration("Tern:Logging:StatsInterval", TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)),
            LogFile = LogFileOptions.Read(s),
            Api = new ApiOptions(
                AdminKey: ReadAdminKey(s),
                RateLimitPerMinute: s.WholeNumber("Tern:Api:RateLimitPerMinute", 100, 1, 1_000_000),
                AdminRateLimitPerMinute: s.WholeNumber("Tern:Api:AdminRateLimitPerMinute", 1000, 1, 1_000_000),
                MaxConcurrentRequests: s.WholeNumber("Tern:Api:MaxConcurrentRequests", 64, 1, 10_000),
                MaxBodyBytes: (int)s.Size("Tern:Api:MaxBodyBytes", 64 * 1024, 1024, 16L << 20),
                KeyCacheCapacity: s.WholeNumber("Tern:Api:KeyCacheCapacity", plan.HotReadEntries, 1, 1_000_000)),
            Channels = ReadChannels(s),
            ChatLimitWindows = s.WholeNumber("Tern:Memory:ChatLimitWindows", plan.SendWindowChats, 16, 10_000_000),
            RetainMessageLinks = s.Duration("Tern:Retention:MessageLinks", TimeSpan.FromDays(7), TimeSpan.FromMinutes(1), TimeSpan.FromDays(3650)),
            Destinations = ReadDestinations(s),
            SecretOverlap = s.Duration("Tern:Webhooks:SecretOverlap", TimeSpan.FromHours(24), TimeSpan.Zero, TimeSpan.FromDays(30)),
        };
        if (StorageEngines.NeedsConnectionString(options.Storage.Engine) && connectionString is null)
        {
            throw new ConfigurationException("Tern:Storage:ConnectionString", $"the {options.Storage.Engine} engine needs one: a postgres://user:password@host:5432/database URL or Host=…;Database=… keywords");
        }
        if (cluster.Enabled && !StorageEngines.NeedsConnectionString(options.Storage.Engine))
        {
            throw new ConfigurationException("Tern:Cluster:Enabled", $"needs PostgreSQL (set Tern:Storage:ConnectionString): instances of a cluster share one database, and the {options.Storage.Engine} engine is one process's");
        }
        if (options.Delivery.BackoffMax < options.Delivery.BackoffBase)
        {
            throw new ConfigurationException("Tern:Sender:BackoffMax", "must not be smaller than Tern:Sender:BackoffBase");
        }
        s.RejectUnknown("Tern");
        return options;
    }

    private static IReadOnlyList<IChannelModule> ReadChannels(SettingReader s)
    {
        var modules = TernChannels.Create();
        foreach (var module in modules) module.ReadSettings(s);
        return modules;
    }

    /// <summary>CIDRs separated by commas, semicolons or spaces (one environment variable holds them all); an address alone is its /32 or /128.</summary>
    private static DestinationPolicy ReadDestinations(SettingReader s)
    {
        var raw = s.OptionalString(DestinationPolicy.SettingKey);
        if (raw is null) return DestinationPolicy.PublicOnly;
        var networks = new List<IPNetwork>();
        foreach (var part in raw.Split([',', ';', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (IPNetwork.TryParse(part, out var network))
            {
                // 10.0.0.1/8 is most likely a typo for an address or for 10.0.0.0/8; say which was meant rather than guess.
                var slash = part.IndexOf('/', StringComparison.Ordinal);
                if (slash > 0 && !network.BaseAddress.Equals(IPAddress.Parse(part[..slash])))
                {
                    throw new ConfigurationException(DestinationPolicy.SettingKey, $"'{part}' has address bits set past the prefix (the network is {network})");
                }
                networks.Add(network);
            }
            else if (IPAddress.TryParse(part, out var address)) networks.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            else throw new ConfigurationException(DestinationPolicy.SettingKey, $"'{part}' is not a network in CIDR notation (such as 10.0.0.0/8 or fd00::/8, no bits set past the prefix)");
        }
        return new DestinationPolicy(networks);
    }

    /// <summary>
    /// Tern:Storage:ConnectionString, checked here so a typo exits 2 naming the key. The error says what is wrong with
    /// it, never the value: it may hold a password.
    /// </summary>
    private static string? ReadConnectionString(SettingReader s)
    {
        var value = s.OptionalString("Tern:Storage:ConnectionString");
        if (value is null) return null;
        if (StorageEngines.ConnectionStringProblem(value) is { } problem) throw new ConfigurationException("Tern:Storage:ConnectionString", problem);
        return value;
    }

    /// <summary>Tern:Cluster: off unless enabled; the instance id must be unique in the cluster (letters, digits, '-', '_', '.', ':').</summary>
    private static ClusterOptions ReadCluster(SettingReader s)
    {
        var enabled = s.Flag("Tern:Cluster:Enabled", false);
        var id = s.OptionalString("Tern:Cluster:InstanceId")?.Trim();
        if (id is not null && (id.Length is 0 or > 100 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':')))
        {
            throw new ConfigurationException("Tern:Cluster:InstanceId", "must be 1 to 100 letters, digits, '-', '_', '.' or ':'");
        }
        return new ClusterOptions
        {
            Enabled = enabled,
            InstanceId = id ?? ClusterOptions.DefaultInstanceId(),
            LeaseTimeToLive = s.Duration("Tern:Cluster:LeaseTimeToLive", TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(3), TimeSpan.FromMinutes(5)),
        };
    }

    /// <summary>Tern:Secrets:Key: the base64 of 32 bytes (<c>tern secrets new-key</c> makes one). The value is never repeated in the error.</summary>
    private static SecretSealer? ReadSecretKey(SettingReader s)
    {
        var key = s.OptionalString("Tern:Secrets:Key");
        if (key is null) return null;
        return SecretSealer.FromBase64(key)
            ?? throw new ConfigurationException("Tern:Secrets:Key", $"is not a key: the base64 of {SecretSealer.KeyBytes} random bytes (tern secrets new-key makes one)");
    }

    private static string? ReadAdminKey(SettingReader s)
    {
        var key = s.OptionalString("Tern:Api:AdminKey");
        if (key is not null && key.Length < 32) throw new ConfigurationException("Tern:Api:AdminKey", "must be at least 32 characters (tern keys create --admin makes one)");
        return key;
    }

    /// <summary>The budget and everything derived from it; explicitly set values above override the derived defaults.</summary>
    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static MemoryPlan ReadPlan(SettingReader s, bool postgres)
    {
        long? configured = s.OptionalString("Tern:Memory:Budget") is null ? null : s.Size("Tern:Memory:Budget", 0, MemoryBudget.Minimum, 1L << 40);
        // PostgreSQL is the standard profile unless told otherwise.
        var profile = s.Enum("Tern:Profile", postgres ? Profile.Standard : Profile.Lite);
        var warning = s.WholeNumber("Tern:Memory:WarningPercent", 70, 10, 99);
        var critical = s.WholeNumber("Tern:Memory:CriticalPercent", 85, 10, 99);
        var restart = s.WholeNumber("Tern:Memory:RestartPercent", 95, 10, 100);
        if (!(warning < critical && critical < restart))
        {
            throw new ConfigurationException("Tern:Memory:CriticalPercent", $"thresholds must rise: warning {warning} < critical {critical} < restart {restart}");
        }
        return MemoryPlan.Derive(MemoryBudget.Resolve(configured, HostMemoryLimits.Read()), profile, warning, critical, restart);
    }
}
