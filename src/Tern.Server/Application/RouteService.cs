using System.Text.Json;
using Tern.Core.Catalog;
using RouteOptions = Tern.Core.Routing.RouteOptions;

namespace Tern.Server.Application;

/// <summary>A route as submitted; on update, what is null stays as it is.</summary>
/// <param name="Options">Filters, transforms and copy/forward mode as the API takes them (docs/routing.md).</param>
public sealed record RouteInput(string? Id, string? From, IReadOnlyList<string>? Chats, IReadOnlyList<string>? To, bool? Enabled, JsonElement? Options = null);

/// <summary>
/// Routes for the CLI and the API: from one of the tenant's channels to destinations on its channels.
/// <c>tenant</c> null is the operator (the CLI): routes it adds belong to <see cref="Tenants.Default"/> and
/// use that tenant's channels; it sees and removes every tenant's routes.
/// </summary>
public sealed class RouteService(ICatalogStore store, CatalogCache catalog, ChannelService channels)
{
    public async Task<IReadOnlyList<RouteDefinition>> ListAsync(string? tenant, CancellationToken cancellationToken)
    {
        var snapshot = await catalog.RefreshAsync(force: false, cancellationToken).ConfigureAwait(false);
        return snapshot.Routes.Where(r => tenant is null || r.TenantId == tenant).ToArray();
    }

    public async Task<RouteDefinition?> FindAsync(string? tenant, string id, CancellationToken cancellationToken)
    {
        var snapshot = await catalog.RefreshAsync(force: false, cancellationToken).ConfigureAwait(false);
        var route = snapshot.Routes.FirstOrDefault(r => r.Id == id);
        if (route is null)
        {
            snapshot = await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
            route = snapshot.Routes.FirstOrDefault(r => r.Id == id);
        }
        return route is not null && (tenant is null || route.TenantId == tenant) ? route : null;
    }

    public async Task<Result<RouteDefinition>> AddAsync(string? tenant, RouteInput input, CancellationToken cancellationToken)
    {
        var owner = tenant ?? Tenants.Default;
        var errors = new FieldErrors();
        errors.Check("id", CatalogRules.Id(input.Id));
        var route = await BuildAsync(owner, input.Id ?? "", input.From, input.Chats, input.To, input.Enabled ?? true, errors, cancellationToken).ConfigureAwait(false);
        var options = ReadOptions(input.Options, errors);
        if (errors.Count > 0) return errors.ToFailure();
        route = route! with { OptionsJson = options };
        if (!await store.AddRouteAsync(route, cancellationToken).ConfigureAwait(false)) return ValidationFailure.Conflict("id", $"route id '{input.Id}' is taken");
        await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return route;
    }

    public async Task<Result<RouteDefinition>> UpdateAsync(string? tenant, string id, RouteInput input, CancellationToken cancellationToken)
    {
        var existing = await FindAsync(tenant, id, cancellationToken).ConfigureAwait(false);
        if (existing is null) return NotFound(id);
        var errors = new FieldErrors();
        if (input.Id is not null && input.Id != id) errors.Check("id", "cannot be changed");
        var route = await BuildAsync(existing.TenantId, id,
            input.From ?? existing.SourceChannel,
            input.Chats ?? existing.SourceChats,
            input.To ?? existing.Destinations.Select(d => d.ToString()).ToArray(),
            input.Enabled ?? existing.Enabled, errors, cancellationToken).ConfigureAwait(false);
        var options = input.Options is null ? existing.OptionsJson : ReadOptions(input.Options, errors);
        if (errors.Count > 0) return errors.ToFailure();
        route = route! with { OptionsJson = options };
        await store.UpdateRouteAsync(route, cancellationToken).ConfigureAwait(false);
        await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return route;
    }

    public async Task<Result<RouteDefinition>> RemoveAsync(string? tenant, string id, CancellationToken cancellationToken)
    {
        var route = await FindAsync(tenant, id, cancellationToken).ConfigureAwait(false);
        if (route is null || !await store.RemoveRouteAsync(id, cancellationToken).ConfigureAwait(false)) return NotFound(id);
        await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return route;
    }

    private static ValidationFailure NotFound(string id) => ValidationFailure.NotFound("id", "no such route", $"No route '{id}'.");

    private async Task<RouteDefinition?> BuildAsync(
        string tenant, string id, string? from, IReadOnlyList<string>? chats, IReadOnlyList<string>? to, bool enabled, FieldErrors errors, CancellationToken cancellationToken)
    {
        var types = channels.Types;
        ChannelDefinition? source = null;
        if (from is null) errors.Check("from", "is required");
        else if ((source = await channels.FindAsync(tenant, from, cancellationToken).ConfigureAwait(false)) is null) errors.Check("from", $"no channel '{from}'");

        if (chats is not null)
        {
            if (chats.Count > 1000) errors.Check("chats", "at most 1000 chats");
            for (var i = 0; i < chats.Count; i++)
            {
                errors.Check($"chats[{i}]", CatalogRules.Chat(chats[i]) ?? (source is null ? null : types.CheckSourceChat(source.Type, chats[i])));
            }
        }

        var destinations = new List<Destination>();
        if (to is null || to.Count == 0)
        {
            errors.Check("to", "at least one destination (channel or channel:chat) is required");
        }
        else
        {
            if (to.Count > 100) errors.Check("to", "at most 100 destinations");
            for (var i = 0; i < to.Count; i++)
            {
                ChannelDefinition? target = null;
                if (!Destination.TryParse(to[i], out var destination)) errors.Check($"to[{i}]", "must be channel or channel:chat");
                else if ((target = await channels.FindAsync(tenant, destination.ChannelId, cancellationToken).ConfigureAwait(false)) is null) errors.Check($"to[{i}]", $"no channel '{destination.ChannelId}'");
                else if (destination.Chat is { } chat && types.CheckDestinationChat(target.Type, chat) is { } problem) errors.Check($"to[{i}]", problem);
                else destinations.Add(destination);
            }
        }
        return errors.Count > 0 ? null : new RouteDefinition(id, from!, chats is { Count: > 0 } ? chats.ToArray() : null, destinations, enabled, tenant);
    }

    /// <summary>Checks submitted options; the stored form is canonical JSON, null for "copy everything as it is".</summary>
    private static string? ReadOptions(JsonElement? options, FieldErrors errors)
    {
        if (options is not { } element) return null;
        var problems = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var parsed = RouteOptions.Parse(element, problems);
        foreach (var (field, messages) in problems) errors.Check(field, messages[0]);
        return parsed is null || parsed.IsDefault ? null : parsed.ToJson();
    }
}
