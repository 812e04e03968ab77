using Tern.Core.Catalog;
using Tern.Core.Events;
using Tern.Core.Tenancy;
using Tern.Storage.Secrets;

namespace Tern.Storage.Tests.Contracts;

/// <summary>
/// Secrets sealed at rest, the same in every engine: written sealed and read plain, the key checked by
/// <see cref="IStorageEngine.MigrateAsync"/> before anything changes, plain values from before sealing sealed there,
/// and a key rotation after which only the new key opens the database. <see cref="StoreContract{TFactory}.Stores"/>
/// works with the key file; an engine from <see cref="StoreFactory.CreateEngine"/> with a key of the test's choosing.
/// </summary>
public abstract class SecretsContract<TFactory> : StoreContract<TFactory>
    where TFactory : StoreFactory, new()
{
    private const string Token = "123456:Token-Secret_part-0123456789abcdef";
    private const string Settings = "{\"token\":\"" + Token + "\"}";

    /// <summary>Every sealed column (<c>SealedColumns.All</c>).</summary>
    private static readonly (string Table, string Column)[] SealedColumns =
        [("channels", "secret"), ("channels", "settings"), ("channels", "previous_secret"), ("webhooks", "secret"), ("webhooks", "previous_secret")];

    private static readonly DateTimeOffset Until = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);

    private static ChannelDefinition Channel(string id) =>
        new(id, "telegram", "hook-Secret_part-" + id, new Uri($"https://bot.example.test/{id}"), null, Tenants.Default, Settings, "old-Secret_part-" + id, Until);

    private static WebhookSubscription Webhook(string id) =>
        new(id, "t1", new Uri($"https://receiver.example.test/{id}"), "whsec_Secret_part-" + id, [TenantEvents.MessageReceived], Until);

    /// <summary>A channel (secret, settings, previous secret) and a rotated webhook (secret, previous secret): five sealed values.</summary>
    private async Task AddFiveSecretsAsync()
    {
        Assert.True(await Stores.Catalog.AddChannelAsync(Channel("tg"), Ct));
        Assert.True(await Stores.Catalog.AddChannelAsync(new ChannelDefinition("bare", ChannelTypes.Webhook, null, null, null), Ct));
        Assert.True(await Stores.Tenants.AddWebhookAsync(Webhook("wh-1"), Ct));
        Assert.True(await Stores.Tenants.RotateWebhookSecretAsync("t1", "wh-1", "whsec_New-Secret_part", "whsec_Secret_part-wh-1", Until, Ct));
    }

    /// <summary>Values in every sealed column matching a LIKE pattern.</summary>
    private async Task<long> CountSealedColumnsAsync(string pattern)
    {
        long count = 0;
        foreach (var (table, column) in SealedColumns) count += await Stores.ScalarSqlAsync($"SELECT COUNT(*) FROM {table} WHERE {column} LIKE '{pattern}'", Ct);
        return count;
    }

    private async Task<long> CountNotNullAsync()
    {
        long count = 0;
        foreach (var (table, column) in SealedColumns) count += await Stores.ScalarSqlAsync($"SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL", Ct);
        return count;
    }

    private async Task AssertChannelReadsPlainAsync(ICatalogStore catalog, ChannelDefinition expected) =>
        Assert.Equal(expected, (await catalog.LoadAsync(Ct)).Channels[expected.Id]);

    private async Task AssertWebhookSecretsAsync(ITenantStore tenants, string id, string secret, string? previous)
    {
        var webhook = await tenants.GetWebhookAsync("t1", id, Ct);
        Assert.NotNull(webhook);
        Assert.Equal((secret, previous), (webhook.Secret, webhook.PreviousSecret));
    }

    private async Task<SecretKeyException> AssertRefusedAsync(SecretSealer? key)
    {
        await using var engine = Factory.CreateEngine(key);
        return await Assert.ThrowsAsync<SecretKeyException>(() => engine.MigrateAsync(Ct));
    }

    [Fact]
    public async Task Channel_secrets_settings_and_webhook_secrets_are_written_sealed_and_read_back_plain_after_a_reopen()
    {
        await AddFiveSecretsAsync();
        await ReopenAsync();

        Assert.Equal(5, await CountNotNullAsync());
        Assert.Equal(5, await CountSealedColumnsAsync("sealed:v1:%"));
        Assert.Equal(0, await CountSealedColumnsAsync("%Secret_part%"));
        await AssertChannelReadsPlainAsync(Stores.Catalog, Channel("tg"));
        await AssertChannelReadsPlainAsync(Stores.Catalog, new ChannelDefinition("bare", ChannelTypes.Webhook, null, null, null));
        await AssertWebhookSecretsAsync(Stores.Tenants, "wh-1", "whsec_New-Secret_part", "whsec_Secret_part-wh-1");
    }

    [Fact]
    public async Task Another_key_fails_MigrateAsync_with_a_SecretKeyException_before_anything_is_changed()
    {
        Assert.True(await Stores.Catalog.AddChannelAsync(Channel("tg"), Ct));
        // A plain value the right key would seal at its next MigrateAsync.
        Assert.Equal(1, await Stores.ExecuteSqlAsync("INSERT INTO channels (id, type, secret, created_at) VALUES ('plain', 'webhook', 'plain-Secret_part-0123456789', 0)", Ct));
        var other = SecretSealer.NewKey();

        var refused = await AssertRefusedAsync(other);

        Assert.Contains($"this key is {other.KeyId}", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(other.KeyBase64(), refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Secret_part", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, await Stores.ScalarSqlAsync("SELECT COUNT(*) FROM channels WHERE id = 'plain' AND secret = 'plain-Secret_part-0123456789'", Ct));
        Assert.Equal(0, await CountSealedColumnsAsync($"sealed:v1:{other.KeyId}:%"));
        Assert.Equal(0, await Stores.ScalarSqlAsync($"SELECT COUNT(*) FROM secret_key_check WHERE key_id = '{other.KeyId}'", Ct));

        // The key the database was sealed with still opens it, and seals the plain value.
        await using var right = Factory.CreateEngine(null);
        Assert.Equal(0, await right.MigrateAsync(Ct));
        await AssertChannelReadsPlainAsync(right.Catalog, Channel("tg"));
        Assert.Equal("plain-Secret_part-0123456789", (await right.Catalog.LoadAsync(Ct)).Channels["plain"].Secret);
        Assert.Equal(0, await CountSealedColumnsAsync("%Secret_part%"));
    }

    [Fact]
    public async Task Plain_secrets_from_before_sealing_are_sealed_by_MigrateAsync_and_read_back_plain()
    {
        // The state of a database from before sealing: plain values and no check value.
        Assert.Equal(1, await Stores.ExecuteSqlAsync("DELETE FROM secret_key_check", Ct));
        Assert.Equal(1, await Stores.ExecuteSqlAsync(
            "INSERT INTO channels (id, type, secret, url, created_at, tenant_id, settings, previous_secret, previous_secret_until) " +
            $"VALUES ('tg', 'telegram', 'hook-Secret_part-tg', 'https://bot.example.test/tg', 0, 'default', '{Settings}', 'old-Secret_part-tg', {Until.ToUnixTimeMilliseconds()})", Ct));
        Assert.Equal(1, await Stores.ExecuteSqlAsync(
            "INSERT INTO webhooks (id, tenant_id, url, secret, events, created_at, previous_secret, previous_secret_until) " +
            $"VALUES ('wh-1', 't1', 'https://receiver.example.test/wh-1', 'whsec_Plain-Secret_part', '[\"message.received\"]', 0, 'whsec_Plain-Previous-Secret_part', {Until.ToUnixTimeMilliseconds()})", Ct));
        var key = SecretSealer.NewKey();

        await using (var engine = Factory.CreateEngine(key))
        {
            Assert.Equal(0, await engine.MigrateAsync(Ct));
            Assert.Equal(5, await CountSealedColumnsAsync($"sealed:v1:{key.KeyId}:%"));
            Assert.Equal(0, await CountSealedColumnsAsync("%Secret_part%"));
            await AssertChannelReadsPlainAsync(engine.Catalog, Channel("tg"));
            await AssertWebhookSecretsAsync(engine.Tenants, "wh-1", "whsec_Plain-Secret_part", "whsec_Plain-Previous-Secret_part");
        }

        // The check value is now the key's: it opens again, the key file's key no longer does.
        await using (var again = Factory.CreateEngine(key))
        {
            await again.MigrateAsync(Ct);
            await AssertWebhookSecretsAsync(again.Tenants, "wh-1", "whsec_Plain-Secret_part", "whsec_Plain-Previous-Secret_part");
        }
        Assert.Equal(5, await CountSealedColumnsAsync($"sealed:v1:{key.KeyId}:%"));
        await AssertRefusedAsync(null);
    }

    [Fact]
    public async Task Rotating_the_key_reseals_every_secret_and_then_only_the_new_key_opens()
    {
        await AddFiveSecretsAsync();
        var next = SecretSealer.NewKey();

        await using (var engine = Factory.CreateEngine(null))
        {
            await engine.MigrateAsync(Ct);
            Assert.Equal(5, await engine.ResealSecretsAsync(next, Ct));
            // The engine that rotated goes on with the new key.
            await AssertChannelReadsPlainAsync(engine.Catalog, Channel("tg"));
        }

        Assert.Equal(5, await CountSealedColumnsAsync($"sealed:v1:{next.KeyId}:%"));
        Assert.Equal(5, await CountSealedColumnsAsync("sealed:v1:%"));
        Assert.Equal(1, await Stores.ScalarSqlAsync($"SELECT COUNT(*) FROM secret_key_check WHERE key_id = '{next.KeyId}'", Ct));
        await using (var reopened = Factory.CreateEngine(next))
        {
            Assert.Equal(0, await reopened.MigrateAsync(Ct));
            await AssertChannelReadsPlainAsync(reopened.Catalog, Channel("tg"));
            await AssertWebhookSecretsAsync(reopened.Tenants, "wh-1", "whsec_New-Secret_part", "whsec_Secret_part-wh-1");
        }
        await AssertRefusedAsync(null);
        var another = SecretSealer.NewKey();
        var refused = await AssertRefusedAsync(another);
        Assert.Contains($"sealed with key {next.KeyId}, this key is {another.KeyId}", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(next.KeyBase64(), refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sealed_value_moved_to_another_row_fails_MigrateAsync_naming_its_place_not_its_value()
    {
        Assert.True(await Stores.Catalog.AddChannelAsync(Channel("a"), Ct));
        Assert.True(await Stores.Catalog.AddChannelAsync(Channel("b"), Ct));
        // Each seal is bound to its row and column: a copy elsewhere does not open, even with the right key.
        Assert.Equal(1, await Stores.ExecuteSqlAsync("UPDATE channels SET secret = (SELECT secret FROM channels WHERE id = 'a') WHERE id = 'b'", Ct));

        var refused = await AssertRefusedAsync(null);

        Assert.Contains("channels.secret:b", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Secret_part", refused.Message, StringComparison.Ordinal);
    }
}
