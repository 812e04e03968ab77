-- Platform receipts (WhatsApp statuses) of sent messages: the status a message shows now (NULL: none yet; the history is in
-- delivery_attempts), found by the platform's message id; and receipts that arrived before their send's answer was recorded,
-- kept until it is (or until the platform's ids expire).
ALTER TABLE outbox ADD COLUMN receipt TEXT NULL;
CREATE INDEX ix_outbox_platform_id ON outbox (channel_id, platform_message_id) WHERE platform_message_id IS NOT NULL;

CREATE TABLE early_receipts (
    channel_id           TEXT NOT NULL,
    platform_message_id  TEXT NOT NULL,
    status               TEXT NOT NULL,
    at                   INTEGER NOT NULL,
    detail               TEXT NULL,
    received_at          INTEGER NOT NULL,
    PRIMARY KEY (channel_id, platform_message_id, status, at)
) WITHOUT ROWID;
CREATE INDEX ix_early_receipts_received ON early_receipts (received_at);
