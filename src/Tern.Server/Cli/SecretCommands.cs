using Tern.Server.Configuration;
using Tern.Server.Hosting;
using Tern.Storage.Secrets;

namespace Tern.Server.Cli;

/// <summary>
/// <c>tern secrets new-key</c> and <c>tern secrets rotate-key</c>: the key that seals tokens and secrets in the database
/// (docs/configuration.md#secrets). Stop <c>tern serve</c> before rotating: a running server holds the old key.
/// </summary>
internal static class SecretCommands
{
    public static async Task<int> RunAsync(string noun, CommandLine line, TernOptions options, TextWriter output, TextWriter messages, CancellationToken cancellationToken)
    {
        switch (noun)
        {
            case "new-key":
                line.RejectUnused();
                await output.WriteLineAsync(SecretSealer.NewKey().KeyBase64()).ConfigureAwait(false);
                return 0;
            case "rotate-key":
                return await RotateAsync(line, options, messages, cancellationToken).ConfigureAwait(false);
            default:
                throw new UsageException($"'secrets {noun}': say new-key or rotate-key");
        }
    }

    /// <summary>
    /// With the key file: the new key is written to <c>secret.key.new</c> and the old one to <c>secret.key.old-&lt;id&gt;</c>
    /// first, then every secret is re-sealed in one transaction, then the new file is renamed over <c>secret.key</c>: at
    /// every moment some file holds the key that opens the database. With <c>Tern:Secrets:Key</c> the key lives in the
    /// operator's configuration, so the new one must be given (<c>--new-key</c>) and put there before the next start.
    /// </summary>
    private static async Task<int> RotateAsync(CommandLine line, TernOptions options, TextWriter messages, CancellationToken cancellationToken)
    {
        var given = line.Optional("new-key");
        line.RejectUnused();
        var next = given is null ? null : SecretSealer.FromBase64(given) ?? throw new UsageException($"--new-key: is not a key: the base64 of {SecretSealer.KeyBytes} random bytes (tern secrets new-key makes one)");
        var configured = options.Storage.SecretKey;
        if (configured is not null && next is null)
        {
            throw new UsageException("--new-key is required while Tern:Secrets:Key is set: make one with `tern secrets new-key`, rotate with it, then set Tern:Secrets:Key to it");
        }
        next ??= SecretSealer.NewKey();

        await using var storage = StorageEngines.Create(options.Storage);
        // Checks the current key against the database (and seals anything still plain) before anything changes.
        await storage.MigrateAsync(cancellationToken).ConfigureAwait(false);
        var file = options.Storage.SecretKeyFilePath;
        var current = configured ?? SecretKeyFile.Load(file);
        if (current.KeyId == next.KeyId) throw new UsageException("--new-key: is the key in use now");

        string? backup = null;
        if (configured is null)
        {
            SecretKeyFile.Write(SecretKeyFile.PendingPath(file), next, overwrite: true);
            backup = SecretKeyFile.BackupPath(file, current.KeyId);
            SecretKeyFile.Write(backup, current, overwrite: true);
        }
        var count = await storage.ResealSecretsAsync(next, cancellationToken).ConfigureAwait(false);
        if (configured is null)
        {
            File.Move(SecretKeyFile.PendingPath(file), file, overwrite: true);
            await messages.WriteLineAsync($"re-sealed {count} secret(s) with key {next.KeyId}; {file} holds the new key, the old key {current.KeyId} is kept in {backup} (delete it once backups made with it are gone)").ConfigureAwait(false);
        }
        else
        {
            await messages.WriteLineAsync($"re-sealed {count} secret(s) with key {next.KeyId}; set Tern:Secrets:Key to the new key before the next start: the old key {current.KeyId} no longer opens the database").ConfigureAwait(false);
        }
        return 0;
    }
}
