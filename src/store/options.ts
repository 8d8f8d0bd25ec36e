import type { SessionStoreError } from '../errors.js'
import { familyNames, type FamilyName } from '../families/index.js'
import {
  checkFunction,
  checkIdentifier,
  checkInteger,
  checkKnownKeys,
  checkObject,
  checkPositiveInteger,
  checkTableName,
  MAX_INTERVAL_MS,
} from '../validate.js'

/**
 * The table the store uses unless told otherwise (SCS's name).
 *
 * @example
 * ```ts
 * import { DEFAULT_TABLE_NAME, KyselyStore } from 'kysely-session-store'
 *
 * new KyselyStore(db, 0, { tableName: DEFAULT_TABLE_NAME }) // the same as no tableName
 * ```
 */
export const DEFAULT_TABLE_NAME = 'sessions'
/**
 * Background cleanup runs this often unless told otherwise: 5 minutes, as in SCS.
 *
 * @example
 * ```ts
 * import { DEFAULT_CLEANUP_INTERVAL, KyselyStore } from 'kysely-session-store'
 *
 * new KyselyStore(db, DEFAULT_CLEANUP_INTERVAL * 6) // every 30 minutes
 * ```
 */
export const DEFAULT_CLEANUP_INTERVAL = 5 * 60_000
/**
 * Rows one cleanup statement deletes at most, unless `cleanupBatchSize` says otherwise.
 *
 * @example
 * ```ts
 * import { DEFAULT_CLEANUP_BATCH_SIZE, KyselyStore } from 'kysely-session-store'
 *
 * new KyselyStore(db, 60_000, { cleanupBatchSize: DEFAULT_CLEANUP_BATCH_SIZE * 5 })
 * ```
 */
export const DEFAULT_CLEANUP_BATCH_SIZE = 1000
/**
 * The largest session data the store accepts unless told otherwise: 4 MiB. Sessions are
 * small; this keeps one bad request from writing huge rows, and stays under what every
 * engine takes in one statement by default (MySQL's max_allowed_packet is 16 MiB, and its
 * driver sends bytes as hex).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_DATA_SIZE, KyselyStore } from 'kysely-session-store'
 *
 * new KyselyStore(db, 60_000, { maxDataSize: DEFAULT_MAX_DATA_SIZE * 4 }) // 16 MiB
 * ```
 */
export const DEFAULT_MAX_DATA_SIZE = 4 * 1024 * 1024
/**
 * How long one store call may take unless told otherwise, retries included: 10 s. A call
 * still waiting then rejects with a `SessionStoreError` whose code is `'timeout'`.
 *
 * @example
 * ```ts
 * import { DEFAULT_TIMEOUT, KyselyStore } from 'kysely-session-store'
 *
 * new KyselyStore(db, 60_000, { timeout: DEFAULT_TIMEOUT / 5 }) // 2 s
 * ```
 */
export const DEFAULT_TIMEOUT = 10_000
/**
 * How long the store keeps retrying a statement that failed without effect (or a read whose
 * connection was lost), unless told otherwise: 5 s, enough to ride out a pooler's reconnect
 * or a proxy repointed at a promoted standby. 0 turns retries off.
 *
 * @example
 * ```ts
 * import { DEFAULT_RETRY_BUDGET, KyselyStore } from 'kysely-session-store'
 *
 * new KyselyStore(db, 60_000, { retryBudget: DEFAULT_RETRY_BUDGET * 3, timeout: 20_000 }) // a slow failover
 * ```
 */
export const DEFAULT_RETRY_BUDGET = 5_000
/** The largest accepted `maxDataSize`: 1 GiB, Postgres's limit for one value. */
export const MAX_DATA_SIZE = 1024 * 1024 * 1024
/** The largest accepted `cleanupBatchSize`. */
export const MAX_CLEANUP_BATCH_SIZE = 100_000

/**
 * Options of {@link KyselyStore}. Every field is optional; a key not listed here is refused.
 *
 * @example
 * ```ts
 * import { KyselyStore, type KyselyStoreOptions } from 'kysely-session-store'
 *
 * const options: KyselyStoreOptions = {
 *   tableName: 'app_sessions',
 *   onError: (error) => console.warn(error.message),
 * }
 * const store = new KyselyStore(db, 60_000, options)
 * ```
 */
export interface KyselyStoreOptions {
  /**
   * The sessions table: a plain identifier (letters, digits, `_`), quoted in every statement.
   * @default 'sessions'
   */
  readonly tableName?: string
  /**
   * The Postgres schema or the MySQL database the table lives in, a plain identifier; not
   * on SQLite.
   * @default the connection's own (Postgres: the first of the `search_path`)
   */
  readonly schema?: string
  /**
   * Receives every failure of a background cleanup run; the timer keeps going. Its message
   * never contains a token or session data.
   * @default one `console.warn` line per failure
   */
  readonly onError?: (error: SessionStoreError) => void
  /**
   * The application's clock, in milliseconds since the epoch. It alone decides what is
   * expired, on every engine (the database's clock is never asked). Inject one in tests.
   * @default Date.now
   */
  readonly now?: () => number
  /**
   * The most rows one cleanup statement deletes; a run repeats statements until fewer
   * expired rows than this remain, so no statement holds long locks.
   * @default 1000
   */
  readonly cleanupBatchSize?: number
  /**
   * The largest session data `commit` accepts, in bytes; larger data is refused with a
   * RangeError before any query.
   * @default 4 MiB
   */
  readonly maxDataSize?: number
  /**
   * How long one store call may take, in milliseconds, retries included; then it rejects
   * with a `SessionStoreError` whose code is `'timeout'` (naming the last failure, when a try
   * failed). With `postgres()` and `mysql()` (on their own pools or yours), the statement in
   * flight is then cancelled on the server (`pg_cancel_backend`, `KILL QUERY`, each from a
   * connection of its own outside the pool) and one still waiting for a pool connection is
   * never sent, so that it neither keeps waiting there nor lands later. Nothing of the call
   * runs after it settled. On a Kysely instance of your own making, PGlite and SQLite the call
   * rejects and the statement finishes where it runs.
   * @default 10 s
   */
  readonly timeout?: number
  /**
   * How long, in milliseconds, a failed statement is tried again, on a new connection, with a
   * short growing pause between tries; never inside a transaction of yours. Any statement is
   * tried again after a failure that proves it had no effect: no connection could be had
   * (refused, or none within `connectionTimeout`), a deadlock victim, a server shutting down
   * or terminating the connection (`57P01`), read-only during a promotion. A read is also
   * tried again when its connection was lost in flight; a write then rejects instead, since it
   * may have committed and running it again could undo a write made in between (a sign-out
   * replayed over a newer login). 0 turns retries off.
   * @default 5 s
   */
  readonly retryBudget?: number
  /**
   * The SQL family of `db`, when detection from its compiled SQL is not wanted.
   * @default detected from `db`
   */
  readonly family?: FamilyName
}

/**
 * How one option is resolved: its value when absent (`undefined`: none) and its check, which
 * throws a TypeError or RangeError naming the option. The check also runs on the default.
 */
export interface OptionSpec<T> {
  readonly default: T | undefined
  readonly check: (value: unknown) => void
}

/** One {@link OptionSpec} per option of `Options`: a missing or extra entry does not compile. */
export type OptionSpecs<Options> = {
  readonly [K in keyof Options]-?: OptionSpec<Exclude<Options[K], undefined>>
}

/** Options with every default applied: an option without a default may stay undefined. */
export type Resolved<Options, Specs extends OptionSpecs<Options>> = {
  readonly [K in keyof Options]-?: Specs[K]['default'] extends undefined
    ? Options[K]
    : Exclude<Options[K], undefined>
}

/**
 * Every option of {@link KyselyStoreOptions}: a new option is its field there (with its TSDoc
 * and `@default`) and one entry here. Checked in this order. `migrate()` takes some of them.
 */
export const STORE_OPTIONS = {
  tableName: { default: DEFAULT_TABLE_NAME, check: checkTableName },
  schema: { default: undefined, check: (value) => checkIdentifier('schema', value) },
  onError: { default: warn, check: (value) => checkFunction('onError', value) },
  now: { default: Date.now, check: (value) => checkFunction('now', value) },
  cleanupBatchSize: {
    default: DEFAULT_CLEANUP_BATCH_SIZE,
    check: (value) => checkPositiveInteger('cleanupBatchSize', value, MAX_CLEANUP_BATCH_SIZE),
  },
  maxDataSize: {
    default: DEFAULT_MAX_DATA_SIZE,
    check: (value) => checkPositiveInteger('maxDataSize', value, MAX_DATA_SIZE),
  },
  timeout: {
    default: DEFAULT_TIMEOUT,
    check: (value) => checkPositiveInteger('timeout', value, MAX_INTERVAL_MS),
  },
  retryBudget: {
    default: DEFAULT_RETRY_BUDGET,
    check: (value) => checkInteger('retryBudget', value, 0, MAX_INTERVAL_MS),
  },
  family: { default: undefined, check: checkFamily },
} satisfies OptionSpecs<KyselyStoreOptions>

/** The store's options with every default applied; frozen. */
export type ResolvedOptions = Resolved<KyselyStoreOptions, typeof STORE_OPTIONS>

function warn(error: SessionStoreError): void {
  console.warn(`kysely-session-store: ${error.message}`)
}

/** Checks `options` and applies the defaults, without touching the caller's object. */
export function resolveOptions(options: KyselyStoreOptions | undefined): ResolvedOptions {
  return resolveWith(STORE_OPTIONS, options)
}

/**
 * Checks an options object against `specs` (an object, only their keys, each value) and
 * applies the defaults; returns a frozen copy.
 */
export function resolveWith<Options extends object, Specs extends OptionSpecs<Options>>(
  specs: Specs,
  options: Options | undefined,
): Resolved<Options, Specs> {
  if (options !== undefined) {
    checkObject('options', options)
    checkKnownKeys('options', options, Object.keys(specs))
  }
  const resolved: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries<OptionSpec<unknown>>(specs)) {
    const given = (options as Record<string, unknown> | undefined)?.[name]
    const value = given === undefined ? spec.default : given
    if (value !== undefined) spec.check(value)
    resolved[name] = value
  }
  return Object.freeze(resolved) as Resolved<Options, Specs>
}

function checkFamily(family: unknown): asserts family is FamilyName | undefined {
  if (family !== undefined && !familyNames.includes(family as FamilyName)) {
    throw new RangeError(
      `family must be one of ${familyNames.map((n) => `'${n}'`).join(', ')}, got ${JSON.stringify(String(family))}`,
    )
  }
}
