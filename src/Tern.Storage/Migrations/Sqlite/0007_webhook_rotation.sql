-- Standard Webhooks secret rotation: after a secret changes, the previous one (sealed, like the secret) still signs
-- outbound deliveries and is still accepted inbound until previous_secret_until (Unix ms).
ALTER TABLE channels ADD COLUMN previous_secret TEXT;
ALTER TABLE channels ADD COLUMN previous_secret_until INTEGER;
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_until INTEGER;
-- A receiver that answered 410 Gone disables its subscription: no events are queued for it until it is enabled again.
ALTER TABLE webhooks ADD COLUMN disabled_at INTEGER;
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
