import { sql } from 'kysely'
import { codeOf, type SqlFamily } from './family.js'

/** The Postgres SQL family, shared by server Postgres and PGlite. */
export const postgresFamily: SqlFamily = {
  name: 'postgres',
  detect: (compiled) => compiled.includes('"c"') && compiled.includes('$1'),
  quote: (identifier) => `"${identifier}"`,
  statements(table) {
    const t = `"${table}"`
    return nameable({
      find: `SELECT data FROM ${t} WHERE token = $1 AND expiry > $2`,
      commit:
        `INSERT INTO ${t} (token, data, expiry) VALUES ($1, $2, $3) ` +
        `ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`,
      touch: `UPDATE ${t} SET expiry = $1 WHERE token = $2 AND expiry > $3`,
      delete: `DELETE FROM ${t} WHERE token = $1`,
      all: `SELECT token, data FROM ${t} WHERE expiry > $1`,
      page: `SELECT token, data FROM ${t} WHERE expiry > $1 AND token > $2 ORDER BY token LIMIT $3`,
      // Each batch locks up to $2 expired rows (skipping rows another instance holds: SKIP
      // LOCKED) and deletes them by physical address: ctid = ANY(ARRAY(...)) is a TID scan,
      // about twice as fast as looking each token up in the primary key again. A locked row
      // cannot move, and the outer condition re-checks that it is still expired.
      cleanup:
        `DELETE FROM ${t} WHERE ctid = ANY (ARRAY(` +
        `SELECT ctid FROM ${t} WHERE expiry <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)) AND expiry <= $1`,
    })
  },
  // Column for column the table of SCS's pgxstore. TIMESTAMPTZ keeps microseconds, so the
  // millisecond expiries the store writes are exact.
  ddl: (table) => [
    `CREATE TABLE IF NOT EXISTS "${table}" (\n` +
      `  token TEXT PRIMARY KEY,\n` +
      `  data BYTEA NOT NULL,\n` +
      `  expiry TIMESTAMPTZ NOT NULL\n` +
      `)`,
    `CREATE INDEX IF NOT EXISTS "${table}_expiry_idx" ON "${table}" (expiry)`,
  ],
  // An ISO string with milliseconds: TIMESTAMPTZ keeps microseconds, so nothing is rounded.
  expiry: (ms) => new Date(ms).toISOString(),
  data: (bytes) => bytes,
  isMissingTable: (error) => codeOf(error) === '42P01',
  isDeadlock: (error) => ['40P01', '40001'].includes(codeOf(error) ?? ''),
  async migrate(db, table, ddl) {
    const run = async (trx: typeof db) => {
      // Serialises concurrent migrations: CREATE ... IF NOT EXISTS alone races in the catalog.
      await sql`SELECT pg_advisory_xact_lock(hashtext(${`kysely-session-store:${table}`}))`.execute(trx)
      for (const statement of ddl) await sql.raw(statement).execute(trx)
    }
    // Inside a caller's transaction (Kysely's Migrator) the lock is held until it commits.
    if (db.isTransaction) await run(db)
    else await db.transaction().execute(run)
  },
}

/** The most statement texts that get a name (each becomes one prepared statement per connection). */
const MAX_NAMED_STATEMENTS = 120

/** The store's own statement texts, each with the name `postgres()` prepares it under. */
const statementNames = new Map<string, string>()
const namesInUse = new Set<string>()

/**
 * The name under which `postgres()` prepares `text`, when it is one of the store's own
 * statements; undefined for every other query. A name is a hash of its text, so one name
 * always means one text, in every pool and in every copy of this module.
 */
export function statementName(text: string): string | undefined {
  return statementNames.get(text)
}

/**
 * Registers the store's statements for {@link statementName} and returns them unchanged. A
 * (vanishingly unlikely) clash of names leaves the second text unnamed. Only these
 * statements are named: the application's own queries keep Kysely's unnamed statements, so
 * their plans never go stale.
 */
function nameable<T extends Statements>(statements: T): T {
  for (const text of Object.values(statements) as string[]) {
    if (statementNames.has(text) || statementNames.size >= MAX_NAMED_STATEMENTS) continue
    const name = `kss_${hash(text)}`
    if (namesInUse.has(name)) continue
    namesInUse.add(name)
    statementNames.set(text, name)
  }
  return statements
}

type Statements = ReturnType<SqlFamily['statements']>

/** Two 32-bit FNV-1a hashes (different offsets), as 16 hex digits. */
function hash(text: string): string {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15)
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0')
}
