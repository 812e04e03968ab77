namespace Tern.Core.Tests.Doubles;

internal static class Wait
{
    /// <summary>Polls until <paramref name="condition"/> holds. The timeout only stops a hung test; it asserts nothing about speed.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, int timeoutSeconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Gave up waiting for: {what}");
            await Task.Delay(2);
        }
    }

    /// <summary>Awaits a task with a hang guard.</summary>
    public static Task GuardAsync(this Task task, int timeoutSeconds = 30) => task.WaitAsync(TimeSpan.FromSeconds(timeoutSeconds));
}
