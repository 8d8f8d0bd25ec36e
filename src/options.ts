import type { SessionStoreError } from './errors.js'
import { familyNames, type FamilyName } from './families/index.js'
import { checkFunction, checkObject, checkPositiveInteger, checkTableName } from './validate.js'

/**
 * The table the store uses unless told otherwise (SCS's name).
 *
 * @example
 * ```ts
 * new KyselyStore(db).find(token) // reads table "sessions" (DEFAULT_TABLE_NAME)
 * ```
 */
export const DEFAULT_TABLE_NAME = 'sessions'
/**
 * Background cleanup runs this often unless told otherwise: 5 minutes, as in SCS.
 *
 * @example
 * ```ts
 * new KyselyStore(db, DEFAULT_CLEANUP_INTERVAL * 6) // every 30 minutes
 * ```
 */
export const DEFAULT_CLEANUP_INTERVAL = 5 * 60_000
/**
 * Rows one cleanup statement deletes at most, unless `cleanupBatchSize` says otherwise.
 *
 * @example
 * ```ts
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
 * new KyselyStore(db, 60_000, { maxDataSize: DEFAULT_MAX_DATA_SIZE * 4 }) // 16 MiB
 * ```
 */
export const DEFAULT_MAX_DATA_SIZE = 4 * 1024 * 1024
/** The largest accepted `maxDataSize`: 1 GiB, Postgres's limit for one value. */
export const MAX_DATA_SIZE = 1024 * 1024 * 1024
/** The largest accepted `cleanupBatchSize`. */
export const MAX_CLEANUP_BATCH_SIZE = 100_000

/**
 * Options of {@link KyselyStore}. Every field is optional.
 *
 * @example
 * ```ts
 * const store = new KyselyStore(db, 60_000, {
 *   tableName: 'app_sessions',
 *   onError: (error) => logger.warn(error.message),
 * })
 * ```
 */
export interface KyselyStoreOptions {
  /**
   * The sessions table: a plain identifier (letters, digits, `_`), quoted in every statement.
   * @default 'sessions'
   */
  readonly tableName?: string
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
   * The SQL family of `db`, when detection from its compiled SQL is not wanted.
   * @default detected from `db`
   */
  readonly family?: FamilyName
}

/** Options with every default applied; frozen. */
export interface ResolvedOptions {
  readonly tableName: string
  readonly onError: (error: SessionStoreError) => void
  readonly now: () => number
  readonly cleanupBatchSize: number
  readonly maxDataSize: number
  readonly family: FamilyName | undefined
}

function warn(error: SessionStoreError): void {
  console.warn(`kysely-session-store: ${error.message}`)
}

/** Checks `options` and applies the defaults, without touching the caller's object. */
export function resolveOptions(options: KyselyStoreOptions | undefined): ResolvedOptions {
  if (options !== undefined) checkObject('options', options)
  const { tableName = DEFAULT_TABLE_NAME, onError = warn, now = Date.now } = options ?? {}
  const {
    cleanupBatchSize = DEFAULT_CLEANUP_BATCH_SIZE,
    maxDataSize = DEFAULT_MAX_DATA_SIZE,
    family,
  } = options ?? {}
  checkTableName(tableName)
  checkFunction('onError', onError)
  checkFunction('now', now)
  checkPositiveInteger('cleanupBatchSize', cleanupBatchSize, MAX_CLEANUP_BATCH_SIZE)
  checkPositiveInteger('maxDataSize', maxDataSize, MAX_DATA_SIZE)
  checkFamily(family)
  return Object.freeze({ tableName, onError, now, cleanupBatchSize, maxDataSize, family })
}

export function checkFamily(family: unknown): asserts family is FamilyName | undefined {
  if (family !== undefined && !familyNames.includes(family as FamilyName)) {
    throw new RangeError(
      `family must be one of ${familyNames.map((n) => `'${n}'`).join(', ')}, got ${JSON.stringify(String(family))}`,
    )
  }
}
