import { sql, type Kysely } from 'kysely'
import { commonStatements, messageOf, missingColumns, statement, type SqlFamily } from './family.js'

const quote = (identifier: string) => `"${identifier}"`

/**
 * Whether a BEGIN failed because the engine allows no SQL transactions at all: Cloudflare D1
 * and a Durable Object's SQLite answer "To execute a transaction, please use the
 * state.storage.transaction() ... instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements".
 */
const refusesSqlTransactions = (error: unknown) => /\bstate\.storage\.transaction\(\)/.test(messageOf(error))

/** The SQLite SQL family: times are INTEGER milliseconds since the epoch. */
export const sqliteFamily: SqlFamily = {
  name: 'sqlite',
  detect: (compiled) => compiled.includes('"c"') && compiled.includes('?'),
  schemas: false,
  quote,
  statements({ name }) {
    const t = quote(name)
    // In an upsert's DO UPDATE, an unqualified column is the existing row's.
    const upsert = (columns: string, values: string, set: string) =>
      `INSERT INTO ${t} (${columns}) VALUES (${values}) ` +
      `ON CONFLICT (token) DO UPDATE SET ${set} WHERE ended_at IS NULL`
    return {
      ...commonStatements(t),
      commit: statement(
        'write',
        upsert(
          'token, data, expiry, created_at, last_seen_at',
          ':token, :data, :expiry, :now, :now',
          'data = excluded.data, expiry = excluded.expiry, last_seen_at = excluded.last_seen_at',
        ),
      ),
      commitSubject: statement(
        'write',
        upsert(
          'token, data, expiry, subject, created_at, last_seen_at',
          ':token, :data, :expiry, :subject, :now, :now',
          'data = excluded.data, expiry = excluded.expiry, subject = excluded.subject, ' +
            'last_seen_at = excluded.last_seen_at',
        ),
      ),
      cleanup: statement(
        'write',
        `DELETE FROM ${t} WHERE rowid IN (` +
          `SELECT rowid FROM ${t} WHERE expiry <= :now AND (ended_at IS NULL OR expiry <= :ended) LIMIT :limit)`,
      ),
    }
  },
  // Tokens are TEXT with SQLite's default BINARY collation: they compare byte for byte.
  ddl: ({ name }) => [
    `CREATE TABLE IF NOT EXISTS ${quote(name)} (\n` +
      `  token TEXT NOT NULL PRIMARY KEY,\n` +
      `  data BLOB NOT NULL,\n` +
      `  expiry INTEGER NOT NULL,\n` +
      `  subject TEXT,\n` +
      `  created_at INTEGER,\n` +
      `  last_seen_at INTEGER,\n` +
      `  ended_at INTEGER\n` +
      `)`,
    `CREATE INDEX IF NOT EXISTS ${quote(`${name}_expiry_idx`)} ON ${quote(name)} (expiry)`,
    // A devices page (the most recently seen first: read backwards, NULL is the smallest)
    // and revoke(id) (by subject and creation time); they replace the subject index.
    `CREATE INDEX IF NOT EXISTS ${quote(`${name}_subject_seen_idx`)} ON ${quote(name)} ` +
      `(subject, last_seen_at, token) WHERE subject IS NOT NULL`,
    `CREATE INDEX IF NOT EXISTS ${quote(`${name}_subject_created_idx`)} ON ${quote(name)} ` +
      `(subject, created_at) WHERE subject IS NOT NULL`,
    `DROP INDEX IF EXISTS ${quote(`${name}_subject_idx`)}`,
  ],
  time: (ms) => ms,
  // better-sqlite3 binds Buffers, not other Uint8Arrays: wrap the same memory, no copy.
  data: (bytes) =>
    Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  // Drivers put the phrase in different places ("SQLITE_ERROR: no such table: x" in libSQL).
  isMissingTable: (error) => /\bno such table\b/.test(messageOf(error)),
  isMissingColumn: (error) => /\b(no such column|has no column named)\b/.test(messageOf(error)),
  // One process, no network; busy_timeout waits for other writers.
  hadNoEffect: () => false,
  lostConnection: () => false,
  async migrate(db, table) {
    const run = async (trx: Kysely<any>) => {
      // Literals, not parameters: a Kysely instance forced to this family may compile
      // parameters its own way; the name is a checked identifier.
      const { rows } = await sql
        .raw<{ name: string }>(`SELECT name FROM pragma_table_info('${table.name}')`)
        .execute(trx)
      const [create, ...indexes] = this.ddl(table)
      if (rows.length === 0) await sql.raw(create!).execute(trx)
      const types: Record<string, string> = { subject: 'TEXT' }
      for (const column of rows.length === 0 ? [] : missingColumns(rows.map((row) => row.name))) {
        await sql
          .raw(`ALTER TABLE ${quote(table.name)} ADD COLUMN ${column} ${types[column] ?? 'INTEGER'}`)
          .execute(trx)
          // Outside a transaction (D1) another migration may have added it since we looked.
          .catch((error: unknown) => {
            if (!/\bduplicate column name\b/.test(messageOf(error))) throw error
          })
      }
      for (const statement of indexes) await sql.raw(statement).execute(trx)
    }
    if (db.isTransaction) return run(db)
    // BEGIN IMMEDIATE takes the write lock first: a deferred transaction that read the
    // columns and then writes would fail (SQLITE_BUSY) when another process migrated meanwhile.
    await db.connection().execute(async (connection) => {
      try {
        await sql`BEGIN IMMEDIATE`.execute(connection)
      } catch (error) {
        // D1 (and a Durable Object's SQLite) refuses SQL transactions. Every step above is
        // idempotent (IF NOT EXISTS, a column another run added is no error), so the steps
        // run one by one: a migration cut short is finished by the next.
        if (refusesSqlTransactions(error)) return run(connection)
        throw error
      }
      try {
        await run(connection)
        await sql`COMMIT`.execute(connection)
      } catch (error) {
        await sql`ROLLBACK`.execute(connection).catch(() => undefined)
        throw error
      }
    })
  },
}
