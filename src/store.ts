import { setTimeout as sleep } from 'node:timers/promises'
import { CompiledQuery, type Kysely, type QueryResult } from 'kysely'
import { CleanupScheduler } from './cleanup.js'
import { describeCause, redact, SessionStoreError } from './errors.js'
import { resolveFamily, type SqlFamily, type Statements } from './families/index.js'
import {
  DEFAULT_CLEANUP_INTERVAL,
  resolveOptions,
  type KyselyStoreOptions,
  type ResolvedOptions,
} from './options.js'
import {
  checkData,
  checkExpiry,
  checkInterval,
  checkObject,
  checkPositiveInteger,
  checkToken,
} from './validate.js'

/** How often a statement chosen as a deadlock victim is tried in all. */
const DEADLOCK_ATTEMPTS = 4

/** Rows per page of {@link KyselyStore.entries}, unless told otherwise. */
const DEFAULT_PAGE_SIZE = 1000
const MAX_PAGE_SIZE = 100_000

/**
 * A session store on any Kysely instance: Postgres, PGlite, SQLite or MySQL/MariaDB, one
 * code path.
 *
 * Sessions live in a table `sessions(token, data, expiry)` (create it with {@link migrate}).
 * A session is live while the application's clock reads earlier than its expiry. A
 * background cleanup deletes expired rows every `cleanupInterval` milliseconds (default
 * 5 minutes; 0 disables it; each wait is jittered by ±10% so that instances started together
 * drift apart). The store never closes `db`: the caller owns it.
 *
 * @example
 * ```ts
 * import { KyselyStore, migrate } from 'kysely-session-store'
 * import { pglite } from 'kysely-session-store/pglite'
 *
 * const db = pglite()
 * await migrate(db)
 * await using store = new KyselyStore(db, 60_000)
 * await store.commit('token', new TextEncoder().encode('{"n":1}'), new Date(Date.now() + 3600_000))
 * const data = await store.find('token') // Uint8Array
 * ```
 */
export class KyselyStore implements AsyncDisposable {
  readonly #db: Kysely<any>
  readonly #options: ResolvedOptions
  readonly #family: SqlFamily
  readonly #sql: Statements
  readonly #scheduler: CleanupScheduler
  #lastCleanup: Promise<unknown> = Promise.resolve()

  /**
   * @param db - any Kysely instance on Postgres, PGlite, SQLite or MySQL; never closed by the store.
   * @param cleanupInterval - milliseconds between background cleanups; 0 disables them.
   * @param options - see {@link KyselyStoreOptions}.
   * @throws TypeError or RangeError, before any query, when an argument is not valid.
   *
   * @example
   * ```ts
   * const store = new KyselyStore(db)                 // cleanup every 5 minutes
   * const manual = new KyselyStore(db, 0)             // no background cleanup
   * const custom = new KyselyStore(db, 30 * 60_000, { tableName: 'app_sessions' })
   * ```
   */
  constructor(
    db: Kysely<any>,
    cleanupInterval: number = DEFAULT_CLEANUP_INTERVAL,
    options?: KyselyStoreOptions,
  ) {
    checkKysely(db)
    checkInterval('cleanupInterval', cleanupInterval)
    this.#options = resolveOptions(options)
    this.#db = db
    this.#family = resolveFamily(db, this.#options.family)
    this.#sql = this.#family.statements(this.#options.tableName)
    const { onError } = this.#options
    this.#scheduler = new CleanupScheduler(
      (signal) => this.#serialisedCleanup(signal),
      cleanupInterval,
      (error) => onError(error as SessionStoreError),
    )
  }

  /**
   * The data of a live session, or `undefined` when the token is unknown or its session has
   * expired (expired rows are invisible even before a cleanup removed them).
   *
   * @example
   * ```ts
   * const data = await store.find(token)
   * if (data === undefined) startNewSession()
   * ```
   */
  async find(token: string): Promise<Uint8Array | undefined> {
    checkToken(token)
    const result = await this.#run<{ data: Uint8Array }>('find', this.#sql.find, [token, this.#now()])
    return result.rows[0]?.data
  }

  /**
   * Stores `data` under `token` until `expiry`: inserts a new session, or replaces both the
   * data and the expiry of an existing one (an expiry moved earlier, even into the past,
   * takes effect). Data larger than `maxDataSize` (default 4 MiB) is refused.
   *
   * @example
   * ```ts
   * await store.commit(token, new TextEncoder().encode('{"user":42}'), new Date(Date.now() + 3600_000))
   * ```
   */
  async commit(token: string, data: Uint8Array, expiry: Date): Promise<void> {
    checkToken(token)
    checkData(data, this.#options.maxDataSize)
    checkExpiry(expiry)
    const family = this.#family
    await this.#run('commit', this.#sql.commit, [token, family.data(data), family.expiry(expiry.getTime())])
  }

  /**
   * Moves the expiry of a live session without rewriting its data, and resolves to `true`.
   * Resolves to `false`, changing nothing, when the token is unknown or its session has
   * already expired (a touch never revives a session).
   *
   * @example
   * ```ts
   * await store.touch(token, new Date(Date.now() + 30 * 60_000)) // extend an idle timeout
   * ```
   */
  async touch(token: string, expiry: Date): Promise<boolean> {
    checkToken(token)
    checkExpiry(expiry)
    const result = await this.#run('touch', this.#sql.touch, [
      this.#family.expiry(expiry.getTime()),
      token,
      this.#now(),
    ])
    return Number(result.numAffectedRows ?? 0) > 0
  }

  /**
   * Deletes the session of `token`; an unknown token is a no-op.
   *
   * @example
   * ```ts
   * await store.delete(token) // at logout
   * ```
   */
  async delete(token: string): Promise<void> {
    checkToken(token)
    await this.#run('delete', this.#sql.delete, [token])
  }

  /**
   * Every live session, token to data; expired sessions are omitted.
   *
   * @example
   * ```ts
   * for (const [token, data] of await store.all()) console.log(token, data.length)
   * ```
   */
  async all(): Promise<Map<string, Uint8Array>> {
    const result = await this.#run<{ token: string; data: Uint8Array }>('all', this.#sql.all, [this.#now()])
    return new Map(result.rows.map((row) => [row.token, row.data]))
  }

  /**
   * Every live session, as an async iterable of `[token, data]` read in pages of
   * `pageSize` rows ordered by token (keyset pagination: each page is one indexed query), so
   * memory stays bounded however many sessions there are. A session committed or deleted
   * while the iteration runs may or may not be seen.
   *
   * @example
   * ```ts
   * for await (const [token, data] of store.entries({ pageSize: 500 })) count++
   * ```
   */
  entries(options: { pageSize?: number } = {}): AsyncGenerator<[string, Uint8Array]> {
    checkObject('options', options)
    const { pageSize = DEFAULT_PAGE_SIZE } = options
    checkPositiveInteger('pageSize', pageSize, MAX_PAGE_SIZE)
    return this.#pages(pageSize)
  }

  async *#pages(pageSize: number): AsyncGenerator<[string, Uint8Array]> {
    let after = ''
    for (;;) {
      const { rows } = await this.#run<{ token: string; data: Uint8Array }>('entries', this.#sql.page, [
        this.#now(),
        after,
        pageSize,
      ])
      for (const row of rows) yield [row.token, row.data]
      if (rows.length < pageSize) return
      after = rows[rows.length - 1]!.token
    }
  }

  /**
   * Deletes expired sessions now, in batches of `cleanupBatchSize` rows, and resolves to how
   * many were deleted. Runs never overlap: a call made while another run is in progress
   * starts after it.
   *
   * @example
   * ```ts
   * const deleted = await store.cleanup()
   * ```
   */
  cleanup(): Promise<number> {
    return this.#serialisedCleanup(undefined)
  }

  /**
   * Stops the background cleanup. Resolves once a run in progress has finished; after
   * that the store's timer issues no query. Idempotent. The store stays usable.
   *
   * @example
   * ```ts
   * afterAll(() => store.stopCleanup())
   * ```
   */
  stopCleanup(): Promise<void> {
    return this.#scheduler.stop()
  }

  /**
   * Stops the background cleanup, for `await using`. Does not close the database.
   *
   * @example
   * ```ts
   * {
   *   await using store = new KyselyStore(db)
   *   await store.find(token)
   * } // cleanup stopped here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stopCleanup()
  }

  #now(): unknown {
    return this.#family.expiry(this.#options.now())
  }

  #serialisedCleanup(signal: AbortSignal | undefined): Promise<number> {
    const run = this.#lastCleanup.then(() => this.#cleanup(signal))
    this.#lastCleanup = run.catch(() => undefined)
    return run
  }

  async #cleanup(signal: AbortSignal | undefined): Promise<number> {
    const batch = this.#options.cleanupBatchSize
    const now = this.#now()
    let deleted = 0
    while (!signal?.aborted) {
      const result = await this.#run('cleanup', this.#sql.cleanup, [now, batch])
      const n = Number(result.numAffectedRows ?? 0)
      deleted += n
      if (n < batch) break
    }
    return deleted
  }

  async #run<R>(operation: string, sql: string, parameters: unknown[]): Promise<QueryResult<R>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#db.executeQuery<R>(CompiledQuery.raw(sql, parameters))
      } catch (cause) {
        // A deadlock victim had no effect, and each statement stands alone: run it again. Not
        // inside a caller's transaction, which the engine has rolled back as a whole.
        if (attempt < DEADLOCK_ATTEMPTS && this.#family.isDeadlock(cause) && !this.#db.isTransaction) {
          await sleep(attempt * 5 + Math.random() * 10)
          continue
        }
        throw engineError(operation, this.#options.tableName, this.#family, redact(cause, sql, parameters))
      }
    }
  }
}

function engineError(operation: string, table: string, family: SqlFamily, cause: unknown): SessionStoreError {
  if (family.isMissingTable(cause)) {
    const fix = table === 'sessions' ? 'migrate(db)' : `migrate(db, { tableName: '${table}' })`
    return new SessionStoreError(
      `${operation} failed: table "${table}" does not exist: run ${fix} or apply schema/${family.name}.sql`,
      'missing_table',
      cause,
    )
  }
  return new SessionStoreError(
    `${operation} on table "${table}" failed: ${describeCause(cause)} (see error.cause)`,
    'engine',
    cause,
  )
}

function checkKysely(db: unknown): asserts db is Kysely<any> {
  const candidate = db as Partial<Kysely<any>> | null | undefined
  if (typeof candidate?.executeQuery !== 'function' || typeof candidate.selectFrom !== 'function') {
    throw new TypeError(
      'db must be a Kysely instance, for example pglite() from kysely-session-store/pglite or new Kysely({ dialect })',
    )
  }
}
