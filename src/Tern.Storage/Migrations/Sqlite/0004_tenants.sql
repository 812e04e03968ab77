-- Tenants and their API keys. Keys are stored as SHA-256 hashes; the key itself is shown once.
CREATE TABLE tenants (
    id                     TEXT PRIMARY KEY,
    rate_limit_per_minute  INTEGER NULL,
    created_at             INTEGER NOT NULL
);
INSERT INTO tenants (id, created_at) VALUES ('default', 0);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,   -- the public part of the key: tern_<id>_<secret>
    tenant_id   TEXT NULL,          -- NULL for an admin key
    hash        TEXT NOT NULL,      -- lowercase hex SHA-256 of the whole key
    name        TEXT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER NULL
);
CREATE INDEX ix_api_keys_tenant ON api_keys (tenant_id);
-- Bumped on every key change so running instances drop cached keys at once.
INSERT INTO meta (key, value) VALUES ('keys_version', 1);

-- Outbound rows of a tenant: API sends (with an optional idempotency key) and tenant events.
ALTER TABLE outbox ADD COLUMN tenant_id TEXT NULL;
ALTER TABLE outbox ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;   -- 0 message, 1 tenant event
ALTER TABLE outbox ADD COLUMN idempotency_key TEXT NULL;
CREATE UNIQUE INDEX ux_outbox_idempotency ON outbox (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX ix_outbox_channel_created ON outbox (channel_id, created_at);
CREATE INDEX ix_inbox_channel_received ON inbox (channel_id, received_at);

-- Status history of a delivery: queued, retrying (with the error), sent, failed.
CREATE TABLE delivery_attempts (
    delivery_id  INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    status       TEXT NOT NULL,
    detail       TEXT NULL
);
CREATE INDEX ix_delivery_attempts ON delivery_attempts (delivery_id, at);

-- A tenant's webhook subscriptions (events delivered through the outbox).
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    events      TEXT NOT NULL,       -- JSON array of event types
    created_at  INTEGER NOT NULL
);
CREATE INDEX ix_webhooks_tenant ON webhooks (tenant_id);
