-- The sessions table for Postgres and PGlite (kysely-session-store).
--
-- token, data and expiry are column for column the table of SCS's pgxstore, so a table an
-- SCS application already has works (after migrate() adds the other columns, all nullable,
-- which SCS's statements never name, so the SCS application keeps working on it too).
-- subject: whom the session belongs to (a user id), for listing and ending a user's sessions;
--   its indexes hold only sessions that have one.
-- created_at, last_seen_at: when the session was first committed and last committed,
--   updated or touched, for a "your devices" page.
-- ended_at: set when a session was ended for good (a tombstone): it is never returned and
--   never written again, and cleanup removes it after its expiry.
-- Times are TIMESTAMPTZ, which keeps microseconds: the millisecond times the store writes
-- are exact. The application's clock decides what is expired: the store binds "now" as a
-- parameter and never asks the database for its time.
--
-- migrate(db, { tableName }) runs this same DDL, built in code for the table name
-- (src/families/); test/schema.test.ts keeps the two equal. migrate() also upgrades a table
-- made by an earlier version in place; by hand that is:
--   ALTER TABLE sessions ADD COLUMN IF NOT EXISTS subject TEXT,
--     ADD COLUMN IF NOT EXISTS created_at TIMESTAMPTZ, ADD COLUMN IF NOT EXISTS last_seen_at TIMESTAMPTZ,
--     ADD COLUMN IF NOT EXISTS ended_at TIMESTAMPTZ
--   (then the subject indexes below, which replace the earlier sessions_subject_idx).
-- To apply it by hand: psql "$DATABASE_URL" -f schema/postgres.sql

CREATE TABLE IF NOT EXISTS sessions (
  token TEXT PRIMARY KEY,
  data BYTEA NOT NULL,
  expiry TIMESTAMPTZ NOT NULL,
  subject TEXT,
  created_at TIMESTAMPTZ,
  last_seen_at TIMESTAMPTZ,
  ended_at TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry);

-- A devices page lists a subject's sessions the most recently seen first, never seen last
-- (ORDER BY last_seen_at DESC NULLS LAST, token DESC: this index read backwards); revoke(id)
-- finds its session by subject and creation time. Both hold only sessions with a subject.
CREATE INDEX IF NOT EXISTS sessions_subject_seen_idx ON sessions (subject, last_seen_at NULLS FIRST, token)
  WHERE subject IS NOT NULL;

CREATE INDEX IF NOT EXISTS sessions_subject_created_idx ON sessions (subject, created_at)
  WHERE subject IS NOT NULL;

-- Earlier versions' index on subject alone: the two above serve what it served.
DROP INDEX IF EXISTS sessions_subject_idx;
