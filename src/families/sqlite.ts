import { sql } from 'kysely'
import type { SqlFamily } from './family.js'

/** The SQLite SQL family: expiry is INTEGER milliseconds since the epoch. */
export const sqliteFamily: SqlFamily = {
  name: 'sqlite',
  detect: (compiled) => compiled.includes('"c"') && compiled.includes('?'),
  quote: (identifier) => `"${identifier}"`,
  statements(table) {
    const t = `"${table}"`
    return {
      find: `SELECT data FROM ${t} WHERE token = ? AND expiry > ?`,
      commit:
        `INSERT INTO ${t} (token, data, expiry) VALUES (?, ?, ?) ` +
        `ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`,
      touch: `UPDATE ${t} SET expiry = ? WHERE token = ? AND expiry > ?`,
      delete: `DELETE FROM ${t} WHERE token = ?`,
      all: `SELECT token, data FROM ${t} WHERE expiry > ?`,
      page: `SELECT token, data FROM ${t} WHERE expiry > ? AND token > ? ORDER BY token LIMIT ?`,
      cleanup: `DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE expiry <= ? LIMIT ?)`,
    }
  },
  // Tokens are TEXT with SQLite's default BINARY collation: they compare byte for byte.
  ddl: (table) => [
    `CREATE TABLE IF NOT EXISTS "${table}" (\n` +
      `  token TEXT NOT NULL PRIMARY KEY,\n` +
      `  data BLOB NOT NULL,\n` +
      `  expiry INTEGER NOT NULL\n` +
      `)`,
    `CREATE INDEX IF NOT EXISTS "${table}_expiry_idx" ON "${table}" (expiry)`,
  ],
  expiry: (ms) => ms,
  // better-sqlite3 binds Buffers, not other Uint8Arrays: wrap the same memory, no copy.
  data: (bytes) =>
    Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  isMissingTable: (error) => error instanceof Error && /^no such table\b/.test(error.message),
  isDeadlock: () => false, // one writer at a time: busy_timeout waits instead
  async migrate(db, _table, ddl) {
    const run = async (trx: typeof db) => {
      for (const statement of ddl) await sql.raw(statement).execute(trx)
    }
    if (db.isTransaction) await run(db)
    else await db.transaction().execute(run)
  },
}
