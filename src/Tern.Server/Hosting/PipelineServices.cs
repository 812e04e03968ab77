using Microsoft.Extensions.Hosting;
using Tern.Core.Cluster;
using Tern.Core.Delivery;
using Tern.Core.Pipeline;

namespace Tern.Server.Hosting;

/// <summary>
/// Runs the dispatcher for the life of the host; stopping cancels reading and waits for the batch in hand. In a cluster it
/// runs only while this instance holds the router lease, so one instance at a time routes the inbox (a chat's messages
/// enter the outbox in order); another takes over within the lease's time to live when it dies.
/// </summary>
internal sealed class DispatcherService(Dispatcher dispatcher, LeaseRunner leases) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        leases.Options.Enabled ? leases.RunWhileHeldAsync(LeaseNames.Router, dispatcher.RunAsync, stoppingToken) : dispatcher.RunAsync(stoppingToken);
}

/// <summary>Runs the delivery engine; stopping lets in-flight sends finish within the grace period.</summary>
internal sealed class DeliveryService(DeliveryEngine engine) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => engine.RunAsync(stoppingToken);
}

/// <summary>In a cluster: this instance's own lease. The lanes it claimed stay its own while it lives; when it dies, others take them.</summary>
internal sealed class InstanceHeartbeatService(LeaseRunner leases) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        leases.RunWhileHeldAsync(LeaseNames.Instance(leases.Options.InstanceId), held => Task.Delay(Timeout.Infinite, held), stoppingToken);
}
