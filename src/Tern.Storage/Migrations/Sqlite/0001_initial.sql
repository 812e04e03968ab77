-- Catalog: channels and routes. Every change bumps meta.catalog_version so running instances reload.
CREATE TABLE channels (
    id              TEXT PRIMARY KEY,
    type            TEXT NOT NULL,
    secret          TEXT NULL,
    url             TEXT NULL,
    max_concurrency INTEGER NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE routes (
    id              TEXT PRIMARY KEY,
    source_channel  TEXT NOT NULL,
    source_chats    TEXT NULL,      -- JSON array of chat ids; NULL = every chat
    destinations    TEXT NOT NULL,  -- JSON array of "channel" or "channel:chat"
    enabled         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('catalog_version', 1);

-- Inbox: committed before the platform is acknowledged. (channel_id, platform_id) makes a redelivery a no-op.
-- AUTOINCREMENT: a sequence number is never reused, even after retention deletes the newest rows.
CREATE TABLE inbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id   TEXT NOT NULL,
    platform_id  TEXT NOT NULL,
    chat         TEXT NOT NULL,
    sender       TEXT NULL,
    text         TEXT NULL,
    attachments  TEXT NULL,
    received_at  INTEGER NOT NULL,
    state        INTEGER NOT NULL DEFAULT 0,   -- 0 pending, 1 routed
    routed_at    INTEGER NULL
);
CREATE UNIQUE INDEX ux_inbox_platform_id ON inbox (channel_id, platform_id);
CREATE INDEX ix_inbox_pending ON inbox (seq) WHERE state = 0;

-- Outbox: one row per delivery.
CREATE TABLE outbox (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    inbox_seq            INTEGER NULL,
    route_id             TEXT NULL,
    channel_id           TEXT NOT NULL,
    chat                 TEXT NOT NULL,
    payload              TEXT NOT NULL,
    state                INTEGER NOT NULL DEFAULT 0,   -- 0 pending, 2 sent, 3 failed
    attempts             INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    last_error           TEXT NULL,
    platform_message_id  TEXT NULL
);
CREATE INDEX ix_outbox_lane_pending ON outbox (channel_id, chat, id) WHERE state = 0;
CREATE INDEX ix_outbox_inbox_seq ON outbox (inbox_seq);

-- Lanes: one row per destination chat with pending deliveries; what the sender claims.
CREATE TABLE lanes (
    channel_id  TEXT NOT NULL,
    chat        TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    PRIMARY KEY (channel_id, chat)
) WITHOUT ROWID;
CREATE INDEX ix_lanes_due ON lanes (due_at);
