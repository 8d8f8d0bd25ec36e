import type { Kysely } from 'kysely'

/**
 * The SQL families the store speaks. PGlite speaks `'postgres'`; MariaDB speaks `'mysql'`.
 *
 * @example
 * ```ts
 * import { KyselyStore, type FamilyName } from 'kysely-session-store'
 *
 * const family: FamilyName = 'postgres'
 * const store = new KyselyStore(db, 0, { family }) // skips detection
 * ```
 */
export type FamilyName = 'postgres' | 'sqlite' | 'mysql'

/** The statements of the store, for one table, with the family's placeholders. */
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

/**
 * What differs between SQL families: a family describes itself (its statements, value
 * encodings, error codes, DDL, and whether a compiled query is its own), so adding one is
 * one file and one entry in `families`. Everything else lives once in the store.
 */
export interface SqlFamily {
  readonly name: FamilyName
  /** Whether `sql`, the compiled form of `select "c" from "t" where "c" = <placeholder>`, is this family's. */
  detect(sql: string): boolean
  /** `identifier` (a plain identifier already checked) quoted for this family. */
  quote(identifier: string): string
  /** The statements for `table`, a plain identifier already checked. */
  statements(table: string): Statements
  /** The DDL that creates `table` and its index, one statement per entry, idempotent. */
  ddl(table: string): string[]
  /** The bound value for an expiry or "now", in milliseconds since the epoch. */
  expiry(ms: number): unknown
  /** The bound value for session data. */
  data(bytes: Uint8Array): unknown
  /** Whether a driver error means the table does not exist. */
  isMissingTable(error: unknown): boolean
  /** Whether a driver error is a deadlock the engine asks to retry (the statement had no effect). */
  isDeadlock(error: unknown): boolean
  /**
   * Runs `ddl` (from {@link SqlFamily.ddl}, for `table`) safely against concurrent runs. On
   * a transaction (`db.isTransaction`, as in Kysely's Migrator) it runs inside it.
   */
  migrate(db: Kysely<any>, table: string, ddl: readonly string[]): Promise<void>
}

/** The code a driver's error carries, when it is a string. */
export function codeOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  return typeof code === 'string' ? code : undefined
}
