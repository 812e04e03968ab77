using Microsoft.Extensions.Hosting;
using Tern.Core.Memory;
using Tern.Core.Scheduling;

namespace Tern.Server.Hosting;

internal sealed class MemoryMonitorService(MemoryMonitor monitor) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => monitor.RunAsync(stoppingToken);
}

internal sealed class SchedulerService(JobScheduler scheduler) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => scheduler.RunAsync(stoppingToken);
}
