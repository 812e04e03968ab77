using Microsoft.Data.Sqlite;
using Tern.Core.Catalog;
using Tern.Storage.Secrets;
using Tern.Storage.Sqlite;

namespace Tern.Storage.Tests.Sqlite;

/// <summary>Secrets sealed at rest: the sealing itself, and the engine's key check, sealing of plain rows and re-sealing on a real file.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")] // file modes
public sealed class SqliteSecretsTests : IAsyncLifetime
{
    private const string Token = "123456:Token-Secret_part-0123456789abcdef";
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tern-storage-tests", Guid.NewGuid().ToString("N"));
    private readonly CancellationTokenSource _hangGuard = new(TimeSpan.FromMinutes(2));

    private CancellationToken Ct => _hangGuard.Token;

    private string DbPath => Path.Combine(_folder, "data", "tern.db");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
        _hangGuard.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public void A_sealed_value_opens_only_with_its_key_at_its_place_and_unchanged()
    {
        var key = SecretSealer.NewKey();
        var sealedValue = key.Seal(Token, "channels.settings:a");

        Assert.StartsWith($"sealed:v1:{key.KeyId}:", sealedValue, StringComparison.Ordinal);
        Assert.DoesNotContain("Secret_part", sealedValue, StringComparison.Ordinal);
        Assert.NotEqual(sealedValue, key.Seal(Token, "channels.settings:a"));
        Assert.Equal(Token, key.Unseal(sealedValue, "channels.settings:a"));
        Assert.Equal(Token, SecretSealer.FromBase64(key.KeyBase64())!.Unseal(sealedValue, "channels.settings:a"));
        // A plain value from before sealing reads as it is.
        Assert.Equal("plain", key.Unseal("plain", "channels.secret:a"));

        Assert.Throws<SealedSecretException>(() => SecretSealer.NewKey().Unseal(sealedValue, "channels.settings:a"));
        Assert.Throws<SealedSecretException>(() => key.Unseal(sealedValue, "channels.settings:b"));
        var body = sealedValue[(sealedValue.LastIndexOf(':') + 1)..];
        var bytes = Convert.FromBase64String(body);
        bytes[^1] ^= 1;
        Assert.Throws<SealedSecretException>(() => key.Unseal(sealedValue.Replace(body, Convert.ToBase64String(bytes), StringComparison.Ordinal), "channels.settings:a"));

        Assert.Null(SecretSealer.FromBase64("not base64!"));
        Assert.Null(SecretSealer.FromBase64(Convert.ToBase64String(new byte[16])));
    }

    [Fact]
    public async Task Secrets_are_written_sealed_read_plain_and_the_key_file_is_made_owner_only()
    {
        await using (var database = await OpenAsync(new StorageOptions { Path = DbPath }))
        {
            var catalog = new SqliteCatalogStore(database);
            Assert.True(await catalog.AddChannelAsync(new ChannelDefinition("tg", "telegram", "hook-secret-0123456789", null, null, "default", $"{{\"token\":\"{Token}\"}}"), Ct));
            var channel = Assert.Single((await catalog.LoadAsync(Ct)).Channels.Values);
            Assert.Equal(("hook-secret-0123456789", $"{{\"token\":\"{Token}\"}}"), (channel.Secret, channel.SettingsJson));
        }

        var (secret, settings) = RawChannel("tg");
        Assert.StartsWith("sealed:v1:", secret, StringComparison.Ordinal);
        Assert.StartsWith("sealed:v1:", settings, StringComparison.Ordinal);
        var keyFile = Path.Combine(_folder, "data", SecretKeyFile.FileName);
        Assert.Equal(OwnerOnly.FileMode, File.GetUnixFileMode(keyFile));
        Assert.Equal(OwnerOnly.FileMode, File.GetUnixFileMode(DbPath));
        Assert.Equal(OwnerOnly.FolderMode, File.GetUnixFileMode(Path.GetDirectoryName(DbPath)!));
    }

    [Fact]
    public async Task Another_key_fails_the_open_naming_both_key_ids_and_a_key_made_for_it_is_not_kept()
    {
        var key = SecretSealer.NewKey();
        await using (var database = await OpenAsync(new StorageOptions { Path = DbPath, SecretKey = key }))
        {
            await new SqliteCatalogStore(database).AddChannelAsync(new ChannelDefinition("c", "webhook", "secret-0123456789abcdef", null, null, "default", null), Ct);
        }

        var other = SecretSealer.NewKey();
        await using var wrong = SqliteDatabase.Create(new StorageOptions { Path = DbPath, SecretKey = other });
        var refused = await Assert.ThrowsAsync<SecretKeyException>(() => wrong.MigrateAsync(Ct));
        Assert.Contains($"sealed with key {key.KeyId}, this key is {other.KeyId}", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(key.KeyBase64(), refused.Message, StringComparison.Ordinal);

        // No key configured and no key file: one is made, fails the check and is deleted again.
        await using var fromFile = SqliteDatabase.Create(new StorageOptions { Path = DbPath });
        var missing = await Assert.ThrowsAsync<SecretKeyException>(() => fromFile.MigrateAsync(Ct));
        Assert.Contains("is missing", missing.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_folder, "data", SecretKeyFile.FileName)));
    }

    [Fact]
    public async Task Plain_secrets_from_before_are_sealed_at_open_and_reseal_moves_every_one_to_the_new_key()
    {
        var key = SecretSealer.NewKey();
        await using (var database = await OpenAsync(new StorageOptions { Path = DbPath, SecretKey = key }))
        {
            await new SqliteCatalogStore(database).AddChannelAsync(new ChannelDefinition("c", "webhook", "x-secret-0123456789", null, null, "default", null), Ct);
        }
        // The state of a database from before sealing: plain values, no check value.
        Execute("UPDATE channels SET secret = 'plain-secret-0123456789', settings = '{\"token\":\"" + Token + "\"}'; DELETE FROM secret_key_check");

        var next = SecretSealer.NewKey();
        await using (var database = await OpenAsync(new StorageOptions { Path = DbPath, SecretKey = key }))
        {
            Assert.Equal(2, database.SealedAtOpen);
            Assert.All(new[] { RawChannel("c").Secret, RawChannel("c").Settings }, v => Assert.StartsWith($"sealed:v1:{key.KeyId}:", v, StringComparison.Ordinal));
            var channel = Assert.Single((await new SqliteCatalogStore(database).LoadAsync(Ct)).Channels.Values);
            Assert.Equal("plain-secret-0123456789", channel.Secret);

            Assert.Equal(2, await database.ResealAsync(next, Ct));
            Assert.Equal("plain-secret-0123456789", Assert.Single((await new SqliteCatalogStore(database).LoadAsync(Ct)).Channels.Values).Secret);
        }
        Assert.StartsWith($"sealed:v1:{next.KeyId}:", RawChannel("c").Secret, StringComparison.Ordinal);

        await using (var reopened = await OpenAsync(new StorageOptions { Path = DbPath, SecretKey = next }))
        {
            Assert.Equal(0, reopened.SealedAtOpen);
            Assert.Equal($"{{\"token\":\"{Token}\"}}", Assert.Single((await new SqliteCatalogStore(reopened).LoadAsync(Ct)).Channels.Values).SettingsJson);
        }
        await using var old = SqliteDatabase.Create(new StorageOptions { Path = DbPath, SecretKey = key });
        await Assert.ThrowsAsync<SecretKeyException>(() => old.MigrateAsync(Ct));
    }

    private async Task<SqliteDatabase> OpenAsync(StorageOptions options)
    {
        var database = SqliteDatabase.Create(options);
        await database.MigrateAsync(Ct);
        return database;
    }

    private (string Secret, string Settings) RawChannel(string id)
    {
        using var connection = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT secret, settings FROM channels WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        return (reader.GetString(0), reader.IsDBNull(1) ? "" : reader.GetString(1));
    }

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
