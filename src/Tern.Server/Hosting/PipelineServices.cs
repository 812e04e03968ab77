using Microsoft.Extensions.Hosting;
using Tern.Core.Delivery;
using Tern.Core.Pipeline;

namespace Tern.Server.Hosting;

/// <summary>Runs the dispatcher for the life of the host; stopping cancels reading and waits for the batch in hand.</summary>
internal sealed class DispatcherService(Dispatcher dispatcher) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => dispatcher.RunAsync(stoppingToken);
}

/// <summary>Runs the delivery engine; stopping lets in-flight sends finish within the grace period.</summary>
internal sealed class DeliveryService(DeliveryEngine engine) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => engine.RunAsync(stoppingToken);
}
