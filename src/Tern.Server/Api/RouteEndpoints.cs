using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using System.Text.Json;
using Tern.Core.Catalog;
using Tern.Server.Application;
using Tern.Server.Configuration;

namespace Tern.Server.Api;

/// <summary>A tenant's routes: from one of its channels to destinations on its channels.</summary>
internal static class RouteEndpoints
{
    public static void Map(RouteGroupBuilder group)
    {
        group.MapGet("/routes", async Task<Ok<RouteResponse[]>> (HttpContext context, RouteService routes) =>
        {
            var tenant = context.TenantId();
            var list = await routes.ListAsync(tenant, context.RequestAborted);
            return TypedResults.Ok(list.Select(ToResponse).ToArray());
        }).Operation("routes", "listRoutes", "List routes");

        group.MapPost("/routes", async Task<Results<Created<RouteResponse>, ProblemHttpResult>> (HttpContext context, RouteService routes, TernOptions options) =>
        {
            var tenant = context.TenantId();
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.RouteRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var added = await routes.AddAsync(tenant, Input(body.Value!), context.RequestAborted);
            return added.IsOk
                ? TypedResults.Created((string?)null, ToResponse(added.Value))
                : ApiProblems.From(added.Failure!);
        }).Operation("routes", "createRoute", "Create a route").ReadsJson<RouteRequest>().ProducesConflict();

        group.MapGet("/routes/{id}", async Task<Results<Ok<RouteResponse>, ProblemHttpResult>> (HttpContext context, string id, RouteService routes) =>
        {
            var tenant = context.TenantId();
            var route = await routes.FindAsync(tenant, id, context.RequestAborted);
            return route is null ? ApiProblems.NotFound($"No route '{id}'.") : TypedResults.Ok(ToResponse(route));
        }).Operation("routes", "getRoute", "Get a route").ProducesNotFound();

        group.MapMethods("/routes/{id}", ["PATCH"], async Task<Results<Ok<RouteResponse>, ProblemHttpResult>> (HttpContext context, string id, RouteService routes, TernOptions options) =>
        {
            var tenant = context.TenantId();
            // A route that is not there is a 404 before the body is looked at.
            if (await routes.FindAsync(tenant, id, context.RequestAborted) is null) return ApiProblems.NotFound($"No route '{id}'.");
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.RouteRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var updated = await routes.UpdateAsync(tenant, id, Input(body.Value!), context.RequestAborted);
            return updated.IsOk ? TypedResults.Ok(ToResponse(updated.Value)) : ApiProblems.From(updated.Failure!);
        }).Operation("routes", "updateRoute", "Change a route").ProducesNotFound().ReadsJson<RouteRequest>();

        group.MapDelete("/routes/{id}", async Task<Results<NoContent, ProblemHttpResult>> (HttpContext context, string id, RouteService routes) =>
        {
            var tenant = context.TenantId();
            var removed = await routes.RemoveAsync(tenant, id, context.RequestAborted);
            return removed.IsOk ? TypedResults.NoContent() : ApiProblems.From(removed.Failure!);
        }).Operation("routes", "deleteRoute", "Delete a route").ProducesNotFound();
    }

    private static RouteInput Input(RouteRequest request) => new(request.Id, request.From, request.Chats, request.To, request.Enabled, request.Options);

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
