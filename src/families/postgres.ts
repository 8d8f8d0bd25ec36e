import { sql, type Kysely } from 'kysely'
import { pgConnectionFailure } from '../errors.js'
import {
  codeOf,
  commonStatements,
  isLost,
  isUnreached,
  missingColumns,
  statement,
  type SqlFamily,
  type Statement,
  type Statements,
  type TableName,
} from './family.js'

const quote = (identifier: string) => `"${identifier}"`
const qualified = ({ schema, name }: TableName) => (schema ? `${quote(schema)}.${quote(name)}` : quote(name))

const numbered = (position: number) => `$${position}`

/**
 * SQLSTATE codes after which a statement had no effect: the server rolled it back (deadlock
 * and serialisation victims, a backend terminated or the server shutting down: 57P01, 57P02),
 * refused it (read-only during a standby's promotion: 25006), or never took the connection
 * (starting up: 57P03; too many connections: 53300; 08001 and 08004: no connection made).
 */
const NO_EFFECT = new Set(['40P01', '40001', '57P01', '57P02', '57P03', '25006', '53300', '08001', '08004'])

/** The Postgres SQL family, shared by server Postgres and PGlite. */
export const postgresFamily: SqlFamily = {
  name: 'postgres',
  detect: (compiled) => compiled.includes('"c"') && compiled.includes('$1'),
  schemas: true,
  quote,
  statements(table) {
    const t = qualified(table)
    const expired = 'expiry <= :now AND (ended_at IS NULL OR expiry <= :ended)'
    const upsert = (columns: string, values: string, set: string) =>
      `INSERT INTO ${t} AS s (${columns}) VALUES (${values}) ` +
      `ON CONFLICT (token) DO UPDATE SET ${set} WHERE s.ended_at IS NULL`
    return named({
      ...commonStatements(t, numbered, ' NULLS LAST'),
      getMany: statement(
        'read',
        `SELECT token, data, expiry, subject, created_at AS created, last_seen_at AS seen FROM ${t} ` +
          'WHERE token = ANY (CAST(:tokens AS text[])) AND expiry > :now AND ended_at IS NULL',
        numbered,
      ),
      commit: statement(
        'write',
        upsert(
          'token, data, expiry, created_at, last_seen_at',
          ':token, :data, :expiry, :now, :now',
          'data = EXCLUDED.data, expiry = EXCLUDED.expiry, last_seen_at = EXCLUDED.last_seen_at',
        ),
        numbered,
      ),
      commitSubject: statement(
        'write',
        upsert(
          'token, data, expiry, subject, created_at, last_seen_at',
          ':token, :data, :expiry, :subject, :now, :now',
          'data = EXCLUDED.data, expiry = EXCLUDED.expiry, subject = EXCLUDED.subject, ' +
            'last_seen_at = EXCLUDED.last_seen_at',
        ),
        numbered,
      ),
      // Each batch locks up to :limit expired rows (skipping rows another instance holds: SKIP
      // LOCKED) and deletes them by physical address: ctid = ANY(ARRAY(...)) is a TID scan,
      // about twice as fast as looking each token up in the primary key again. A locked row
      // cannot move, and the outer condition re-checks that it is still expired.
      cleanup: statement(
        'write',
        `DELETE FROM ${t} WHERE ctid = ANY (ARRAY(` +
          `SELECT ctid FROM ${t} WHERE ${expired} LIMIT :limit FOR UPDATE SKIP LOCKED)) AND ${expired}`,
        numbered,
      ),
    })
  },
  // Column for column the table of SCS's pgxstore, plus nullable columns its statements never
  // name (so an SCS app keeps working on it). TIMESTAMPTZ keeps microseconds, so the
  // millisecond times the store writes are exact. The subject indexes hold only sessions that
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
      // A devices page, the most recently seen first (this index read backwards: DESC NULLS
      // LAST), and revoke(id), which finds its session by subject and creation time.
      `CREATE INDEX IF NOT EXISTS ${quote(`${table.name}_subject_seen_idx`)} ON ${t} ` +
        `(subject, last_seen_at NULLS FIRST, token) WHERE subject IS NOT NULL`,
      `CREATE INDEX IF NOT EXISTS ${quote(`${table.name}_subject_created_idx`)} ON ${t} ` +
        `(subject, created_at) WHERE subject IS NOT NULL`,
      // The earlier versions' index on subject alone: the two above serve what it served.
      `DROP INDEX IF EXISTS ${qualified({ schema: table.schema, name: `${table.name}_subject_idx` })}`,
    ]
  },
  // An ISO string with milliseconds: TIMESTAMPTZ keeps microseconds, so nothing is rounded.
  time: isoTime,
  data: (bytes) => bytes,
  isMissingTable: (error) => codeOf(error) === '42P01',
  isMissingColumn: (error) => codeOf(error) === '42703',
  // pg's messages for a connection never had, or lost (they carry no code): see pgConnectionFailure.
  hadNoEffect: (error) =>
    NO_EFFECT.has(codeOf(error) ?? '') || isUnreached(error) || pgConnectionFailure(error) === 'pool timeout',
  lostConnection: (error) =>
    (codeOf(error) ?? '').startsWith('08') ||
    isLost(error) ||
    ['lost', 'connect timeout'].includes(pgConnectionFailure(error) ?? ''),
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

/** How {@link named} marks a statement: ` /* kss_<16 hex digits> *\/` at the end of its text. */
const MARK = '/* kss_'
/** The length of a mark without its leading space. */
const MARKED = `${MARK}${'0'.repeat(16)} */`.length

/**
 * Each statement with its prepared-statement name written after its text, as a comment
 * (`SELECT ... /* kss_<hash> *\/`), for {@link statementName}. The name is a hash of the
 * text, so one name always means one text, in every pool and every copy of this module; the
 * comment also shows the store's statements in `pg_stat_activity`.
 */
function named(statements: Statements): Statements {
  const entries = Object.entries(statements).map(([key, statement]: [string, Statement<never>]) => [
    key,
    { ...statement, sql: `${statement.sql} ${MARK}${hash(statement.sql)} */` },
  ])
  return Object.fromEntries(entries) as unknown as Statements
}

/**
 * The name under which `postgres()` prepares `text`, when it is one of the store's own
 * statements (see {@link named}); undefined for every other query, which keeps Kysely's
 * unnamed statements, so that its plans never go stale.
 */
export function statementName(text: string): string | undefined {
  const at = text.length - MARKED
  return at > 0 && text.startsWith(MARK, at) && text.endsWith(' */') ? text.slice(at + 3, -3) : undefined
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

/** The first millisecond of year 10000: from there on an ISO string has more than four year digits. */
const YEAR_10000 = 253_402_300_800_000
/** The text of each recent second up to its milliseconds ("2026-12-05T13:41:07."), by its first millisecond. */
const seconds = new Map<number, string>()

/**
 * `new Date(ms).toISOString()`, which costs about 0.9 us, for the times the store binds on
 * every call (now, an expiry): a few distinct seconds each second. The text of a second is
 * made once and the milliseconds appended to it. A time before 1970, from year 10000 on, or
 * not a whole millisecond goes to Date, as does NaN (which throws its RangeError).
 */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms >= YEAR_10000) return new Date(ms).toISOString()
  const milli = ms % 1000
  const second = ms - milli
  let prefix = seconds.get(second)
  if (prefix === undefined) {
    if (seconds.size >= 64) seconds.clear()
    prefix = new Date(second).toISOString().slice(0, 20)
    seconds.set(second, prefix)
  }
  return prefix + (milli < 10 ? '00' : milli < 100 ? '0' : '') + milli + 'Z'
}
