-- What routing needs beyond text: the kind of update, the message's own id in its chat (copies,
-- edits and replies refer to it), the message it replies to, its album, and platform facts (JSON).
ALTER TABLE inbox ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;   -- 0 message, 1 edit, 2 callback
ALTER TABLE inbox ADD COLUMN message_id TEXT NULL;
ALTER TABLE inbox ADD COLUMN reply_to TEXT NULL;
ALTER TABLE inbox ADD COLUMN group_id TEXT NULL;
ALTER TABLE inbox ADD COLUMN meta TEXT NULL;

-- Source message -> its copies, written with the mark-sent of the delivery that made them; an edit
-- or a reply looks here when it is sent. Kept for Tern:Retention:MessageLinks.
CREATE TABLE message_links (
    source_channel  TEXT NOT NULL,
    source_chat     TEXT NOT NULL,
    source_message  TEXT NOT NULL,
    dest_channel    TEXT NOT NULL,
    dest_chat       TEXT NOT NULL,
    dest_message    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (source_channel, source_chat, source_message, dest_channel, dest_chat, dest_message)
) WITHOUT ROWID;
CREATE INDEX ix_message_links_created ON message_links (created_at);

-- Chats that got a new id (a platform may give a chat a new one, e.g. when a group is upgraded).
CREATE TABLE chat_migrations (
    channel_id  TEXT NOT NULL,
    old_chat    TEXT NOT NULL,
    new_chat    TEXT NOT NULL,
    migrated_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, old_chat)
) WITHOUT ROWID;
