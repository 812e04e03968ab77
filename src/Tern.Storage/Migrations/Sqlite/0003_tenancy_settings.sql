-- Channels and routes belong to a tenant; operator-made ones to 'default'.
ALTER TABLE channels ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
-- Platform-specific settings (JSON object), e.g. a bot token and its ingress mode.
ALTER TABLE channels ADD COLUMN settings TEXT NULL;
ALTER TABLE routes ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
-- Platform-specific routing options (JSON object): filters, transforms, copy or forward.
ALTER TABLE routes ADD COLUMN options TEXT NULL;
CREATE INDEX ix_channels_tenant ON channels (tenant_id);
CREATE INDEX ix_routes_tenant ON routes (tenant_id);
