-- Secrets (channels.secret, channels.settings, webhooks.secret) are sealed with AES-GCM under a key kept outside
-- the database. This one row is a known value sealed with that key: a start with another key fails on it, before
-- any channel starts. Plain values from before are sealed by the engine at start (Sqlite/SqliteSecrets.cs).
CREATE TABLE secret_key_check (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    key_id      TEXT NOT NULL,
    check_value TEXT NOT NULL
);
