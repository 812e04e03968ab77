using System.Net.Http.Headers;

namespace Tern.Channels.Http;

public static class RetryAfter
{
    /// <summary>The wait a Retry-After header asks for (delta seconds or an HTTP date), capped so a bad peer cannot stall a lane for days.</summary>
    public static TimeSpan? From(RetryConditionHeaderValue? header, DateTimeOffset now, TimeSpan cap)
    {
        if (header is null) return null;
        TimeSpan? wait = header.Delta ?? (header.Date is { } date ? date - now : null);
        if (wait is null) return null;
        if (wait < TimeSpan.Zero) return TimeSpan.Zero;
        return wait > cap ? cap : wait;
    }
}
