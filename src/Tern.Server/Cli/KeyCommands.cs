using System.Globalization;

namespace Tern.Server.Cli;

/// <summary><c>tern keys …</c> and <c>tern tenants …</c>: the first admin key has to come from somewhere.</summary>
internal static class KeyCommands
{
    public static async Task<int> KeysAsync(string noun, CommandLine line, CliServices services, TextWriter output, CancellationToken cancellationToken)
    {
        switch (noun)
        {
            case "create":
                {
                    var admin = line.Flag("admin");
                    var tenant = line.Optional("tenant");
                    var name = line.Optional("name");
                    line.RejectUnused();
                    if (admin == (tenant is not null)) throw new UsageException("give exactly one of --admin and --tenant ID");
                    // Creating a key for a new tenant creates the tenant: one command to onboard a customer.
                    var created = await services.Keys.CreateAsync(tenant, admin, name, createTenant: true, cancellationToken).ConfigureAwait(false);
                    if (!created.IsOk) throw CliFailures.Usage(created.Failure!, field => field == "name" ? ("--name", name) : ("--tenant", tenant));
                    var (key, record) = created.Value;
                    await output.WriteLineAsync(key).ConfigureAwait(false);
                    await Console.Error.WriteLineAsync($"created {(admin ? "an admin key" : $"a key for tenant {tenant}")} (id {record.Id}); it is shown this once and stored hashed").ConfigureAwait(false);
                    return 0;
                }
            case "list":
                {
                    var tenant = line.Optional("tenant");
                    line.RejectUnused();
                    await output.WriteLineAsync("id\ttenant\tname\tcreated\trevoked").ConfigureAwait(false);
                    foreach (var k in await services.Keys.ListAsync(tenant, cancellationToken).ConfigureAwait(false))
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
                    var revoked = await services.Keys.RevokeAsync(null, id, cancellationToken).ConfigureAwait(false);
                    if (!revoked.IsOk) throw CliFailures.Usage(revoked.Failure!, _ => ("--id", id));
                    if (!revoked.Value) throw new UsageException($"--id '{id}': no such key, or revoked already");
                    await output.WriteLineAsync($"revoked key {id}").ConfigureAwait(false);
                    return 0;
                }
            default:
                throw new UsageException($"'keys {noun}': unknown; use keys create|list|revoke");
        }
    }

    public static async Task<int> TenantsAsync(string noun, CommandLine line, CliServices services, TextWriter output, CancellationToken cancellationToken)
    {
        switch (noun)
        {
            case "add":
                {
                    var id = line.Required("id");
                    var raw = line.Optional("rate-limit");
                    int? limit = null;
                    if (raw is not null)
                    {
                        if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                        {
                            throw new UsageException($"--rate-limit '{raw}': must be a whole number of requests per minute from 1 to 1000000");
                        }
                        limit = value;
                    }
                    line.RejectUnused();
                    var added = await services.Tenants.AddAsync(id, limit, cancellationToken).ConfigureAwait(false);
                    if (!added.IsOk) throw CliFailures.Usage(added.Failure!, field => field == "id" ? ("--id", id) : ("--rate-limit", raw));
                    await output.WriteLineAsync($"added tenant {id}").ConfigureAwait(false);
                    return 0;
                }
            case "list":
                {
                    line.RejectUnused();
                    await output.WriteLineAsync("id\trate_limit_per_minute").ConfigureAwait(false);
                    foreach (var t in await services.Tenants.ListAsync(cancellationToken).ConfigureAwait(false))
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
