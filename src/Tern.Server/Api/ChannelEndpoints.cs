using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tern.Channels.Telegram;
using Tern.Channels.Telegram.BotApi;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Pipeline;
using Tern.Core.Tenancy;
using Tern.Server.Configuration;

namespace Tern.Server.Api;

/// <summary>A tenant's channels. Secrets are write-only: answers say whether one is set, never what it is.</summary>
internal static class ChannelEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapGet("/channels", async Task<IResult> (HttpContext context, CatalogCache catalog) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var snapshot = await catalog.RefreshAsync(force: false, context.RequestAborted);
            var channels = snapshot.Channels.Values.Where(c => c.TenantId == tenant && c.Type != ChannelTypes.TenantWebhook).OrderBy(c => c.Id, StringComparer.Ordinal);
            return Results.Json(channels.Select(ToResponse).ToArray(), ApiJsonContext.Default.IReadOnlyListChannelResponse);
        });

        v1.MapPost("/channels", async Task<IResult> (HttpContext context, CatalogCache catalog, ICatalogStore store, TernOptions options, BotApiClient botApi) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.ChannelRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            Check(errors, "id", CatalogRules.Id(request.Id));
            Check(errors, "type", CatalogRules.Type(request.Type ?? ChannelTypes.Webhook));
            Check(errors, "url", CatalogRules.Url(request.Url, out var url));
            Check(errors, "secret", CatalogRules.Secret(request.Secret));
            Check(errors, "max_concurrency", CatalogRules.MaxConcurrency(request.MaxConcurrency));
            var type = request.Type ?? ChannelTypes.Webhook;
            TelegramSettings? telegram = null;
            if (type == ChannelTypes.Telegram)
            {
                if (request.Url is not null) Check(errors, "url", "a Telegram channel has no URL (it sends through the Bot API)");
                if (request.Secret is not null) Check(errors, "secret", "a Telegram channel's webhook secret is made by Tern");
                telegram = ReadTelegram(request.Telegram, null, errors);
            }
            else if (request.Telegram is not null)
            {
                Check(errors, "telegram", "only for channels of type telegram");
            }
            if (errors.Count > 0) return ApiProblems.Fields(errors);
            var secret = request.Secret;
            if (telegram is not null)
            {
                var (verified, field, wrong) = await TelegramChannels.VerifyAsync(botApi, telegram, options.Telegram.CallTimeout, context.RequestAborted);
                if (verified is null) return ApiProblems.Field("telegram." + field, wrong!);
                telegram = verified;
                secret = telegram.Mode == IngressMode.Webhook ? TelegramSettings.NewSecretToken() : null;
            }

            var channel = new ChannelDefinition(request.Id!, type, secret, url, request.MaxConcurrency, tenant, telegram?.ToJson());
            // Channel ids are global (they are in the inbound URL), so a taken id is a conflict whoever owns it.
            if (!await store.AddChannelAsync(channel, context.RequestAborted)) return ApiProblems.Conflict("id", $"channel id '{request.Id}' is taken");
            await catalog.RefreshAsync(force: true, context.RequestAborted);
            return Results.Json(ToResponse(channel), ApiJsonContext.Default.ChannelResponse, statusCode: StatusCodes.Status201Created);
        });

        v1.MapGet("/channels/{id}", async Task<IResult> (HttpContext context, string id, CatalogCache catalog) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var channel = await FindAsync(catalog, tenant, id, context.RequestAborted);
            return channel is null ? ApiProblems.NotFound($"No channel '{id}'.") : Results.Json(ToResponse(channel), ApiJsonContext.Default.ChannelResponse);
        });

        v1.MapMethods("/channels/{id}", ["PATCH"], async Task<IResult> (HttpContext context, string id, CatalogCache catalog, ICatalogStore store, TernOptions options, BotApiClient botApi) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var channel = await FindAsync(catalog, tenant, id, context.RequestAborted);
            if (channel is null) return ApiProblems.NotFound($"No channel '{id}'.");
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.ChannelRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            if (request.Id is not null && request.Id != id) Check(errors, "id", "cannot be changed");
            if (request.Type is not null && request.Type != channel.Type) Check(errors, "type", "cannot be changed");
            Check(errors, "url", CatalogRules.Url(request.Url, out var url));
            Check(errors, "secret", CatalogRules.Secret(request.Secret));
            Check(errors, "max_concurrency", CatalogRules.MaxConcurrency(request.MaxConcurrency));
            TelegramSettings? telegram = null;
            if (channel.Type == ChannelTypes.Telegram)
            {
                if (request.Url is not null) Check(errors, "url", "a Telegram channel has no URL (it sends through the Bot API)");
                if (request.Secret is not null) Check(errors, "secret", "a Telegram channel's webhook secret is made by Tern");
                if (request.Telegram is not null) telegram = ReadTelegram(request.Telegram, TelegramSettings.Of(channel), errors);
            }
            else if (request.Telegram is not null)
            {
                Check(errors, "telegram", "only for channels of type telegram");
            }
            if (errors.Count > 0) return ApiProblems.Fields(errors);

            var updated = channel with
            {
                Url = url ?? channel.Url,
                Secret = request.Secret ?? channel.Secret,
                MaxConcurrency = request.MaxConcurrency ?? channel.MaxConcurrency,
            };
            if (telegram is not null)
            {
                var (verified, field, wrong) = await TelegramChannels.VerifyAsync(botApi, telegram, options.Telegram.CallTimeout, context.RequestAborted);
                if (verified is null) return ApiProblems.Field("telegram." + field, wrong!);
                updated = updated with
                {
                    SettingsJson = verified.ToJson(),
                    Secret = verified.Mode == IngressMode.Webhook ? channel.Secret ?? TelegramSettings.NewSecretToken() : null,
                };
            }
            await store.UpdateChannelAsync(updated, context.RequestAborted);
            await catalog.RefreshAsync(force: true, context.RequestAborted);
            return Results.Json(ToResponse(updated), ApiJsonContext.Default.ChannelResponse);
        });

        v1.MapDelete("/channels/{id}", async Task<IResult> (HttpContext context, string id, CatalogCache catalog, ICatalogStore store) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var channel = await FindAsync(catalog, tenant, id, context.RequestAborted);
            if (channel is null) return ApiProblems.NotFound($"No channel '{id}'.");
            var users = catalog.Current.Routes.Where(r => r.SourceChannel == id || r.Destinations.Any(d => d.ChannelId == id)).Select(r => r.Id).ToArray();
            if (users.Length > 0) return ApiProblems.Conflict("id", $"routes use this channel: {string.Join(", ", users)}; delete them first");
            await store.RemoveChannelAsync(id, context.RequestAborted);
            await catalog.RefreshAsync(force: true, context.RequestAborted);
            return Results.NoContent();
        });

        v1.MapGet("/channels/{id}/status", async Task<IResult> (
            HttpContext context, string id, CatalogCache catalog, IMessageQueries queries, DeliveryEngine engine, IngressStatusBoard ingress, TimeProvider time) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var channel = await FindAsync(catalog, tenant, id, context.RequestAborted);
            if (channel is null) return ApiProblems.NotFound($"No channel '{id}'.");
            var status = await queries.ChannelStatusAsync(id, time.GetUtcNow().ToUnixTimeMilliseconds(), context.RequestAborted);
            engine.ParkedChannels.TryGetValue(id, out var parkedUntil);
            var inbound = ingress.Get(id) is { } i
                ? new IngressResponse(i.Mode, i.State, i.Detail, i.Bot, i.LastUpdateAtMs is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null, i.Updates,
                    DateTimeOffset.FromUnixTimeMilliseconds(i.ChangedAtMs))
                : null;
            var failing = engine.FailingDestinations(id).Select(f => new FailingDestinationResponse(
                f.Key.Chat, f.Value.Failures, f.Value.LastError, DateTimeOffset.FromUnixTimeMilliseconds(f.Value.FirstAtMs), DateTimeOffset.FromUnixTimeMilliseconds(f.Value.LastAtMs),
                f.Value.ParkedUntilMs is { } until ? DateTimeOffset.FromUnixTimeMilliseconds(until) : null)).ToArray();
            return Results.Json(
                new ChannelStatusResponse(id, status.Pending, status.Failed, status.Sent, status.LagSeconds, status.LastError, status.LastErrorAt,
                    parkedUntil == default ? null : parkedUntil, engine.PausedUntil(id), inbound, failing),
                ApiJsonContext.Default.ChannelStatusResponse);
        });
    }

    /// <summary>The tenant's channel; another tenant's is "not found", not "forbidden".</summary>
    internal static async Task<ChannelDefinition?> FindAsync(CatalogCache catalog, string tenant, string id, CancellationToken cancellationToken)
    {
        var channel = await catalog.FindChannelAsync(id, cancellationToken);
        return channel is not null && channel.TenantId == tenant && channel.Type != ChannelTypes.TenantWebhook ? channel : null;
    }

    internal static void Check(Dictionary<string, string[]> errors, string field, string? problem)
    {
        if (problem is not null && !errors.ContainsKey(field)) errors[field] = [problem];
    }

    private static ChannelResponse ToResponse(ChannelDefinition c)
    {
        TelegramResponse? telegram = null;
        if (c.Type == ChannelTypes.Telegram && TelegramSettings.Of(c) is { } t)
        {
            var l = t.EffectiveLimits;
            telegram = new TelegramResponse(t.Mode == IngressMode.Webhook ? "webhook" : "polling", t.ApiBaseUrl.ToString(), t.WebhookUrl?.ToString(), t.BotId, t.BotUsername,
                new LimitsResponse(l.BotPerSecond, l.ChatPerSecond, l.ChatBurst, l.GroupPerMinute));
        }
        return new(c.Id, c.Type, c.Url?.ToString(), c.Secret is not null, c.MaxConcurrency, $"/hooks/{c.Type}/{c.Id}", telegram);
    }

    /// <summary>The telegram part of a channel request, over the current settings on update; problems go to errors as telegram.*.</summary>
    private static TelegramSettings? ReadTelegram(TelegramRequest? request, TelegramSettings? current, Dictionary<string, string[]> errors)
    {
        if (request is null)
        {
            Check(errors, "telegram", "is required for a telegram channel ({\"token\": \"…\"})");
            return null;
        }
        var token = request.Token ?? current?.Token;
        if (request.Token is not null || current is null) Check(errors, "telegram.token", TelegramSettings.CheckToken(token));
        var mode = current?.Mode ?? IngressMode.Polling;
        if (request.Mode is not null && !TelegramSettings.TryParseMode(request.Mode, out mode)) Check(errors, "telegram.mode", "must be polling or webhook");
        Check(errors, "telegram.base_url", TelegramSettings.CheckUrl(request.BaseUrl, out var baseUrl));
        Check(errors, "telegram.webhook_url", TelegramSettings.CheckUrl(request.WebhookUrl, out var webhookUrl));
        var limits = current?.Limits;
        if (request.Limits is { } l)
        {
            var basis = limits ?? SendLimits.Default;
            limits = new SendLimits(l.BotPerSecond ?? basis.BotPerSecond, l.ChatPerSecond ?? basis.ChatPerSecond, l.ChatBurst ?? basis.ChatBurst, l.GroupPerMinute ?? basis.GroupPerMinute);
            Check(errors, "telegram.limits", TelegramSettings.CheckLimits(limits));
        }
        if (errors.Count > 0) return null;
        return new TelegramSettings(token!, mode, baseUrl ?? current?.BaseUrl, webhookUrl ?? current?.WebhookUrl, limits);
    }
}
