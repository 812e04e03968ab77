using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Tern.Channels.Http;
using Tern.Channels.Telegram.BotApi;
using Tern.Channels.Webhook;
using Tern.Core.Catalog;
using Tern.Core.Pipeline;

namespace Tern.Channels.Telegram;

/// <summary>
/// <c>POST /hooks/telegram/{channelId}</c>: Telegram's webhook push. The secret token Tern gave
/// setWebhook must come back in <c>X-Telegram-Bot-Api-Secret-Token</c> (checked in constant time); the
/// update is committed before the 200, so a crash before the answer means Telegram sends it again.
/// </summary>
public sealed class TelegramWebhookIngress(CatalogCache catalog, TelegramInbound inbound, IngressGate gate, IngressOptions options)
{
    public const string SecretHeader = "X-Telegram-Bot-Api-Secret-Token";

    public static HookShape Shape { get; } = new(
        "postTelegramUpdate",
        "Receive a Telegram update (webhook mode)",
        "Where Telegram pushes a bot's updates when its channel is in webhook mode (Tern calls setWebhook with this URL). The update is committed before the 200. See docs/telegram.md.",
        typeof(TelegramUpdateShape),
        [new(SecretHeader, "The secret token Tern gave setWebhook; a missing or wrong one is a 401.", Required: true)],
        [new(StatusCodes.Status200OK, "Committed (or recognised as a redelivery).", null)]);

    public async Task<IResult> HandleAsync(string channelId, HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var channel = await catalog.FindChannelAsync(channelId, cancellationToken).ConfigureAwait(false);
        if (channel is null || channel.Type != TelegramChannelType.TypeName)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown channel", detail: $"No Telegram channel '{channelId}'.");
        }
        if (TelegramSettings.Of(channel) is not { Mode: IngressMode.Webhook } || channel.Secret is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not a webhook channel",
                detail: $"Telegram channel '{channelId}' receives updates by polling, not by webhook.");
        }
        if (!SecretMatches(channel.Secret, context.Request.Headers[SecretHeader].ToString()))
        {
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Bad secret token",
                detail: $"The {SecretHeader} header must carry the secret token Tern set with setWebhook.");
        }
        using var body = await BoundedBody.ReadAsync(context.Request, options.MaxBodyBytes, cancellationToken).ConfigureAwait(false);
        if (body is null) return BoundedBody.TooLarge(context, options.MaxBodyBytes);
        Update? update;
        try
        {
            update = JsonSerializer.Deserialize(body.Span, BotApiJsonContext.Default.Update);
        }
        catch (JsonException ex)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [$"is not a Telegram Update ({ex.Message.Split(". ")[0]})"] },
                title: "The update is not valid");
        }
        if (update is null)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["must be a Telegram Update object"] }, title: "The update is not valid");
        }

        if (gate.RefusalReason() is { } reason)
        {
            // Telegram retries a webhook that does not answer 2xx: the update waits on their side.
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Busy", detail: $"Not accepting updates now: {reason}.");
        }
        await inbound.CommitAsync(channel.Id, [update], cancellationToken).ConfigureAwait(false);
        return Results.Ok();
    }

    private static bool SecretMatches(string expected, string given)
    {
        // Hashes first, so the comparison takes the same time whatever the lengths.
        var a = SHA256.HashData(Encoding.UTF8.GetBytes(expected));
        var b = SHA256.HashData(Encoding.UTF8.GetBytes(given));
        return CryptographicOperations.FixedTimeEquals(a, b);
    }
}

/// <summary>
/// A Telegram Update (https://core.telegram.org/bots/api#update) as the OpenAPI document shows it: only the field every update
/// has; the others are Telegram's. Never deserialized (the hook reads the Bot API types).
/// </summary>
public sealed record TelegramUpdateShape(long UpdateId);
