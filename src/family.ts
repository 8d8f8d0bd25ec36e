import type { Kysely } from 'kysely'
import { mysqlFamily } from '../dialects/mysql.js'
import { postgresFamily } from '../dialects/postgres.js'
import { sqliteFamily } from '../dialects/sqlite.js'

/**
 * The SQL families the store speaks. PGlite speaks `'postgres'`; MariaDB speaks `'mysql'`.
 *
 * @example
 * ```ts
 * const store = new KyselyStore(db, 0, { family: 'postgres' }) // skip detection
 * ```
 */
export type FamilyName = 'postgres' | 'sqlite' | 'mysql'

/** The five statements of the store, for one table, with the engine's placeholders. */
export interface Statements {
  /** Parameters: token, now. Rows: `{ data }`. */
  readonly find: string
  /** Parameters: token, data, expiry. Inserts, or replaces data and expiry. */
  readonly commit: string
  /** Parameters: expiry, token, now. Moves the expiry of a live session only. */
  readonly touch: string
  /** Parameters: token. */
  readonly delete: string
  /** Parameters: now. Rows: `{ token, data }`. */
  readonly all: string
  /** Parameters: now, after, limit. Rows: `{ token, data }`, the next page by token. */
  readonly page: string
  /** Parameters: now, limit. Deletes at most `limit` expired rows. */
  readonly cleanup: string
}

/** What differs between SQL families; everything else lives once in the store. */
export interface SqlFamily {
  readonly name: FamilyName
  /** `identifier` (a plain identifier already checked) quoted for this family. */
  quote(identifier: string): string
  /** The statements for `table`, a plain identifier already checked. */
  statements(table: string): Statements
  /** The bound value for an expiry or "now", in milliseconds since the epoch. */
  expiry(ms: number): unknown
  /** The bound value for session data. */
  data(bytes: Uint8Array): unknown
  /** Whether a driver error means the table does not exist. */
  isMissingTable(error: unknown): boolean
  /** Whether a driver error is a deadlock the engine asks to retry (the statement had no effect). */
  isDeadlock(error: unknown): boolean
  /** Runs the schema's statements (already substituted) atomically, safe against concurrent runs. */
  migrate(db: Kysely<any>, table: string, statements: readonly string[]): Promise<void>
  /** The same statements for this server, where its SQL differs from the file (optional). */
  adapt?(db: Kysely<any>, statements: readonly string[]): Promise<readonly string[]>
}

const families: Record<FamilyName, SqlFamily> = {
  postgres: postgresFamily,
  sqlite: sqliteFamily,
  mysql: mysqlFamily,
}

/** The names accepted by the `family` option. */
export const familyNames = Object.keys(families) as FamilyName[]

/**
 * The family of `db`, read from how it compiles a tiny query (its placeholder and quote
 * character), which works whichever copy of Kysely built it; `override` wins.
 */
export function resolveFamily(db: Kysely<any>, override: FamilyName | undefined): SqlFamily {
  if (override !== undefined) return families[override]
  const { sql } = db.selectFrom('t').select('c').where('c', '=', 0).compile()
  if (sql.includes('"c"') && sql.includes('$1')) return families.postgres
  if (sql.includes('"c"') && sql.includes('?')) return families.sqlite
  if (sql.includes('`c`') && sql.includes('?')) return families.mysql
  throw new TypeError(
    `db: cannot tell which SQL family this Kysely instance speaks (it compiles to: ${sql}); ` +
      `pass the family option: ${familyNames.map((n) => `'${n}'`).join(' or ')}`,
  )
}
