using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tern.Server.Hosting;

/// <summary><c>tern serve</c>: builds the host (opening and migrating the database) and runs it until it is stopped.</summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(string[] settings)
    {
        await using var host = await TernHost.CreateAsync(settings).ConfigureAwait(false);
        var options = host.Options;
        var logger = host.App.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Tern");
        logger.LogInformation("tern listening on {Url}; database {Path}; {Inbox} inbox and {Outbox} outbox rows pending; memory budget {Budget}",
            string.Join(", ", options.Listen.Addresses), host.Storage.Location, host.Pipeline.Inbox.PendingCount, host.Pipeline.Outbox.PendingCount, options.Memory.Budget);
        // Taken now: RunAsync disposes the host's services before its exception reaches the filter below.
        var stopping = host.App.Lifetime.ApplicationStopping;
        try
        {
            await host.App.RunAsync().ConfigureAwait(false);
        }
        catch (IOException ex) when (ex.InnerException is SocketException || ex.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
        {
            await Console.Error.WriteLineAsync($"tern: Tern:Http:Url: cannot listen on {string.Join(", ", options.Listen.Addresses)}: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopped while still starting (the restart coordinator at a budget the start-up already exceeds, or SIGTERM):
            // the start is cancelled and that is the stop, not a crash — exit with the code the stop chose.
        }
        logger.LogInformation("tern stopped (exit code {ExitCode})", host.ExitCode.Code);
        return host.ExitCode.Code;
    }
}
