// The callback store that express-session and @fastify/session both call (get, set,
// destroy, touch, all, length, clear), over a KyselyStore. It imports neither framework, so
// the Fastify entry works where express-session is not installed; src/adapters/express.ts adds the
// three methods express-session's own Store base class provides.
import { hash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { parseJson } from '../session/codec.js'
import { defaultTouchAfter, touchDue } from '../session/touch.js'
import { isPromiseLike, mapNow, storeNow, type KyselyStore, type Now } from '../store/store.js'
import { checkKnownKeys, checkObject, listLimit, MAX_DEVICES_LIMIT } from '../validate.js'

/**
 * What the adapters need of a store: these methods of {@link KyselyStore}.
 *
 * @example
 * ```ts
 * const backing: AdapterStore = new KyselyStore(db)
 * ```
 */
export type AdapterStore = Pick<
  KyselyStore,
  | 'get'
  | 'commit'
  | 'update'
  | 'touch'
  | 'delete'
  | 'all'
  | 'count'
  | 'clear'
  | 'listBySubject'
  | 'deleteBySubject'
>

/**
 * A session as the frameworks hand it to a store: any object, with its cookie.
 *
 * @example
 * ```ts
 * const stored: AdapterSession = { cookie: { originalMaxAge: 3600_000, expires: new Date() } }
 * ```
 */
export interface AdapterSession {
  cookie?: { expires?: Date | string | null; originalMaxAge?: number | null } & object
}

/**
 * A node-style callback: called once, with an error or with `null` and the result.
 *
 * @example
 * ```ts
 * const callback: Callback<number> = (error, count) => console.log(error ?? count)
 * ```
 */
export type Callback<T = void> = (error: any, result?: T) => void

/**
 * Options of {@link ExpressSessionStore} and {@link FastifySessionStore}. Unknown keys are
 * refused with a TypeError.
 *
 * @example
 * ```ts
 * const options: AdapterOptions = { ttl: 3600, subject: (session) => session.userId }
 * ```
 */
export interface AdapterOptions<S extends object = AdapterSession> {
  /**
   * How long a session lives, in **seconds** (as connect-pg-simple's, connect-redis's and
   * connect-mongo's `ttl`), when its cookie has no `expires` (a browser-session cookie);
   * otherwise the cookie's `expires` decides. At most 400 days: a larger number is refused,
   * since it is most likely milliseconds.
   * @default 86400 (one day)
   */
  readonly ttl?: number
  /**
   * `touch` (which express-session calls after every request that did not change the
   * session) writes only when the stored expiry is older than the new one by at least this
   * many **seconds** (connect-mongo's `touchAfter`), or when the cookie itself changed. An
   * idle session therefore ends between `maxAge - touchAfter` and `maxAge` after its last
   * request. 0 writes on every touch.
   * @default a tenth of the cookie's maxAge (of `ttl` without one)
   */
  readonly touchAfter?: number
  /**
   * `touch` does nothing (connect-pg-simple's `disableTouch`): a session then ends at the
   * expiry of its last save, however active it is.
   * @default false
   */
  readonly disableTouch?: boolean
  /**
   * Keep the SHA-256 hash of each session id as its key instead of the id, so that a
   * leaked table holds no usable session id (as SessionManager's `hashTokens`). Turn it
   * off only to keep sessions stored in clear by an earlier version or another store.
   * @default true
   */
  readonly hashSids?: boolean
  /**
   * The subject (a user id) a session belongs to, read from the session at every save:
   * a string of 1 to 255 characters or a number; `null` or `undefined` for none. Lets
   * `listBySubject` and `destroyBySubject` reach all of a user's sessions in one indexed
   * query.
   * @default none: sessions keep whatever subject they have
   */
  readonly subject?: (session: S & Record<string, any>) => string | number | null | undefined
}

/**
 * One of a subject's sessions, as {@link CallbackSessionStore.listBySubject} lists it.
 *
 * @example
 * ```ts
 * const item: SubjectDevice = { id: 'ab12…', expires: new Date(), createdAt: null, lastSeenAt: null }
 * ```
 */
export interface SubjectDevice {
  /**
   * The SHA-256 hash (hex) of the session id: tells sessions apart and matches
   * {@link CallbackSessionStore.idOf}`(req.sessionID)` for the current one; it is not a
   * usable session id.
   */
  readonly id: string
  readonly expires: Date
  readonly createdAt: Date | null
  readonly lastSeenAt: Date | null
}

const OPTION_KEYS = ['ttl', 'touchAfter', 'disableTouch', 'hashSids', 'subject']
const STORE_METHODS = [
  'get',
  'commit',
  'update',
  'touch',
  'delete',
  'all',
  'count',
  'clear',
  'listBySubject',
  'deleteBySubject',
] as const
const DAY_SECONDS = 86_400
const DEFAULT_TTL_SECONDS = DAY_SECONDS
const MAX_TTL_SECONDS = 400 * DAY_SECONDS
const MAX_SUBJECT_LENGTH = 255
/**
 * How many loaded sessions a process remembers as loaded (about 100 bytes each): a request
 * that saves after more than this many other sessions were loaded since its own load saves
 * its session with an upsert, which a tombstone still stops.
 */
const MAX_LOADED = 50_000

/** What this process last read or wrote for one session object. */
interface Known {
  /** The row's expiry, ms since the epoch. */
  expiry: number
  /** The cookie without its expiry and `originalMaxAge`, in a canonical JSON form. */
  cookie: string
  /** The cookie's `originalMaxAge`. */
  maxAge: unknown
}

/**
 * The store express-session and @fastify/session call, over a {@link KyselyStore}:
 * {@link ExpressSessionStore} and {@link FastifySessionStore} are this class. Every
 * callback is called exactly once, with the error when there is one; nothing rejects
 * unhandled. On `sqlite()` (while no transaction of the caller's holds its connection, and
 * nobody subscribes to the store's tracing channel) every call of `get`, `set`, `touch` and
 * `destroy` calls back before it returns, as better-sqlite3-session-store does:
 * express-session then answers the request without waiting for another turn of the event
 * loop, and sends the response in one write.
 *
 * What it keeps consistent: the row's expiry is the session's expiry. `get` hands out the
 * session with `cookie.expires` set to it, so a session saved in the middle of a request
 * (`req.session.save()` before a redirect) keeps its live expiry, never a stale one from
 * the session's last save.
 *
 * @example
 * ```ts
 * const adapter = new CallbackSessionStore(new KyselyStore(db), { ttl: 3600 })
 * ```
 */
export class CallbackSessionStore<S extends object = AdapterSession> extends EventEmitter {
  readonly #store: AdapterStore
  readonly #ttl: number
  readonly #touchAfter: number | undefined
  readonly #disableTouch: boolean
  readonly #hashSids: boolean
  readonly #subject: ((session: S) => unknown) | undefined
  /** Keyed by the session objects this process loaded or saved: what the row holds. */
  readonly #known = new WeakMap<object, Known>()
  /**
   * The store keys of the sessions this process loaded, oldest first (at most
   * {@link MAX_LOADED}): a session saved under one of them is saved only while its row is
   * live, however the framework rebuilt the object (@fastify/session copies the loaded data
   * into a new one, so the object is never one of {@link #known}'s).
   */
  readonly #loaded = new Set<string>()

  /**
   * @param store - a {@link KyselyStore}.
   * @param options - see {@link AdapterOptions}.
   * @throws TypeError or RangeError when an argument is not valid.
   *
   * @example
   * ```ts
   * const adapter = new CallbackSessionStore(new KyselyStore(db), { disableTouch: true })
   * ```
   */
  constructor(store: AdapterStore, options: AdapterOptions<S> = {}) {
    super()
    for (const method of STORE_METHODS) {
      if (typeof (store as Partial<AdapterStore> | undefined)?.[method] !== 'function') {
        throw new TypeError(`store must be a KyselyStore, it has no ${method}()`)
      }
    }
    checkObject('options', options)
    checkKnownKeys('options', options, OPTION_KEYS)
    const { ttl = DEFAULT_TTL_SECONDS, touchAfter, disableTouch = false, hashSids = true, subject } = options
    checkSeconds('ttl', ttl)
    if (ttl <= 0 || ttl > MAX_TTL_SECONDS) {
      throw new RangeError(
        `ttl must be a number of seconds (as connect-pg-simple's), more than 0 and at most ${MAX_TTL_SECONDS} ` +
          `(400 days), got ${ttl}` +
          (ttl > MAX_TTL_SECONDS ? `: milliseconds? one day is ttl: ${DAY_SECONDS}` : ''),
      )
    }
    if (touchAfter !== undefined) {
      checkSeconds('touchAfter', touchAfter)
      if (touchAfter < 0 || touchAfter > MAX_TTL_SECONDS) {
        throw new RangeError(
          `touchAfter must be a number of seconds from 0 to ${MAX_TTL_SECONDS}, got ${touchAfter}`,
        )
      }
    }
    if (typeof disableTouch !== 'boolean') throw new TypeError('disableTouch must be a boolean')
    if (typeof hashSids !== 'boolean') throw new TypeError('hashSids must be a boolean')
    if (subject !== undefined && typeof subject !== 'function') {
      throw new TypeError('subject must be a function of the session, such as (session) => session.userId')
    }
    this.#store = store
    this.#ttl = ttl * 1000
    this.#touchAfter = touchAfter === undefined ? undefined : touchAfter * 1000
    this.#disableTouch = disableTouch
    this.#hashSids = hashSids
    this.#subject = subject as ((session: S) => unknown) | undefined
  }

  /** Adds `key` to {@link #loaded} as its newest entry, dropping the oldest beyond the limit. */
  #remember(key: string): void {
    this.#loaded.delete(key)
    this.#loaded.add(key)
    if (this.#loaded.size > MAX_LOADED) this.#loaded.delete(this.#loaded.values().next().value!)
  }

  /**
   * Reads a live session: `callback(null, session)`, or `callback(null, null)` when there
   * is none (unknown, expired or ended). Its `cookie.expires` is the stored expiry.
   *
   * @example
   * ```ts
   * const adapter = new CallbackSessionStore(store)
   * adapter.get('sid-from-the-cookie', (error, session) => console.log(error ?? session?.cookie))
   * ```
   */
  get(sid: string, callback: Callback<S | null>): void {
    reply(() => {
      const key = this.#key(sid)
      return mapNow(storeNow.get(this.#store, key), (found) =>
        found === undefined ? null : this.#loadedSession(key, found),
      )
    }, callback)
  }

  /** The session of a row `get` read, its `cookie.expires` the stored expiry; remembered as loaded. */
  #loadedSession(key: string, row: { data: Uint8Array; expiry: Date }): S {
    this.#remember(key)
    const session = decode(row.data)
    const cookie = session.cookie
    const expiry = row.expiry.getTime()
    if (isObject(cookie) && cookie.expires !== undefined && cookie.expires !== null) {
      cookie.expires = row.expiry.toISOString()
    }
    this.#known.set(session, knownOf(expiry, cookie))
    return session as S
  }

  /**
   * Saves a session until its cookie's `expires` (or `ttl` from now). A session this
   * process loaded (recognised by its id, whatever object the framework rebuilt from it) is
   * written only while its row is live: one that was destroyed, regenerated, cleared
   * ({@link CallbackSessionStore.clear}) or has expired meanwhile (in this process or
   * another) stays ended, and nothing is written. A new session is inserted, never over an
   * ended one.
   *
   * @example
   * ```ts
   * const adapter = new CallbackSessionStore(store)
   * const session = { cookie: { originalMaxAge: 3600_000, expires: new Date(Date.now() + 3600_000) } }
   * adapter.set('sid-from-the-cookie', session, (error) => error && console.error(error.message))
   * ```
   */
  set(sid: string, session: S, callback?: Callback): void {
    reply(() => {
      const key = this.#key(sid)
      const expiry = this.#expiryOf(session)
      const data = encode(session)
      const subject = this.#subjectOf(session)
      const options = subject === undefined ? {} : { subject }
      const saved =
        this.#known.has(session) || this.#loaded.has(key)
          ? storeNow.update(this.#store, key, data, new Date(expiry), options)
          : mapNow(storeNow.commit(this.#store, key, data, new Date(expiry), options), () => true)
      return mapNow(saved, (written) => {
        if (written) this.#known.set(session, knownOf(expiry, (session as AdapterSession).cookie))
      })
    }, callback)
  }

  /**
   * Ends a session for good: its row stays as a tombstone until its expiry, so no later
   * save (of a request that loaded it before, here or in another process) brings it back.
   * An unknown id is a no-op.
   *
   * @example
   * ```ts
   * const adapter = new CallbackSessionStore(store)
   * adapter.destroy('sid-from-the-cookie', (error) => error && console.error(error.message))
   * ```
   */
  destroy(sid: string, callback?: Callback): void {
    reply(() => storeNow.delete(this.#store, this.#key(sid), { tombstone: true }), callback)
  }

  /**
   * Records that a session was used: stores the cookie it is given with its new expiry,
   * writing only when it must. Nothing is written when the cookie is unchanged (but for its
   * expiry, and an `originalMaxAge` that moved by less than a second, as express-session's
   * does when the clock ticks while it recomputes it) and the stored expiry lags the new one
   * by less than `touchAfter`; the cookie's `expires` is then set back to the stored expiry,
   * so a cookie sent with this response says what is stored, and the callback is called
   * before `touch` returns (as better-sqlite3-session-store calls back: express-session then
   * sends the response in one piece). Only a live session is touched (a touch never revives
   * one). With `disableTouch`, does nothing and calls back at once.
   *
   * @example
   * ```ts
   * const adapter = new CallbackSessionStore(store)
   * const session = { cookie: { originalMaxAge: 3600_000, expires: new Date(Date.now() + 3600_000) } }
   * adapter.touch('sid-from-the-cookie', session, (error) => error && console.error(error.message))
   * ```
   */
  touch(sid: string, session: S, callback?: Callback): void {
    if (this.#disableTouch) return reply(nothing, callback)
    const known = this.#known.get(session)
    const cookie = (session as AdapterSession).cookie
    if (known !== undefined && sameCookie(known, cookie)) {
      const expiry = this.#expiryOf(session)
      if (!touchDue(known.expiry, expiry, this.#touchAfterOf(session), 'at least')) {
        if (known.expiry < expiry) alignExpires(cookie, known.expiry)
        return reply(nothing, callback)
      }
      return reply(
        () =>
          mapNow(storeNow.touch(this.#store, this.#key(sid), new Date(expiry)), (touched) => {
            if (touched) known.expiry = expiry
          }),
        callback,
      )
    }
    // The cookie changed (a new maxAge, say), or this process never read the session:
    // write the cookie into what is stored, with the new expiry, if the session is live.
    reply(async () => {
      const key = this.#key(sid)
      const expiry = this.#expiryOf(session)
      const row = await this.#store.get(key)
      if (row === undefined) return
      const stored = decode(row.data)
      if (sameCookie(knownOf(row.expiry.getTime(), stored.cookie), cookie)) {
        if (!touchDue(row.expiry.getTime(), expiry, this.#touchAfterOf(session), 'at least')) return
        await this.#store.touch(key, new Date(expiry))
      } else {
        stored.cookie = JSON.parse(JSON.stringify(cookie ?? null))
        if (!(await this.#store.update(key, encode(stored), new Date(expiry)))) return
      }
      this.#known.set(session, knownOf(expiry, cookie))
    }, callback)
  }

  /**
   * Every live session, as an array (each session's `cookie.expires` is as of its last
   * save). Reads them all: on a large table prefer {@link CallbackSessionStore.length} or
   * {@link CallbackSessionStore.listBySubject}.
   *
   * @example
   * ```ts
   * const adapter = new CallbackSessionStore(store)
   * adapter.all((error, sessions) => console.log(error ?? sessions?.length))
   * ```
   */
  all(callback: Callback<S[]>): void {
    reply(async () => [...(await this.#store.all()).values()].map((data) => decode(data) as S), callback)
  }

  /**
   * How many live sessions there are: one COUNT query.
   *
   * @example
   * ```ts
   * const adapter = new CallbackSessionStore(store)
   * adapter.length((error, count) => console.log(error ?? count))
   * ```
   */
  length(callback: Callback<number>): void {
    reply(() => this.#store.count(), callback)
  }

  /**
   * Deletes every session (live, expired and ended) in one statement.
   *
   * @example
   * ```ts
   * const adapter = new CallbackSessionStore(store)
   * adapter.clear((error) => error && console.error(error.message))
   * ```
   */
  clear(callback?: Callback): void {
    reply(async () => {
      await this.#store.clear()
    }, callback)
  }

  /**
   * The live sessions of `subject` (see the `subject` option), the most recently seen
   * first, at most `limit` of them (default 100, at most 1000): for a "your devices" page.
   *
   * @example
   * ```ts
   * const adapter = new CallbackSessionStore(store)
   * adapter.listBySubject('alice', (error, sessions) => {
   *   for (const s of sessions ?? []) console.log(s.id === adapter.idOf('sid-from-the-cookie') ? 'this device' : s.lastSeenAt)
   * })
   * ```
   */
  listBySubject(subject: string, callback: Callback<SubjectDevice[]>): void
  listBySubject(subject: string, options: { limit?: number }, callback: Callback<SubjectDevice[]>): void
  listBySubject(
    subject: string,
    optionsOrCallback: { limit?: number } | Callback<SubjectDevice[]>,
    maybeCallback?: Callback<SubjectDevice[]>,
  ): void {
    const [options, callback] = split<{ limit?: number }, Callback<SubjectDevice[]>>(
      optionsOrCallback,
      maybeCallback,
    )
    reply(async () => {
      checkObject('options', options)
      checkKnownKeys('options', options, ['limit'])
      const limit = listLimit(options.limit, MAX_DEVICES_LIMIT)
      const rows = await this.#store.listBySubject(subject, { limit })
      return rows.map((row) => ({
        id: this.#hashSids ? row.token : sha256(row.token),
        expires: row.expiry,
        createdAt: row.createdAt,
        lastSeenAt: row.lastSeenAt,
      }))
    }, callback)
  }

  /**
   * Ends every session of `subject` (for example after a password change), but the one of
   * `except` (a session id, such as `req.sessionID`, to keep the current device signed
   * in), in one statement; `callback(null, count)`. They end for good, as with
   * {@link CallbackSessionStore.destroy}.
   *
   * @example
   * ```ts
   * const adapter = new CallbackSessionStore(store)
   * adapter.destroyBySubject('alice', { except: 'sid-from-the-cookie' }, (error, count) => console.log(error ?? count))
   * ```
   */
  destroyBySubject(subject: string, callback: Callback<number>): void
  destroyBySubject(subject: string, options: { except?: string }, callback: Callback<number>): void
  destroyBySubject(
    subject: string,
    optionsOrCallback: { except?: string } | Callback<number>,
    maybeCallback?: Callback<number>,
  ): void {
    const [options, callback] = split<{ except?: string }, Callback<number>>(optionsOrCallback, maybeCallback)
    reply(async () => {
      checkObject('options', options)
      checkKnownKeys('options', options, ['except'])
      const { except } = options
      return this.#store.deleteBySubject(subject, {
        ...(except === undefined ? {} : { except: this.#key(except) }),
        tombstone: true,
      })
    }, callback)
  }

  /**
   * The id under which {@link CallbackSessionStore.listBySubject} lists the session of
   * `sid`: its SHA-256 hash, in hex.
   *
   * @example
   * ```ts
   * const adapter = new CallbackSessionStore(store)
   * const current = adapter.idOf('sid-from-the-cookie')
   * ```
   */
  idOf(sid: string): string {
    checkSid(sid)
    return sha256(sid)
  }

  /** @internal Hands what is known of `from` (as `get` returned it) to `to`, the framework's session object built from it. */
  protected adopt(from: object, to: object): void {
    const known = this.#known.get(from)
    if (known !== undefined) this.#known.set(to, known)
  }

  #key(sid: string): string {
    checkSid(sid)
    return this.#hashSids ? sha256(sid) : sid
  }

  #expiryOf(session: S): number {
    const expires = (session as AdapterSession).cookie?.expires
    if (expires !== undefined && expires !== null) {
      const ms = new Date(expires).getTime()
      if (!Number.isNaN(ms)) return ms
    }
    return Date.now() + this.#ttl
  }

  #touchAfterOf(session: S): number {
    if (this.#touchAfter !== undefined) return this.#touchAfter
    const maxAge = (session as AdapterSession).cookie?.originalMaxAge
    const lifetime = typeof maxAge === 'number' && maxAge > 0 ? maxAge : this.#ttl
    return defaultTouchAfter(lifetime)
  }

  #subjectOf(session: S): string | null | undefined {
    if (this.#subject === undefined) return undefined
    const value = this.#subject(session)
    if (value === undefined || value === null) return null
    if (typeof value === 'number' && Number.isFinite(value)) return String(value)
    if (typeof value === 'string' && value.length > 0 && value.length <= MAX_SUBJECT_LENGTH) return value
    throw new TypeError(
      `subject(session) must return a string of 1 to ${MAX_SUBJECT_LENGTH} characters, a number, null or undefined`,
    )
  }
}

/**
 * Calls `callback` exactly once with what `run` answers: before `reply` returns when `run`
 * answers at once (a touch that writes nothing, or any call on sqlite(): see {@link storeNow})
 * or throws; once its promise settled, on the next tick (outside the promise chain, so that
 * the callback's own throw is not swallowed), when it answers with a promise. At once matters:
 * a store that calls back later makes express-session send all but the last byte of the body
 * first and the last byte afterwards (two writes on the socket, and the client waits for the
 * second), on every request.
 */
function reply<T>(run: () => Now<T>, callback: Callback<T> | undefined): void {
  let answer: Now<T>
  try {
    answer = run()
  } catch (error) {
    return callback?.(error)
  }
  if (isPromiseLike(answer)) {
    Promise.resolve(answer).then(
      (result) => callback && process.nextTick(callback, null, result),
      (error: unknown) => callback && process.nextTick(callback, error),
    )
  } else {
    callback?.(null, answer)
  }
}

function nothing(): void {}

function split<O extends object, C>(optionsOrCallback: O | C, callback: C | undefined): [O, C] {
  return typeof optionsOrCallback === 'function'
    ? [{} as O, optionsOrCallback as C]
    : [optionsOrCallback as O, callback as C]
}

function encode(session: object): Uint8Array {
  return Buffer.from(JSON.stringify(session), 'utf8')
}

function decode(data: Uint8Array): AdapterSession {
  const session = parseJson(data)
  if (!isObject(session)) throw new TypeError(`session data is not a JSON object (${data.byteLength} bytes)`)
  return session as AdapterSession
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * How far apart two `originalMaxAge`s of one cookie may be and still be the same: express-session
 * recomputes it on every request as the new expiry minus a second read of the clock, which is
 * a millisecond short when the clock moved in between.
 */
const MAX_AGE_DRIFT = 1000

/**
 * Whether `cookie` is the one `known` describes, but for its expiry: the same fields, and an
 * `originalMaxAge` less than {@link MAX_AGE_DRIFT} from `known`'s.
 */
function sameCookie(known: Known, cookie: unknown): boolean {
  if (known.cookie !== cookieKey(cookie)) return false
  const maxAge = maxAgeOf(cookie)
  return (
    maxAge === known.maxAge ||
    (typeof maxAge === 'number' &&
      typeof known.maxAge === 'number' &&
      Math.abs(maxAge - known.maxAge) < MAX_AGE_DRIFT)
  )
}

/** What {@link Known} keeps of a row's expiry and a cookie. */
function knownOf(expiry: number, cookie: unknown): Known {
  return { expiry, cookie: cookieKey(cookie), maxAge: maxAgeOf(cookie) }
}

/** The cookie's `originalMaxAge` (express-session's and @fastify/session's), or undefined. */
function maxAgeOf(cookie: unknown): unknown {
  return isObject(cookie) ? cookie.originalMaxAge : undefined
}

/**
 * The cookie as JSON, keys sorted, without `expires` and `originalMaxAge` (compared apart: see
 * {@link sameCookie}): equal when only the expiry moved. Built field by field from what
 * `JSON.stringify(cookie)` would write (express-session's Cookie writes its `toJSON()`),
 * without writing and parsing the whole cookie: this runs twice on every request (in `get`
 * and in `touch`).
 */
function cookieKey(cookie: unknown): string {
  if (cookie === undefined || cookie === null) return ''
  const toJSON = (cookie as { toJSON?: unknown }).toJSON
  const plain: unknown = typeof toJSON === 'function' ? toJSON.call(cookie, '') : cookie
  if (!isObject(plain)) return JSON.stringify(plain) ?? ''
  let key = ''
  for (const name of Object.keys(plain).sort()) {
    if (name === 'expires' || name === 'originalMaxAge') continue
    const value = JSON.stringify(plain[name])
    if (value !== undefined) key += `${JSON.stringify(name)}:${value},`
  }
  return key
}

/** Sets the cookie's `expires` to `ms`, leaving express-session's `originalMaxAge` as it was. */
function alignExpires(cookie: AdapterSession['cookie'], ms: number): void {
  if (!(cookie?.expires instanceof Date)) return
  const { originalMaxAge } = cookie
  cookie.expires = new Date(ms)
  cookie.originalMaxAge = originalMaxAge
}

function sha256(text: string): string {
  return hash('sha256', text, 'hex')
}

function checkSid(sid: unknown): asserts sid is string {
  if (typeof sid !== 'string') throw new TypeError(`sid must be a string, got ${typeof sid}`)
}

function checkSeconds(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number')
    throw new TypeError(`${name} must be a number of seconds, got ${typeof value}`)
  if (!Number.isFinite(value))
    throw new RangeError(`${name} must be a finite number of seconds, got ${value}`)
}
