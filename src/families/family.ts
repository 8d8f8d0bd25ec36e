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
 * How a failed statement may be repeated. A `read` changes nothing, so it may run again after
 * any transient failure. A `write` runs again only after a failure that proves it had no
 * effect (see {@link SqlFamily.hadNoEffect}): after a lost reply it may have committed, and
 * running it again could undo a write made in between (a login after a sign-out).
 */
export type StatementKind = 'read' | 'write'

/**
 * One of the store's statements, with the family's placeholders, and the function that turns
 * its named parameters into the values in placeholder order.
 */
export interface Statement<P> {
  readonly sql: string
  readonly kind: StatementKind
  /** `'one'`: a read of at most one row (by the token, the primary key); else `'any'`. */
  readonly rows: 'one' | 'any'
  /** The values for `sql`'s placeholders, in their order. */
  bind(parameters: P): unknown[]
}

/**
 * A statement written with named parameters (`:token`), each turned into the family's
 * placeholder (`?`, or `$1`, `$2`, ... numbered by `placeholder`). A name may appear more than
 * once; its value is then bound at each place.
 */
export function statement<P extends object>(
  kind: StatementKind,
  text: string,
  placeholder: (position: number) => string = () => '?',
  rows: 'one' | 'any' = 'any',
): Statement<P> {
  const names: (keyof P)[] = []
  const sql = text.replace(/:([a-z]+)/g, (_, name: string) => {
    names.push(name as keyof P)
    return placeholder(names.length)
  })
  return {
    sql,
    kind,
    rows,
    bind(parameters) {
      const values = new Array<unknown>(names.length)
      for (let i = 0; i < names.length; i++) values[i] = parameters[names[i]!]
      return values
    },
  }
}

/**
 * How long a tombstone outlives its expiry before cleanup removes it: 10 minutes. An instance
 * whose clock runs up to this much ahead of another's cannot remove a tombstone while the
 * other still honours it (a request there that loaded the session before its logout).
 */
export const TOMBSTONE_MARGIN = 10 * 60_000

/** A time as the family binds it (see {@link SqlFamily.time}). */
export type Time = unknown
/** Session data as the family binds it (see {@link SqlFamily.data}). */
export type Data = unknown

/**
 * The store's statements for one table. "Live" means `expiry > now` and not ended
 * (`ended_at IS NULL`); an ended row is a tombstone. Every column the store reads is one
 * lowercase word, so that a result plugin of the caller's Kysely instance (CamelCasePlugin)
 * leaves its name alone.
 */
export interface Statements {
  /** Rows: `{ data }` of the live session. */
  readonly find: Statement<{ token: string; now: Time }>
  /** Rows: `{ data, expiry, subject, created, seen }` of the live session. */
  readonly get: Statement<{ token: string; now: Time }>
  /** Inserts, or replaces data and expiry unless the row is ended. */
  readonly commit: Statement<{ token: string; data: Data; expiry: Time; now: Time }>
  /** As `commit`, and sets the subject. */
  readonly commitSubject: Statement<{
    token: string
    data: Data
    expiry: Time
    subject: string | null
    now: Time
  }>
  /** Replaces data and expiry of a live session only. */
  readonly update: Statement<{ token: string; data: Data; expiry: Time; now: Time }>
  /** As `update`, and sets the subject. */
  readonly updateSubject: Statement<{
    token: string
    data: Data
    expiry: Time
    subject: string | null
    now: Time
  }>
  /** Moves the expiry of a live session only. */
  readonly touch: Statement<{ token: string; expiry: Time; now: Time }>
  readonly delete: Statement<{ token: string }>
  /** Makes the row a tombstone: data emptied (`empty`), subject cleared, ended. */
  readonly tombstone: Statement<{ token: string; empty: Data; now: Time }>
  /** Rows: `{ token, data }`. */
  readonly all: Statement<{ now: Time }>
  /** Rows: `{ token, data }`, the next page by token after `after`. */
  readonly page: Statement<{ now: Time; after: string; limit: number }>
  /** Rows: `{ n }`, the live sessions. */
  readonly count: Statement<{ now: Time }>
  /** Deletes every row. */
  readonly clear: Statement<Record<string, never>>
  /**
   * Rows: `{ token, expiry, created, seen }`, the most recently seen first (never seen, last),
   * equal times by token, descending: the order of the `(subject, last_seen_at, token)` index.
   */
  readonly listBySubject: Statement<{ subject: string; now: Time; limit: number }>
  /** As `listBySubject`, with `data`. */
  readonly listBySubjectData: Statement<{ subject: string; now: Time; limit: number }>
  /** As `listBySubject`, the sessions listed after the session of `after` (none when it is gone). */
  readonly listBySubjectAfter: Statement<{ subject: string; now: Time; after: string; limit: number }>
  /** As `listBySubjectAfter`, with `data`. */
  readonly listBySubjectAfterData: Statement<{ subject: string; now: Time; after: string; limit: number }>
  /** As `listBySubject`, only those created at `created`, unlimited (the `(subject, created_at)` index). */
  readonly listBySubjectCreated: Statement<{ subject: string; now: Time; created: Time }>
  /** As `listBySubject`, only those without a creation time, unlimited. */
  readonly listBySubjectUncreated: Statement<{ subject: string; now: Time }>
  /**
   * Deletes the subject's live sessions but `except` that `listBySubject` lists after the
   * session whose `last_seen_at` and token are `seen` (maybe null) and `token`.
   */
  readonly deleteOlderBySubject: Statement<{
    subject: string
    now: Time
    except: string
    seen: Time | null
    token: string
    /** 1 when `seen` is not null, else 0. */
    dated: number
  }>
  /** Rows: `{ n }`. */
  readonly countBySubject: Statement<{ subject: string; now: Time }>
  /** Deletes the subject's live sessions but `except`. */
  readonly deleteBySubject: Statement<{ subject: string; now: Time; except: string }>
  /** As `deleteBySubject`, leaving tombstones. */
  readonly tombstoneBySubject: Statement<{ subject: string; empty: Data; now: Time; except: string }>
  /**
   * Deletes at most `limit` rows: live sessions expired at `now`, tombstones expired at
   * `ended` (earlier than `now` by a margin for clock skew: see {@link TOMBSTONE_MARGIN}).
   */
  readonly cleanup: Statement<{ now: Time; ended: Time; limit: number }>
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
   * Whether a statement that failed with `error` provably had no effect, so that it may run
   * again on a new connection whatever it does: it never reached the server (a connection
   * refused or not had in time), or the server rolled it back (a deadlock victim, a server
   * shutting down, read-only during a promotion).
   */
  hadNoEffect(error: unknown): boolean
  /**
   * Whether `error` means the connection was lost while the statement was in flight: it may
   * or may not have taken effect, so only a read runs again.
   */
  lostConnection(error: unknown): boolean
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

/**
 * A time as a driver returns it, in milliseconds since the epoch: a Date, a number, a bigint,
 * or a string of digits (a BIGINT as text) or of a date (one without a zone is UTC, as
 * SQLite's `datetime()` writes it); null for SQL NULL, NaN for anything else.
 */
export function timeMs(value: unknown): number | null {
  if (value === null || value === undefined) return null
  if (value instanceof Date) return value.getTime()
  if (typeof value === 'number') return value
  if (typeof value === 'bigint') return Number(value)
  if (typeof value !== 'string') return Number.NaN
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value)
  return Date.parse(/(Z|[+-]\d\d(:?\d\d)?)$/.test(value) ? value : `${value.replace(' ', 'T')}Z`)
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

/** Network errors under any driver before a statement was sent: a connection that never opened. */
const UNREACHED_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
/** Network errors under any driver that may come after a statement was sent. */
const LOST_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTCONN'])

/**
 * Whether `error` is the network failing before a statement was sent: a connection refused
 * or unreachable, or none had from the pool within `connectionTimeout` (the factories'
 * `ConnectionTimeoutError`).
 */
export function isUnreached(error: unknown): boolean {
  if (error instanceof Error && error.name === 'ConnectionTimeoutError') return true
  return UNREACHED_CODES.has(codeOf(error) ?? '')
}

/** Whether `error` is the network failing under a statement that may have been sent. */
export function isLost(error: unknown): boolean {
  return LOST_CODES.has(codeOf(error) ?? '')
}

/**
 * The statements every family writes alike. `t` is the quoted, maybe qualified, table;
 * `placeholder` is the family's (Postgres numbers them); `nullsLast` is what makes NULL sort
 * last in a descending order where it does not by itself (Postgres: ' NULLS LAST').
 */
export function commonStatements(
  t: string,
  placeholder?: (position: number) => string,
  nullsLast = '',
): Omit<Statements, 'commit' | 'commitSubject' | 'cleanup'> {
  const live = 'expiry > :now AND ended_at IS NULL'
  // The most recently seen first, never seen last: the (subject, last_seen_at, token) index
  // read backwards. `s` is the listed row; `(seen, token)` the position to list after.
  const recency = `s.last_seen_at DESC${nullsLast}, s.token DESC`
  // Listed after (seen, token): older, or never seen (`dated`: when the position was seen).
  const older = (row: string, seen: string, token: string, dated: string) =>
    `((${row}last_seen_at, ${row}token) < (${seen}, ${token}) OR ` +
    `${row}last_seen_at IS NULL AND (${dated} OR ${row}token < ${token}))`
  const listed = 's.token, s.expiry, s.created_at AS created, s.last_seen_at AS seen'
  const ofSubject = 's.subject = :subject AND s.expiry > :now AND s.ended_at IS NULL'
  const list = (columns: string) =>
    `SELECT ${columns} FROM ${t} s WHERE ${ofSubject} ORDER BY ${recency} LIMIT :limit`
  // The position comes from the row of `after` (c), so that a page is one statement.
  const listAfter = (columns: string) =>
    `SELECT ${columns} FROM ${t} s JOIN ${t} c ON c.token = :after ` +
    `WHERE ${ofSubject} AND ${older('s.', 'c.last_seen_at', 'c.token', 'c.last_seen_at IS NOT NULL')} ` +
    `ORDER BY ${recency} LIMIT :limit`
  const read = <P extends object>(text: string) => statement<P>('read', text, placeholder)
  /** A read of at most one row: the session of `:token`. */
  const readOne = <P extends object>(text: string) => statement<P>('read', text, placeholder, 'one')
  const write = <P extends object>(text: string) => statement<P>('write', text, placeholder)
  return {
    find: readOne(`SELECT data FROM ${t} WHERE token = :token AND ${live}`),
    get: readOne(
      `SELECT data, expiry, subject, created_at AS created, last_seen_at AS seen FROM ${t} WHERE token = :token AND ${live}`,
    ),
    update: write(
      `UPDATE ${t} SET data = :data, expiry = :expiry, last_seen_at = :now WHERE token = :token AND ${live}`,
    ),
    updateSubject: write(
      `UPDATE ${t} SET data = :data, expiry = :expiry, subject = :subject, last_seen_at = :now ` +
        `WHERE token = :token AND ${live}`,
    ),
    touch: write(`UPDATE ${t} SET expiry = :expiry, last_seen_at = :now WHERE token = :token AND ${live}`),
    delete: write(`DELETE FROM ${t} WHERE token = :token`),
    tombstone: write(
      `UPDATE ${t} SET data = :empty, subject = NULL, ended_at = :now WHERE token = :token AND ended_at IS NULL`,
    ),
    all: read(`SELECT token, data FROM ${t} WHERE ${live}`),
    page: read(`SELECT token, data FROM ${t} WHERE ${live} AND token > :after ORDER BY token LIMIT :limit`),
    count: read(`SELECT COUNT(*) AS n FROM ${t} WHERE ${live}`),
    clear: write(`DELETE FROM ${t}`),
    listBySubject: read(list(listed)),
    listBySubjectData: read(list(`${listed}, s.data`)),
    listBySubjectAfter: read(listAfter(listed)),
    listBySubjectAfterData: read(listAfter(`${listed}, s.data`)),
    listBySubjectCreated: read(
      `SELECT ${listed} FROM ${t} s WHERE ${ofSubject} AND s.created_at = :created ORDER BY ${recency}`,
    ),
    listBySubjectUncreated: read(
      `SELECT ${listed} FROM ${t} s WHERE ${ofSubject} AND s.created_at IS NULL ORDER BY ${recency}`,
    ),
    deleteOlderBySubject: write(
      `DELETE FROM ${t} WHERE subject = :subject AND ${live} AND token <> :except AND ` +
        older('', ':seen', ':token', ':dated = 1'),
    ),
    countBySubject: read(`SELECT COUNT(*) AS n FROM ${t} WHERE subject = :subject AND ${live}`),
    deleteBySubject: write(`DELETE FROM ${t} WHERE subject = :subject AND ${live} AND token <> :except`),
    tombstoneBySubject: write(
      `UPDATE ${t} SET data = :empty, subject = NULL, ended_at = :now ` +
        `WHERE subject = :subject AND ${live} AND token <> :except`,
    ),
  }
}
