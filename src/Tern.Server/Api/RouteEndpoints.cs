using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using System.Text.Json;
using Tern.Core.Catalog;
using Tern.Server.Configuration;
using RouteOptions = Tern.Core.Routing.RouteOptions;

namespace Tern.Server.Api;

/// <summary>A tenant's routes: from one of its channels to destinations on its channels.</summary>
internal static class RouteEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapGet("/routes", async Task<IResult> (HttpContext context, CatalogCache catalog) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var snapshot = await catalog.RefreshAsync(force: false, context.RequestAborted);
            return Results.Json(snapshot.Routes.Where(r => r.TenantId == tenant).Select(ToResponse).ToArray(), ApiJsonContext.Default.IReadOnlyListRouteResponse);
        });

        v1.MapPost("/routes", async Task<IResult> (HttpContext context, CatalogCache catalog, ICatalogStore store, TernOptions options) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.RouteRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            ChannelEndpoints.Check(errors, "id", CatalogRules.Id(request.Id));
            var route = await BuildAsync(catalog, tenant, request.Id ?? "", request.From, request.Chats, request.To, request.Enabled ?? true, errors, context.RequestAborted);
            var routeOptions = ReadOptions(request.Options, errors);
            if (errors.Count > 0) return ApiProblems.Fields(errors);
            route = route! with { OptionsJson = routeOptions };
            if (!await store.AddRouteAsync(route, context.RequestAborted)) return ApiProblems.Conflict("id", $"route id '{request.Id}' is taken");
            await catalog.RefreshAsync(force: true, context.RequestAborted);
            return Results.Json(ToResponse(route!), ApiJsonContext.Default.RouteResponse, statusCode: StatusCodes.Status201Created);
        });

        v1.MapGet("/routes/{id}", async Task<IResult> (HttpContext context, string id, CatalogCache catalog) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var route = await FindAsync(catalog, tenant, id, context.RequestAborted);
            return route is null ? ApiProblems.NotFound($"No route '{id}'.") : Results.Json(ToResponse(route), ApiJsonContext.Default.RouteResponse);
        });

        v1.MapMethods("/routes/{id}", ["PATCH"], async Task<IResult> (HttpContext context, string id, CatalogCache catalog, ICatalogStore store, TernOptions options) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var existing = await FindAsync(catalog, tenant, id, context.RequestAborted);
            if (existing is null) return ApiProblems.NotFound($"No route '{id}'.");
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.RouteRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            if (request.Id is not null && request.Id != id) ChannelEndpoints.Check(errors, "id", "cannot be changed");
            var route = await BuildAsync(catalog, tenant, id,
                request.From ?? existing.SourceChannel,
                request.Chats ?? existing.SourceChats,
                request.To ?? existing.Destinations.Select(d => d.ToString()).ToArray(),
                request.Enabled ?? existing.Enabled, errors, context.RequestAborted);
            var routeOptions = request.Options is null ? existing.OptionsJson : ReadOptions(request.Options, errors);
            if (errors.Count > 0) return ApiProblems.Fields(errors);
            route = route! with { OptionsJson = routeOptions };
            await store.UpdateRouteAsync(route, context.RequestAborted);
            await catalog.RefreshAsync(force: true, context.RequestAborted);
            return Results.Json(ToResponse(route), ApiJsonContext.Default.RouteResponse);
        });

        v1.MapDelete("/routes/{id}", async Task<IResult> (HttpContext context, string id, CatalogCache catalog, ICatalogStore store) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            if (await FindAsync(catalog, tenant, id, context.RequestAborted) is null) return ApiProblems.NotFound($"No route '{id}'.");
            await store.RemoveRouteAsync(id, context.RequestAborted);
            await catalog.RefreshAsync(force: true, context.RequestAborted);
            return Results.NoContent();
        });
    }

    private static async Task<RouteDefinition?> BuildAsync(
        CatalogCache catalog, string tenant, string id, string? from, IReadOnlyList<string>? chats, IReadOnlyList<string>? to, bool enabled,
        Dictionary<string, string[]> errors, CancellationToken cancellationToken)
    {
        ChannelDefinition? source = null;
        if (from is null) ChannelEndpoints.Check(errors, "from", "is required");
        else if ((source = await ChannelEndpoints.FindAsync(catalog, tenant, from, cancellationToken)) is null) ChannelEndpoints.Check(errors, "from", $"no channel '{from}'");

        if (chats is not null)
        {
            if (chats.Count > 1000) ChannelEndpoints.Check(errors, "chats", "at most 1000 chats");
            for (var i = 0; i < chats.Count; i++)
            {
                ChannelEndpoints.Check(errors, $"chats[{i}]", CatalogRules.Chat(chats[i]) ?? (source is null ? null : CatalogRules.SourceChat(source.Type, chats[i])));
            }
        }

        var destinations = new List<Destination>();
        if (to is null || to.Count == 0)
        {
            ChannelEndpoints.Check(errors, "to", "at least one destination (channel or channel:chat) is required");
        }
        else
        {
            if (to.Count > 100) ChannelEndpoints.Check(errors, "to", "at most 100 destinations");
            for (var i = 0; i < to.Count; i++)
            {
                ChannelDefinition? target = null;
                if (!Destination.TryParse(to[i], out var destination)) ChannelEndpoints.Check(errors, $"to[{i}]", "must be channel or channel:chat");
                else if ((target = await ChannelEndpoints.FindAsync(catalog, tenant, destination.ChannelId, cancellationToken)) is null) ChannelEndpoints.Check(errors, $"to[{i}]", $"no channel '{destination.ChannelId}'");
                else if (destination.Chat is { } chat && CatalogRules.DestinationChat(target.Type, chat) is { } problem) ChannelEndpoints.Check(errors, $"to[{i}]", problem);
                else destinations.Add(destination);
            }
        }
        return errors.Count > 0 ? null : new RouteDefinition(id, from!, chats is { Count: > 0 } ? chats.ToArray() : null, destinations, enabled, tenant);
    }

    private static async Task<RouteDefinition?> FindAsync(CatalogCache catalog, string tenant, string id, CancellationToken cancellationToken)
    {
        var snapshot = await catalog.RefreshAsync(force: false, cancellationToken);
        var route = snapshot.Routes.FirstOrDefault(r => r.Id == id);
        if (route is null)
        {
            snapshot = await catalog.RefreshAsync(force: true, cancellationToken);
            route = snapshot.Routes.FirstOrDefault(r => r.Id == id);
        }
        return route?.TenantId == tenant ? route : null;
    }

    /// <summary>Checks submitted options; the stored form is canonical JSON, null for "copy everything as it is".</summary>
    private static string? ReadOptions(JsonElement? options, Dictionary<string, string[]> errors)
    {
        if (options is not { } element) return null;
        var parsed = RouteOptions.Parse(element, errors);
        return parsed is null || parsed.IsDefault ? null : parsed.ToJson();
    }

    private static RouteResponse ToResponse(RouteDefinition r)
    {
        JsonElement? options = null;
        if (r.OptionsJson is not null)
        {
            using var document = JsonDocument.Parse(r.OptionsJson);
            options = document.RootElement.Clone();
        }
        return new(r.Id, r.SourceChannel, r.SourceChats, r.Destinations.Select(d => d.ToString()).ToArray(), r.Enabled, options);
    }
}
