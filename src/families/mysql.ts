import { sql } from 'kysely'
import { codeOf, type SqlFamily } from './family.js'

/** The MySQL SQL family, for MySQL and MariaDB: expiry is BIGINT milliseconds. */
export const mysqlFamily: SqlFamily = {
  name: 'mysql',
  detect: (compiled) => compiled.includes('`c`') && compiled.includes('?'),
  quote: (identifier) => `\`${identifier}\``,
  statements(table) {
    const t = `\`${table}\``
    return {
      find: `SELECT data FROM ${t} WHERE token = ? AND expiry > ?`,
      // VALUES(): MariaDB 10.11 has no row-alias form of ON DUPLICATE KEY UPDATE.
      commit:
        `INSERT INTO ${t} (token, data, expiry) VALUES (?, ?, ?) ` +
        `ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry)`,
      touch: `UPDATE ${t} SET expiry = ? WHERE token = ? AND expiry > ?`,
      delete: `DELETE FROM ${t} WHERE token = ?`,
      all: `SELECT token, data FROM ${t} WHERE expiry > ?`,
      page: `SELECT token, data FROM ${t} WHERE expiry > ? AND token > ? ORDER BY token LIMIT ?`,
      // MariaDB refuses LIMIT inside IN (...); DELETE ... ORDER BY ... LIMIT walks the index.
      cleanup: `DELETE FROM ${t} WHERE expiry <= ? ORDER BY expiry LIMIT ?`,
    }
  },
  // The token gets a binary NO PAD collation, so 'a' and 'a ' are two sessions (the older
  // utf8mb4_bin is PAD SPACE). utf8mb4_nopad_bin is MariaDB's; migrate() writes MySQL 8's
  // utf8mb4_0900_bin there. The index sits inside CREATE TABLE: MySQL has no CREATE INDEX IF
  // NOT EXISTS.
  ddl: (table) => [
    `CREATE TABLE IF NOT EXISTS \`${table}\` (\n` +
      `  token VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,\n` +
      `  data LONGBLOB NOT NULL,\n` +
      `  expiry BIGINT NOT NULL,\n` +
      `  INDEX \`${table}_expiry_idx\` (expiry)\n` +
      `) ENGINE = InnoDB`,
  ],
  expiry: (ms) => ms,
  data: (bytes) =>
    Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  isMissingTable: (error) => codeOf(error) === 'ER_NO_SUCH_TABLE',
  // InnoDB picks a victim when a cleanup's index-range locks meet an upsert's key locks.
  isDeadlock: (error) => codeOf(error) === 'ER_LOCK_DEADLOCK',
  async migrate(db, table, ddl) {
    const run = async (connection: typeof db) => {
      const { rows } = await sql<{ version: string }>`SELECT VERSION() AS version`.execute(connection)
      const statements = /mariadb/i.test(rows[0]?.version ?? '')
        ? ddl
        : ddl.map((statement) => statement.replaceAll('utf8mb4_nopad_bin', 'utf8mb4_0900_bin'))
      // DDL commits implicitly in MySQL, so a named lock on one connection serialises migrations.
      const lock = `kysely-session-store:${table}`
      await sql`SELECT GET_LOCK(${lock}, 30)`.execute(connection)
      try {
        for (const statement of statements) await sql.raw(statement).execute(connection)
      } finally {
        await sql`SELECT RELEASE_LOCK(${lock})`.execute(connection)
      }
    }
    if (db.isTransaction) await run(db)
    else await db.connection().execute(run)
  },
}
