-- Restarts Tern asked for under memory pressure: the count per hour must survive the restart.
CREATE TABLE restarts (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    reason  TEXT NOT NULL
);
CREATE INDEX ix_restarts_at ON restarts (at);

-- Named leases: one scheduler even when several instances share a database.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- Retention deletes finished rows by age.
CREATE INDEX ix_outbox_finished ON outbox (updated_at) WHERE state IN (2, 3);
CREATE INDEX ix_inbox_routed ON inbox (routed_at) WHERE state = 1;
