-- The sessions table for MySQL and MariaDB (kysely-session-store).
--
-- token: VARCHAR(255) in utf8mb4 with a binary NO PAD collation, so tokens compare byte for
--   byte like on the other engines: 'a', 'A' and 'a ' are three sessions (the older
--   utf8mb4_bin is PAD SPACE and would make 'a' and 'a ' one). utf8mb4_nopad_bin is
--   MariaDB's (10.2+); on MySQL 8, migrate() writes utf8mb4_0900_bin, MySQL's NO PAD binary
--   collation, instead.
-- data: LONGBLOB, up to 4 GiB (the server's max_allowed_packet limits one statement).
-- expiry: BIGINT milliseconds since 1970-01-01T00:00:00Z, what Date.prototype.getTime()
--   returns: exact to the millisecond, no 2038 limit (unlike TIMESTAMP), and independent of
--   the connection's time zone. The application's clock decides what is expired.
--
-- migrate(db, { tableName }) runs this same DDL, built in code for the table name
-- (src/families/); test/schema.test.ts keeps the two equal.
-- To apply it by hand: mariadb app < schema/mysql.sql

CREATE TABLE IF NOT EXISTS sessions (
  token VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
  data LONGBLOB NOT NULL,
  expiry BIGINT NOT NULL,
  INDEX sessions_expiry_idx (expiry)
) ENGINE = InnoDB;
