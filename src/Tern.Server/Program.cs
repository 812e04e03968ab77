using System.Text;
using Microsoft.Extensions.Configuration;
using Tern.Server.Cli;
using Tern.Server.Configuration;
using Tern.Server.Hosting;
using Tern.Storage.Secrets;

namespace Tern.Server;

public static class Program
{
    public const int ExitUsage = 2;

    public static async Task<int> Main(string[] args)
    {
        try
        {
            var line = CommandLine.Parse(args);
            var verb = line.Words.Count > 0 ? line.Words[0] : "serve";
            var noun = line.Words.Count > 1 ? line.Words[1] : "";
            if (line.Words.Count > (verb is "channels" or "routes" or "keys" or "tenants" or "secrets" or "db" ? 2 : 1)) throw new UsageException($"'{line.Words[^1]}': unexpected argument");

            switch (verb)
            {
                case "serve":
                    {
                        // --urls is ASP.NET Core's option: it sets the configuration key "urls", as ASPNETCORE_URLS does.
                        var urls = line.Optional("urls");
                        line.RejectUnused();
                        string[] settings = urls is null ? [.. line.Settings] : [.. line.Settings, $"--{ListenUrls.AspNetCoreKey}={urls}"];
                        return await ServeCommand.RunAsync(settings).ConfigureAwait(false);
                    }
                case "migrate":
                    {
                        line.RejectUnused();
                        var options = TernOptions.Read(BuildConfiguration(line));
                        await using var storage = StorageEngines.Create(options.Storage);
                        var applied = await storage.MigrateAsync(CancellationToken.None).ConfigureAwait(false);
                        var version = await storage.SchemaVersionAsync(CancellationToken.None).ConfigureAwait(false);
                        Console.WriteLine($"{storage.Location}: applied {applied} migration(s); schema version {version}");
                        return 0;
                    }
                case "keys":
                case "tenants":
                    {
                        if (noun.Length == 0) throw new UsageException(verb == "keys" ? "'keys': say create, list or revoke" : "'tenants': say add or list");
                        var options = TernOptions.Read(BuildConfiguration(line));
                        await using var storage = StorageEngines.Create(options.Storage);
                        await storage.MigrateAsync(CancellationToken.None).ConfigureAwait(false);
                        using var services = CliServices.Create(storage, options);
                        return verb == "keys"
                            ? await KeyCommands.KeysAsync(noun, line, services, Console.Out, CancellationToken.None).ConfigureAwait(false)
                            : await KeyCommands.TenantsAsync(noun, line, services, Console.Out, CancellationToken.None).ConfigureAwait(false);
                    }
                case "channels":
                case "routes":
                    {
                        if (noun.Length == 0) throw new UsageException($"'{verb}': say add, list or remove");
                        var options = TernOptions.Read(BuildConfiguration(line));
                        await using var storage = StorageEngines.Create(options.Storage);
                        await storage.MigrateAsync(CancellationToken.None).ConfigureAwait(false);
                        using var services = CliServices.Create(storage, options);
                        return verb == "channels"
                            ? await CatalogCommands.ChannelsAsync(noun, line, services, Console.Out, CancellationToken.None).ConfigureAwait(false)
                            : await CatalogCommands.RoutesAsync(noun, line, services, Console.Out, CancellationToken.None).ConfigureAwait(false);
                    }
                case "secrets":
                    {
                        if (noun.Length == 0) throw new UsageException("'secrets': say new-key or rotate-key");
                        var options = TernOptions.Read(BuildConfiguration(line));
                        return await SecretCommands.RunAsync(noun, line, options, Console.Out, Console.Error, CancellationToken.None).ConfigureAwait(false);
                    }
                case "db":
                    {
                        var options = TernOptions.Read(BuildConfiguration(line));
                        return await DbCommands.RunAsync(noun, line, options, Console.Out, Console.Error, CancellationToken.None).ConfigureAwait(false);
                    }
                case "plan":
                    return PlanCommand.Run(line, Console.Out);
                case "help":
                case "--help":
                case "-h":
                    Console.WriteLine(Usage());
                    return 0;
                case "version":
                case "--version":
                    Console.WriteLine($"tern {typeof(Program).Assembly.GetName().Version}");
                    return 0;
                default:
                    throw new UsageException($"'{verb}': unknown command (try: tern help)");
            }
        }
        catch (UsageException ex)
        {
            await Console.Error.WriteLineAsync($"tern: {ex.Message}").ConfigureAwait(false);
            return ExitUsage;
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync($"tern: {ex.Message}").ConfigureAwait(false);
            return ExitUsage;
        }
        catch (SecretKeyException ex)
        {
            // Another key than the database was sealed with, or an unusable key file: before any channel starts.
            await Console.Error.WriteLineAsync($"tern: {ex.Message}").ConfigureAwait(false);
            return ExitUsage;
        }
        catch (InvalidDataException ex) when (ex.Message.Contains("appsettings", StringComparison.OrdinalIgnoreCase) || ex.InnerException is System.Text.Json.JsonException)
        {
            await Console.Error.WriteLineAsync($"tern: appsettings.json: {ex.InnerException?.Message ?? ex.Message}").ConfigureAwait(false);
            return ExitUsage;
        }
    }

    /// <summary>The same sources as the server: appsettings.json, environment (TERN__…), command-line settings.</summary>
    internal static IConfiguration BuildConfiguration(CommandLine line) =>
        new ConfigurationBuilder()
            .SetBasePath(Directory.GetCurrentDirectory())
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(line.Settings.ToArray())
            .Build();

    /// <summary>The help text, with each channel type's form of <c>channels add</c> from its module.</summary>
    private static string Usage()
    {
        const string Command = "  tern channels add --id ID ";
        var forms = new StringBuilder();
        foreach (var module in TernChannels.Create())
        {
            var lines = module.CliUsage.Split('\n');
            for (var i = 0; i < lines.Length; i++) forms.Append(i == 0 ? Command : new string(' ', Command.Length)).Append(lines[i]).Append('\n');
        }
        return UsageTemplate.Replace("{channels}\n", forms.ToString(), StringComparison.Ordinal);
    }

    private const string UsageTemplate = """
        tern — a self-hosted messaging gateway

        usage:
          tern [serve] [--urls URL[;URL]]  run the gateway (HTTP on --urls, ASPNETCORE_URLS or Tern:Http:Url; default http://127.0.0.1:8080)
          tern migrate                     create or upgrade the database and exit
        {channels}
          tern channels list | remove --id ID
          tern routes add --id ID --from CHANNEL [--chats A,B] --to CHANNEL[:CHAT[#TOPIC]] [--to …]
                          [--mode copy|forward] [--contains T]… [--regex RE]… [--deny-contains T]… [--deny-regex RE]…
                          [--ignore-case] [--media photo,video,…] [--deny-media …] [--senders ID,@name] [--deny-senders …]
                          [--replace 'RE=>TEXT']… [--header T] [--footer T] [--template T] [--no-edits] [--callbacks]
                          [--options JSON]     (see docs/routing.md)
          tern routes list | remove --id ID
          tern keys create --tenant ID [--name N] | --admin
                                           make an API key (printed once; a new tenant is created with it)
          tern keys list [--tenant ID] | revoke --id KEYID
          tern tenants add --id ID [--rate-limit N] | list
          tern secrets new-key             print a new random key (for Tern:Secrets:Key)
          tern secrets rotate-key [--new-key KEY]
                                           re-seal every secret with a new key (stop the server first;
                                           --new-key is required while Tern:Secrets:Key is set)
          tern db copy --from sqlite:./data/tern.db --to postgres://user:password@host/db [--replace]
                       [--batch 1000] [--rows-per-second N]   copy everything to another database (or back); resumable, verified
          tern plan --ram 512M [--profile lite|standard] [--budget 200M]
                                           print the memory budget, derived sizes and a sizing table
          tern version

        settings (any command): --Tern:Key=value, TERN__Key=value in the environment, or appsettings.json;
        see docs/configuration.md.
        """;
}
