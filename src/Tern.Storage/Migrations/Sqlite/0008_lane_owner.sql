-- The instance sending a lane, for PostgreSQL's cluster mode; one process owns a SQLite file, so it stays null here. The
-- column exists on both engines so `tern db copy` carries lanes either way.
ALTER TABLE lanes ADD COLUMN owner TEXT NULL;
