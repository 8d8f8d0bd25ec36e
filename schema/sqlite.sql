-- The sessions table for SQLite (kysely-session-store).
--
-- expiry is an INTEGER: milliseconds since 1970-01-01T00:00:00Z, exactly what JavaScript's
-- Date.prototype.getTime() returns. Exact to the millisecond, free of time zones, and
-- compared as integers. The application's clock decides what is expired: the store binds
-- "now" as a parameter. Tokens are TEXT with SQLite's default BINARY collation, so they
-- compare byte for byte ('a', 'A' and 'a ' are three sessions).
--
-- migrate(db, { tableName }) runs this same DDL, built in code for the table name
-- (src/families/); test/schema.test.ts keeps the two equal.
-- To apply it by hand: sqlite3 sessions.db < schema/sqlite.sql

CREATE TABLE IF NOT EXISTS sessions (
  token TEXT NOT NULL PRIMARY KEY,
  data BLOB NOT NULL,
  expiry INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry);
