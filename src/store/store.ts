import { RawNode, type CompiledQuery, type Kysely, type QueryResult } from 'kysely'
import { CleanupScheduler } from './cleanup.js'
import {
  cancellerOf,
  directRunnerOf,
  queryRunnerOf,
  type Canceller,
  type DirectRunner,
  type QueryRunner,
} from './direct.js'
import { ReadGatherer, type Gathered } from './gather.js'
import { calls, cleanups, retries, type StoreCall } from './diagnostics.js'
import { describeCause, redact, SessionStoreError } from '../errors.js'
import {
  resolveFamily,
  timeMs,
  TOMBSTONE_MARGIN,
  type SqlFamily,
  type Statement,
  type Statements,
} from '../families/index.js'
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
  checkKnownKeys,
  checkKysely,
  checkObject,
  checkPositiveInteger,
  checkSubject,
  checkToken,
  listLimit,
  MAX_LIST_LIMIT,
} from '../validate.js'

/** Rows per page of {@link KyselyStore.entries}, unless told otherwise. */
const DEFAULT_PAGE_SIZE = 1000
const MAX_PAGE_SIZE = 100_000
/** The first pause before a retry, doubled each time up to {@link MAX_RETRY_DELAY}. */
const FIRST_RETRY_DELAY = 10
const MAX_RETRY_DELAY = 1000
const EMPTY = new Uint8Array(0)

/**
 * A live session as {@link KyselyStore.get} returns it.
 *
 * @example
 * ```ts
 * import type { StoredSession } from 'kysely-session-store'
 *
 * const stored: StoredSession | undefined = await store.get(token)
 * if (stored) console.log(stored.expiry, stored.subject)
 * ```
 */
export interface StoredSession {
  readonly data: Uint8Array
  readonly expiry: Date
  /** Whom the session belongs to, or null. */
  readonly subject: string | null
  /** When it was first committed; null for rows written by another program (SCS). */
  readonly createdAt: Date | null
  /** When it was last committed, updated or touched; null for rows written by another program. */
  readonly lastSeenAt: Date | null
}

/**
 * One of a subject's live sessions, as {@link KyselyStore.listBySubject} lists it: no data.
 *
 * @example
 * ```ts
 * import type { SubjectSession } from 'kysely-session-store'
 *
 * const devices: SubjectSession[] = await store.listBySubject('user-42')
 * ```
 */
export interface SubjectSession {
  readonly token: string
  readonly expiry: Date
  readonly createdAt: Date | null
  readonly lastSeenAt: Date | null
  /** The session's data: only with `withData: true`. */
  readonly data?: Uint8Array
}

/**
 * Options of {@link KyselyStore.listBySubject}. A key not listed here is refused.
 *
 * @example
 * ```ts
 * import type { ListBySubjectOptions } from 'kysely-session-store'
 *
 * const options: ListBySubjectOptions = { limit: 20, withData: true }
 * const devices = await store.listBySubject('user-42', options)
 * ```
 */
export interface ListBySubjectOptions {
  /**
   * The most sessions to list, 1 to 10,000.
   * @default 100
   */
  readonly limit?: number
  /**
   * List the sessions that come after the session of this token (the last of a page).
   * @default none: from the most recently seen
   */
  readonly after?: string
  /**
   * List only the sessions created at this instant (`null`: those without a creation time,
   * written by another program), as `SessionManager.revoke(id)` finds its session: one
   * indexed lookup. Not with `after` or `withData`.
   * @default none: every live session of the subject
   */
  readonly createdAt?: Date | null
  /**
   * Also return each session's data.
   * @default false
   */
  readonly withData?: boolean
}

/**
 * Options of {@link KyselyStore.commit} and {@link KyselyStore.update}.
 *
 * @example
 * ```ts
 * import type { CommitOptions } from 'kysely-session-store'
 *
 * const options: CommitOptions = { subject: 'user-42' }
 * await store.commit(token, new Uint8Array([1]), new Date(Date.now() + 60_000), options)
 * ```
 */
export interface CommitOptions {
  /**
   * Whom the session belongs to (a user id, 1 to 255 characters), or null for nobody.
   * @default unchanged: a new session has none, an existing one keeps its own
   */
  readonly subject?: string | null
}

/**
 * The store calls the session layer and the adapters make on every request, on a
 * {@link KyselyStore} or on any object with its methods (a wrapper): where the store's direct
 * path ran the statement (`sqlite()` while nobody holds its connection and nobody traces
 * the store's calls) the answer itself, so that the caller goes on in the same turn, without a
 * promise step; otherwise the promise the public method returns. A bad argument is thrown,
 * on every engine; a statement's failure is thrown with an answer given at once, and rejects
 * a promise. Not part of the package's API.
 */
export let storeNow: {
  get(store: Pick<KyselyStore, 'get'>, token: string): Now<StoredSession | undefined>
  find(store: Pick<KyselyStore, 'find'>, token: string): Now<Uint8Array | undefined>
  commit(
    store: Pick<KyselyStore, 'commit'>,
    token: string,
    data: Uint8Array,
    expiry: Date,
    options?: CommitOptions,
  ): Now<void>
  update(
    store: Pick<KyselyStore, 'update'>,
    token: string,
    data: Uint8Array,
    expiry: Date,
    options?: CommitOptions,
  ): Now<boolean>
  touch(store: Pick<KyselyStore, 'touch'>, token: string, expiry: Date): Now<boolean>
  delete(
    store: Pick<KyselyStore, 'delete'>,
    token: string,
    options?: { readonly tombstone?: boolean },
  ): Now<void>
}

/**
 * A session store on any Kysely instance: Postgres, PGlite, SQLite or MySQL/MariaDB, one
 * code path.
 *
 * Sessions live in a table `sessions(token, data, expiry, ...)` (create it with
 * {@link migrate}). A session is live while the application's clock reads earlier than its
 * expiry and it has not been ended. A background cleanup deletes expired rows every
 * `cleanupInterval` milliseconds (default 5 minutes; 0 disables it; each wait is jittered
 * by ±10% so that instances started together drift apart). The store never closes `db`: the
 * caller owns it.
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
  /** Runs a statement without Kysely's executor where that is safe: see {@link DirectRunner}. */
  readonly #direct: DirectRunner | undefined
  readonly #sql: Statements
  readonly #scheduler: CleanupScheduler
  readonly #table: string
  /** Cancels a timed-out statement on the server, where the factory can: see {@link Canceller}. */
  readonly #cancel: Canceller | undefined
  /** Sends a statement to the driver without Kysely's executor where that is safe: see {@link QueryRunner}. */
  readonly #runner: QueryRunner | undefined
  #lastCleanup: Promise<unknown> = Promise.resolve()
  /** Gathers concurrent finds and gets into one statement, where the family has one for many tokens. */
  readonly #gatherer: ReadGatherer<'find' | 'get', Row> | undefined

  static {
    storeNow = {
      get: (store, token) => (#get in store ? store.#get(token) : store.get(token)),
      find: (store, token) => (#find in store ? store.#find(token) : store.find(token)),
      commit: (store, token, data, expiry, options) =>
        #commit in store
          ? store.#commit(token, data, expiry, options)
          : store.commit(token, data, expiry, options),
      update: (store, token, data, expiry, options) =>
        #update in store
          ? store.#update(token, data, expiry, options)
          : store.update(token, data, expiry, options),
      touch: (store, token, expiry) =>
        #touch in store ? store.#touch(token, expiry) : store.touch(token, expiry),
      delete: (store, token, options) =>
        #delete in store ? store.#delete(token, options) : store.delete(token, options),
    }
  }

  /**
   * @param db - any Kysely instance on Postgres, PGlite, SQLite or MySQL; never closed by the store.
   * @param cleanupInterval - milliseconds between background cleanups; 0 disables them.
   * @param options - see {@link KyselyStoreOptions}.
   * @throws TypeError or RangeError, before any query, when an argument is not valid.
   *
   * @example
   * ```ts
   * import { KyselyStore } from 'kysely-session-store'
   *
   * const store = new KyselyStore(db) // cleanup every 5 minutes
   * const manual = new KyselyStore(db, 0) // no background cleanup
   * const custom = new KyselyStore(db, 30 * 60_000, { tableName: 'app_sessions' })
   * ```
   */
  constructor(
    db: Kysely<any>,
    cleanupInterval: number = DEFAULT_CLEANUP_INTERVAL,
    options?: KyselyStoreOptions,
  ) {
    checkKysely('db', db)
    if (typeof cleanupInterval === 'object' && cleanupInterval !== null) {
      throw new TypeError(
        `new KyselyStore(db, cleanupInterval, options): options go third, after cleanupInterval: ` +
          `new KyselyStore(db, ${DEFAULT_CLEANUP_INTERVAL}, { ${Object.keys(cleanupInterval).slice(0, 3).join(', ')} }) ` +
          `(milliseconds between cleanups, or 0 for none)`,
      )
    }
    checkInterval('cleanupInterval', cleanupInterval)
    this.#options = resolveOptions(options)
    this.#db = db
    this.#direct = directRunnerOf(db)
    this.#cancel = cancellerOf(db)
    this.#runner = queryRunnerOf(db)
    const { tableName, schema } = this.#options
    this.#family = resolveFamily(db, this.#options.family, schema)
    this.#table = schema === undefined ? tableName : `${schema}.${tableName}`
    this.#sql = this.#family.statements({ schema, name: tableName })
    const { getMany } = this.#sql
    this.#gatherer =
      getMany === undefined ? undefined : new ReadGatherer((reads) => this.#gathered(reads, getMany))
    const { onError } = this.#options
    this.#scheduler = new CleanupScheduler(
      (signal) => this.#serialisedCleanup(signal),
      cleanupInterval,
      (error) => onError(error as SessionStoreError),
    )
  }

  /**
   * The data of a live session, or `undefined` when the token is unknown, its session has
   * expired (expired rows are invisible even before a cleanup removed them) or was ended.
   *
   * @example
   * ```ts
   * const data = await store.find(token)
   * if (data === undefined) console.log('no session: start a new one')
   * ```
   */
  async find(token: string): Promise<Uint8Array | undefined> {
    return this.#find(token)
  }

  #find(token: string): Now<Uint8Array | undefined> {
    checkToken(token)
    if (this.#gatherer !== undefined) return this.#gatherer.read(token, 'find').then(dataOf)
    return mapNow(this.#run<Row>('find', this.#sql.find, { token, now: this.#now() }), firstData)
  }

  /**
   * A live session with what the table keeps beside its data (expiry, subject, when it was
   * created and last seen), or `undefined` where {@link KyselyStore.find} finds nothing.
   *
   * @example
   * ```ts
   * const stored = await store.get(token)
   * if (stored && stored.expiry.getTime() - Date.now() < 60_000) console.log('expires within a minute')
   * ```
   */
  async get(token: string): Promise<StoredSession | undefined> {
    return this.#get(token)
  }

  #get(token: string): Now<StoredSession | undefined> {
    checkToken(token)
    if (this.#gatherer !== undefined) return this.#gatherer.read(token, 'get').then(storedSession)
    return mapNow(this.#run<Row>('get', this.#sql.get, { token, now: this.#now() }), firstStored)
  }

  /**
   * The rows of gathered reads (see {@link ReadGatherer}) by token: a lone read runs its own
   * statement, as it would without gathering; several run `getMany` once, for all their tokens.
   */
  async #gathered(
    reads: Gathered<'find' | 'get'>,
    getMany: Statement<{ tokens: readonly string[]; now: unknown }>,
  ): Promise<Map<string, Row>> {
    const now = this.#now()
    if (reads.length === 1) {
      const { token, kind } = reads[0]!
      const { rows } = await this.#run<Row>(kind, this.#sql[kind], { token, now })
      return new Map(rows.length === 0 ? [] : [[token, rows[0]!]])
    }
    const operation = reads.some((read) => read.kind === 'get') ? 'get' : 'find'
    const tokens = [...new Set(reads.map((read) => read.token))]
    const { rows } = await this.#run<Row>(operation, getMany, { tokens, now })
    return new Map(rows.map((row) => [row.token as string, row]))
  }

  /**
   * Stores `data` under `token` until `expiry`: inserts a new session, or replaces both the
   * data and the expiry of an existing one (an expiry moved earlier, even into the past,
   * takes effect). A session that was ended with `delete(token, { tombstone: true })` is
   * never written again: the commit changes nothing. `subject` sets or (null) clears whom
   * the session belongs to; without it, a session keeps its subject. Data larger than
   * `maxDataSize` (default 4 MiB) is refused.
   *
   * @example
   * ```ts
   * await store.commit(token, new TextEncoder().encode('{"user":42}'), new Date(Date.now() + 3600_000))
   * await store.commit(token, new TextEncoder().encode('{"user":42}'), new Date(Date.now() + 3600_000), {
   *   subject: 'user-42',
   * })
   * ```
   */
  async commit(token: string, data: Uint8Array, expiry: Date, options?: CommitOptions): Promise<void> {
    return this.#commit(token, data, expiry, options)
  }

  #commit(token: string, data: Uint8Array, expiry: Date, options: CommitOptions | undefined): Now<void> {
    return mapNow(this.#write('commit', token, data, expiry, options), nothing)
  }

  /**
   * Replaces the data and expiry of a live session only, and resolves to `true`; resolves to
   * `false`, writing nothing, when there is no live session under `token` (never committed,
   * expired, deleted or ended). A session loaded in one request and deleted by another
   * (a logout) is therefore never brought back by the first request's save. `subject` as in
   * {@link KyselyStore.commit}.
   *
   * @example
   * ```ts
   * const saved = await store.update(token, new TextEncoder().encode('{"n":2}'), new Date(Date.now() + 3600_000))
   * if (!saved) console.log('the session ended meanwhile: nothing was written')
   * ```
   */
  async update(token: string, data: Uint8Array, expiry: Date, options?: CommitOptions): Promise<boolean> {
    return this.#update(token, data, expiry, options)
  }

  #update(token: string, data: Uint8Array, expiry: Date, options: CommitOptions | undefined): Now<boolean> {
    return mapNow(this.#write('update', token, data, expiry, options), changedAny)
  }

  /**
   * commit()'s and update()'s one path: their arguments checked, and the row written by the
   * operation's statement, or by its twin that also sets the subject when the option is given.
   */
  #write(
    operation: 'commit' | 'update',
    token: string,
    data: Uint8Array,
    expiry: Date,
    options: CommitOptions | undefined,
  ): Now<QueryResult<unknown>> {
    checkToken(token)
    checkData(data, this.#options.maxDataSize)
    checkExpiry(expiry)
    const subject = checkCommitOptions(options)
    const row = {
      token,
      data: this.#family.data(data),
      expiry: this.#family.time(expiry.getTime()),
      now: this.#now(),
    }
    return subject === undefined
      ? this.#run(operation, this.#sql[operation], row)
      : this.#run(operation, this.#sql[`${operation}Subject`], { ...row, subject })
  }

  /**
   * Moves the expiry of a live session without rewriting its data, and resolves to `true`.
   * Resolves to `false`, changing nothing, when the token is unknown or its session has
   * expired or ended (a touch never revives a session).
   *
   * @example
   * ```ts
   * await store.touch(token, new Date(Date.now() + 30 * 60_000)) // extend an idle timeout
   * ```
   */
  async touch(token: string, expiry: Date): Promise<boolean> {
    return this.#touch(token, expiry)
  }

  #touch(token: string, expiry: Date): Now<boolean> {
    checkToken(token)
    checkExpiry(expiry)
    const result = this.#run('touch', this.#sql.touch, {
      token,
      expiry: this.#family.time(expiry.getTime()),
      now: this.#now(),
    })
    return mapNow(result, changedAny)
  }

  /**
   * Deletes the session of `token`; an unknown token is a no-op. With `tombstone: true` the
   * session ends for good instead: its row stays, emptied, until its expiry, so that no
   * later commit of the same token (an in-flight request that loaded it before a logout)
   * can bring it back; find, get, all and entries never return it, and cleanup removes it
   * 10 minutes after its expiry (a margin for instances whose clocks disagree).
   *
   * @example
   * ```ts
   * await store.delete(token) // at logout
   * await store.delete(token, { tombstone: true }) // when other requests may still save it
   * ```
   */
  async delete(token: string, options?: { readonly tombstone?: boolean }): Promise<void> {
    return this.#delete(token, options)
  }

  #delete(token: string, options: { readonly tombstone?: boolean } | undefined): Now<void> {
    checkToken(token)
    const result = checkTombstone(options)
      ? this.#run('delete', this.#sql.tombstone, { token, empty: this.#family.data(EMPTY), now: this.#now() })
      : this.#run('delete', this.#sql.delete, { token })
    return mapNow(result, nothing)
  }

  /**
   * Every live session, token to data; expired and ended sessions are omitted.
   *
   * @example
   * ```ts
   * for (const [token, data] of await store.all()) console.log(token, data.length)
   * ```
   */
  async all(): Promise<Map<string, Uint8Array>> {
    const { rows } = await this.#run<{ token: string; data: unknown }>('all', this.#sql.all, {
      now: this.#now(),
    })
    return new Map(rows.map((row) => [row.token, bytes(row.data)]))
  }

  /**
   * Every live session, as an async iterable of `[token, data]` read in pages of
   * `pageSize` rows ordered by token (keyset pagination: each page is one indexed query), so
   * memory stays bounded however many sessions there are. A session committed or deleted
   * while the iteration runs may or may not be seen.
   *
   * @example
   * ```ts
   * let count = 0
   * for await (const [token, data] of store.entries({ pageSize: 500 })) count++
   * ```
   */
  entries(options: { readonly pageSize?: number } = {}): AsyncGenerator<[string, Uint8Array]> {
    checkObject('options', options)
    checkKnownKeys('options', options, ['pageSize'])
    const { pageSize = DEFAULT_PAGE_SIZE } = options
    checkPositiveInteger('pageSize', pageSize, MAX_PAGE_SIZE)
    return this.#pages(pageSize)
  }

  async *#pages(pageSize: number): AsyncGenerator<[string, Uint8Array]> {
    let after = ''
    for (;;) {
      const { rows } = await this.#run<{ token: string; data: unknown }>('entries', this.#sql.page, {
        now: this.#now(),
        after,
        limit: pageSize,
      })
      for (const row of rows) yield [row.token, bytes(row.data)]
      if (rows.length < pageSize) return
      after = rows[rows.length - 1]!.token
    }
  }

  /**
   * How many live sessions there are: one `COUNT` in the database.
   *
   * @example
   * ```ts
   * console.log(`${await store.count()} people are signed in`)
   * ```
   */
  async count(): Promise<number> {
    const { rows } = await this.#run<{ n: unknown }>('count', this.#sql.count, { now: this.#now() })
    return Number(rows[0]?.n ?? 0)
  }

  /**
   * Deletes every row of the table, live, expired and ended alike, in one statement, and
   * resolves to how many there were.
   *
   * @example
   * ```ts
   * const deleted = await store.clear() // everyone is signed out
   * ```
   */
  async clear(): Promise<number> {
    const result = await this.#run('clear', this.#sql.clear, {})
    return Number(result.numAffectedRows ?? 0)
  }

  /**
   * The live sessions of `subject`, the most recently seen first (when they were last
   * committed, updated or touched; sessions another program wrote without that time come
   * last), equal times by token, at most `limit` (default 100, at most 10,000) per call,
   * without their data unless `withData`. One query, read in the order of the
   * `(subject, last_seen_at, token)` index: however many sessions the subject has, the first
   * page reads `limit` index entries. Pass the token of a page's last session as `after` for
   * the next page (which reads past the earlier pages' entries); when that session is gone
   * meanwhile, the page is empty. A session seen again between two pages moves to the front,
   * so it may be listed twice or not at all: pages suit a devices page, not an export
   * ({@link KyselyStore.entries} reads every session).
   *
   * @throws TypeError or RangeError, before any query, for a bad subject or option.
   *
   * @example
   * ```ts
   * for (const device of await store.listBySubject('user-42')) {
   *   console.log(device.createdAt, device.lastSeenAt, device.expiry)
   * }
   * const first = await store.listBySubject('user-42', { limit: 10 })
   * const next = await store.listBySubject('user-42', { limit: 10, after: first.at(-1)?.token })
   * ```
   */
  async listBySubject(subject: string, options: ListBySubjectOptions = {}): Promise<SubjectSession[]> {
    checkSubject(subject)
    checkObject('options', options)
    checkKnownKeys('options', options, ['limit', 'after', 'createdAt', 'withData'])
    const { after, createdAt, withData = false } = options
    const limit = listLimit(options.limit, MAX_LIST_LIMIT)
    if (after !== undefined) checkToken(after, 'after')
    if (typeof withData !== 'boolean') throw new TypeError('withData must be a boolean')
    const now = this.#now()
    if (createdAt !== undefined) {
      if (createdAt !== null && (!(createdAt instanceof Date) || Number.isNaN(createdAt.getTime()))) {
        throw new TypeError('createdAt must be a valid Date or null')
      }
      if (after !== undefined || withData) {
        throw new RangeError(
          'createdAt finds sessions by their creation time: pass it without after and withData',
        )
      }
      const { rows } =
        createdAt === null
          ? await this.#run<Record<string, unknown>>('listBySubject', this.#sql.listBySubjectUncreated, {
              subject,
              now,
            })
          : await this.#run<Record<string, unknown>>('listBySubject', this.#sql.listBySubjectCreated, {
              subject,
              now,
              created: this.#family.time(createdAt.getTime()),
            })
      return rows.slice(0, limit).map((row) => listedSession(row, false))
    }
    const statement =
      after === undefined
        ? withData
          ? this.#sql.listBySubjectData
          : this.#sql.listBySubject
        : withData
          ? this.#sql.listBySubjectAfterData
          : this.#sql.listBySubjectAfter
    const { rows } = await this.#run<Record<string, unknown>>('listBySubject', statement, {
      subject,
      now,
      after: after ?? '',
      limit,
    })
    return rows.map((row) => listedSession(row, withData))
  }

  /**
   * Ends the live sessions of `subject` beyond the `keep` most recently seen (the order of
   * {@link KyselyStore.listBySubject}), never the session of `except`, which counts as one of
   * the `keep` when given; resolves to how many it deleted. A per-user limit: call it after a
   * sign-in, with the new session's token as `except`. Two indexed statements (one when the
   * subject has no more than `keep` sessions); in-flight requests of the ended sessions cannot
   * write them back.
   *
   * @throws TypeError or RangeError, before any query, for a bad subject or option.
   *
   * @example
   * ```ts
   * await store.commit(token, data, expiry, { subject: 'user-42' })
   * await store.trimBySubject('user-42', { keep: 10, except: token }) // at most 10 devices
   * ```
   */
  async trimBySubject(
    subject: string,
    options: { readonly keep: number; readonly except?: string },
  ): Promise<number> {
    checkSubject(subject)
    checkObject('options', options)
    checkKnownKeys('options', options, ['keep', 'except'])
    const { keep, except } = options
    checkPositiveInteger('keep', keep, MAX_LIST_LIMIT - 2)
    if (except !== undefined) checkToken(except, 'except')
    const others = except === undefined ? keep : keep - 1
    if (others === 0) return this.deleteBySubject(subject, { except: except! })
    // The `others` most recently seen but except, and one more when there are more: the
    // last of those kept is where deleting starts. (Two more than `others`: except may be
    // among them.)
    const listed = (await this.listBySubject(subject, { limit: others + 2 })).filter(
      (session) => session.token !== except,
    )
    if (listed.length <= others) return 0
    const last = listed[others - 1]!
    const seen = last.lastSeenAt === null ? null : this.#family.time(last.lastSeenAt.getTime())
    const result = await this.#run('trimBySubject', this.#sql.deleteOlderBySubject, {
      subject,
      now: this.#now(),
      except: except ?? '',
      seen,
      token: last.token,
      dated: seen === null ? 0 : 1,
    })
    return Number(result.numAffectedRows ?? 0)
  }

  /**
   * How many live sessions `subject` has: one indexed `COUNT`.
   *
   * @example
   * ```ts
   * if ((await store.countBySubject('user-42')) > 5) console.log('signed in on many devices')
   * ```
   */
  async countBySubject(subject: string): Promise<number> {
    checkSubject(subject)
    const { rows } = await this.#run<{ n: unknown }>('countBySubject', this.#sql.countBySubject, {
      subject,
      now: this.#now(),
    })
    return Number(rows[0]?.n ?? 0)
  }

  /**
   * Deletes every live session of `subject` but the one of `except` (sign out everywhere
   * else), and resolves to how many it deleted. One indexed statement. With
   * `tombstone: true` they end for good, as with {@link KyselyStore.delete}.
   *
   * @example
   * ```ts
   * await store.deleteBySubject('user-42') // after a password change
   * await store.deleteBySubject('user-42', { except: token }) // sign out other devices
   * ```
   */
  async deleteBySubject(
    subject: string,
    options: { readonly except?: string; readonly tombstone?: boolean } = {},
  ): Promise<number> {
    checkSubject(subject)
    checkObject('options', options)
    checkKnownKeys('options', options, ['except', 'tombstone'])
    const { except, tombstone = false } = options
    if (except !== undefined) checkToken(except, 'except')
    if (typeof tombstone !== 'boolean') throw new TypeError('tombstone must be a boolean')
    const where = { subject, now: this.#now(), except: except ?? '' }
    const result = tombstone
      ? await this.#run('deleteBySubject', this.#sql.tombstoneBySubject, {
          ...where,
          empty: this.#family.data(EMPTY),
        })
      : await this.#run('deleteBySubject', this.#sql.deleteBySubject, where)
    return Number(result.numAffectedRows ?? 0)
  }

  /**
   * Deletes expired sessions (and the tombstones of ended ones, 10 minutes after their expiry)
   * now, in batches of
   * `cleanupBatchSize` rows, and resolves to how many were deleted. Runs never overlap: a
   * call made while another run is in progress starts after it.
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
   * await store.stopCleanup() // in a test's afterAll, or at shutdown
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
   * import { KyselyStore } from 'kysely-session-store'
   *
   * {
   *   await using scoped = new KyselyStore(db)
   *   await scoped.find(token)
   * } // cleanup stopped here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stopCleanup()
  }

  #now(): unknown {
    return this.#family.time(this.#options.now())
  }

  #serialisedCleanup(signal: AbortSignal | undefined): Promise<number> {
    const run = this.#lastCleanup.then(() => this.#cleanup(signal))
    this.#lastCleanup = run.catch(() => undefined)
    return run
  }

  async #cleanup(signal: AbortSignal | undefined): Promise<number> {
    const started = performance.now()
    const batch = this.#options.cleanupBatchSize
    const ms = this.#options.now()
    const expired = { now: this.#family.time(ms), ended: this.#family.time(ms - TOMBSTONE_MARGIN) }
    let deleted = 0
    let batches = 0
    try {
      while (!signal?.aborted) {
        batches++
        const result = await this.#run(
          'cleanup',
          this.#sql.cleanup,
          { ...expired, limit: batch },
          signal !== undefined,
        )
        const n = Number(result.numAffectedRows ?? 0)
        deleted += n
        if (n < batch) break
      }
    } catch (error) {
      this.#publishCleanup(deleted, batches, started, signal !== undefined, error)
      throw error
    }
    this.#publishCleanup(deleted, batches, started, signal !== undefined)
    return deleted
  }

  #publishCleanup(
    deleted: number,
    batches: number,
    started: number,
    background: boolean,
    error?: unknown,
  ): void {
    if (!cleanups.hasSubscribers) return
    const { schema, tableName: table } = this.#options
    const duration = performance.now() - started
    cleanups.publish({
      family: this.#family.name,
      table,
      schema,
      deleted,
      batches,
      duration,
      background,
      error,
    })
  }

  /**
   * Runs one statement: traced when the tracing channel has subscribers, and mapped to a
   * SessionStoreError. Its result comes at once, not in a promise, when the direct path ran it
   * (see {@link #execute}); its error is then thrown. `background` (the cleanup timer's runs)
   * unrefs the call's timers: nobody awaits them, so they never keep the process alive.
   */
  #run<R>(
    operation: string,
    statement: Statement<any>,
    parameters: object,
    background = false,
  ): Now<QueryResult<R>> {
    const values = statement.bind(parameters)
    if (!calls.hasSubscribers) return this.#execute<R>(operation, statement, values, background, undefined)
    const { schema, tableName: table } = this.#options
    const call: StoreCall = { operation, family: this.#family.name, table, schema }
    const started = performance.now()
    // The traced function resolves to nothing: tracePromise hands its value to subscribers as
    // `result`, and the rows may hold tokens and data.
    let result: QueryResult<R>
    return calls
      .tracePromise(async () => {
        try {
          result = await this.#execute<R>(operation, statement, values, background, call)
          call.rows = result.rows.length > 0 ? result.rows.length : Number(result.numAffectedRows ?? 0)
        } catch (error) {
          call.error = error
          throw error
        } finally {
          call.duration = performance.now() - started
          call.attempts ??= 1
        }
      }, call)
      .then(() => result)
  }

  /**
   * The direct path first: on a connection that runs statements at once (sqlite()), nothing
   * to time or retry, and its error is final (SQLite loses no connection): its result is
   * returned and its error thrown, at once. Otherwise the retry loop.
   */
  #execute<R>(
    operation: string,
    statement: Statement<any>,
    values: unknown[],
    background: boolean,
    call: StoreCall | undefined,
  ): Now<QueryResult<R>> {
    if (this.#direct !== undefined) {
      let result: QueryResult<unknown> | undefined
      try {
        result = this.#direct(statement, values)
      } catch (cause) {
        throw this.#error(operation, redact(cause, statement.sql, values))
      }
      if (result !== undefined) return result as QueryResult<R>
    }
    return this.#retrying<R>(operation, statement, values, background, call)
  }

  /**
   * Runs a statement through Kysely until it succeeds, fails for good, or the `timeout`
   * passes. A transient failure is tried again after a growing pause within `retryBudget`,
   * never inside a caller's transaction, and a write only when the failure proves it had no
   * effect (see {@link StatementKind}). At the timeout the statement is given up through the
   * factory's {@link Canceller} (cancelled on the server, or never sent) and a pause is cut
   * short: nothing of the call runs
   * after it settled. The timer is ref'd, so a script that awaits the call is not left to exit
   * without its answer.
   */
  async #retrying<R>(
    operation: string,
    statement: Statement<any>,
    values: unknown[],
    background: boolean,
    call: StoreCall | undefined,
  ): Promise<QueryResult<R>> {
    const { timeout, retryBudget } = this.#options
    let expired: SessionStoreError | undefined
    let interrupt: ((reason: unknown) => void) | undefined
    let inFlight = false
    let lastFailure: unknown
    let pause: ReturnType<typeof setTimeout> | undefined
    const timer = setTimeout(() => {
      expired = this.#timeoutError(operation, lastFailure)
      if (inFlight) this.#cancel?.(values)
      interrupt?.(expired)
    }, timeout)
    if (background) (timer as { unref?: () => void }).unref?.()
    /** `promise`, or the timeout's error once it has passed, whichever comes first. */
    const bounded = <T>(promise: Promise<T>) =>
      new Promise<T>((resolve, reject) => {
        interrupt = reject
        promise.then(
          (value) => {
            inFlight = false
            resolve(value)
          },
          (error: unknown) => {
            inFlight = false
            reject(error)
          },
        )
      })
    let firstFailure: number | undefined
    try {
      for (let attempt = 1; ; attempt++) {
        if (call !== undefined) call.attempts = attempt
        try {
          inFlight = true
          return await bounded(this.#query<R>(statement.sql, values))
        } catch (cause) {
          if (expired !== undefined) throw expired
          const failed = performance.now()
          firstFailure ??= failed
          const wait =
            Math.min(MAX_RETRY_DELAY, FIRST_RETRY_DELAY * 2 ** (attempt - 1)) * (0.5 + Math.random())
          if (failed - firstFailure + wait > retryBudget || !this.#mayRepeat(statement, cause)) {
            throw this.#error(operation, redact(cause, statement.sql, values))
          }
          lastFailure = redact(cause, statement.sql, values)
          this.#publishRetry(operation, attempt + 1, wait, cause)
          await bounded(new Promise((resolve) => (pause = setTimeout(resolve, wait))))
        }
      }
    } finally {
      clearTimeout(timer)
      clearTimeout(pause)
    }
  }

  /** Whether a statement that failed with `cause` may run again (see {@link StatementKind}). */
  #mayRepeat(statement: Statement<unknown>, cause: unknown): boolean {
    if (this.#db.isTransaction) return false // the caller's transaction failed as a whole
    const family = this.#family
    return family.hadNoEffect(cause) || (statement.kind === 'read' && family.lostConnection(cause))
  }

  /**
   * One attempt: through the factory's {@link QueryRunner} where it takes the statement, else
   * through Kysely. A runner or Kysely instance that throws instead of rejecting gives a rejection.
   */
  #query<R>(sql: string, values: unknown[]): Promise<QueryResult<R>> {
    try {
      const direct = this.#runner?.(sql, values)
      if (direct !== undefined) return direct as Promise<QueryResult<R>>
      return this.#db.executeQuery<R>(compiled(sql, values))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  #timeoutError(operation: string, lastFailure: unknown): SessionStoreError {
    const { timeout } = this.#options
    const tried = lastFailure === undefined ? '' : `; the last try failed: ${describeCause(lastFailure)}`
    return new SessionStoreError(
      `${operation} on table "${this.#table}" failed: no answer within ${timeout} ms (the timeout option)${tried}`,
      'timeout',
      lastFailure,
    )
  }

  #publishRetry(operation: string, attempt: number, delay: number, cause: unknown): void {
    if (!retries.hasSubscribers) return
    const { schema, tableName: table } = this.#options
    const reason = describeCause(cause).replace(/^the database (reported|driver threw) /, '')
    retries.publish({ operation, family: this.#family.name, table, schema, attempt, delay, reason })
  }

  #error(operation: string, cause: unknown): SessionStoreError {
    const family = this.#family
    const { tableName, schema } = this.#options
    const fix =
      tableName === 'sessions' && schema === undefined
        ? 'migrate(db)'
        : `migrate(db, { ${schema === undefined ? '' : `schema: '${schema}', `}tableName: '${tableName}' })`
    if (family.isMissingTable(cause)) {
      return new SessionStoreError(
        `${operation} failed: table "${this.#table}" does not exist: run ${fix} or apply schema/${family.name}.sql`,
        'missing_table',
        cause,
      )
    }
    if (family.isMissingColumn(cause)) {
      return new SessionStoreError(
        `${operation} failed: table "${this.#table}" lacks columns this version of kysely-session-store ` +
          `uses: run ${fix}, which upgrades it in place (or it is not a sessions table)`,
        'missing_column',
        cause,
      )
    }
    return new SessionStoreError(
      `${operation} on table "${this.#table}" failed: ${describeCause(cause)} (see error.cause)`,
      'engine',
      cause,
    )
  }
}

/** A value, or the promise of it: what the store's calls give through {@link storeNow}. */
export type Now<T> = T | Promise<T>

/** Whether `value` is a promise (or any thenable, as another store may give), not an answer given at once. */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function'
}

/**
 * `map` applied to `value`: at once when it is an answer, else when it resolves (a thenable
 * becomes a promise; a native promise is used as it is, with no extra step). `map` may answer
 * with a promise in turn.
 */
export function mapNow<T, U>(value: T | PromiseLike<T>, map: (value: T) => Now<U>): Now<U> {
  return isPromiseLike(value) ? Promise.resolve(value).then(map) : map(value)
}

/** A row as the driver returns it. */
type Row = Record<string, unknown>

/** find()'s answer from a row. */
function dataOf(row: Row | undefined): Uint8Array | undefined {
  return row === undefined ? undefined : bytes(row.data)
}

/** find()'s answer from its statement's rows. */
function firstData({ rows }: QueryResult<Row>): Uint8Array | undefined {
  return dataOf(rows[0])
}

/** get()'s answer from a row. */
function storedSession(row: Row | undefined): StoredSession | undefined {
  if (row === undefined) return undefined
  return {
    data: bytes(row.data),
    expiry: time(row.expiry),
    subject: (row.subject as string | null) ?? null,
    createdAt: date(row.created),
    lastSeenAt: date(row.seen),
  }
}

/** get()'s answer from its statement's rows. */
function firstStored({ rows }: QueryResult<Row>): StoredSession | undefined {
  return storedSession(rows[0])
}

/** Whether a write changed a row. */
function changedAny(result: QueryResult<unknown>): boolean {
  return Number(result.numAffectedRows ?? 0) > 0
}

function nothing(): void {}

/**
 * `sql` with `values` as a compiled query: what `CompiledQuery.raw` makes, without drawing a
 * random query id or freezing two objects per call. A fresh `queryId` object per query keeps
 * result plugins that key on it apart. `values` reaches the driver as it is, which is how a
 * factory's {@link Canceller} recognises the statement.
 */
function compiled(sql: string, values: readonly unknown[]): CompiledQuery {
  return { sql, parameters: values, query: RawNode.createWithSql(sql), queryId: { queryId: '' } }
}

/**
 * Session data as a Uint8Array, whatever the driver returns: Buffer, Uint8Array, ArrayBuffer,
 * or an array of byte values (Cloudflare D1).
 */
function bytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  if (Array.isArray(value)) return Uint8Array.from(value as number[])
  throw new SessionStoreError(
    `the database driver returned session data as ${value === null ? 'null' : typeof value}, not bytes: ` +
      'the data column must be BYTEA (Postgres), BLOB (SQLite) or LONGBLOB (MySQL), as migrate() creates it',
    'engine',
    undefined,
  )
}

/** A row of the listBySubject statements as a {@link SubjectSession}. */
function listedSession(row: Record<string, unknown>, withData: boolean): SubjectSession {
  const listed = {
    token: row.token as string,
    expiry: time(row.expiry),
    createdAt: date(row.created),
    lastSeenAt: date(row.seen),
  }
  return withData ? { ...listed, data: bytes(row.data) } : listed
}

/** A time column of a row as a Date; NULL is null. */
function date(value: unknown): Date | null {
  return value === null || value === undefined ? null : time(value)
}

/** A time column that cannot be NULL as a Date; what is no time is a SessionStoreError. */
function time(value: unknown): Date {
  const ms = timeMs(value)
  if (ms === null || Number.isNaN(ms)) {
    throw new SessionStoreError(
      `the database driver returned a time as ${value === null ? 'null' : typeof value} that is no time: ` +
        'the time columns must be as migrate() creates them',
      'engine',
      undefined,
    )
  }
  return new Date(ms)
}

/** The subject to write (a string or null), or undefined when the option is absent. */
function checkCommitOptions(options: CommitOptions | undefined): string | null | undefined {
  if (options === undefined) return undefined
  checkObject('options', options)
  checkKnownKeys('options', options, ['subject'])
  if (!('subject' in options) || options.subject === undefined) return undefined
  if (options.subject !== null) checkSubject(options.subject)
  return options.subject
}

function checkTombstone(options: { readonly tombstone?: boolean } | undefined): boolean {
  if (options === undefined) return false
  checkObject('options', options)
  checkKnownKeys('options', options, ['tombstone'])
  const { tombstone = false } = options
  if (typeof tombstone !== 'boolean') throw new TypeError('tombstone must be a boolean')
  return tombstone
}
