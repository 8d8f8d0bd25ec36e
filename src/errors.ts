/**
 * What went wrong, in a form a program can branch on: `'missing_table'` (run migrate()),
 * `'missing_column'` (a table from an older version or another program: migrate() upgrades
 * it), `'table_shape'` (migrate() found a table of that name that is not a sessions table),
 * `'timeout'` (no answer within the `timeout` option), else `'engine'`.
 *
 * @example
 * ```ts
 * import { migrate, SessionStoreError, type SessionStoreErrorCode } from 'kysely-session-store'
 *
 * const code: SessionStoreErrorCode | undefined = await store
 *   .find(token)
 *   .then(() => undefined)
 *   .catch((error: unknown) => (error instanceof SessionStoreError ? error.code : undefined))
 * if (code === 'missing_table' || code === 'missing_column') await migrate(db)
 * ```
 */
export type SessionStoreErrorCode = 'missing_table' | 'missing_column' | 'table_shape' | 'timeout' | 'engine'

/**
 * The error every store operation rejects with when the database fails.
 *
 * Its message names the table, the operation and what to do; it never contains a session
 * token or session data. The driver's error is kept as `cause` (read it deliberately: a
 * driver's own message may quote a token or data).
 *
 * @example
 * ```ts
 * try {
 *   await store.find(token)
 * } catch (error) {
 *   if (error instanceof SessionStoreError && error.code === 'missing_table') {
 *     await migrate(db)
 *   }
 * }
 * ```
 */
export class SessionStoreError extends Error {
  override readonly name = 'SessionStoreError'
  /** What went wrong; see {@link SessionStoreErrorCode}. */
  readonly code: SessionStoreErrorCode

  constructor(message: string, code: SessionStoreErrorCode, cause: unknown) {
    super(message, { cause })
    this.code = code
  }
}

/**
 * An error of this library's own making whose message names packages, directories or
 * options, never data (a driver that is not installed, a data directory in use): the store
 * passes its message on. The engine factories' errors extend it.
 */
export class SafeError extends Error {}

/** The engine factories' own errors (a driver not installed, a data directory in use). */
export class FactoryError extends SafeError {}

/**
 * A short, safe description of a driver error: its code (`42P01`, `ECONNREFUSED`,
 * `SQLITE_BUSY`) when it has one. Never the driver's message, which may quote data.
 */
export function describeCause(cause: unknown): string {
  // The factories' own errors name packages and directories, never data: pass them on.
  if (cause instanceof SafeError) return cause.message
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined
  if (typeof code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(code)) return `the database reported ${code}`
  const name = cause instanceof Error ? cause.name : typeof cause
  return `the database driver threw ${/^[A-Za-z0-9_]{1,40}$/.test(name) ? name : 'an error'}`
}

/** Shorter values are not searched for: replacing them would mangle ordinary words. */
const MIN_SECRET_LENGTH = 6
const REDACTED = '[redacted]'
const TEXT_FIELDS = [
  'message',
  'stack',
  'sqlMessage',
  'detail',
  'hint',
  'where',
  'query',
  'internalQuery',
  'sql',
]
const PARAMETER_FIELDS = ['params', 'parameters', 'values']

/**
 * Removes from a driver's error what it copied of the statement's values, so that logging
 * the error (its cause included) prints no token and no session data: drivers quote them in
 * messages (MySQL's `Duplicate entry '...'`, pg's `detail`: `Key (token)=(...)`), keep the
 * statement with the values spliced in (mysql2's `sql`), or keep the parameters (PGlite's
 * `params`). The same error object is kept, for `cause`.
 */
export function redact(cause: unknown, sql: string, parameters: readonly unknown[]): unknown {
  if (typeof cause !== 'object' || cause === null) return cause
  const secrets = parameters
    .flatMap((value) =>
      typeof value === 'string'
        ? [value]
        : value instanceof Uint8Array
          ? [Buffer.from(value).toString('utf8'), Buffer.from(value).toString('hex')]
          : [],
    )
    .filter((secret) => secret.length >= MIN_SECRET_LENGTH)
  const fields = cause as Record<string, unknown>
  for (const field of TEXT_FIELDS) {
    const original = fields[field]
    if (typeof original !== 'string') continue
    let text = field === 'sql' || field === 'query' ? sql : original
    text = text.replace(/(Duplicate entry )'.*?'( for key)/gs, `$1'${REDACTED}'$2`)
    if (field === 'detail' && /\)=\(/.test(text)) text = REDACTED
    for (const secret of secrets) text = text.split(secret).join(REDACTED)
    try {
      fields[field] = text
    } catch {
      // a read-only field: leave it
    }
  }
  for (const field of PARAMETER_FIELDS) if (Array.isArray(fields[field])) fields[field] = REDACTED
  return cause
}
