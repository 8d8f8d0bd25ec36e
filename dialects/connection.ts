/** What the server factories (`postgres()`, `mysql()`) share: their pool options and URL checks. */
import type { KyselyConfig } from 'kysely'
import { FactoryError } from '../src/errors.js'
import {
  checkFunction,
  checkKnownKeys,
  checkObject,
  checkPositiveInteger,
  MAX_INTERVAL_MS,
} from '../src/validate.js'

/**
 * How long a server factory waits for a connection unless told otherwise: 10 seconds (mysql2's
 * own default; pg's is to wait forever). A server that accepts TCP and never answers, or a
 * pool whose connections are all stuck, then fails a statement after 10 s instead of never.
 *
 * @example
 * ```ts
 * import { postgres, DEFAULT_CONNECTION_TIMEOUT } from 'kysely-session-store/postgres'
 *
 * const db = postgres('postgres://app@db/app', { connectionTimeout: DEFAULT_CONNECTION_TIMEOUT / 2 })
 * ```
 */
export const DEFAULT_CONNECTION_TIMEOUT = 10_000

/** The largest pool a factory opens. */
const MAX_POOL_SIZE = 10_000

/**
 * The options both server factories take for the pool they open from a connection string.
 *
 * @example
 * ```ts
 * import type { ServerPoolOptions } from 'kysely-session-store/postgres'
 *
 * const options: ServerPoolOptions = { poolSize: 20, connectionTimeout: 5_000, idleTimeout: 30_000 }
 * ```
 */
export interface ServerPoolOptions {
  /**
   * The most connections the pool opens (pg's `max`, mysql2's `connectionLimit`).
   * @default 10
   */
  readonly poolSize?: number
  /**
   * Milliseconds a statement may wait for a connection: for a new one to open, or for a busy
   * pool to free one. Past it the attempt fails with a {@link ConnectionTimeoutError}, which the
   * store retries within its `retryBudget` (it is a network failure, code `ETIMEDOUT`) and
   * then passes on as the cause of its error; `migrate()` passes it on at once.
   * @default 10_000 (DEFAULT_CONNECTION_TIMEOUT)
   */
  readonly connectionTimeout?: number
  /**
   * Milliseconds an unused connection stays open before the pool closes it (pg's
   * `idleTimeoutMillis`, mysql2's `idleTimeout`).
   * @default the driver's: 10_000 for pg, 60_000 for mysql2
   */
  readonly idleTimeout?: number
}

/** Kysely's own options a factory passes on. */
export const KYSELY_KEYS = ['log', 'plugins'] as const
export const POOL_KEYS = ['poolSize', 'connectionTimeout', 'idleTimeout'] as const

/**
 * The cause of a store error when no connection could be had within `connectionTimeout`: the
 * server did not complete the handshake in time (it is down behind a proxy, overloaded, or a
 * host that accepts TCP and never answers), or every connection of the pool stayed busy.
 *
 * @example
 * ```ts
 * import { SessionStoreError } from 'kysely-session-store'
 * import { ConnectionTimeoutError } from 'kysely-session-store/postgres'
 *
 * try {
 *   await store.find(token)
 * } catch (error) {
 *   if (error instanceof SessionStoreError && error.cause instanceof ConnectionTimeoutError) {
 *     // the database did not answer in time: answer 503 rather than 500
 *   }
 * }
 * ```
 */
export class ConnectionTimeoutError extends FactoryError {
  override readonly name = 'ConnectionTimeoutError'
  /** Node's code for a timed-out connection, as mysql2 sets it, so one check fits both drivers. */
  readonly code = 'ETIMEDOUT'
}

/**
 * Checks a factory's options object: only `known` keys, Kysely's `log` and `plugins`, and the
 * pool options. Where the caller passed a pool of their own (`ownPool` false), the pool
 * options and the keys of `poolOnly` are refused: each entry lists keys and what to do
 * instead on that pool; the pool options' is `poolAdvice`.
 */
export function checkFactoryOptions(
  factory: string,
  options: unknown,
  known: readonly string[],
  ownPool: boolean,
  poolAdvice: string,
  poolOnly: ReadonlyArray<readonly [keys: readonly string[], advice: string]> = [],
): void {
  if (options === undefined) return
  checkObject('options', options)
  if ('dialect' in options) {
    throw new TypeError(
      `${factory}(..., options): options must not contain a dialect; ${factory}() makes its own`,
    )
  }
  checkKnownKeys('options', options, [...KYSELY_KEYS, ...POOL_KEYS, ...known])
  const values = options as Record<string, unknown>
  if (!ownPool) {
    for (const [keys, advice] of [[POOL_KEYS, poolAdvice] as const, ...poolOnly]) {
      const key = keys.find((k) => values[k] !== undefined)
      if (key !== undefined) {
        throw new TypeError(
          `options.${key} applies only to a pool ${factory}() opens from a connection string; ${advice}`,
        )
      }
    }
  }
  if (values.poolSize !== undefined) checkPositiveInteger('options.poolSize', values.poolSize, MAX_POOL_SIZE)
  for (const key of ['connectionTimeout', 'idleTimeout']) {
    if (values[key] !== undefined) checkPositiveInteger(`options.${key}`, values[key], MAX_INTERVAL_MS)
  }
  if (values.plugins !== undefined && !Array.isArray(values.plugins)) {
    throw new TypeError('options.plugins must be an array of Kysely plugins')
  }
  if (values.log !== undefined && !Array.isArray(values.log)) checkFunction('options.log', values.log)
}

/** Kysely's options from a factory's options object. */
export function kyselyOptions(options: Record<string, unknown> | undefined): Omit<KyselyConfig, 'dialect'> {
  const picked: Record<string, unknown> = {}
  for (const key of KYSELY_KEYS) if (options?.[key] !== undefined) picked[key] = options[key]
  return picked
}

const HTTP =
  "an HTTP URL: give the database's own URL (postgres://, mysql://), or use a driver for that server's engine"

/** What a URL of each scheme users give a factory is, and what to use instead. */
const SCHEMES: Record<string, string> = {
  postgres: "a Postgres URL: use postgres() from 'kysely-session-store/postgres'",
  postgresql: "a Postgres URL: use postgres() from 'kysely-session-store/postgres'",
  mysql: "a MySQL URL: use mysql() from 'kysely-session-store/mysql'",
  mariadb: "a MariaDB URL: use mysql() from 'kysely-session-store/mysql'",
  mysqlx: "a MySQL X Protocol URL: use mysql() from 'kysely-session-store/mysql' with a mysql:// URL",
  file: "a file: use sqlite() from 'kysely-session-store/sqlite', or pglite(dataDir) from 'kysely-session-store/pglite'",
  sqlite: "a SQLite URL: use sqlite() from 'kysely-session-store/sqlite'",
  sqlite3: "a SQLite URL: use sqlite() from 'kysely-session-store/sqlite'",
  memory: "an in-memory database: use pglite() from 'kysely-session-store/pglite' or sqlite(':memory:')",
  idb: "a PGlite IndexedDB URL: use pglite() from 'kysely-session-store/pglite'",
  libsql: "a libSQL URL: use Kysely's SqliteDialect over the libsql package, or @libsql/kysely-libsql",
  http: HTTP,
  https: HTTP,
  redis: 'a Redis URL: this store needs a SQL database',
  mongodb: 'a MongoDB URL: this store needs a SQL database',
}

/**
 * A RangeError when `scheme` (lowercase, without its colon) names another engine than the
 * factory's, or undefined for one in `accepted` or one no engine is known by. Only the scheme
 * is quoted: a URL may hold a password.
 */
export function otherEngine(
  argument: string,
  scheme: string,
  accepted: readonly string[],
): RangeError | undefined {
  if (accepted.includes(scheme) || !Object.hasOwn(SCHEMES, scheme)) return undefined
  return new RangeError(`${argument}: '${scheme}:' is ${SCHEMES[scheme]}`)
}

/**
 * Throws a RangeError when `url` names another engine than the factory's (`mysql://` given to
 * postgres(), a SQLite file, ...). Only the scheme is quoted: a URL may hold a password.
 */
export function checkScheme(factory: string, url: string, accepted: readonly string[]): void {
  const argument = `${factory}(poolOrConnectionString)`
  const trimmed = url.trim()
  if (trimmed === ':memory:' || /\.(db|sqlite3?)$/i.test(trimmed)) {
    throw new RangeError(
      `${argument}: this looks like a SQLite file: use sqlite() from 'kysely-session-store/sqlite'`,
    )
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(trimmed)?.[1]?.toLowerCase()
  if (scheme === undefined || accepted.includes(scheme)) return
  throw (
    otherEngine(argument, scheme, accepted) ??
    new RangeError(
      `${argument}: expected a ${accepted.map((s) => `${s}://`).join(' or ')} URL, got one with the scheme '${scheme}:'`,
    )
  )
}

/**
 * The message of the {@link ConnectionTimeoutError} of a pool a factory opened from `url`,
 * which names the server's `host:port` (never its user or password).
 */
export function connectionTimeoutMessage(factory: string, timeout: number, url: string): string {
  let endpoint = ''
  try {
    const { hostname, port } = new URL(url)
    if (hostname) endpoint = ` at ${hostname}${port ? `:${port}` : ''}`
  } catch {
    // not a URL: name no server
  }
  return (
    `${factory}(): no connection within ${timeout} ms (the connectionTimeout option): the server${endpoint} ` +
    'did not complete a connection in time, or every connection of the pool stayed busy'
  )
}
