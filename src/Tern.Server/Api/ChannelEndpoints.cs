using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Pipeline;
using Tern.Core.Tenancy;
using Tern.Server.Application;
using Tern.Server.Configuration;

namespace Tern.Server.Api;

/// <summary>A tenant's channels. Secrets are write-only: answers say whether one is set, never what it is.</summary>
internal static class ChannelEndpoints
{
    public static void Map(RouteGroupBuilder group)
    {
        group.MapGet("/channels", async Task<Ok<ChannelResponse[]>> (HttpContext context, ChannelService channels) =>
        {
            var tenant = context.TenantId();
            var list = await channels.ListAsync(tenant, context.RequestAborted);
            return TypedResults.Ok(list.Select(c => ToResponse(c, channels.Types)).ToArray());
        }).Operation("channels", "listChannels", "List channels");

        group.MapPost("/channels", async Task<Results<Created<ChannelResponse>, ProblemHttpResult>> (HttpContext context, ChannelService channels, TernOptions options) =>
        {
            var tenant = context.TenantId();
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.ChannelRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            if (Input(body.Value!, channels.Types, out var input) is { } problem) return problem;
            var added = await channels.AddAsync(tenant, input, context.RequestAborted);
            return added.IsOk
                ? TypedResults.Created((string?)null, ToResponse(added.Value, channels.Types))
                : ApiProblems.From(added.Failure!);
        }).Operation("channels", "createChannel", "Create a channel").ReadsJson<ChannelRequest>().ProducesConflict();

        group.MapGet("/channels/{id}", async Task<Results<Ok<ChannelResponse>, ProblemHttpResult>> (HttpContext context, string id, ChannelService channels) =>
        {
            var tenant = context.TenantId();
            var channel = await channels.FindAsync(tenant, id, context.RequestAborted);
            return channel is null ? ApiProblems.NotFound($"No channel '{id}'.") : TypedResults.Ok(ToResponse(channel, channels.Types));
        }).Operation("channels", "getChannel", "Get a channel").ProducesNotFound();

        group.MapMethods("/channels/{id}", ["PATCH"], async Task<Results<Ok<ChannelResponse>, ProblemHttpResult>> (HttpContext context, string id, ChannelService channels, TernOptions options) =>
        {
            var tenant = context.TenantId();
            // A channel that is not there is a 404 before the body is looked at.
            if (await channels.FindAsync(tenant, id, context.RequestAborted) is null) return ApiProblems.NotFound($"No channel '{id}'.");
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.ChannelRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            if (Input(body.Value!, channels.Types, out var input) is { } problem) return problem;
            var updated = await channels.UpdateAsync(tenant, id, input, context.RequestAborted);
            return updated.IsOk ? TypedResults.Ok(ToResponse(updated.Value, channels.Types)) : ApiProblems.From(updated.Failure!);
        }).Operation("channels", "updateChannel", "Change a channel").ProducesNotFound().ReadsJson<ChannelRequest>();

        group.MapDelete("/channels/{id}", async Task<Results<NoContent, ProblemHttpResult>> (HttpContext context, string id, ChannelService channels) =>
        {
            var tenant = context.TenantId();
            var removed = await channels.RemoveAsync(tenant, id, context.RequestAborted);
            return removed.IsOk ? TypedResults.NoContent() : ApiProblems.From(removed.Failure!);
        }).Operation("channels", "deleteChannel", "Delete a channel").ProducesNotFound().ProducesConflict();

        group.MapGet("/channels/{id}/status", async Task<Results<Ok<ChannelStatusResponse>, ProblemHttpResult>> (
            HttpContext context, string id, CatalogCache catalog, IMessageQueries queries, DeliveryEngine engine, IngressStatusBoard ingress, TimeProvider time) =>
        {
            var tenant = context.TenantId();
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
            return TypedResults.Ok(
                new ChannelStatusResponse(id, status.Pending, status.Failed, status.Sent, status.LagSeconds, status.LastError, status.LastErrorAt,
                    parkedUntil == default ? null : parkedUntil, engine.PausedUntil(id), inbound, failing));
        }).Operation("channels", "getChannelStatus", "Get a channel's delivery status").ProducesNotFound();
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

    /// <summary>
    /// The request as the service takes it. A field the record does not name is a channel type's settings object
    /// (its <see cref="IChannelType.SettingsProperty"/>), which the type judges; anything else is not a known field,
    /// as for every other request.
    /// </summary>
    private static ProblemHttpResult? Input(ChannelRequest request, ChannelTypeRegistry types, out ChannelInput input)
    {
        input = null!;
        string? property = null;
        JsonObject? settings = null;
        foreach (var (name, value) in request.TypeSettings ?? [])
        {
            if (types.BySettingsProperty(name) is null) return ApiProblems.Field(name, "is not a known field");
            if (value is null) continue; // "{type}": null says nothing, as a missing object does
            if (value is not JsonObject given) return ApiProblems.Field(name, "has the wrong type or is malformed");
            if (property is not null) return ApiProblems.Field(name, $"only one channel type's settings can be given (already: {property})");
            (property, settings) = (name, given.DeepClone().AsObject());
        }
        input = new(request.Id, request.Type, request.Url, request.Secret, request.MaxConcurrency, property, settings);
        return null;
    }

    private static ChannelResponse ToResponse(ChannelDefinition c, ChannelTypeRegistry types)
    {
        var type = types.Find(c.Type);
        var shown = type?.SettingsProperty is { } property && type.Describe(c) is { } described
            ? new Dictionary<string, JsonElement>(StringComparer.Ordinal) { [property] = JsonElementOf(described) }
            : null;
        return new(c.Id, c.Type, c.Url?.ToString(), c.Secret is not null, c.MaxConcurrency, $"/hooks/{c.Type}/{c.Id}",
            c.PreviousSecret is not null && c.PreviousSecretUntil > DateTimeOffset.UtcNow ? c.PreviousSecretUntil : null) { TypeSettings = shown };
    }

    private static JsonElement JsonElementOf(JsonObject value)
    {
        using var document = JsonDocument.Parse(value.ToJsonString());
        return document.RootElement.Clone();
    }
}
