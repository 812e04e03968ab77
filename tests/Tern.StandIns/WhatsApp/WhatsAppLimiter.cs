namespace Tern.StandIns.WhatsApp;

/// <summary>
/// Meta's two sending limits on the stand-in's clock: throughput, a sliding 1 s window per business phone
/// number; and the pair rate, a token bucket per (phone number, recipient) that refills one message every
/// <see cref="GraphApiOptions.PairInterval"/> up to <see cref="GraphApiOptions.PairBurst"/>.
/// Not thread-safe: the stand-in calls it under its lock.
/// </summary>
internal sealed class WhatsAppLimiter
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);
    private readonly Dictionary<string, Queue<DateTimeOffset>> _throughput = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Phone, string To), (double Tokens, DateTimeOffset At)> _pairs = [];

    /// <summary>Which limit a send at <paramref name="now"/> would exceed, or null. With <paramref name="count"/> it is counted (taken from the bucket).</summary>
    public WhatsAppLimitKind? Check(GraphApiOptions options, string phoneNumberId, string to, DateTimeOffset now, bool countWhenExceeded)
    {
        WhatsAppLimitKind? exceeded = null;
        Queue<DateTimeOffset>? window = null;
        if (options.MessagesPerSecond > 0)
        {
            if (!_throughput.TryGetValue(phoneNumberId, out window))
            {
                window = new Queue<DateTimeOffset>();
                _throughput[phoneNumberId] = window;
            }

            // "Any 1 s" is the half-open (now - 1 s, now].
            while (window.Count > 0 && window.Peek() <= now - Second) window.Dequeue();
            if (window.Count >= options.MessagesPerSecond) exceeded = WhatsAppLimitKind.Throughput;
        }

        var pairOn = options.PairBurst > 0 && options.PairInterval > TimeSpan.Zero;
        var tokens = 0.0;
        if (pairOn)
        {
            var key = (phoneNumberId, to);
            if (_pairs.TryGetValue(key, out var bucket))
            {
                var refilled = (now - bucket.At) / options.PairInterval;
                tokens = Math.Min(options.PairBurst, bucket.Tokens + Math.Max(0, refilled));
            }
            else
            {
                tokens = options.PairBurst;
            }

            // A small epsilon so that exactly one interval refills exactly one message.
            if (tokens < 1 - 1e-9) exceeded ??= WhatsAppLimitKind.PairRate;
        }

        if (exceeded is null || countWhenExceeded)
        {
            window?.Enqueue(now);
            if (pairOn) _pairs[(phoneNumberId, to)] = (Math.Max(0, tokens - 1), now);
        }
        else if (pairOn)
        {
            _pairs[(phoneNumberId, to)] = (tokens, now);
        }

        return exceeded;
    }
}

public enum WhatsAppLimitKind
{
    /// <summary>Messages per second of one business phone number: error 130429.</summary>
    Throughput,

    /// <summary>Messages to one recipient in a short time: error 131056.</summary>
    PairRate,
}

/// <summary>A send over a limit: refused (answered with Meta's error) or, without <see cref="GraphApiOptions.RejectViolations"/>, accepted and only counted.</summary>
public sealed record WhatsAppLimitViolation(WhatsAppLimitKind Kind, string PhoneNumberId, string To, bool Rejected, DateTimeOffset At);

/// <summary>An error the test scripted (or a 5xx) that the stand-in answered instead of sending.</summary>
public sealed record WhatsAppInjectedError(string PhoneNumberId, string To, int Code, int HttpStatus, DateTimeOffset At);
