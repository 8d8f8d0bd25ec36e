-- The sessions table for Postgres and PGlite (kysely-session-store).
--
-- Column for column the table of SCS's pgxstore, so a table an SCS application already has
-- works unchanged. expiry is a TIMESTAMPTZ, which keeps microseconds: the millisecond
-- expiries the store writes are exact. The application's clock decides what is expired:
-- the store binds "now" as a parameter and never asks the database for its time.
--
-- migrate(db, { tableName }) runs this same DDL, built in code for the table name
-- (src/families/); test/schema.test.ts keeps the two equal.
-- To apply it by hand: psql "$DATABASE_URL" -f schema/postgres.sql

CREATE TABLE IF NOT EXISTS sessions (
  token TEXT PRIMARY KEY,
  data BYTEA NOT NULL,
  expiry TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry);
