/** Input checks shared by every entry point. Each throws before any query runs. */
import type { Kysely } from 'kysely'

/** Longest token the store accepts, in UTF-16 code units (the schema's VARCHAR limit). */
export const MAX_TOKEN_LENGTH = 255
/** Longest table name: Postgres keeps 63 bytes, and the index adds `_expiry_idx`. */
export const MAX_TABLE_NAME_LENGTH = 48
/** Largest delay `setTimeout` honours; a longer one would fire after 1 ms. */
export const MAX_INTERVAL_MS = 2 ** 31 - 1
/** Expiries must lie in years 0001 to 9999, which every engine and ISO 8601 can hold. */
const MIN_EXPIRY_MS = new Date(0).setUTCFullYear(1, 0, 1)
const MAX_EXPIRY_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

function kind(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'object'}`
  return `a ${typeof value}`
}

export function checkToken(token: unknown, name = 'token'): asserts token is string {
  if (typeof token !== 'string') {
    throw new TypeError(`${name} must be a string, got ${kind(token)}`)
  }
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw new RangeError(`${name} must be 1 to ${MAX_TOKEN_LENGTH} characters long, got ${token.length}`)
  }
  if (token.includes('\0') || !token.isWellFormed()) {
    throw new RangeError(`${name} must not contain NUL characters or lone UTF-16 surrogates`)
  }
}

/** A subject (a user id): the same rules as a token, 1 to 255 characters. */
export function checkSubject(subject: unknown, name = 'subject'): asserts subject is string {
  checkToken(subject, name)
}

export function checkData(data: unknown, maxSize: number): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(`data must be a Uint8Array (a Buffer is one), got ${kind(data)}`)
  }
  if (data.byteLength > maxSize) {
    throw new RangeError(
      `data must be at most ${maxSize} bytes (the maxDataSize option), got ${data.byteLength}`,
    )
  }
}

export function checkExpiry(expiry: unknown): asserts expiry is Date {
  if (!(expiry instanceof Date)) {
    throw new TypeError(`expiry must be a Date, got ${kind(expiry)}`)
  }
  const ms = expiry.getTime()
  if (Number.isNaN(ms)) throw new RangeError('expiry must be a valid Date, got an Invalid Date')
  if (ms < MIN_EXPIRY_MS || ms > MAX_EXPIRY_MS) {
    throw new RangeError('expiry must lie between the years 0001 and 9999')
  }
}

export function checkInterval(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a number of milliseconds, got ${kind(value)}`)
  }
  if (!Number.isFinite(value) || value < 0 || value > MAX_INTERVAL_MS) {
    throw new RangeError(
      `${name} must be 0 (disabled) or a number of milliseconds up to ${MAX_INTERVAL_MS}, got ${value}`,
    )
  }
}

export function checkTableName(tableName: unknown): asserts tableName is string {
  checkIdentifier('tableName', tableName, MAX_TABLE_NAME_LENGTH)
}

/** A plain identifier: a letter or _, then letters, digits or _ (Postgres keeps 63 bytes). */
export function checkIdentifier(name: string, value: unknown, maxLength = 63): asserts value is string {
  if (typeof value !== 'string') {
    throw new TypeError(`${name} must be a string, got ${kind(value)}`)
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value) || value.length > maxLength) {
    throw new RangeError(
      `${name} must be a plain identifier (a letter or _, then letters, digits or _, ` +
        `at most ${maxLength} characters), got ${JSON.stringify(value.slice(0, 60))}`,
    )
  }
}

export function checkPositiveInteger(name: string, value: unknown, max: number): asserts value is number {
  checkInteger(name, value, 1, max)
}

/**
 * How many sessions a list holds unless its `limit` says otherwise: KyselyStore's
 * listBySubject, SessionManager's listSubject and the adapters' listBySubject.
 */
export const DEFAULT_LIST_LIMIT = 100
/** The largest `limit` of KyselyStore's listBySubject. */
export const MAX_LIST_LIMIT = 10_000
/**
 * The largest `limit` of a devices page (SessionManager's listSubject, the adapters'
 * listBySubject), and the largest maxSessionsPerSubject.
 */
export const MAX_DEVICES_LIMIT = 1000

/** A list's `limit`: {@link DEFAULT_LIST_LIMIT} when undefined, else an integer from 1 to `max`. */
export function listLimit(limit: unknown, max: number): number {
  if (limit === undefined) return DEFAULT_LIST_LIMIT
  checkPositiveInteger('limit', limit, max)
  return limit
}

export function checkInteger(
  name: string,
  value: unknown,
  min: number,
  max: number,
): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${kind(value)}`)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`)
  }
}

export function checkFunction(name: string, value: unknown): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${kind(value)}`)
}

/** Whether `value` is a Kysely instance: of any copy of Kysely, so tested by shape. */
export function isKysely(value: unknown): value is Kysely<any> {
  const candidate = value as Partial<Kysely<any>> | null | undefined
  return typeof candidate?.executeQuery === 'function' && typeof candidate.selectFrom === 'function'
}

/** `name` (the store's and migrate()'s `db`, the importer's `db` and `source`) must be a Kysely instance. */
export function checkKysely(name: string, value: unknown): asserts value is Kysely<any> {
  if (!isKysely(value)) {
    throw new TypeError(
      `${name} must be a Kysely instance, for example pglite() from kysely-session-store/pglite or new Kysely({ dialect })`,
    )
  }
}

export function checkObject(name: string, value: unknown): asserts value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${kind(value)}`)
  }
}

/**
 * Throws a TypeError when `options` has a key that is not in `known`: a misspelt option
 * (`{ table: 'x' }` for `tableName`) must not be ignored silently. `name` is how the message
 * refers to the object, for example `options` or `cookie`.
 */
export function checkKnownKeys(name: string, options: object, known: readonly string[]): void {
  const key = unknownKey(options, known)
  if (key !== undefined) {
    throw new TypeError(`${name}.${key} is not an option here; the options are: ${known.join(', ')}`)
  }
}

/** The first key of `options` that is not in `known`, or undefined. */
export function unknownKey(options: object, known: readonly string[]): string | undefined {
  return Object.keys(options).find((key) => !known.includes(key))
}
