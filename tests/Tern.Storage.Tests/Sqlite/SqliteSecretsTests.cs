using Microsoft.Data.Sqlite;
using Tern.Core.Catalog;
using Tern.Storage.Secrets;
using Tern.Storage.Sqlite;

namespace Tern.Storage.Tests.Sqlite;

/// <summary>
/// Secrets sealed at rest, what only SQLite's file has: the sealing itself, file modes, the key file made and dropped again,
/// the count of plain values an open sealed. What every engine does (written sealed, the key check, plain rows sealed,
/// re-sealing) is <see cref="Contracts.SecretsContract{TFactory}"/>.
/// </summary>
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
    public async Task The_key_file_the_database_and_its_folder_are_made_owner_only()
    {
        await using (var database = await OpenAsync(new StorageOptions { Path = DbPath }))
        {
            Assert.True(await new SqliteCatalogStore(database).AddChannelAsync(new ChannelDefinition("tg", "telegram", "hook-secret-0123456789", null, null, "default", $"{{\"token\":\"{Token}\"}}"), Ct));
        }

        var keyFile = Path.Combine(_folder, "data", SecretKeyFile.FileName);
        Assert.Equal(OwnerOnly.FileMode, File.GetUnixFileMode(keyFile));
        Assert.Equal(OwnerOnly.FileMode, File.GetUnixFileMode(DbPath));
        Assert.Equal(OwnerOnly.FolderMode, File.GetUnixFileMode(Path.GetDirectoryName(DbPath)!));
    }

    [Fact]
    public async Task A_key_file_made_for_a_database_sealed_with_another_key_fails_the_open_and_is_not_kept()
    {
        await using (var database = await OpenAsync(new StorageOptions { Path = DbPath, SecretKey = SecretSealer.NewKey() }))
        {
            await new SqliteCatalogStore(database).AddChannelAsync(new ChannelDefinition("c", "webhook", "secret-0123456789abcdef", null, null, "default", null), Ct);
        }

        // No key configured and no key file: one is made, fails the check and is deleted again.
        await using var fromFile = SqliteDatabase.Create(new StorageOptions { Path = DbPath });
        var missing = await Assert.ThrowsAsync<SecretKeyException>(() => fromFile.MigrateAsync(Ct));
        Assert.Contains("is missing", missing.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_folder, "data", SecretKeyFile.FileName)));
    }

    [Fact]
    public async Task An_open_counts_the_plain_values_it_sealed_and_the_next_open_none()
    {
        var key = SecretSealer.NewKey();
        await using (var database = await OpenAsync(new StorageOptions { Path = DbPath, SecretKey = key }))
        {
            await new SqliteCatalogStore(database).AddChannelAsync(new ChannelDefinition("c", "webhook", "x-secret-0123456789", null, null, "default", null), Ct);
        }
        // The state of a database from before sealing: plain values, no check value.
        Execute("UPDATE channels SET secret = 'plain-secret-0123456789', settings = '{\"token\":\"" + Token + "\"}'; DELETE FROM secret_key_check");

        await using (var database = await OpenAsync(new StorageOptions { Path = DbPath, SecretKey = key }))
        {
            Assert.Equal(2, database.SealedAtOpen);
        }
        await using var reopened = await OpenAsync(new StorageOptions { Path = DbPath, SecretKey = key });
        Assert.Equal(0, reopened.SealedAtOpen);
    }

    private async Task<SqliteDatabase> OpenAsync(StorageOptions options)
    {
        var database = SqliteDatabase.Create(options);
        await database.MigrateAsync(Ct);
        return database;
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
