using Tern.Channels.Telegram.BotApi;

namespace Tern.Channels.Telegram;

/// <summary>What adding or changing a Telegram channel checks before it is stored.</summary>
public static class TelegramChannels
{
    /// <summary>
    /// Asks Telegram who the token belongs to (getMe). Returns the settings with the bot's id and
    /// username, or a sentence saying what is wrong (never containing the token) and which setting it concerns.
    /// </summary>
    public static async Task<(TelegramSettings? Settings, string? Field, string? Problem)> VerifyAsync(
        BotApiClient client, TelegramSettings settings, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var bot = settings.Endpoint();
        var me = await client.CallAsync(bot, "getMe", new EmptyRequest(), BotApiJsonContext.Default.EmptyRequest, BotApiJsonContext.Default.BotApiResponseUser,
            timeout, cancellationToken).ConfigureAwait(false);
        if (me.Error is { } error)
        {
            return error switch
            {
                { ErrorCode: 401 } => (null, "token", $"Telegram does not know this bot token ({error}); copy it again from @BotFather"),
                { ErrorCode: 404 } => (null, "token", $"Telegram answered {error} to getMe: the token is malformed or the base URL is not a Bot API server"),
                { IsNetwork: true } => (null, "base_url", $"cannot reach the Bot API at {settings.ApiBaseUrl}: {error.Description}"),
                _ => (null, "token", $"getMe failed: {error}"),
            };
        }
        if (me.Value is not { IsBot: true } user) return (null, "token", "getMe did not return a bot");
        return (settings with { BotId = user.Id, BotUsername = user.Username }, null, null);
    }
}
