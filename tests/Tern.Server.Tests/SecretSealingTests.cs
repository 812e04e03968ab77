using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using Tern.Server.Tests.Infrastructure;
using Tern.Server.Tests.Telegram;
using Tern.StandIns.Telegram;

namespace Tern.Server.Tests;

/// <summary>
/// Secrets sealed at rest, through real tern processes on a real SQLite file against the Bot API stand-in: no token or
/// secret in the files, owner-only files, the same key working across restarts, another key refused at start with one
/// line and nothing sent, key rotation, and a database from before sealing sealed at start.
/// </summary>
[Collection(HeavyTests.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")] // file modes
public sealed class SecretSealingTests(ITestOutputHelper output)
{
    private const long Group = -1001, Destination = -2001, User = 4242;
    private static readonly string ChannelSecret = TestSecrets.For("inbound channel");
    private static readonly string WebhookSecret = TestSecrets.For("webhook subscription");
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Secrets_are_sealed_in_owner_only_files_a_restart_works_and_rotation_refuses_the_old_key()
    {
        await using var rig = await TelegramRig.StartAsync();
        var bot = rig.AddBot(740001, "sealed_bot");
        rig.Telegram.AddChat(Group, ChatKind.Supergroup, "Source");
        rig.Telegram.AddChat(Destination, ChatKind.Supergroup, "Destination");
        await rig.AddChannelAsync("tg", bot);
        await rig.Home.RunOkAsync("channels", "add", "--id", "hook", "--secret", ChannelSecret);
        await rig.AddRouteAsync("copy", "tg", "--to", "tg:-2001");
        var data = Path.Combine(rig.Home.Directory, "data");
        var keyFile = Path.Combine(data, "secret.key");
        var logFile = Path.Combine(rig.Home.Directory, "logs", "tern.log");
        string[] secrets = [bot.Token, ChannelSecret, WebhookSecret];

        await using (var tern = await rig.StartTernAsync(output, $"--Tern:Logging:File:Path={logFile}"))
        {
            using var api = await rig.ApiAsync(tern);
            using var created = await api.PostAsJsonAsync("/v1/webhooks", new { url = "http://127.0.0.1:9/events", events = new[] { "message.failed" }, secret = WebhookSecret });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            await SendsAsync(rig, bot, "before the restart");

            // While the server runs, the WAL and shared-memory files exist: all owner-only, as are the key, the log and the data folder.
            await Eventually.UntilAsync(() => File.Exists(logFile), Patience, () => "the log file");
            foreach (var file in new[] { rig.Home.DatabasePath, rig.Home.DatabasePath + "-wal", rig.Home.DatabasePath + "-shm", keyFile, logFile })
            {
                Assert.True(File.GetUnixFileMode(file) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), $"{file}: {File.GetUnixFileMode(file)}");
            }
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(data));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(logFile)!));
            AssertNoPlainSecrets(data, secrets);
            tern.Terminate();
            Assert.Equal(0, await tern.WaitForExitAsync(Patience));
        }
        AssertNoPlainSecrets(data, secrets);
        AssertNoPlainSecrets(Path.GetDirectoryName(logFile)!, secrets);
        var stored = rig.Home.Database.Texts("SELECT secret FROM channels UNION ALL SELECT settings FROM channels UNION ALL SELECT secret FROM webhooks");
        Assert.True(stored.Count >= 3, $"{stored.Count} secrets stored"); // hook's secret, tg's settings, the subscription's secret at least
        Assert.All(stored, v => Assert.StartsWith("sealed:v1:", v, StringComparison.Ordinal));

        // The same key again: the token still opens, and is used.
        await using (var tern = await rig.StartTernAsync(output))
        {
            await SendsAsync(rig, bot, "after the restart");
            tern.Terminate();
            Assert.Equal(0, await tern.WaitForExitAsync(Patience));
        }

        // Rotation: a new key file, the old one kept aside, every secret re-sealed.
        var oldKey = (await File.ReadAllTextAsync(keyFile)).Trim();
        var rotated = await rig.Home.RunOkAsync("secrets", "rotate-key");
        var newKey = (await File.ReadAllTextAsync(keyFile)).Trim();
        Assert.NotEqual(oldKey, newKey);
        Assert.DoesNotContain(newKey, rotated.Stdout + rotated.Stderr, StringComparison.Ordinal);
        var backup = Assert.Single(Directory.GetFiles(data, "secret.key.old-*"));
        Assert.Equal(oldKey, (await File.ReadAllTextAsync(backup)).Trim());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(backup));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        Assert.False(File.Exists(keyFile + ".new"));
        var resealed = rig.Home.Database.Texts("SELECT secret FROM channels UNION ALL SELECT settings FROM channels UNION ALL SELECT secret FROM webhooks");
        Assert.Equal(stored.Count, resealed.Count);
        Assert.Empty(resealed.Intersect(stored));

        await using (var tern = await rig.StartTernAsync(output))
        {
            await SendsAsync(rig, bot, "after the rotation");
            tern.Terminate();
            Assert.Equal(0, await tern.WaitForExitAsync(Patience));
        }

        // The old key no longer opens the database: one line, exit code 2, before anything is polled or sent.
        rig.Telegram.UserMessage(bot, Group, User, "never with the old key");
        var sent = rig.Telegram.SentTo(Destination).Count;
        var pending = rig.Telegram.PendingUpdates(bot);
        var refused = await rig.Home.RunAsync(["serve", $"--Tern:Http:Url=http://127.0.0.1:{FreePort.Next().ToString(CultureInfo.InvariantCulture)}", $"--Tern:Secrets:Key={oldKey}"]);
        Assert.True(refused.ExitCode == 2, $"expected exit code 2; got {refused}");
        var line = Assert.Single(refused.StderrLines);
        Assert.StartsWith("tern: Tern:Secrets:Key: the database ", line, StringComparison.Ordinal);
        Assert.Contains("was sealed with key", line, StringComparison.Ordinal);
        Assert.DoesNotContain(oldKey, refused.Stdout + refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(sent, rig.Telegram.SentTo(Destination).Count);
        Assert.Equal(pending, rig.Telegram.PendingUpdates(bot));
        // The CLI refuses it the same way.
        var listed = await rig.Home.RunAsync(["channels", "list", $"--Tern:Secrets:Key={oldKey}"]);
        Assert.True(listed.ExitCode == 2 && listed.StderrLines.Count == 1, $"channels list with the old key: {listed}");
    }

    [Fact]
    public async Task A_database_with_plain_secrets_from_before_sealing_is_sealed_at_start_and_keeps_working()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        using var home = TernHome.Create();
        await home.AddWebhookPipelineAsync(receiver);
        // Back to what a database made before sealing holds: plain secrets, no check value, no key file, schema version 5.
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={home.DatabasePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE channels SET secret = $in WHERE id = 'in'; UPDATE channels SET secret = $out WHERE id = 'out'; " +
                "DROP TABLE secret_key_check; DELETE FROM schema_migrations WHERE version = 6";
            command.Parameters.AddWithValue("$in", TernHome.InboundSecret);
            command.Parameters.AddWithValue("$out", receiver.Secret);
            command.ExecuteNonQuery();
        }
        File.Delete(Path.Combine(home.Directory, "data", "secret.key"));
        Assert.Contains(TernHome.InboundSecret, home.Database.Texts("SELECT secret FROM channels"));

        await using (var tern = await home.StartInProcessAsync())
        {
            Assert.All(home.Database.Texts("SELECT secret FROM channels"), v => Assert.StartsWith("sealed:v1:", v, StringComparison.Ordinal));
            Assert.True(File.Exists(Path.Combine(home.Directory, "data", "secret.key")));
            // The inbound secret still checks signatures and the outbound one still signs: the receiver counts bad signatures.
            using var poster = new MessagePoster(tern.BaseUrl);
            using var response = await poster.PostAsync(MessagePoster.Body("upgraded-1", "chat-1", "after the upgrade"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            await Eventually.UntilAsync(() => receiver.Accepted == 1, Patience, home.Database.Describe);
            Assert.Equal(0, receiver.BadSignatures);
        }
        AssertNoPlainSecrets(Path.Combine(home.Directory, "data"), [TernHome.InboundSecret, receiver.Secret]);
    }

    private static async Task SendsAsync(TelegramRig rig, StandInBot bot, string text)
    {
        rig.Telegram.UserMessage(bot, Group, User, text);
        await Eventually.UntilAsync(() => rig.Telegram.SentTo(Destination).Any(m => m.Text == text), Patience, () => $"'{text}' not copied; {rig.Home.Database.Describe()}");
    }

    /// <summary>No file of <paramref name="folder"/> but the key files holds any of the secrets, in UTF-8 anywhere in its bytes (database pages, WAL frames, log lines).</summary>
    private static void AssertNoPlainSecrets(string folder, IEnumerable<string> secrets)
    {
        var files = Directory.GetFiles(folder).Where(f => !Path.GetFileName(f).StartsWith("secret.key", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            byte[] bytes;
            using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            using (var copy = new MemoryStream())
            {
                stream.CopyTo(copy);
                bytes = copy.ToArray();
            }
            foreach (var secret in secrets)
            {
                Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret)) < 0, $"{file} holds a secret in plain text");
            }
        }
    }
}
