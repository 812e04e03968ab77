using Microsoft.Extensions.Hosting;
using Tern.Core.Memory;
using Tern.Storage;

namespace Tern.Server.Hosting;

/// <summary>The host's side of memory pressure: pools to shrink, and how to exit for a restart.</summary>
internal sealed class PressureActions(RestartCoordinator restarts, IStorageEngine storage) : IPressureActions
{
    public void CompactHeap()
    {
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    public void ShrinkPools() => storage.ShrinkPools();

    public Task OnRestartLevelAsync(CancellationToken cancellationToken) => restarts.OnRestartLevelAsync(cancellationToken);

    public void OnRelieved() => restarts.OnRelieved();

    /// <summary>What <see cref="RestartCoordinator"/> calls to leave: a graceful stop with a distinct exit code.</summary>
    public static Action<int> ExitVia(IHostApplicationLifetime lifetime, ExitCode exitCode) => code =>
    {
        exitCode.Set(code);
        // Not while the host is still starting: a stop then cancels Kestrel's bind, and the start fails instead of the
        // host draining. A registration on a token that has already fired runs at once.
        lifetime.ApplicationStarted.Register(lifetime.StopApplication);
    };
}
