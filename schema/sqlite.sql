-- The sessions table for SQLite (kysely-session-store).
--
-- Times (expiry, created_at, last_seen_at, ended_at) are INTEGERs: milliseconds since
-- 1970-01-01T00:00:00Z, exactly what JavaScript's Date.prototype.getTime() returns. Exact to
-- the millisecond, free of time zones, and compared as integers. The application's clock
-- decides what is expired: the store binds "now" as a parameter. Tokens are TEXT with
-- SQLite's default BINARY collation, so they compare byte for byte ('a', 'A' and 'a ' are
-- three sessions).
-- subject: whom the session belongs to (a user id); its indexes hold only sessions that have one.
-- created_at, last_seen_at: when the session was first committed and last committed,
--   updated or touched, for a "your devices" page.
-- ended_at: set when a session was ended for good (a tombstone): it is never returned and
--   never written again, and cleanup removes it after its expiry.
--
-- migrate(db, { tableName }) runs this same DDL, built in code for the table name
-- (src/families/); test/schema.test.ts keeps the two equal. migrate() also upgrades a table
-- made by an earlier version in place; by hand that is one
--   ALTER TABLE sessions ADD COLUMN <name> <type>
-- per missing column (subject TEXT, created_at INTEGER, last_seen_at INTEGER,
-- ended_at INTEGER), then the subject indexes below.
-- To apply it by hand: sqlite3 sessions.db < schema/sqlite.sql

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

-- A devices page lists a subject's sessions the most recently seen first, never seen last
-- (ORDER BY last_seen_at DESC, token DESC: this index read backwards, NULL being the
-- smallest); revoke(id) finds its session by subject and creation time.
CREATE INDEX IF NOT EXISTS sessions_subject_seen_idx ON sessions (subject, last_seen_at, token)
  WHERE subject IS NOT NULL;

CREATE INDEX IF NOT EXISTS sessions_subject_created_idx ON sessions (subject, created_at)
  WHERE subject IS NOT NULL;

-- Earlier versions' index on subject alone: the two above serve what it served.
DROP INDEX IF EXISTS sessions_subject_idx;
