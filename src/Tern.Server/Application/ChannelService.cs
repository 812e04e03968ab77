using System.Text.Json.Nodes;
using Tern.Channels.Http;
using Tern.Core.Catalog;

namespace Tern.Server.Application;

/// <summary>A channel as submitted: the common fields and, for types that have one, the per-type settings object.</summary>
/// <param name="SettingsProperty">The name the settings object came under (the type's name in the API); null with no settings object.</param>
public sealed record ChannelInput(
    string? Id, string? Type, string? Url, string? Secret, int? MaxConcurrency, string? SettingsProperty = null, JsonObject? Settings = null);

/// <summary>
/// Channels for the CLI and the API: one set of rules. <c>tenant</c> null is the operator (the CLI), who sees
/// every tenant's channels; channels the operator adds belong to <see cref="Tenants.Default"/>.
/// </summary>
public sealed class ChannelService(ICatalogStore store, CatalogCache catalog, ChannelTypeRegistry types, DestinationPolicy destinations, SecretRotation rotation, TimeProvider time)
{
    public ChannelTypeRegistry Types => types;

    public async Task<IReadOnlyList<ChannelDefinition>> ListAsync(string? tenant, CancellationToken cancellationToken)
    {
        var snapshot = await catalog.RefreshAsync(force: false, cancellationToken).ConfigureAwait(false);
        return snapshot.Channels.Values.Where(c => Visible(c, tenant)).OrderBy(c => c.Id, StringComparer.Ordinal).ToArray();
    }

    /// <summary>The tenant's channel; another tenant's is "not found", not "forbidden".</summary>
    public async Task<ChannelDefinition?> FindAsync(string? tenant, string id, CancellationToken cancellationToken)
    {
        var channel = await catalog.FindChannelAsync(id, cancellationToken).ConfigureAwait(false);
        return channel is not null && Visible(channel, tenant) ? channel : null;
    }

    public async Task<Result<ChannelDefinition>> AddAsync(string? tenant, ChannelInput input, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors();
        errors.Check("id", CatalogRules.Id(input.Id));
        var type = types.Find(input.Type ?? ChannelTypes.Webhook);
        errors.Check("type", types.CheckType(input.Type ?? ChannelTypes.Webhook));
        var url = CheckCommon(input, type, errors);
        await CheckDestinationAsync(url, errors, cancellationToken).ConfigureAwait(false);
        var settings = await SettingsAsync(input, type, null, errors, cancellationToken).ConfigureAwait(false);
        if (errors.Count > 0) return errors.ToFailure();

        var channel = new ChannelDefinition(input.Id!, type!.Name, settings!.OwnsSecret ? settings.Secret : input.Secret, url, input.MaxConcurrency,
            tenant ?? Tenants.Default, settings.SettingsJson);
        // Channel ids are global (they are in the inbound URL), so a taken id is a conflict whoever owns it.
        if (!await store.AddChannelAsync(channel, cancellationToken).ConfigureAwait(false)) return ValidationFailure.Conflict("id", $"channel id '{input.Id}' is taken");
        await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return channel;
    }

    /// <summary>Changes what is given; id and type stay.</summary>
    public async Task<Result<ChannelDefinition>> UpdateAsync(string? tenant, string id, ChannelInput input, CancellationToken cancellationToken)
    {
        var channel = await FindAsync(tenant, id, cancellationToken).ConfigureAwait(false);
        if (channel is null) return NotFound(id);
        var errors = new FieldErrors();
        if (input.Id is not null && input.Id != id) errors.Check("id", "cannot be changed");
        if (input.Type is not null && input.Type != channel.Type) errors.Check("type", "cannot be changed");
        var type = types.Find(channel.Type);
        var url = CheckCommon(input, type, errors);
        await CheckDestinationAsync(url, errors, cancellationToken).ConfigureAwait(false);
        ChannelSettings? settings = null;
        if (input.SettingsProperty is not null) settings = await SettingsAsync(input, type, channel, errors, cancellationToken).ConfigureAwait(false);
        if (errors.Count > 0) return errors.ToFailure();

        var updated = channel with
        {
            Url = url ?? channel.Url,
            Secret = input.Secret ?? channel.Secret,
            MaxConcurrency = input.MaxConcurrency ?? channel.MaxConcurrency,
        };
        if (settings is not null)
        {
            updated = updated with { SettingsJson = settings.SettingsJson, Secret = settings.OwnsSecret ? settings.Secret : updated.Secret };
        }
        if (channel.Secret is not null && updated.Secret != channel.Secret && !(settings?.OwnsSecret ?? false))
        {
            // A rotation: the replaced secret still signs (and is still accepted) for the overlap, so receivers and senders switch without a gap.
            updated = updated with { PreviousSecret = channel.Secret, PreviousSecretUntil = time.GetUtcNow() + rotation.Overlap };
        }
        await store.UpdateChannelAsync(updated, cancellationToken).ConfigureAwait(false);
        await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return updated;
    }

    /// <summary>Removes a channel no route uses.</summary>
    public async Task<Result<ChannelDefinition>> RemoveAsync(string? tenant, string id, CancellationToken cancellationToken)
    {
        var channel = await FindAsync(tenant, id, cancellationToken).ConfigureAwait(false);
        if (channel is null) return NotFound(id);
        var snapshot = await catalog.GetAsync(cancellationToken).ConfigureAwait(false);
        var users = snapshot.Routes.Where(r => r.SourceChannel == id || r.Destinations.Any(d => d.ChannelId == id)).Select(r => r.Id).ToArray();
        if (users.Length > 0) return ValidationFailure.Conflict("id", $"routes use this channel: {string.Join(", ", users)}; delete them first");
        if (!await store.RemoveChannelAsync(id, cancellationToken).ConfigureAwait(false)) return NotFound(id);
        await catalog.RefreshAsync(force: true, cancellationToken).ConfigureAwait(false);
        return channel;
    }

    private static ValidationFailure NotFound(string id) => ValidationFailure.NotFound("id", "no such channel", $"No channel '{id}'.");

    private static bool Visible(ChannelDefinition channel, string? tenant) =>
        channel.Type != ChannelTypes.TenantWebhook && (tenant is null || channel.TenantId == tenant);

    /// <summary>url, secret and max_concurrency, and whether the type takes a url and a secret at all.</summary>
    private static Uri? CheckCommon(ChannelInput input, IChannelType? type, FieldErrors errors)
    {
        errors.Check("url", CatalogRules.Url(input.Url, out var url));
        errors.Check("secret", CatalogRules.Secret(input.Secret));
        errors.Check("max_concurrency", CatalogRules.MaxConcurrency(input.MaxConcurrency));
        if (input.Url is not null && type?.UrlRule is { } noUrl) errors.Check("url", noUrl);
        if (input.Secret is not null && !errors.Has("secret") && type?.CheckSecret(input.Secret) is { } badSecret) errors.Check("secret", badSecret);
        return url;
    }

    /// <summary>Tern POSTs to a channel's URL: not to the host's own network (unless the operator allows it).</summary>
    private async Task CheckDestinationAsync(Uri? url, FieldErrors errors, CancellationToken cancellationToken)
    {
        if (url is not null && !errors.Has("url")) errors.Check("url", await destinations.CheckAsync(url, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>The type's settings: checked always, verified with the platform only when everything else is valid.</summary>
    private async Task<ChannelSettings?> SettingsAsync(ChannelInput input, IChannelType? type, ChannelDefinition? existing, FieldErrors errors, CancellationToken cancellationToken)
    {
        if (input.SettingsProperty is { } property && (type is null || type.SettingsProperty != property))
        {
            var owner = types.BySettingsProperty(property);
            errors.Check(property, owner is null ? "is not a known field" : $"only for channels of type {owner.Name}");
            return null;
        }
        if (type is null) return null;
        var problems = new List<FieldError>();
        var settings = await type.PrepareAsync(input.Settings, existing, verify: errors.Count == 0, problems, cancellationToken).ConfigureAwait(false);
        errors.AddUnder(type.SettingsProperty ?? "settings", problems);
        return settings;
    }
}
