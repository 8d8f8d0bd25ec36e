-- The sessions table of kysely-session-store, for `wrangler d1 migrations apply`: the
-- statements of the package's schema/sqlite.sql (see there what each column holds). Times are
-- INTEGER milliseconds since the epoch; the application's clock decides what is expired.
-- When a later version of the package changes the schema, add the change as 0002_*.sql
-- (wrangler runs each file once), or run migrate(db) once: it upgrades the table in place.

CREATE TABLE IF NOT EXISTS sessions (
  token TEXT NOT NULL PRIMARY KEY,
  data BLOB NOT NULL,
  expiry INTEGER NOT NULL,
  subject TEXT,
  created_at INTEGER,
  last_seen_at INTEGER,
  ended_at INTEGER
);

CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry);

CREATE INDEX IF NOT EXISTS sessions_subject_seen_idx ON sessions (subject, last_seen_at, token)
  WHERE subject IS NOT NULL;

CREATE INDEX IF NOT EXISTS sessions_subject_created_idx ON sessions (subject, created_at)
  WHERE subject IS NOT NULL;
