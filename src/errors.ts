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
 * pg's and pg-pool's messages, word for word, for a connection lost or never had. They carry
 * no code and quote nothing, so {@link describeCause} repeats them; the Postgres family and
 * `postgres()` tell failures apart by them ({@link pgConnectionFailure}).
 */
const PG_CONNECTION_MESSAGES: Readonly<Record<string, 'pool timeout' | 'connect timeout' | 'lost'>> = {
  // pg-pool: no client came free in time; nothing was sent.
  'timeout exceeded when trying to connect': 'pool timeout',
  // pg-pool, and pg's own as its cause: a new connection did not complete in time.
  'Connection terminated due to connection timeout': 'connect timeout',
  'timeout expired': 'connect timeout',
  // pg: the connection died, maybe under a statement.
  'Connection terminated unexpectedly': 'lost',
  'Connection terminated': 'lost',
  'Client has encountered a connection error and is not queryable': 'lost',
  'Connection ended': 'lost',
}

/** Which of pg's connection failures `error` is (see PG_CONNECTION_MESSAGES), or undefined. */
export function pgConnectionFailure(error: unknown): 'pool timeout' | 'connect timeout' | 'lost' | undefined {
  const message = (error as { message?: unknown } | null)?.message
  return typeof message === 'string' && Object.hasOwn(PG_CONNECTION_MESSAGES, message)
    ? PG_CONNECTION_MESSAGES[message]
    : undefined
}

/**
 * A short, safe description of a driver error: its code (`42P01`, `ECONNREFUSED`,
 * `SQLITE_BUSY`) when it has one. Never the driver's message, which may quote data.
 */
export function describeCause(cause: unknown): string {
  // The factories' own errors name packages and directories, never data: pass them on.
  if (cause instanceof SafeError) return cause.message
  const { code, address, port } = (typeof cause === 'object' && cause !== null ? cause : {}) as {
    code?: unknown
    address?: unknown
    port?: unknown
  }
  if (typeof code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(code)) {
    // Node's network errors name the endpoint they could not reach (never a user or password).
    const endpoint =
      typeof address === 'string' && /^[\w.:-]{1,100}$/.test(address) && typeof port === 'number'
        ? ` (${address.includes(':') ? `[${address}]` : address}:${port})`
        : ''
    return `the database reported ${code}${endpoint}`
  }
  // pg's messages for a lost connection carry no code and no data: say which it was.
  if (cause instanceof Error && pgConnectionFailure(cause) !== undefined) {
    return `the connection was lost (${cause.message})`
  }
  const name = cause instanceof Error ? cause.name : typeof cause
  return `the database driver threw ${/^[A-Za-z0-9_]{1,40}$/.test(name) ? name : 'an error'}`
}

/** Shorter values are not searched for: replacing them would mangle ordinary words. */
const MIN_SECRET_LENGTH = 6
const REDACTED = '[redacted]'
/** Fields that hold the statement, with or without the values spliced in: our text replaces them. */
const STATEMENT_FIELDS = new Set(['sql', 'query', 'internalQuery'])
/** Fields that hold the statement's values (mysql2 `values`, PGlite `params`, postgres.js `parameters` and `args`). */
const PARAMETER_FIELDS = new Set(['params', 'parameters', 'values', 'args'])
/** How deep `cause` and `errors` (AggregateError) chains are followed. */
const MAX_DEPTH = 4

/**
 * A copy of a driver's error without what it copied of the statement's values, so that
 * logging the error (its cause included) prints no token and no session data: drivers quote
 * them in messages (MySQL's `Duplicate entry '...'`, pg's `detail`: `Key (token)=(...)`), keep
 * the statement with the values spliced in (mysql2's `sql`), or keep the parameters (PGlite's
 * `params`, postgres.js's `parameters`). The driver's error itself is never written to
 * (postgres.js makes `parameters`, `query` and `stack` read-only) and is not kept: the copy
 * has its prototype (so `instanceof` and the class name are the driver's), its `code`,
 * `errno` and every other field, with each text field scrubbed, each statement field
 * replaced by `sql` (placeholders, no values) and each parameter list by `'[redacted]'`. Its
 * own `cause` (and an AggregateError's `errors`) are copied the same way. A string (some
 * drivers reject with one) is scrubbed; other values that are not objects are returned as
 * they are.
 */
export function redact(cause: unknown, sql: string, parameters: readonly unknown[]): unknown {
  const secrets = parameters
    .flatMap((value) =>
      typeof value === 'string'
        ? [value]
        : value instanceof Uint8Array
          ? [Buffer.from(value).toString('utf8'), Buffer.from(value).toString('hex')]
          : [],
    )
    .filter((secret) => secret.length >= MIN_SECRET_LENGTH)
  return redactedCopy(cause, sql, secrets, 0)
}

function redactedCopy(cause: unknown, sql: string, secrets: readonly string[], depth: number): unknown {
  if (typeof cause === 'string') return redactedField('message', cause, sql, secrets, depth)
  if (typeof cause !== 'object' || cause === null) return cause
  if (depth > MAX_DEPTH) return REDACTED
  const original = cause as Record<PropertyKey, unknown>
  // A real Error (so that loggers and util.types.isNativeError see one), then the driver's
  // prototype: instanceof, the class name and inherited getters stay the driver's.
  const copy: Record<PropertyKey, unknown> =
    cause instanceof Error ? (new Error() as unknown as Record<PropertyKey, unknown>) : {}
  Object.setPrototypeOf(copy, Object.getPrototypeOf(cause))
  // Own keys, enumerable or not (message, stack, postgres.js's hidden query and parameters).
  const keys = new Set<PropertyKey>(Reflect.ownKeys(cause))
  if (cause instanceof Error) for (const key of ['message', 'stack']) keys.add(key)
  for (const key of keys) {
    let value: unknown
    try {
      value = original[key]
    } catch {
      continue // a getter that throws: leave the field out
    }
    const descriptor = Object.getOwnPropertyDescriptor(cause, key)
    Object.defineProperty(copy, key, {
      value: redactedField(key, value, sql, secrets, depth),
      enumerable: descriptor?.enumerable ?? false,
      writable: true,
      configurable: true,
    })
  }
  return copy
}

function redactedField(
  key: PropertyKey,
  value: unknown,
  sql: string,
  secrets: readonly string[],
  depth: number,
): unknown {
  if (typeof key === 'string' && PARAMETER_FIELDS.has(key) && value !== undefined) return REDACTED
  if (typeof value === 'string') {
    let text = typeof key === 'string' && STATEMENT_FIELDS.has(key) ? sql : value
    text = text.replace(/(Duplicate entry )'.*?'( for key)/gs, `$1'${REDACTED}'$2`)
    if (key === 'detail' && /\)=\(/.test(text)) text = REDACTED
    for (const secret of secrets) text = text.split(secret).join(REDACTED)
    return text
  }
  if (key === 'cause') return redactedCopy(value, sql, secrets, depth + 1)
  if (key === 'errors' && Array.isArray(value)) {
    return value.map((error) => redactedCopy(error, sql, secrets, depth + 1))
  }
  if (value instanceof Uint8Array) return REDACTED
  if (Array.isArray(value)) return value.some((item) => typeof item !== 'number') ? REDACTED : value
  return value
}
