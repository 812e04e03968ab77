namespace Tern.Channels.Telegram;

public sealed class TelegramIngressOptions
{
    /// <summary>getUpdates long-poll timeout: Telegram holds the request this long when there is nothing new.</summary>
    public TimeSpan PollTimeout { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>Where Telegram can reach Tern from outside (https://bot.example.com); webhook channels register {PublicUrl}/hooks/telegram/{id}.</summary>
    public Uri? PublicUrl { get; set; }

    /// <summary>First wait after a 409 Conflict (another poller, or a webhook set); doubles up to <see cref="ConflictRetryMax"/>.</summary>
    public TimeSpan ConflictRetry { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan ConflictRetryMax { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>First wait after a network error or 5xx; doubles up to a minute.</summary>
    public TimeSpan ErrorRetry { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Timeout of calls other than getUpdates (setWebhook, getMe, …).</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
