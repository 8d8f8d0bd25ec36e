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

/**
 * The store's statements for one table, with the family's placeholders. "Live" means
 * `expiry > now` and not ended (`ended_at IS NULL`); an ended row is a tombstone. Every
 * statement is idempotent, so one whose connection was lost can run again.
 */
export interface Statements {
  /** token, now. Rows: `{ data }` of the live session. */
  readonly find: string
  /**
   * token, now. Rows: `{ data, expiry, subject, created, seen }` of the live session. Every
   * column the store reads is one lowercase word, so that a result plugin of the caller's
   * Kysely instance (CamelCasePlugin) leaves its name alone.
   */
  readonly get: string
  /** token, data, expiry, now, now. Inserts, or replaces data and expiry unless the row is ended. */
  readonly commit: string
  /** token, data, expiry, subject, now, now. As `commit`, and sets the subject. */
  readonly commitSubject: string
  /** data, expiry, now, token, now. Replaces data and expiry of a live session only. */
  readonly update: string
  /** data, expiry, subject, now, token, now. As `update`, and sets the subject. */
  readonly updateSubject: string
  /** expiry, now, token, now. Moves the expiry of a live session only. */
  readonly touch: string
  /** token. */
  readonly delete: string
  /** empty data, now, token. Makes the row a tombstone: data emptied, subject cleared, ended. */
  readonly tombstone: string
  /** now. Rows: `{ token, data }`. */
  readonly all: string
  /** now, after, limit. Rows: `{ token, data }`, the next page by token. */
  readonly page: string
  /** now. Rows: `{ n }`, the live sessions. */
  readonly count: string
  /** Deletes every row. */
  readonly clear: string
  /** subject, now, after, limit. Rows: `{ token, expiry, created, seen }` by token. */
  readonly listBySubject: string
  /** subject, now. Rows: `{ n }`. */
  readonly countBySubject: string
  /** subject, now, except. Deletes the subject's live sessions but `except`. */
  readonly deleteBySubject: string
  /** empty data, now, subject, now, except. As `deleteBySubject`, leaving tombstones. */
  readonly tombstoneBySubject: string
  /** now, limit (Postgres: now, limit, now). Deletes at most `limit` expired rows. */
  readonly cleanup: string
}

/** A table as the DDL and the statements name it: its quoted name and its bare name. */
export interface TableName {
  /** The schema (Postgres) or database (MySQL), when not the connection's default. */
  readonly schema: string | undefined
  /** The table's own name, a plain identifier. */
  readonly name: string
}

/** The columns a table needs beyond SCS's three; migrate() adds those a table lacks. */
export const ADDED_COLUMNS = ['subject', 'created_at', 'last_seen_at', 'ended_at'] as const

/**
 * What differs between SQL families: a family describes itself (its statements, value
 * encodings, error codes, DDL, and whether a compiled query is its own), so adding one is
 * one file and one entry in `families`. Everything else lives once in the store.
 */
export interface SqlFamily {
  readonly name: FamilyName
  /** Whether `sql`, the compiled form of `select "c" from "t" where "c" = <placeholder>`, is this family's. */
  detect(sql: string): boolean
  /** Whether tables can live in another schema (Postgres) or database (MySQL). */
  readonly schemas: boolean
  /** `identifier` (a plain identifier already checked) quoted for this family. */
  quote(identifier: string): string
  /** The statements for `table`. */
  statements(table: TableName): Statements
  /** The DDL that creates `table` and its indexes when missing, one statement per entry. */
  ddl(table: TableName): string[]
  /** The bound value for a time (an expiry, "now"), in milliseconds since the epoch. */
  time(ms: number): unknown
  /** The bound value for session data. */
  data(bytes: Uint8Array): unknown
  /** Whether a driver error means the table does not exist. */
  isMissingTable(error: unknown): boolean
  /** Whether a driver error means the table lacks a column the statement names. */
  isMissingColumn(error: unknown): boolean
  /**
   * Whether a statement that failed with `error` had no effect and may run again, on a new
   * connection: a deadlock victim, a connection lost or refused, a server shutting down or
   * still read-only during a promotion.
   */
  isTransient(error: unknown): boolean
  /**
   * Creates `table` or upgrades it in place (adds the {@link ADDED_COLUMNS} it lacks and the
   * indexes), safely against concurrent runs; on a transaction (`db.isTransaction`, as in
   * Kysely's Migrator) inside it. Throws a {@link TableShapeError} when the table exists
   * without token, data and expiry.
   */
  migrate(db: Kysely<any>, table: TableName): Promise<void>
}

/** An existing table that is not a sessions table: migrate() will not touch it. */
export class TableShapeError extends Error {
  override readonly name = 'TableShapeError'
  constructor(readonly columns: readonly string[]) {
    super(
      `it exists with the columns ${columns.join(', ') || '(none)'}, but a sessions table needs token, ` +
        `data and expiry: pass another tableName, or import its sessions (see the README)`,
    )
  }
}

/** Checks that a table with `columns` can be upgraded, and returns the columns it lacks. */
export function missingColumns(columns: readonly string[]): string[] {
  const have = new Set(columns.map((column) => column.toLowerCase()))
  if (!['token', 'data', 'expiry'].every((column) => have.has(column))) throw new TableShapeError(columns)
  return ADDED_COLUMNS.filter((column) => !have.has(column))
}

/** The code a driver's error carries, when it is a string. */
export function codeOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  return typeof code === 'string' ? code : undefined
}

/** A driver's error message, or ''. */
export function messageOf(error: unknown): string {
  const message =
    typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined
  return typeof message === 'string' ? message : ''
}

/** Errors of the network under any driver: the statement did not run, or its result was lost. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTCONN',
])

/** Whether `error` is the network failing under the driver. */
export function isNetworkError(error: unknown): boolean {
  return NETWORK_CODES.has(codeOf(error) ?? '')
}

/**
 * The statements every family writes alike. `t` is the quoted, maybe qualified, table;
 * `placeholders` turns the `?` written here into the family's (Postgres numbers them).
 */
export function commonStatements(
  t: string,
  placeholders: (sql: string) => string,
): Omit<Statements, 'commit' | 'commitSubject' | 'cleanup'> {
  const live = 'expiry > ? AND ended_at IS NULL'
  const statements = {
    find: `SELECT data FROM ${t} WHERE token = ? AND ${live}`,
    get: `SELECT data, expiry, subject, created_at AS created, last_seen_at AS seen FROM ${t} WHERE token = ? AND ${live}`,
    update: `UPDATE ${t} SET data = ?, expiry = ?, last_seen_at = ? WHERE token = ? AND ${live}`,
    updateSubject: `UPDATE ${t} SET data = ?, expiry = ?, subject = ?, last_seen_at = ? WHERE token = ? AND ${live}`,
    touch: `UPDATE ${t} SET expiry = ?, last_seen_at = ? WHERE token = ? AND ${live}`,
    delete: `DELETE FROM ${t} WHERE token = ?`,
    tombstone: `UPDATE ${t} SET data = ?, subject = NULL, ended_at = ? WHERE token = ? AND ended_at IS NULL`,
    all: `SELECT token, data FROM ${t} WHERE ${live}`,
    page: `SELECT token, data FROM ${t} WHERE ${live} AND token > ? ORDER BY token LIMIT ?`,
    count: `SELECT COUNT(*) AS n FROM ${t} WHERE ${live}`,
    clear: `DELETE FROM ${t}`,
    listBySubject:
      `SELECT token, expiry, created_at AS created, last_seen_at AS seen FROM ${t} ` +
      `WHERE subject = ? AND ${live} AND token > ? ORDER BY token LIMIT ?`,
    countBySubject: `SELECT COUNT(*) AS n FROM ${t} WHERE subject = ? AND ${live}`,
    deleteBySubject: `DELETE FROM ${t} WHERE subject = ? AND ${live} AND token <> ?`,
    tombstoneBySubject:
      `UPDATE ${t} SET data = ?, subject = NULL, ended_at = ? ` +
      `WHERE subject = ? AND ${live} AND token <> ?`,
  }
  return Object.fromEntries(
    Object.entries(statements).map(([name, sql]) => [name, placeholders(sql)]),
  ) as typeof statements
}
