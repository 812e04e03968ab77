namespace Tern.Core.Pipeline;

/// <summary>
/// A wake-up call between a producer and one waiting loop: many <see cref="Set"/> calls before a wait
/// collapse into one, and a wait also ends after a timeout so the loop polls when nobody signals.
/// </summary>
public sealed class AsyncSignal : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);

    public void Set()
    {
        try
        {
            if (_semaphore.CurrentCount == 0) _semaphore.Release();
        }
        catch (SemaphoreFullException)
        {
            // Another Set won the race; one pending wake-up is all that is needed.
        }
        catch (ObjectDisposedException)
        {
            // A write that commits while the host shuts down: nobody is waiting any more.
        }
    }

    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        await _semaphore.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);

    public void Dispose() => _semaphore.Dispose();
}
