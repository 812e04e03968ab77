using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Events;
using Tern.Core.Tenancy;

namespace Tern.Storage.Tests.Contracts;

/// <summary>What every <see cref="ITenantStore"/> must do: tenants, API keys and webhook subscriptions, each scoped by its tenant.</summary>
public abstract class TenantContract<TFactory> : StoreContract<TFactory>
    where TFactory : StoreFactory, new()
{
    private const string WebhookSecret = "whsec_Webhook-Secret_part-0123456789";

    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);

    private static ApiKeyRecord Key(string id, string? tenant, long createdAtMs = 1_700_000_000_123, string? name = null) =>
        new(id, tenant, "hash-of-" + id, name, DateTimeOffset.FromUnixTimeMilliseconds(createdAtMs), null);

    private static WebhookSubscription Webhook(string id, string tenant = "t1", string secret = WebhookSecret, long createdAtMs = 1_700_000_000_123) =>
        new(id, tenant, new Uri($"https://receiver.example.test:8443/{id}?x=1"), secret, [TenantEvents.MessageReceived, TenantEvents.MessageFailed],
            DateTimeOffset.FromUnixTimeMilliseconds(createdAtMs));

    private async Task AddTenantsAsync(params string[] ids)
    {
        foreach (var id in ids) Assert.True(await Stores.Tenants.AddTenantAsync(new Tenant(id, null, At), Ct));
    }

    private async Task<WebhookSubscription> WebhookAsync(string tenant, string id) =>
        await Stores.Tenants.GetWebhookAsync(tenant, id, Ct) ?? throw new Xunit.Sdk.XunitException($"webhook {tenant}/{id} is not stored");

    private static void AssertSameWebhook(WebhookSubscription expected, WebhookSubscription actual)
    {
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.TenantId, actual.TenantId);
        Assert.Equal(expected.Url, actual.Url);
        Assert.Equal(expected.Secret, actual.Secret);
        Assert.Equal(expected.Events, actual.Events);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(expected.PreviousSecret, actual.PreviousSecret);
        Assert.Equal(expected.PreviousSecretUntil, actual.PreviousSecretUntil);
        Assert.Equal(expected.DisabledAt, actual.DisabledAt);
        Assert.Equal(expected.DisabledReason, actual.DisabledReason);
    }

    // Tenants

    [Fact]
    public async Task The_default_tenant_exists_after_migration_and_cannot_be_added_again()
    {
        var only = Assert.Single(await Stores.Tenants.ListTenantsAsync(Ct));

        Assert.Equal(new Tenant(Tenants.Default, null, DateTimeOffset.UnixEpoch), only);
        Assert.Equal(only, await Stores.Tenants.GetTenantAsync(Tenants.Default, Ct));
        Assert.False(await Stores.Tenants.AddTenantAsync(new Tenant(Tenants.Default, 60, At), Ct));
        Assert.Equal(only, await Stores.Tenants.GetTenantAsync(Tenants.Default, Ct));
    }

    [Fact]
    public async Task A_second_add_of_the_same_tenant_id_is_refused_and_keeps_the_first()
    {
        var first = new Tenant("acme", 120, At);

        Assert.True(await Stores.Tenants.AddTenantAsync(first, Ct));
        Assert.False(await Stores.Tenants.AddTenantAsync(new Tenant("acme", null, At.AddDays(1)), Ct));

        Assert.Equal(first, await Stores.Tenants.GetTenantAsync("acme", Ct));
        Assert.Null(await Stores.Tenants.GetTenantAsync("ACME", Ct));
        Assert.Null(await Stores.Tenants.GetTenantAsync("never-was", Ct));
    }

    [Fact]
    public async Task Tenants_list_in_ordinal_id_order_and_read_back_every_field_after_a_reopen()
    {
        var withLimit = new Tenant("b-tenant", 30, At);
        var upper = new Tenant("Z-tenant", null, At.AddMilliseconds(1));
        var lower = new Tenant("a-tenant", null, At.AddMilliseconds(-1));
        foreach (var tenant in new[] { withLimit, upper, lower }) Assert.True(await Stores.Tenants.AddTenantAsync(tenant, Ct));
        await ReopenAsync();

        var listed = await Stores.Tenants.ListTenantsAsync(Ct);

        // Byte order: upper case before lower case, whatever the database's locale.
        Assert.Equal(["Z-tenant", "a-tenant", "b-tenant", Tenants.Default], listed.Select(t => t.Id).ToArray());
        Assert.Equal(new[] { upper, lower, withLimit }, listed.Take(3).ToArray());
    }

    // Keys

    [Fact]
    public async Task A_key_reads_back_every_field_and_its_created_time_at_millisecond_precision()
    {
        var key = new ApiKeyRecord("k1", "t1", "0123abcd", "ci runner", DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123).AddTicks(4_567), null);
        await Stores.Tenants.AddKeyAsync(key, Ct);
        var admin = Key("admin-1", null, name: null);
        await Stores.Tenants.AddKeyAsync(admin, Ct);
        await ReopenAsync();

        // Below a millisecond is not kept; the instant is (any offset reads back as the same instant).
        Assert.Equal(key with { CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123) }, await Stores.Tenants.GetKeyAsync("k1", Ct));
        var readAdmin = await Stores.Tenants.GetKeyAsync("admin-1", Ct);
        Assert.Equal(admin, readAdmin);
        Assert.True(readAdmin!.IsAdmin);
        Assert.Null(await Stores.Tenants.GetKeyAsync("K1", Ct));
        Assert.Null(await Stores.Tenants.GetKeyAsync("never-was", Ct));
    }

    [Fact]
    public async Task Listing_keys_of_a_tenant_gives_only_its_keys_and_listing_with_null_gives_every_key_by_created_time_then_id()
    {
        await Stores.Tenants.AddKeyAsync(Key("k-late", "t1", createdAtMs: 3_000), Ct);
        await Stores.Tenants.AddKeyAsync(Key("k-b", "t1", createdAtMs: 2_000), Ct);
        await Stores.Tenants.AddKeyAsync(Key("K-B", "t1", createdAtMs: 2_000), Ct);
        await Stores.Tenants.AddKeyAsync(Key("k-other", "t2", createdAtMs: 1_000), Ct);
        await Stores.Tenants.AddKeyAsync(Key("k-admin", null, createdAtMs: 2_500), Ct);

        Assert.Equal(["K-B", "k-b", "k-late"], (await Stores.Tenants.ListKeysAsync("t1", Ct)).Select(k => k.Id).ToArray());
        Assert.Equal(["k-other"], (await Stores.Tenants.ListKeysAsync("t2", Ct)).Select(k => k.Id).ToArray());
        Assert.Empty(await Stores.Tenants.ListKeysAsync("t3", Ct));
        // Null is not "the admin keys": it is every key, of every tenant and admin.
        Assert.Equal(["k-other", "K-B", "k-b", "k-admin", "k-late"], (await Stores.Tenants.ListKeysAsync(null, Ct)).Select(k => k.Id).ToArray());
        Assert.Equal(Key("k-admin", null, createdAtMs: 2_500), (await Stores.Tenants.ListKeysAsync(null, Ct))[3]);
    }

    [Fact]
    public async Task Revoking_a_key_succeeds_once_keeps_the_first_time_and_an_unknown_key_is_not_revoked()
    {
        await Stores.Tenants.AddKeyAsync(Key("k1", "t1"), Ct);
        await Stores.Tenants.AddKeyAsync(Key("k2", "t1"), Ct);

        Assert.True(await Stores.Tenants.RevokeKeyAsync("k1", At.AddMinutes(5), Ct));
        Assert.False(await Stores.Tenants.RevokeKeyAsync("k1", At.AddMinutes(9), Ct));
        Assert.False(await Stores.Tenants.RevokeKeyAsync("never-was", At, Ct));
        await ReopenAsync();

        Assert.Equal(At.AddMinutes(5), (await Stores.Tenants.GetKeyAsync("k1", Ct))!.RevokedAt);
        Assert.Null((await Stores.Tenants.GetKeyAsync("k2", Ct))!.RevokedAt);
        Assert.Equal(new DateTimeOffset?[] { At.AddMinutes(5), null }, (await Stores.Tenants.ListKeysAsync("t1", Ct)).Select(k => k.RevokedAt).ToArray());
    }

    [Fact]
    public async Task The_keys_version_bumps_on_every_key_change_only_and_survives_a_reopen()
    {
        var start = await Stores.Tenants.GetKeysVersionAsync(Ct);

        await Stores.Tenants.AddKeyAsync(Key("k1", "t1"), Ct);
        var afterAdd = await Stores.Tenants.GetKeysVersionAsync(Ct);
        Assert.True(afterAdd > start);

        Assert.True(await Stores.Tenants.RevokeKeyAsync("k1", At, Ct));
        var afterRevoke = await Stores.Tenants.GetKeysVersionAsync(Ct);
        Assert.True(afterRevoke > afterAdd);

        // What changes no key leaves it.
        Assert.False(await Stores.Tenants.RevokeKeyAsync("k1", At, Ct));
        Assert.False(await Stores.Tenants.RevokeKeyAsync("never-was", At, Ct));
        Assert.True(await Stores.Tenants.AddTenantAsync(new Tenant("t1", null, At), Ct));
        Assert.True(await Stores.Tenants.AddWebhookAsync(Webhook("wh-1"), Ct));
        Assert.Equal(afterRevoke, await Stores.Tenants.GetKeysVersionAsync(Ct));

        await ReopenAsync();
        Assert.Equal(afterRevoke, await Stores.Tenants.GetKeysVersionAsync(Ct));
        await Stores.Tenants.AddKeyAsync(Key("k2", "t1"), Ct);
        Assert.True(await Stores.Tenants.GetKeysVersionAsync(Ct) > afterRevoke);
    }

    [Fact]
    public async Task Adding_a_duplicate_key_id_throws_keeps_the_first_key_and_leaves_the_keys_version()
    {
        var first = Key("k1", "t1", name: "first");
        await Stores.Tenants.AddKeyAsync(first, Ct);
        var version = await Stores.Tenants.GetKeysVersionAsync(Ct);

        await Assert.ThrowsAnyAsync<Exception>(() => Stores.Tenants.AddKeyAsync(Key("k1", null, name: "second"), Ct));

        Assert.Equal(first, await Stores.Tenants.GetKeyAsync("k1", Ct));
        Assert.Equal(version, await Stores.Tenants.GetKeysVersionAsync(Ct));
        // The store still works after the refused write.
        await Stores.Tenants.AddKeyAsync(Key("k2", "t1"), Ct);
        Assert.Equal(2, (await Stores.Tenants.ListKeysAsync(null, Ct)).Count);
    }

    // Webhooks

    [Fact]
    public async Task A_webhook_reads_back_every_field_by_get_and_list_after_a_reopen()
    {
        var webhook = Webhook("wh-1") with { CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123).AddTicks(9_999) };

        Assert.True(await Stores.Tenants.AddWebhookAsync(webhook, Ct));
        await ReopenAsync();

        var expected = webhook with { CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123) };
        AssertSameWebhook(expected, await WebhookAsync("t1", "wh-1"));
        AssertSameWebhook(expected, Assert.Single(await Stores.Tenants.ListWebhooksAsync("t1", Ct)));
    }

    [Fact]
    public async Task Webhooks_list_per_tenant_by_created_time_then_id()
    {
        Assert.True(await Stores.Tenants.AddWebhookAsync(Webhook("wh-late", createdAtMs: 3_000), Ct));
        Assert.True(await Stores.Tenants.AddWebhookAsync(Webhook("wh-b", createdAtMs: 2_000), Ct));
        Assert.True(await Stores.Tenants.AddWebhookAsync(Webhook("WH-B", createdAtMs: 2_000), Ct));
        Assert.True(await Stores.Tenants.AddWebhookAsync(Webhook("wh-other", tenant: "t2", createdAtMs: 1_000), Ct));

        Assert.Equal(["WH-B", "wh-b", "wh-late"], (await Stores.Tenants.ListWebhooksAsync("t1", Ct)).Select(w => w.Id).ToArray());
        Assert.Equal(["wh-other"], (await Stores.Tenants.ListWebhooksAsync("t2", Ct)).Select(w => w.Id).ToArray());
        Assert.Empty(await Stores.Tenants.ListWebhooksAsync("t3", Ct));
    }

    [Fact]
    public async Task A_duplicate_webhook_id_is_refused_even_from_another_tenant_and_keeps_the_first()
    {
        var first = Webhook("wh-1");
        Assert.True(await Stores.Tenants.AddWebhookAsync(first, Ct));

        Assert.False(await Stores.Tenants.AddWebhookAsync(Webhook("wh-1", secret: "whsec_second-0123456789"), Ct));
        Assert.False(await Stores.Tenants.AddWebhookAsync(Webhook("wh-1", tenant: "t2", secret: "whsec_third-0123456789"), Ct));

        AssertSameWebhook(first, await WebhookAsync("t1", "wh-1"));
        Assert.Empty(await Stores.Tenants.ListWebhooksAsync("t2", Ct));
    }

    [Fact]
    public async Task Another_tenant_can_neither_see_remove_rotate_nor_enable_a_webhook()
    {
        var webhook = Webhook("wh-1");
        Assert.True(await Stores.Tenants.AddWebhookAsync(webhook, Ct));
        await Stores.Outbox.RetireChannelAsync(ChannelTypes.SubscriptionChannelId("wh-1"), "410 Gone", 5_000, Ct);

        Assert.Null(await Stores.Tenants.GetWebhookAsync("t2", "wh-1", Ct));
        Assert.Empty(await Stores.Tenants.ListWebhooksAsync("t2", Ct));
        Assert.False(await Stores.Tenants.RemoveWebhookAsync("t2", "wh-1", Ct));
        Assert.False(await Stores.Tenants.RotateWebhookSecretAsync("t2", "wh-1", "whsec_theirs-0123456789", WebhookSecret, At, Ct));
        Assert.False(await Stores.Tenants.EnableWebhookAsync("t2", "wh-1", Ct));

        AssertSameWebhook(webhook with { DisabledAt = DateTimeOffset.FromUnixTimeMilliseconds(5_000), DisabledReason = "410 Gone" }, await WebhookAsync("t1", "wh-1"));
    }

    [Fact]
    public async Task Removing_a_webhook_succeeds_once_and_leaves_the_others()
    {
        Assert.True(await Stores.Tenants.AddWebhookAsync(Webhook("wh-1"), Ct));
        Assert.True(await Stores.Tenants.AddWebhookAsync(Webhook("wh-2"), Ct));
        var version = await Stores.Catalog.GetVersionAsync(Ct);

        Assert.True(await Stores.Tenants.RemoveWebhookAsync("t1", "wh-1", Ct));
        var afterRemove = await Stores.Catalog.GetVersionAsync(Ct);
        Assert.True(afterRemove > version);
        Assert.False(await Stores.Tenants.RemoveWebhookAsync("t1", "wh-1", Ct));
        Assert.False(await Stores.Tenants.RemoveWebhookAsync("t1", "never-was", Ct));
        await ReopenAsync();

        Assert.Null(await Stores.Tenants.GetWebhookAsync("t1", "wh-1", Ct));
        Assert.Equal(["wh-2"], (await Stores.Tenants.ListWebhooksAsync("t1", Ct)).Select(w => w.Id).ToArray());
        Assert.Equal(afterRemove, await Stores.Catalog.GetVersionAsync(Ct));
    }

    [Fact]
    public async Task Rotating_a_webhook_secret_keeps_the_previous_one_until_its_time_and_an_unknown_webhook_is_not_rotated()
    {
        var webhook = Webhook("wh-1");
        Assert.True(await Stores.Tenants.AddWebhookAsync(webhook, Ct));
        var version = await Stores.Catalog.GetVersionAsync(Ct);
        var until = At.AddHours(24).AddTicks(1_234);

        Assert.True(await Stores.Tenants.RotateWebhookSecretAsync("t1", "wh-1", "whsec_New-Secret-0123456789", WebhookSecret, until, Ct));
        Assert.False(await Stores.Tenants.RotateWebhookSecretAsync("t1", "never-was", "whsec_x-0123456789", WebhookSecret, until, Ct));
        Assert.True(await Stores.Catalog.GetVersionAsync(Ct) > version);
        await ReopenAsync();

        var expected = webhook with
        {
            Secret = "whsec_New-Secret-0123456789",
            PreviousSecret = WebhookSecret,
            PreviousSecretUntil = DateTimeOffset.FromUnixTimeMilliseconds(until.ToUnixTimeMilliseconds()),
        };
        AssertSameWebhook(expected, await WebhookAsync("t1", "wh-1"));
        // The catalog's lane channel for it signs with both.
        var lane = (await Stores.Catalog.LoadAsync(Ct)).Channels[ChannelTypes.SubscriptionChannelId("wh-1")];
        Assert.Equal(("whsec_New-Secret-0123456789", WebhookSecret, expected.PreviousSecretUntil), (lane.Secret, lane.PreviousSecret, lane.PreviousSecretUntil));
        Assert.Null(await Stores.Tenants.GetWebhookAsync("t1", "never-was", Ct));
    }

    [Fact]
    public async Task Retiring_a_webhooks_lane_channel_disables_it_once_and_enabling_clears_it()
    {
        Assert.True(await Stores.Tenants.AddWebhookAsync(Webhook("wh-1"), Ct));
        Assert.True(await Stores.Tenants.AddWebhookAsync(Webhook("wh-2"), Ct));
        var channel = ChannelTypes.SubscriptionChannelId("wh-1");
        var lane = new Lane(channel, "t1");
        var pending = await SeedLaneAsync(lane, 2, 1_000);
        Assert.Contains(channel, (await Stores.Catalog.LoadAsync(Ct)).Channels.Keys);
        var version = await Stores.Catalog.GetVersionAsync(Ct);

        // A channel named like the webhook (not its lane) disables nothing.
        await Stores.Outbox.RetireChannelAsync("wh-1", "gone", 4_000, Ct);
        Assert.Null((await WebhookAsync("t1", "wh-1")).DisabledAt);

        Assert.Equal(2, await Stores.Outbox.RetireChannelAsync(channel, "410 Gone", 5_000, Ct));
        var disabledVersion = await Stores.Catalog.GetVersionAsync(Ct);
        Assert.True(disabledVersion > version);
        // A second retirement keeps the first time and reason.
        await Stores.Outbox.RetireChannelAsync(channel, "410 again", 6_000, Ct);
        Assert.Equal(disabledVersion, await Stores.Catalog.GetVersionAsync(Ct));
        await ReopenAsync();

        var disabled = await WebhookAsync("t1", "wh-1");
        Assert.Equal((DateTimeOffset.FromUnixTimeMilliseconds(5_000), "410 Gone"), (disabled.DisabledAt!.Value, disabled.DisabledReason));
        Assert.Null((await WebhookAsync("t1", "wh-2")).DisabledAt);
        Assert.Equal(DeliveryState.Failed, (await DeliveryAsync(pending[0].Id)).State);
        var channels = (await Stores.Catalog.LoadAsync(Ct)).Channels;
        Assert.DoesNotContain(channel, channels.Keys);
        Assert.Contains(ChannelTypes.SubscriptionChannelId("wh-2"), channels.Keys);

        Assert.True(await Stores.Tenants.EnableWebhookAsync("t1", "wh-1", Ct));
        Assert.True(await Stores.Catalog.GetVersionAsync(Ct) > disabledVersion);
        Assert.False(await Stores.Tenants.EnableWebhookAsync("t1", "never-was", Ct));
        await ReopenAsync();

        var enabled = await WebhookAsync("t1", "wh-1");
        Assert.Null(enabled.DisabledAt);
        Assert.Null(enabled.DisabledReason);
        Assert.Contains(channel, (await Stores.Catalog.LoadAsync(Ct)).Channels.Keys);
    }

    // Secrets at rest

    [Fact]
    public async Task A_webhook_secret_is_stored_sealed_and_reads_back_plain_after_a_reopen()
    {
        Assert.True(await Stores.Tenants.AddWebhookAsync(Webhook("wh-1"), Ct));
        Assert.True(await Stores.Tenants.RotateWebhookSecretAsync("t1", "wh-1", "whsec_Rotated-Secret-0123456789", WebhookSecret, At, Ct));
        await ReopenAsync();

        var read = await WebhookAsync("t1", "wh-1");
        Assert.Equal(("whsec_Rotated-Secret-0123456789", WebhookSecret), (read.Secret, read.PreviousSecret));
        Assert.Equal(1, await Stores.ScalarSqlAsync("SELECT COUNT(*) FROM webhooks WHERE id = 'wh-1' AND secret LIKE 'sealed:v1:%' AND previous_secret LIKE 'sealed:v1:%'", Ct));
        Assert.Equal(0, await Stores.ScalarSqlAsync("SELECT COUNT(*) FROM webhooks WHERE secret LIKE '%Secret%' OR previous_secret LIKE '%Secret%'", Ct));
    }
}
