import session, { type SessionData } from 'express-session'
import { parseJson } from './session/codec.js'
import type { SessionStore } from './session/manager.js'

/** The session object express-session and @fastify/session hand to a store. */
type StoredSession = SessionData
type TouchableStore = SessionStore & { touch(token: string, expiry: Date): Promise<boolean> }
type Callback<T = void> = (error?: unknown, result?: T) => void

/**
 * Options of {@link ExpressSessionStore}.
 *
 * @example
 * ```ts
 * new ExpressSessionStore(store, { ttl: 3600_000 })
 * ```
 */
export interface ExpressSessionStoreOptions {
  /**
   * How long a session lives, in ms, when its cookie has no `expires` (a browser-session
   * cookie).
   * @default 1 day
   */
  readonly ttl?: number
}

const DEFAULT_TTL = 24 * 3600_000

/**
 * A KyselyStore as an express-session store (also a drop-in for @fastify/session, which
 * calls the same methods). Implements get, set, destroy, touch, all, length and clear; a
 * session expires at its cookie's `expires`, or after `ttl` when the cookie has none. Every
 * callback is called exactly once, with the error when there is one; nothing rejects
 * unhandled.
 *
 * @example
 * ```ts
 * import session, { type SessionData } from 'express-session'
 * import { KyselyStore } from 'kysely-session-store'
 * import { ExpressSessionStore } from 'kysely-session-store/express'
 *
 * app.use(session({ store: new ExpressSessionStore(new KyselyStore(db)), secret, resave: false, saveUninitialized: false }))
 * ```
 */
export class ExpressSessionStore extends session.Store {
  readonly #store: TouchableStore
  readonly #ttl: number

  /**
   * @param store - a KyselyStore (or any store with find, commit, delete, all and touch).
   * @param options - see {@link ExpressSessionStoreOptions}.
   *
   * @example
   * ```ts
   * const store = new ExpressSessionStore(new KyselyStore(db))
   * ```
   */
  constructor(store: SessionStore, options: ExpressSessionStoreOptions = {}) {
    super()
    for (const method of ['find', 'commit', 'delete', 'all', 'touch'] as const) {
      if (typeof (store as Partial<SessionStore> | undefined)?.[method] !== 'function') {
        throw new TypeError(
          `store must be a KyselyStore (find, commit, delete, all, touch), it has no ${method}()`,
        )
      }
    }
    const { ttl = DEFAULT_TTL } = options
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
      throw new RangeError(`ttl must be a positive number of milliseconds, got ${String(ttl)}`)
    }
    this.#store = store as TouchableStore
    this.#ttl = ttl
  }

  /** Reads a session: `callback(null, session)`, or `callback(null, null)` when there is none. */
  override get(sid: string, callback: Callback<StoredSession | null>): void {
    settle(
      this.#store.find(sid).then((data) => (data === undefined ? null : (parseJson(data) as StoredSession))),
      callback,
    )
  }

  /** Writes a session until its cookie's expiry (or `ttl` from now). */
  override set(sid: string, sess: StoredSession, callback?: Callback): void {
    settle(
      Promise.resolve().then(() =>
        this.#store.commit(sid, Buffer.from(JSON.stringify(sess), 'utf8'), this.#expiry(sess)),
      ),
      callback,
    )
  }

  /** Deletes a session; an unknown one is a no-op. */
  override destroy(sid: string, callback?: Callback): void {
    settle(this.#store.delete(sid), callback)
  }

  /** Moves a session's expiry without rewriting its data. */
  override touch(sid: string, sess: StoredSession, callback?: Callback): void {
    settle(
      Promise.resolve().then(async () => {
        await this.#store.touch(sid, this.#expiry(sess))
      }),
      callback,
    )
  }

  /** Every live session, as an array. */
  override all(callback: Callback<StoredSession[]>): void {
    settle(
      this.#store.all().then((all) => [...all.values()].map((data) => parseJson(data) as StoredSession)),
      callback,
    )
  }

  /** How many live sessions there are. */
  override length(callback: Callback<number>): void {
    settle(
      this.#store.all().then((all) => all.size),
      callback,
    )
  }

  /** Deletes every session. */
  override clear(callback?: Callback): void {
    settle(
      this.#store.all().then(async (all) => {
        for (const sid of all.keys()) await this.#store.delete(sid)
      }),
      callback,
    )
  }

  #expiry(sess: StoredSession): Date {
    const expires = (sess?.cookie as { expires?: Date | string | null } | undefined)?.expires
    if (expires !== undefined && expires !== null) {
      const date = new Date(expires)
      if (!Number.isNaN(date.getTime())) return date
    }
    return new Date(Date.now() + this.#ttl)
  }
}

/** Calls `callback` exactly once, outside the promise chain, so its own throw is not swallowed. */
function settle<T>(promise: Promise<T>, callback: Callback<T> | undefined): void {
  promise.then(
    (result) => callback && process.nextTick(callback, null, result),
    (error: unknown) => callback && process.nextTick(callback, error),
  )
}
