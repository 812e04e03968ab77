using Tern.Channels.Limits;
using Tern.Core.Memory;

namespace Tern.Channels.WhatsApp;

/// <summary>
/// Sending limits of one business phone number. Zero lifts a limit (for a benchmark, or a number Meta has raised).
/// </summary>
/// <param name="MessagesPerSecond">Sends per second from the number (Meta's default throughput: 80).</param>
/// <param name="PairIntervalSeconds">Average seconds between sends to one user (Meta's pair rate: about one per 6 s).</param>
/// <param name="PairBurst">Sends to one user that may go out back to back before the average applies.</param>
public sealed record WhatsAppLimits(int MessagesPerSecond = 80, double PairIntervalSeconds = 6, int PairBurst = 5)
{
    public static WhatsAppLimits Default { get; } = new();

    public static string? Check(WhatsAppLimits limits) =>
        limits.MessagesPerSecond is < 0 or > 10_000 ? "messages_per_second must be from 0 (no limit) to 10000"
        : limits.PairIntervalSeconds is < 0 or > 3600 || double.IsNaN(limits.PairIntervalSeconds) ? "pair_interval_seconds must be from 0 (no limit) to 3600"
        : limits.PairBurst is < 1 or > 1000 ? "pair_burst must be from 1 to 1000"
        : null;
}

/// <summary>
/// The sending limits of every WhatsApp number Tern sends from: one window per number (throughput) and one per number and
/// user (the pair rate). Pair windows live in a bounded LRU (a user idle for longer than the window needs no memory); both
/// sizes are in /memory.
/// </summary>
public sealed class WhatsAppLimiter
{
    private readonly TimeProvider _time;
    private readonly BoundedLruCache<string, SendWindow> _pairs;
    private readonly BoundedLruCache<string, SendWindow> _numbers;

    public WhatsAppLimiter(int pairCapacity, TimeProvider time)
    {
        _time = time;
        // An hour: longer than any pair window Tern allows to be configured, so an entry is only forgotten when idle.
        _pairs = new BoundedLruCache<string, SendWindow>("whatsapp-pair-limits", pairCapacity, TimeSpan.FromHours(1), time, StringComparer.Ordinal);
        _numbers = new BoundedLruCache<string, SendWindow>("whatsapp-number-limits", 1024, TimeSpan.FromMinutes(10), time, StringComparer.Ordinal);
    }

    public IBoundedStructure PairWindows => _pairs;

    public IBoundedStructure NumberWindows => _numbers;

    /// <summary>
    /// Takes a slot in each window that applies to a send from <paramref name="phoneNumberId"/> to <paramref name="recipient"/>.
    /// On "not yet" nothing is held; <paramref name="numberWide"/> tells whether the number's throughput said no (every user waits).
    /// </summary>
    public SendWindowLease? TryAcquire(string phoneNumberId, string recipient, WhatsAppLimits limits, out TimeSpan wait, out bool numberWide)
    {
        numberWide = false;
        var windows = new List<SendWindow>(2);
        if (limits.PairIntervalSeconds > 0)
        {
            var burst = Math.Max(1, limits.PairBurst);
            windows.Add(_pairs.GetOrAdd($"{phoneNumberId}\n{recipient}\n{burst}\n{limits.PairIntervalSeconds}",
                _ => new SendWindow(burst, TimeSpan.FromSeconds(burst * limits.PairIntervalSeconds), _time)));
        }
        if (limits.MessagesPerSecond > 0)
        {
            windows.Add(_numbers.GetOrAdd($"{phoneNumberId}\n{limits.MessagesPerSecond}",
                _ => new SendWindow(limits.MessagesPerSecond, TimeSpan.FromSeconds(1), _time)));
        }
        for (var i = 0; i < windows.Count; i++)
        {
            if (windows[i].TryAcquire(out wait)) continue;
            for (var j = 0; j < i; j++) windows[j].Release();
            numberWide = limits.MessagesPerSecond > 0 && i == windows.Count - 1;
            return null;
        }
        wait = TimeSpan.Zero;
        return new SendWindowLease(windows);
    }
}
