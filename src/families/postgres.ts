import { sql, type Kysely } from 'kysely'
import {
  codeOf,
  commonStatements,
  isNetworkError,
  messageOf,
  missingColumns,
  type SqlFamily,
  type Statements,
  type TableName,
} from './family.js'

const quote = (identifier: string) => `"${identifier}"`
const qualified = ({ schema, name }: TableName) => (schema ? `${quote(schema)}.${quote(name)}` : quote(name))

/** `?` placeholders numbered `$1`, `$2`, ... in order. */
function numbered(text: string): string {
  let n = 0
  return text.replace(/\?/g, () => `$${++n}`)
}

/**
 * SQLSTATE codes after which a statement had no effect and may run again on a new
 * connection: deadlock and serialisation victims, the server shutting down or starting
 * (57P01-57P03), read-only during a standby's promotion (25006), connection failures (08).
 */
const TRANSIENT = new Set(['40P01', '40001', '57P01', '57P02', '57P03', '25006'])

/** pg's own messages for a connection that died, which carry no code. */
const CONNECTION_LOST =
  /^(Connection terminated|Client has encountered a connection error|Connection ended|timeout exceeded when trying to connect)/

/** The Postgres SQL family, shared by server Postgres and PGlite. */
export const postgresFamily: SqlFamily = {
  name: 'postgres',
  detect: (compiled) => compiled.includes('"c"') && compiled.includes('$1'),
  schemas: true,
  quote,
  statements(table) {
    const t = qualified(table)
    const upsert = (columns: string, set: string) =>
      `INSERT INTO ${t} AS s (${columns}) VALUES (${columns.replace(/\w+/g, '?')}) ` +
      `ON CONFLICT (token) DO UPDATE SET ${set} WHERE s.ended_at IS NULL`
    return nameable({
      ...commonStatements(t, numbered),
      commit: numbered(
        upsert(
          'token, data, expiry, created_at, last_seen_at',
          'data = EXCLUDED.data, expiry = EXCLUDED.expiry, last_seen_at = EXCLUDED.last_seen_at',
        ),
      ),
      commitSubject: numbered(
        upsert(
          'token, data, expiry, subject, created_at, last_seen_at',
          'data = EXCLUDED.data, expiry = EXCLUDED.expiry, subject = EXCLUDED.subject, ' +
            'last_seen_at = EXCLUDED.last_seen_at',
        ),
      ),
      // Each batch locks up to $2 expired rows (skipping rows another instance holds: SKIP
      // LOCKED) and deletes them by physical address: ctid = ANY(ARRAY(...)) is a TID scan,
      // about twice as fast as looking each token up in the primary key again. A locked row
      // cannot move, and the outer condition re-checks that it is still expired.
      cleanup:
        `DELETE FROM ${t} WHERE ctid = ANY (ARRAY(` +
        `SELECT ctid FROM ${t} WHERE expiry <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)) AND expiry <= $1`,
    })
  },
  // Column for column the table of SCS's pgxstore, plus nullable columns its statements never
  // name (so an SCS app keeps working on it). TIMESTAMPTZ keeps microseconds, so the
  // millisecond times the store writes are exact. The subject index holds only sessions that
  // have a subject.
  ddl: (table) => {
    const t = qualified(table)
    return [
      `CREATE TABLE IF NOT EXISTS ${t} (\n` +
        `  token TEXT PRIMARY KEY,\n` +
        `  data BYTEA NOT NULL,\n` +
        `  expiry TIMESTAMPTZ NOT NULL,\n` +
        `  subject TEXT,\n` +
        `  created_at TIMESTAMPTZ,\n` +
        `  last_seen_at TIMESTAMPTZ,\n` +
        `  ended_at TIMESTAMPTZ\n` +
        `)`,
      `CREATE INDEX IF NOT EXISTS ${quote(`${table.name}_expiry_idx`)} ON ${t} (expiry)`,
      `CREATE INDEX IF NOT EXISTS ${quote(`${table.name}_subject_idx`)} ON ${t} (subject) WHERE subject IS NOT NULL`,
    ]
  },
  // An ISO string with milliseconds: TIMESTAMPTZ keeps microseconds, so nothing is rounded.
  time: (ms) => new Date(ms).toISOString(),
  data: (bytes) => bytes,
  isMissingTable: (error) => codeOf(error) === '42P01',
  isMissingColumn: (error) => codeOf(error) === '42703',
  isTransient: (error) => {
    const code = codeOf(error) ?? ''
    return (
      TRANSIENT.has(code) ||
      code.startsWith('08') ||
      isNetworkError(error) ||
      CONNECTION_LOST.test(messageOf(error))
    )
  },
  async migrate(db, table) {
    const run = async (trx: Kysely<any>) => {
      // Serialises concurrent migrations: CREATE ... IF NOT EXISTS alone races in the catalog.
      // Literals, not parameters (checked identifiers): a Kysely instance forced to this
      // family may compile parameters its own way.
      const lock = `'kysely-session-store:${table.schema ?? ''}.${table.name}'`
      await sql.raw(`SELECT pg_advisory_xact_lock(hashtext(${lock}))`).execute(trx)
      const schema = table.schema === undefined ? 'current_schema()' : `'${table.schema}'`
      const { rows } = await sql
        .raw<{ column_name: string }>(
          'SELECT column_name FROM information_schema.columns ' +
            `WHERE table_schema = ${schema} AND table_name = '${table.name}'`,
        )
        .execute(trx)
      const t = qualified(table)
      const [create, ...indexes] = this.ddl(table)
      if (rows.length === 0) {
        await sql.raw(create!).execute(trx)
      } else {
        const missing = missingColumns(rows.map((row) => row.column_name))
        if (missing.length > 0) {
          const types: Record<string, string> = { subject: 'TEXT' }
          const add = missing.map(
            (column) => `ADD COLUMN IF NOT EXISTS ${column} ${types[column] ?? 'TIMESTAMPTZ'}`,
          )
          await sql.raw(`ALTER TABLE ${t} ${add.join(', ')}`).execute(trx)
        }
      }
      for (const statement of indexes) await sql.raw(statement).execute(trx)
    }
    // Inside a caller's transaction (Kysely's Migrator) the lock is held until it commits.
    if (db.isTransaction) await run(db)
    else await db.transaction().execute(run)
  },
}

/** The most statement texts that get a name (each becomes one prepared statement per connection). */
const MAX_NAMED_STATEMENTS = 400

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
function nameable(statements: Statements): Statements {
  for (const text of Object.values(statements) as string[]) {
    if (statementNames.has(text) || statementNames.size >= MAX_NAMED_STATEMENTS) continue
    const name = `kss_${hash(text)}`
    if (namesInUse.has(name)) continue
    namesInUse.add(name)
    statementNames.set(text, name)
  }
  return statements
}

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
