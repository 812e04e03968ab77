using System.Diagnostics;

namespace Tern.Server.Tests.Infrastructure;

/// <summary>Polls a condition until it holds; past the timeout the test fails with a message saying what was being waited for and what was seen.</summary>
public static class Eventually
{
    private static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(50);

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe, TimeSpan? poll = null) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, describe, poll);

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe, TimeSpan? poll = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition()) return;
            if (clock.Elapsed > timeout) Assert.Fail($"Timed out after {timeout.TotalSeconds:0.#} s waiting: {describe()}");
            await Task.Delay(poll ?? DefaultPoll);
        }
    }

    /// <summary>Awaits <paramref name="task"/> or fails the test after <paramref name="timeout"/>.</summary>
    public static async Task<T> WithinAsync<T>(Task<T> task, TimeSpan timeout, Func<string> describe)
    {
        if (await Task.WhenAny(task, Task.Delay(timeout)) != task) Assert.Fail($"Timed out after {timeout.TotalSeconds:0.#} s: {describe()}");
        return await task;
    }

    public static async Task WithinAsync(Task task, TimeSpan timeout, Func<string> describe)
    {
        if (await Task.WhenAny(task, Task.Delay(timeout)) != task) Assert.Fail($"Timed out after {timeout.TotalSeconds:0.#} s: {describe()}");
        await task;
    }
}
