-- The sessions table for MySQL and MariaDB (kysely-session-store).
--
-- token: VARCHAR(255) in utf8mb4 with a binary NO PAD collation, so tokens compare byte for
--   byte like on the other engines: 'a', 'A' and 'a ' are three sessions (the older
--   utf8mb4_bin is PAD SPACE and would make 'a' and 'a ' one). utf8mb4_nopad_bin is
--   MariaDB's (10.2+); on MySQL 8, migrate() writes utf8mb4_0900_bin, MySQL's NO PAD binary
--   collation, instead.
-- data: LONGBLOB, up to 4 GiB (the server's max_allowed_packet limits one statement).
-- Times (expiry, created_at, last_seen_at, ended_at): BIGINT milliseconds since
--   1970-01-01T00:00:00Z, what Date.prototype.getTime() returns: exact to the millisecond,
--   no 2038 limit (unlike TIMESTAMP), and independent of the connection's time zone. The
--   application's clock decides what is expired.
-- subject: whom the session belongs to (a user id), compared like the token.
-- created_at, last_seen_at: when the session was first committed and last committed,
--   updated or touched, for a "your devices" page.
-- ended_at: set when a session was ended for good (a tombstone): it is never returned and
--   never written again, and cleanup removes it after its expiry.
--
-- migrate(db, { tableName }) runs this same DDL, built in code for the table name
-- (src/families/); test/schema.test.ts keeps the two equal. migrate() also upgrades a table
-- made by an earlier version in place; by hand that is:
--   ALTER TABLE sessions
--     ADD COLUMN subject VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL,
--     ADD COLUMN created_at BIGINT NULL, ADD COLUMN last_seen_at BIGINT NULL,
--     ADD COLUMN ended_at BIGINT NULL,
--     ADD INDEX sessions_subject_seen_idx (subject, last_seen_at, token),
--     ADD INDEX sessions_subject_created_idx (subject, created_at)
--   (and DROP INDEX sessions_subject_idx, the earlier versions' index on subject alone).
-- sessions_subject_seen_idx lists a subject's sessions the most recently seen first (read
-- backwards; NULL is the smallest); sessions_subject_created_idx finds the session of a
-- revoke(id) by subject and creation time.
-- To apply it by hand: mariadb app < schema/mysql.sql

CREATE TABLE IF NOT EXISTS sessions (
  token VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
  data LONGBLOB NOT NULL,
  expiry BIGINT NOT NULL,
  subject VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL,
  created_at BIGINT NULL,
  last_seen_at BIGINT NULL,
  ended_at BIGINT NULL,
  INDEX sessions_expiry_idx (expiry),
  INDEX sessions_subject_seen_idx (subject, last_seen_at, token),
  INDEX sessions_subject_created_idx (subject, created_at)
) ENGINE = InnoDB;
