using System.Globalization;
using Tern.Core.Catalog;
using Tern.Core.Tenancy;
using Tern.Server.Api;
using Tern.Storage;

namespace Tern.Server.Cli;

/// <summary><c>tern keys …</c> and <c>tern tenants …</c>: the first admin key has to come from somewhere.</summary>
internal static class KeyCommands
{
    public static async Task<int> KeysAsync(string noun, CommandLine line, IStorageEngine storage, TextWriter output, CancellationToken cancellationToken)
    {
        var store = storage.Tenants;
        switch (noun)
        {
            case "create":
                {
                    var admin = line.Flag("admin");
                    var tenant = line.Optional("tenant");
                    var name = line.Optional("name");
                    line.RejectUnused();
                    if (admin == (tenant is not null)) throw new UsageException("give exactly one of --admin and --tenant ID");
                    if (tenant is not null)
                    {
                        if (!Identifiers.IsValid(tenant)) throw new UsageException($"--tenant '{tenant}': must be {Identifiers.Rule}");
                        // Creating a key for a new tenant creates the tenant: one command to onboard a customer.
                        await store.AddTenantAsync(new Tenant(tenant, null, DateTimeOffset.UtcNow), cancellationToken).ConfigureAwait(false);
                    }
                    var (key, record) = ApiKeys.Create(tenant, name, DateTimeOffset.UtcNow);
                    await store.AddKeyAsync(record, cancellationToken).ConfigureAwait(false);
                    await output.WriteLineAsync(key).ConfigureAwait(false);
                    await Console.Error.WriteLineAsync($"created {(admin ? "an admin key" : $"a key for tenant {tenant}")} (id {record.Id}); it is shown this once and stored hashed").ConfigureAwait(false);
                    return 0;
                }
            case "list":
                {
                    var tenant = line.Optional("tenant");
                    line.RejectUnused();
                    await output.WriteLineAsync("id\ttenant\tname\tcreated\trevoked").ConfigureAwait(false);
                    foreach (var k in await store.ListKeysAsync(tenant, cancellationToken).ConfigureAwait(false))
                    {
                        await output.WriteLineAsync(
                            $"{k.Id}\t{k.TenantId ?? "(admin)"}\t{k.Name ?? "-"}\t{k.CreatedAt.ToString("u", CultureInfo.InvariantCulture)}\t{k.RevokedAt?.ToString("u", CultureInfo.InvariantCulture) ?? "-"}").ConfigureAwait(false);
                    }
                    return 0;
                }
            case "revoke":
                {
                    var id = line.Required("id");
                    line.RejectUnused();
                    if (!await store.RevokeKeyAsync(id, DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false)) throw new UsageException($"--id '{id}': no such key, or revoked already");
                    await output.WriteLineAsync($"revoked key {id}").ConfigureAwait(false);
                    return 0;
                }
            default:
                throw new UsageException($"'keys {noun}': unknown; use keys create|list|revoke");
        }
    }

    public static async Task<int> TenantsAsync(string noun, CommandLine line, IStorageEngine storage, TextWriter output, CancellationToken cancellationToken)
    {
        var store = storage.Tenants;
        switch (noun)
        {
            case "add":
                {
                    var id = line.Required("id");
                    if (!Identifiers.IsValid(id)) throw new UsageException($"--id '{id}': must be {Identifiers.Rule}");
                    int? limit = null;
                    if (line.Optional("rate-limit") is { } raw)
                    {
                        if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value is < 1 or > 1_000_000)
                        {
                            throw new UsageException($"--rate-limit '{raw}': must be a whole number of requests per minute from 1 to 1000000");
                        }
                        limit = value;
                    }
                    line.RejectUnused();
                    if (!await store.AddTenantAsync(new Tenant(id, limit, DateTimeOffset.UtcNow), cancellationToken).ConfigureAwait(false)) throw new UsageException($"--id '{id}': a tenant with this id exists");
                    await output.WriteLineAsync($"added tenant {id}").ConfigureAwait(false);
                    return 0;
                }
            case "list":
                {
                    line.RejectUnused();
                    await output.WriteLineAsync("id\trate_limit_per_minute").ConfigureAwait(false);
                    foreach (var t in await store.ListTenantsAsync(cancellationToken).ConfigureAwait(false))
                    {
                        await output.WriteLineAsync($"{t.Id}\t{t.RateLimitPerMinute?.ToString(CultureInfo.InvariantCulture) ?? "default"}").ConfigureAwait(false);
                    }
                    return 0;
                }
            default:
                throw new UsageException($"'tenants {noun}': unknown; use tenants add|list");
        }
    }
}
