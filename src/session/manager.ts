import { createHash, createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { MAX_DATA_SIZE } from '../store/options.js'
import {
  isPromiseLike,
  mapNow,
  storeNow,
  type CommitOptions,
  type Now,
  type ListBySubjectOptions,
  type StoredSession,
  type SubjectSession,
} from '../store/store.js'
import {
  checkInterval,
  checkKnownKeys,
  checkObject,
  checkPositiveInteger,
  checkSubject,
  listLimit,
  MAX_DEVICES_LIMIT,
} from '../validate.js'
import { jsonCodec, sizeBound, type Codec } from './codec.js'
import { readCookie, resolveCookie, writeCookie, type CookieOptions, type ResolvedCookie } from './cookie.js'
import { handler, middleware, sessionOf, type HeaderList, type Host, type LoadOptions } from './hold.js'
import {
  DEVICE,
  mark,
  newSession,
  recordOf,
  REMEMBER_ME,
  Session,
  type SeenDevice,
  type SessionBackend,
  type SessionRecord,
} from './session.js'
import { defaultTouchAfter, touchDue } from './touch.js'
import { parseUserAgent } from './user-agent.js'

/**
 * What a SessionManager needs of a store: {@link KyselyStore} fits, and so does any object
 * with `find`, `commit`, `delete` and `all` (SCS's Store interface, in promises).
 *
 * The optional methods give guarantees and features a bare SCS store cannot:
 * - `update` (write only while the session is live) is what makes an ended session stay
 *   ended: without it, a request that loaded a session before another request destroyed or
 *   renewed it saves it back with `commit`, an upsert, and so revives it.
 * - `get` (data with expiry and subject) lets an idle timeout be extended only every
 *   `touchAfter` instead of on every request, and lets `session.subject` be read back.
 * - `touch` moves an expiry without rewriting the data.
 * - `entries` lets `iterate` read the table in pages instead of all at once.
 * - `listBySubject`, `countBySubject` and `deleteBySubject` are the per-user methods;
 *   `trimBySubject` enforces `maxSessionsPerSubject`.
 *
 * @example
 * ```ts
 * const store: SessionStore = new KyselyStore(db)
 * ```
 */
export interface SessionStore {
  find(token: string): Promise<Uint8Array | undefined>
  commit(token: string, data: Uint8Array, expiry: Date, options?: CommitOptions): Promise<void>
  delete(token: string): Promise<void>
  all(): Promise<Map<string, Uint8Array>>
  /** Optional: lets an idle timeout be extended without rewriting the data. */
  touch?(token: string, expiry: Date): Promise<boolean>
  /** Optional: a live session with its expiry and subject. */
  get?(token: string): Promise<StoredSession | undefined>
  /** Optional: writes only while the session is live; false, writing nothing, otherwise. */
  update?(
    token: string,
    data: Uint8Array,
    expiry: Date,
    options?: { subject?: string | null },
  ): Promise<boolean>
  /** Optional: live sessions in pages. */
  entries?(options?: { pageSize?: number }): AsyncIterable<[string, Uint8Array]>
  /**
   * Optional: a subject's live sessions, the most recently seen first, at most `limit`; with
   * `createdAt`, those created at that instant (how `revoke(id)` finds its session); with
   * `withData`, with their data (for `deviceInfo`).
   */
  listBySubject?(subject: string, options?: ListBySubjectOptions): Promise<SubjectSession[]>
  /** Optional: how many live sessions a subject has. */
  countBySubject?(subject: string): Promise<number>
  /** Optional: deletes a subject's sessions but `except`; resolves to how many. */
  deleteBySubject?(subject: string, options?: { except?: string }): Promise<number>
  /** Optional: ends a subject's sessions beyond the `keep` most recently seen, never `except`. */
  trimBySubject?(subject: string, options: { keep: number; except?: string }): Promise<number>
}

/**
 * The `deviceInfo` option of {@link SessionManager} in its long form.
 *
 * @example
 * ```ts
 * import type { DeviceInfoOptions } from 'kysely-session-store'
 *
 * const deviceInfo: DeviceInfoOptions = { address: false } // browser and OS only
 * new SessionManager({ store, deviceInfo })
 * ```
 */
export interface DeviceInfoOptions {
  /**
   * Also keep the client address each signed-in session was last seen from.
   * @default true
   */
  readonly address?: boolean
}

/**
 * Options of {@link SessionManager}. Only `store` is required.
 *
 * @example
 * ```ts
 * new SessionManager({ store, lifetime: 24 * 3600_000, idleTimeout: 30 * 60_000, cookie: { name: '__Host-session' } })
 * ```
 */
export interface SessionManagerOptions {
  /** Where sessions live: a {@link KyselyStore} or any {@link SessionStore}. */
  readonly store: SessionStore
  /**
   * The absolute lifetime of a session in ms, however active it is.
   * @default 24 hours
   */
  readonly lifetime?: number
  /**
   * End a session after this many ms without a request (requests extend it, at most every
   * `touchAfter`).
   * @default none
   */
  readonly idleTimeout?: number
  /**
   * With `idleTimeout`: a request that changes nothing writes (moves the expiry, sets the
   * cookie) only when that moves the stored expiry by more than this many ms. A session then
   * ends between `idleTimeout - touchAfter` and `idleTimeout` after its last request. 0
   * writes on every request. Needs a store with `get` (a {@link KyselyStore}); without it,
   * every request writes.
   * @default idleTimeout / 10
   */
  readonly touchAfter?: number
  /** The session cookie's attributes; see {@link CookieOptions}. `secure` by default. */
  readonly cookie?: CookieOptions
  /**
   * Keep SHA-256 hashes of tokens in the store instead of the tokens, so that a leaked
   * table holds no usable session.
   * @default true
   */
  readonly hashTokens?: boolean
  /**
   * How values become bytes.
   * @default {@link jsonCodec}: JSON values plus Date and Uint8Array
   */
  readonly codec?: Codec
  /**
   * The largest session the manager keeps, in bytes of encoded data: a `set` that would
   * make the session larger throws a RangeError, and so does a save of a larger session.
   * Every request decodes its session, so this bounds the CPU and memory one session costs.
   * @default 64 KiB (DEFAULT_MAX_SESSION_SIZE)
   */
  readonly maxDataSize?: number
  /**
   * Sign cookies: the cookie carries the token and an HMAC-SHA256 of it, and a cookie
   * whose MAC does not verify (or is not spelled exactly as the manager writes it) is not
   * looked up in the store, so forged cookies cost no query. At least 32 characters. An
   * array rotates secrets: the first signs, each verifies: keep an old secret in the array
   * for a `lifetime` after the change. Turning it on (or dropping a secret still in use)
   * signs those cookies' users out.
   * @default none (cookies carry the bare token)
   */
  readonly secret?: string | readonly string[]
  /**
   * Receives every failure (a store that is down, data the codec cannot read), after the
   * response got a 500. Its argument never carries a token in its message.
   * @default one console.error line
   */
  readonly onError?: (error: unknown) => void
  /**
   * The clock, in ms since the epoch.
   * @default Date.now
   */
  readonly now?: () => number
  /**
   * Keep, with each signed-in session (one with a subject), what a devices page shows of the
   * device it was last seen from: the browser and operating system parsed from the
   * User-Agent (not the header itself) and, unless `{ address: false }`, the client address
   * (`req.ip` where Express sets it, else the socket's; `handler()` knows no address, pass
   * it to `load()`). They live in the session's data, so they cost no column and no query:
   * a request from another browser or address writes the session once. Off, nothing is
   * parsed or kept, and the next write of a session drops what was kept.
   *
   * Privacy: a client address is personal data (under the GDPR, for one), and it can tell
   * where someone is; browser and OS help tell a user's devices apart and are less
   * revealing. Both are kept only as long as the session, shown only to its subject (through
   * your devices page), and never written to a log. Turn it on when your users benefit
   * ("is that sign-in mine?") and say so in your privacy notice; `{ address: false }` keeps
   * the browser and OS only.
   * @default false
   */
  readonly deviceInfo?: boolean | DeviceInfoOptions
  /**
   * At most this many live sessions per subject (1 to 1000): when a session takes a subject
   * (a sign-in: `setSubject` after `renewToken`) and is saved, that subject's least recently
   * seen sessions beyond the limit end, never the new one. Two indexed statements per
   * sign-in. Needs a store with `trimBySubject` (a {@link KyselyStore}).
   * @default none: no limit
   */
  readonly maxSessionsPerSubject?: number
}

/**
 * The largest session a {@link SessionManager} keeps unless `maxDataSize` says otherwise:
 * 64 KiB of encoded data. A session holds an id, a cart, a flash message: a few hundred
 * bytes. 64 KiB is a hundred times that, decodes in well under a millisecond on every
 * request, and stays far below the store's 4 MiB and every engine's packet limits.
 *
 * @example
 * ```ts
 * new SessionManager({ store, maxDataSize: 4 * DEFAULT_MAX_SESSION_SIZE }) // 256 KiB
 * ```
 */
export const DEFAULT_MAX_SESSION_SIZE = 64 * 1024

/**
 * One of a subject's sessions, as {@link SessionManager.listSubject} describes it for a
 * "your devices" page.
 *
 * @example
 * ```ts
 * for (const device of await sessions.listSubject('user-42', { current: session })) {
 *   console.log(device.id, device.createdAt, device.lastSeenAt, device.current)
 * }
 * ```
 */
export interface SessionSummary {
  /**
   * An opaque id for {@link SessionManager.revoke}: neither the token nor its hash, and
   * the token cannot be derived from it. Whoever holds it can sign that session out, never
   * use it.
   */
  readonly id: string
  /** When the session was created (null for sessions older than the schema's column). */
  readonly createdAt: Date | null
  /** When the session was last written (at most every `touchAfter`), or null. */
  readonly lastSeenAt: Date | null
  /** When the session ends unless used again. */
  readonly expiry: Date
  /** Whether this is the session passed as `current`. */
  readonly current: boolean
  /** The browser it was last seen from ("Firefox 128"), with `deviceInfo`; else null. */
  readonly browser: string | null
  /** The operating system it was last seen from ("Linux"), with `deviceInfo`; else null. */
  readonly os: string | null
  /** The client address it was last seen from, with `deviceInfo` and its `address`; else null. */
  readonly address: string | null
}

/**
 * What {@link SessionManager.listSubject} resolves to: an array of {@link SessionSummary},
 * and whether the subject has more sessions than it holds (`truncated`, not enumerable, so
 * the list compares and serialises as a plain array).
 *
 * @example
 * ```ts
 * import type { SessionList } from 'kysely-session-store'
 *
 * const devices: SessionList = await sessions.listSubject('user-42', { current: session })
 * if (devices.truncated) console.log(`the ${devices.length} most recently seen`)
 * ```
 */
export interface SessionList extends Array<SessionSummary> {
  readonly truncated: boolean
}

/** 24 hours: SCS's default lifetime. */
const DEFAULT_LIFETIME = 24 * 3600_000
const MIN_SECRET_LENGTH = 32
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/
const SIGNED_PATTERN = /^([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})$/
/** A device id: the subject, the creation time (base 36 ms; `_`: none), the hash of the key. */
const DEVICE_ID_PATTERN = /^([A-Za-z0-9_-]{1,1400})\.(_|-?[0-9a-z]{1,11})\.([A-Za-z0-9_-]{22})$/
/** The most sessions created at one instant that revoke() looks through (the store's page limit). */
const MAX_CANDIDATES = 10_000
/** The longest client address kept: an IPv6 address with a zone. */
const MAX_ADDRESS_LENGTH = 64
const NO_DEVICE: Pick<SessionSummary, 'browser' | 'os' | 'address'> = {
  browser: null,
  os: null,
  address: null,
}
const MAC_BYTES = 16
const KNOWN_OPTIONS = [
  'store',
  'lifetime',
  'idleTimeout',
  'touchAfter',
  'cookie',
  'hashTokens',
  'codec',
  'maxDataSize',
  'secret',
  'onError',
  'now',
  'deviceInfo',
  'maxSessionsPerSubject',
]

function logError(error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : 'a non-Error value was thrown'
  console.error(`kysely-session-store: session failed: ${message}`)
}

/**
 * Sessions for web apps, over any store: SCS's session manager in TypeScript. Loads the
 * session from the request's cookie, gives it to your handler, and saves it (and sets the
 * cookie) before the response's headers go out.
 *
 * A session loaded from the store is saved only while it is live there (with a store that
 * has `update`, as {@link KyselyStore}): once another request has destroyed it, renewed its
 * token or revoked it, no request that loaded it earlier can write it back or set its
 * cookie again. Only a token made in this request is inserted.
 *
 * `Data` types the sessions' values: declare them once, and every session this manager gives
 * out (`get`, `load`, `handler`, `iterate`) reads and writes them typed: `get('userId')` is a
 * `string | undefined`, `set('userId', 1)` does not compile, nor does a key not declared.
 * Without it, keys are any strings and values `unknown`.
 *
 * @typeParam Data - the session's values, as the app declares them: a key and a type for
 * each; by default any string key, `unknown` values.
 *
 * @example
 * ```ts
 * import { KyselyStore, SessionManager } from 'kysely-session-store'
 *
 * const sessions = new SessionManager({ store: new KyselyStore(db) })
 * app.use(sessions.middleware()) // Express, Connect, node:http
 * app.get('/', (req, res) => {
 *   const session = sessions.get(req)
 *   session.set('visits', ((session.get('visits') as number) ?? 0) + 1)
 *   res.send('hello')
 * })
 * ```
 *
 * @example
 * ```ts
 * interface AppSession {
 *   userId: string
 *   cart: string[]
 * }
 *
 * const sessions = new SessionManager<AppSession>({ store })
 * const session = await sessions.load(request.headers.get('cookie'))
 * const userId: string | undefined = session.get('userId')
 * session.set('cart', [...(session.get('cart') ?? []), 'sku-42'])
 * // @ts-expect-error: userId is a string
 * session.set('userId', 1)
 * ```
 */
export class SessionManager<Data extends object = Record<string, unknown>> {
  readonly #store: SessionStore
  readonly #lifetime: number
  readonly #idleTimeout: number | undefined
  readonly #touchAfter: number
  readonly #cookie: ResolvedCookie
  readonly #hashTokens: boolean
  readonly #codec: Codec
  readonly #maxDataSize: number
  readonly #secrets: readonly string[]
  readonly #onError: (error: unknown) => void
  readonly #now: () => number
  /** With `deviceInfo`: whether to keep the address too; undefined when it is off. */
  readonly #deviceInfo: { readonly address: boolean } | undefined
  readonly #maxPerSubject: number | undefined
  readonly #backend: SessionBackend
  readonly #host: Host<Data>

  /**
   * @throws TypeError or RangeError when an option is not valid, unknown keys included.
   *
   * @example
   * ```ts
   * const sessions = new SessionManager({ store, idleTimeout: 20 * 60_000 })
   * const plainHttp = new SessionManager({ store, cookie: { secure: false } }) // no HTTPS at all
   * ```
   */
  constructor(options: SessionManagerOptions) {
    checkObject('options', options)
    checkKnownKeys('options', options, KNOWN_OPTIONS)
    const { store, lifetime = DEFAULT_LIFETIME, idleTimeout, hashTokens = true } = options
    const { codec = jsonCodec, onError = logError, now = Date.now } = options
    const { maxDataSize = DEFAULT_MAX_SESSION_SIZE, secret } = options
    for (const method of ['find', 'commit', 'delete', 'all'] as const) {
      if (typeof (store as Partial<SessionStore> | undefined)?.[method] !== 'function') {
        throw new TypeError(
          `store must have find, commit, delete and all methods (a KyselyStore), it has no ${method}()`,
        )
      }
    }
    checkPositive('lifetime', lifetime)
    if (idleTimeout !== undefined) checkPositive('idleTimeout', idleTimeout)
    const touchAfter =
      options.touchAfter ?? (idleTimeout === undefined ? 0 : Math.floor(defaultTouchAfter(idleTimeout)))
    if (options.touchAfter !== undefined) {
      checkInterval('touchAfter', touchAfter)
      if (idleTimeout === undefined || touchAfter >= idleTimeout) {
        throw new RangeError(
          `touchAfter must be shorter than idleTimeout (${idleTimeout === undefined ? 'not set' : idleTimeout} ms), got ${touchAfter}`,
        )
      }
    }
    if (typeof hashTokens !== 'boolean') throw new TypeError('hashTokens must be a boolean')
    if (typeof codec?.encode !== 'function' || typeof codec.decode !== 'function') {
      throw new TypeError('codec must have encode() and decode() methods')
    }
    checkPositiveInteger('maxDataSize', maxDataSize, MAX_DATA_SIZE)
    if (typeof onError !== 'function') throw new TypeError('onError must be a function')
    if (typeof now !== 'function') throw new TypeError('now must be a function')
    const { maxSessionsPerSubject } = options
    if (maxSessionsPerSubject !== undefined) {
      checkPositiveInteger('maxSessionsPerSubject', maxSessionsPerSubject, MAX_DEVICES_LIMIT)
      if (typeof store.trimBySubject !== 'function') {
        throw new TypeError('maxSessionsPerSubject needs a store with trimBySubject() (a KyselyStore)')
      }
    }
    this.#deviceInfo = resolveDeviceInfo(options.deviceInfo)
    this.#maxPerSubject = maxSessionsPerSubject
    this.#store = store
    this.#lifetime = lifetime
    this.#idleTimeout = idleTimeout
    this.#touchAfter = touchAfter
    this.#cookie = resolveCookie(options.cookie)
    this.#hashTokens = hashTokens
    this.#codec = codec
    this.#maxDataSize = maxDataSize
    this.#secrets = resolveSecrets(secret)
    this.#onError = onError
    this.#now = now
    this.#backend = this.#makeBackend(true)
    this.#host = {
      deviceInfo: this.#deviceInfo !== undefined,
      open: (cookieHeader, device) => this.#open(cookieHeader, device),
      needsSave: (session) => this.#needsSave(recordOf(session)),
      save: (session) => this.#saveNow(recordOf(session)),
      report: (error) => this.#report(error),
    }
  }

  /**
   * The session of a request, from its Cookie header. An unknown, expired, malformed or
   * (with `secret`) unsigned token is never adopted: the result is then a new, empty
   * session, which gets a fresh token when it is first saved. Malformed and unsigned
   * tokens are not even looked up. With `deviceInfo`, `device` says where the request comes
   * from (see {@link LoadOptions}); a signed-in session seen from another browser or address
   * than it was is then modified, so that saving it keeps the new one.
   *
   * @throws TypeError (a rejection) when `device` is not such an object.
   *
   * @example
   * ```ts
   * const session = await sessions.load(request.headers.get('cookie'))
   * const located = await sessions.load(request.headers.get('cookie'), { address: '203.0.113.7' })
   * ```
   */
  async load(cookieHeader: string | null | undefined, device?: LoadOptions): Promise<Session<Data>> {
    if (device !== undefined) checkLoadOptions(device)
    return this.#open(cookieHeader, device)
  }

  /**
   * load() without its checks and its promise: the session at once when the store answered at
   * once (or there was nothing to look up), else a promise of it. Throws what the store's call
   * throws. middleware() and handler() call it with a `device` they made themselves.
   */
  #open(
    cookieHeader: string | null | undefined,
    device: LoadOptions | undefined,
  ): Session<Data> | PromiseLike<Session<Data>> {
    const token = this.#tokenOf(readCookie(cookieHeader, this.#cookie.name))
    if (token === undefined) return this.#opened(newSession(this.#backend), device)
    const key = this.#keyOf(token)
    const store = this.#store
    if (store.get !== undefined) {
      const row = storeNow.get(store as Required<SessionStore>, key)
      return isPromiseLike(row)
        ? row.then((found) => this.#fromRow(token, key, found, device))
        : this.#fromRow(token, key, row, device)
    }
    const data = storeNow.find(store, key)
    return isPromiseLike(data)
      ? data.then((found) => this.#fromData(token, key, found, device))
      : this.#fromData(token, key, data, device)
  }

  /** The session of the data that `find` answered with, or a new one when there was none. */
  #fromData(
    token: string,
    key: string,
    data: Uint8Array | undefined,
    device: LoadOptions | undefined,
  ): Session<Data> {
    if (data === undefined) return this.#opened(newSession(this.#backend), device)
    const { deadline, values } = this.#codec.decode(data)
    const session = newSession<Data>(this.#backend, {
      token,
      key,
      deadline: deadline.getTime(),
      values,
      size: data.byteLength,
    })
    return this.#opened(session, device)
  }

  /** The session of a row that `get` answered with, or a new one when there was none. */
  #fromRow(
    token: string,
    key: string,
    row: StoredSession | undefined,
    device: LoadOptions | undefined,
  ): Session<Data> {
    if (row === undefined) return this.#opened(newSession(this.#backend), device)
    const { deadline, values } = this.#codec.decode(row.data)
    const session = newSession<Data>(this.#backend, {
      token,
      key,
      deadline: deadline.getTime(),
      values,
      subject: row.subject,
      expiry: row.expiry.getTime(),
      size: row.data.byteLength,
    })
    return this.#opened(session, device)
  }

  /** With `deviceInfo`, records where a just loaded session is seen from. */
  #opened(session: Session<Data>, device: LoadOptions | undefined): Session<Data> {
    if (this.#deviceInfo !== undefined) this.#seen(recordOf(session), device)
    return session
  }

  /**
   * Saves what changed in `session` and returns the headers the response needs: nothing
   * when there is nothing to write; else `Set-Cookie`, `Vary: Cookie` and
   * `Cache-Control: no-cache="Set-Cookie"`. Use it where `middleware()` and `handler()` do
   * not fit.
   *
   * - A session loaded from the store is written only while it is live there: when another
   *   request ended it meanwhile, nothing is written and no cookie is set. Only a token made
   *   in this request (a new session, `renewToken()`) is inserted. This needs a store with
   *   `update`; without one the session is committed (an upsert), as SCS does.
   * - With `idleTimeout`, an unmodified session is written (its expiry moved, its cookie
   *   set again) only when that moves the expiry by more than `touchAfter`.
   * - It waits for the deletions `renewToken()` and `destroy()` started, and rejects, writing
   *   nothing, when one failed.
   * - It rejects with a RangeError when the encoded session is larger than `maxDataSize`.
   *
   * @example
   * ```ts
   * for (const [name, value] of await sessions.save(session)) response.headers.append(name, value)
   * ```
   */
  async save(session: Session<Data>): Promise<HeaderList> {
    if (!(session instanceof Session)) throw new TypeError('session must be a Session from this library')
    return this.#saveNow(recordOf(session))
  }

  /**
   * save() without its check and its promise: the headers at once when the store answered at
   * once (or there was nothing to write), else a promise of them. Throws what the store's
   * call throws.
   */
  #saveNow(record: SessionRecord): Now<HeaderList> {
    if (record.pending !== undefined) return settle(record).then(() => this.#saveSettled(record))
    return this.#saveSettled(record) // no promise on the usual path
  }

  #saveSettled(record: SessionRecord): Now<HeaderList> {
    const now = this.#now()
    switch (record.status) {
      case 'destroyed':
        settled(record)
        return this.#headers(writeCookie(this.#cookie, '', undefined, now, false))
      case 'modified': {
        if (record.key === undefined) assign(record, this.#backend.newToken())
        const expiry = this.#expiry(record, now)
        return mapNow(this.#write(record, expiry), (written) =>
          written ? this.#cookieFor(record, expiry, now) : [],
        )
      }
      case 'unmodified': {
        if (!this.#touchDue(record, now)) return []
        // Only the expiry moves: touch, or rewrite the data where the store cannot touch.
        const expiry = this.#expiry(record, now)
        const store = this.#store
        if (store.touch === undefined) {
          return mapNow(this.#write(record, expiry), (written) =>
            written ? this.#cookieFor(record, expiry, now) : [],
          )
        }
        return mapNow(
          storeNow.touch(store as Required<SessionStore>, record.key!, new Date(expiry)),
          (touched) => {
            if (!touched) {
              settled(record, true)
              return []
            }
            saved(record, expiry)
            return this.#cookieFor(record, expiry, now)
          },
        )
      }
    }
  }

  /**
   * Middleware for node:http, Connect and Express: loads the session (read it with
   * {@link SessionManager.get}, or as `req.session` from JavaScript) and saves it before the
   * response's headers go out, even for a streamed body (a change made after they went out is
   * not saved). A response whose session does not change is left as it is. A store that fails
   * while loading reaches `next(error)`; while saving, the response becomes a 500 and the
   * error goes to `onError`.
   *
   * @example
   * ```ts
   * app.use(sessions.middleware())
   * ```
   */
  middleware(): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
    return middleware(this.#host)
  }

  /**
   * The session that `middleware()` loaded for `req`, typed: use it in TypeScript instead
   * of `req.session` (which this library does not declare, so that it cannot clash with
   * `@types/express-session`).
   *
   * @throws TypeError when `middleware()` has not run for `req`.
   *
   * @example
   * ```ts
   * app.get('/', (req, res) => {
   *   const session = sessions.get(req)
   *   res.send(String(session.get('userId') ?? 'anonymous'))
   * })
   * ```
   */
  get(req: object): Session<Data> {
    return sessionOf<Data>(req)
  }

  /**
   * Wraps a fetch-style handler (Hono, Bun, Deno, any web-standard runtime): the handler
   * gets the request's session; its response gets the cookie once the session is saved. A
   * store failure becomes a 500 response and goes to `onError`.
   *
   * @example
   * ```ts
   * export default {
   *   fetch: sessions.handler(async (request, session) => {
   *     session.set('seen', new Date())
   *     return new Response('ok')
   *   }),
   * }
   * ```
   */
  handler(
    fn: (request: Request, session: Session<Data>) => Response | Promise<Response>,
  ): (request: Request) => Promise<Response> {
    return handler(this.#host, fn)
  }

  /**
   * Calls `fn` with every live session, one at a time, and saves what it changed: a
   * session it destroys is deleted, one it modifies is written (while it is still live).
   * Sessions reached this way cannot `renewToken()`. A session whose data the codec cannot
   * read goes to `onError`, and the iteration goes on. Reads the store in pages when it has
   * `entries` (a {@link KyselyStore}); to end one user's sessions,
   * {@link SessionManager.revokeSubject} is one indexed statement instead.
   *
   * @example
   * ```ts
   * await sessions.iterate(async (session) => {
   *   if (session.get('plan') === 'trial') session.set('banner', 'Your trial ends soon')
   * })
   * ```
   */
  async iterate(fn: (session: Session<Data>) => void | Promise<void>): Promise<void> {
    if (typeof fn !== 'function') throw new TypeError('iterate(fn): fn must be a function')
    const backend = this.#makeBackend(false)
    const source = this.#store.entries !== undefined ? this.#store.entries() : await this.#store.all()
    for await (const [key, data] of source) {
      let decoded: ReturnType<Codec['decode']>
      try {
        decoded = this.#codec.decode(data)
      } catch (error) {
        this.#report(error)
        continue
      }
      const session = newSession<Data>(backend, {
        key,
        deadline: decoded.deadline.getTime(),
        values: decoded.values,
      })
      await fn(session)
      const record = recordOf(session)
      if (record.pending !== undefined) await settle(record)
      if (record.status === 'modified') await this.#write(record, this.#expiry(record, this.#now()))
    }
  }

  /**
   * The live sessions of `subject` (see {@link Session.setSubject}), for a "your devices"
   * page: at most `limit` of them (default 100, at most 1000), the most recently seen first,
   * each with an opaque `id` for {@link SessionManager.revoke}, when it was created and last
   * seen, whether it is `current`, and, with `deviceInfo`, the browser, OS and address it was
   * last seen from. `current` is always listed when it is a live session of `subject`, even
   * behind `limit` more recently seen ones (someone who signed in again and again cannot hide
   * it): it then takes the last place. `truncated` says whether there are more sessions than
   * listed ({@link SessionManager.countSubject} counts them). One indexed query, however many
   * sessions the subject has (two when `current` is not among the most recent). "Last seen"
   * is when the session was last written: with `idleTimeout`, at most `touchAfter` ago. Needs
   * a store with subjects (a {@link KyselyStore}).
   *
   * @example
   * ```ts
   * const devices = await sessions.listSubject('user-42', { current: session })
   * for (const device of devices) console.log(device.browser, device.os, device.lastSeenAt, device.current)
   * if (devices.truncated) console.log('and more')
   * ```
   */
  async listSubject(
    subject: string,
    options: { limit?: number; current?: Session<Data> } = {},
  ): Promise<SessionList> {
    checkSubject(subject)
    checkObject('options', options)
    checkKnownKeys('options', options, ['limit', 'current'])
    const { current } = options
    const limit = listLimit(options.limit, MAX_DEVICES_LIMIT)
    if (current !== undefined && !(current instanceof Session)) {
      throw new TypeError('current must be a Session from this library')
    }
    const store = this.#subjectStore('listBySubject')
    const withData = this.#deviceInfo !== undefined
    // One more than asked for: whether there are more, without a COUNT.
    const rows = await store.listBySubject!(subject, { limit: limit + 1, ...(withData ? { withData } : {}) })
    const truncated = rows.length > limit
    let listed = rows.slice(0, limit)
    const currentRecord = current === undefined ? undefined : recordOf(current)
    const currentKey = currentRecord?.stored ? currentRecord.key : undefined
    if (
      currentKey !== undefined &&
      !listed.some((row) => row.token === currentKey) &&
      store.get !== undefined
    ) {
      const mine = await store.get(currentKey)
      if (mine?.subject === subject) listed = [...listed.slice(0, limit - 1), { token: currentKey, ...mine }]
    }
    const summaries = listed.map((row): SessionSummary => ({
      id: this.#deviceId(subject, row.token, row.createdAt),
      createdAt: row.createdAt,
      lastSeenAt: row.lastSeenAt,
      expiry: row.expiry,
      current: row.token === currentKey,
      ...(withData && row.data !== undefined ? this.#deviceIn(row.data) : NO_DEVICE),
    }))
    return Object.defineProperty(summaries, 'truncated', { value: truncated }) as SessionList
  }

  /**
   * How many live sessions `subject` has. One indexed query.
   *
   * @example
   * ```ts
   * const n = await sessions.countSubject('user-42')
   * ```
   */
  async countSubject(subject: string): Promise<number> {
    checkSubject(subject)
    return this.#subjectStore('countBySubject').countBySubject!(subject)
  }

  /**
   * Signs one session out ("sign out this device"): the session of an `id` from
   * {@link SessionManager.listSubject} is deleted, and its next request is anonymous.
   * Resolves to whether there was such a live session. With `subject`, only a session of
   * that subject is revoked: pass the signed-in user's id, so that an id from elsewhere
   * revokes nothing. An id carries the session's subject and creation time, which find it in
   * one indexed query whatever the number of sessions, and a hash of its stored key, which
   * tells it from others created at the same instant: two queries in all (one when nothing
   * is found). An id lets no one use, find or forge another session.
   *
   * @throws TypeError or RangeError when `id` is not such an id (ids of versions before the
   * creation time was in them included: list the devices again).
   *
   * @example
   * ```ts
   * const [device] = await sessions.listSubject('user-42')
   * if (device) await sessions.revoke(device.id, { subject: 'user-42' })
   * ```
   */
  async revoke(id: string, options: { subject?: string } = {}): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError('id must be a string from listSubject()')
    checkObject('options', options)
    checkKnownKeys('options', options, ['subject'])
    const match = DEVICE_ID_PATTERN.exec(id)
    const subject = match === null ? undefined : Buffer.from(match[1]!, 'base64url').toString('utf8')
    const created = match === null ? undefined : canonicalTime(match[2]!)
    const wanted = match === null ? undefined : canonicalBase64url(match[3]!)
    if (
      subject === undefined ||
      created === undefined ||
      wanted === undefined ||
      Buffer.from(subject, 'utf8').toString('base64url') !== match![1]
    ) {
      throw new RangeError('id must be an id from listSubject()')
    }
    checkSubject(subject, 'id')
    if (options.subject !== undefined) {
      checkSubject(options.subject, 'options.subject')
      if (options.subject !== subject) return false
    }
    const store = this.#subjectStore('listBySubject')
    const candidates = await store.listBySubject!(subject, {
      createdAt: created === null ? null : new Date(created),
      limit: MAX_CANDIDATES,
    })
    for (const row of candidates) {
      if (timingSafeEqual(this.#deviceHash(row.token), wanted)) {
        await store.delete(row.token)
        return true
      }
    }
    return false
  }

  /**
   * Signs out every session of `subject` ("sign out everywhere", after a password change
   * or a ban), or every one but `except` ("sign out all other devices"), in one indexed
   * statement; resolves to how many were deleted. Requests of those sessions that are in
   * flight cannot write them back.
   *
   * @example
   * ```ts
   * await sessions.revokeSubject('user-42', { except: session })
   * ```
   */
  async revokeSubject(subject: string, options: { except?: Session<Data> } = {}): Promise<number> {
    checkSubject(subject)
    checkObject('options', options)
    checkKnownKeys('options', options, ['except'])
    const { except } = options
    if (except !== undefined && !(except instanceof Session)) {
      throw new TypeError('except must be a Session from this library')
    }
    const store = this.#subjectStore('deleteBySubject')
    const key = except === undefined ? undefined : recordOf(except).key
    return store.deleteBySubject!(subject, key === undefined ? {} : { except: key })
  }

  #makeBackend(withRequest: boolean): SessionBackend {
    return {
      now: this.#now,
      lifetime: this.#lifetime,
      newToken: () => {
        if (!withRequest)
          throw new Error('renewToken() needs a request: a session from iterate() has no cookie to renew')
        const token = randomBytes(32).toString('base64url')
        return { token, key: this.#keyOf(token) }
      },
      deleteKey: (key) => this.#store.delete(key),
      check: (value, path) => this.#codec.check?.(value, path),
      checkSize: (record, key, value) => {
        // When the codec knows that setting `value` grows its output by at most `bound`
        // bytes, and the session stays under the limit even so, there is no need to encode
        // it all again (the usual set: a counter, an id, a flag). Else, exactly.
        const bound = sizeBound(this.#codec, key, value)
        const size = record.size
        if (bound !== undefined && size !== undefined && size + bound <= this.#maxDataSize) {
          record.size = size + bound
          return
        }
        record.size = this.#encode(record, key).byteLength
      },
    }
  }

  /** The session's bytes; a RangeError when they are more than `maxDataSize`. */
  #encode(record: SessionRecord, key?: string): Uint8Array {
    const data = this.#codec.encode(new Date(record.deadline), record.values)
    if (data.byteLength > this.#maxDataSize) {
      const what = key === undefined ? 'session' : `value of "${key}" makes the session`
      throw new RangeError(
        `${what} ${data.byteLength} bytes when encoded, more than maxDataSize (${this.#maxDataSize})`,
      )
    }
    return data
  }

  /**
   * Writes the session until `expiry`: inserts a token made in this request, updates a
   * loaded one while it is live. False when it was not live (ended elsewhere).
   */
  #write(record: SessionRecord, expiry: number): Now<boolean> {
    this.#keepDevice(record)
    const data = this.#encode(record)
    record.size = data.byteLength
    const key = record.key!
    const store = this.#store
    // A session that takes a subject now (a sign-in) counts against maxSessionsPerSubject.
    const joins = record.subject !== null && (record.created || record.subjectChanged)
    let written: Now<boolean>
    if (record.created || store.update === undefined) {
      const subject = record.created ? record.subject : undefined
      const options =
        record.subjectChanged || (subject !== undefined && subject !== null)
          ? { subject: record.subject }
          : undefined
      written = mapNow(storeNow.commit(store, key, data, new Date(expiry), options), () => true)
    } else {
      const options = record.subjectChanged ? { subject: record.subject } : undefined
      written = storeNow.update(store as Required<SessionStore>, key, data, new Date(expiry), options)
    }
    return mapNow(written, (live): Now<boolean> => {
      if (!live) {
        settled(record, true)
        return false
      }
      if (joins && this.#maxPerSubject !== undefined) {
        return store.trimBySubject!(record.subject!, { keep: this.#maxPerSubject, except: key }).then(() => {
          saved(record, expiry)
          return true
        })
      }
      saved(record, expiry)
      return true
    })
  }

  /**
   * With `deviceInfo`, where `session` (just loaded) is seen from; a signed-in session seen
   * from elsewhere than it was is modified, so that it is written with the new place.
   */
  #seen(record: SessionRecord, device: LoadOptions | undefined): void {
    const kept = record.values[DEVICE] as SeenDevice | undefined
    const { browser, os } = parseUserAgent(device?.userAgent ?? '')
    // An address this request does not know (a fetch handler) leaves the one kept.
    const given = this.#deviceInfo!.address ? device?.address : undefined
    const address =
      given === undefined || given === ''
        ? this.#deviceInfo!.address
          ? (kept?.address ?? null)
          : null
        : normaliseAddress(given)
    const seen: SeenDevice = { browser, os, address }
    record.seenFrom = seen
    if (
      record.stored &&
      record.subject !== null &&
      (kept?.browser !== browser || kept.os !== os || kept.address !== address)
    ) {
      mark(record, 'modified')
    }
  }

  /**
   * Before a write: keeps where a signed-in session is seen from (with `deviceInfo`), and
   * drops it from a session without a subject, or when `deviceInfo` is off.
   */
  #keepDevice(record: SessionRecord): void {
    if (this.#deviceInfo !== undefined && record.subject !== null) {
      if (record.seenFrom !== undefined) record.values[DEVICE] = record.seenFrom
    } else if (Object.hasOwn(record.values, DEVICE)) {
      delete record.values[DEVICE]
    }
  }

  /** What a session's data keeps of its device; nothing when it cannot be read. */
  #deviceIn(data: Uint8Array): Pick<SessionSummary, 'browser' | 'os' | 'address'> {
    try {
      const kept = this.#codec.decode(data).values[DEVICE] as Partial<SeenDevice> | undefined
      if (kept === undefined || kept === null || typeof kept !== 'object') return NO_DEVICE
      const text = (value: unknown) => (typeof value === 'string' ? value : null)
      return {
        browser: text(kept.browser),
        os: text(kept.os),
        address: this.#deviceInfo?.address ? text(kept.address) : null,
      }
    } catch (error) {
      this.#report(error)
      return NO_DEVICE
    }
  }

  /** Whether saving a session now would do anything: decided without waiting. */
  #needsSave(record: SessionRecord): boolean {
    return (
      record.pending !== undefined || record.status !== 'unmodified' || this.#touchDue(record, this.#now())
    )
  }

  /** Whether an unmodified session's expiry must move (idle timeout, stale by more than touchAfter). */
  #touchDue(record: SessionRecord, now: number): boolean {
    if (this.#idleTimeout === undefined || !record.stored) return false
    const stored = record.storedExpiry
    return stored === undefined || touchDue(stored, this.#expiry(record, now), this.#touchAfter)
  }

  #subjectStore(method: 'listBySubject' | 'countBySubject' | 'deleteBySubject'): SessionStore {
    if (typeof this.#store[method] !== 'function') {
      throw new TypeError(
        `store has no ${method}(): per-user sessions need a store with subjects (a KyselyStore)`,
      )
    }
    return this.#store
  }

  /** The token a cookie value carries, when well-formed (and, with a secret, signed). */
  #tokenOf(value: string | undefined): string | undefined {
    if (value === undefined) return undefined
    if (this.#secrets.length === 0) return TOKEN_PATTERN.test(value) ? value : undefined
    const match = SIGNED_PATTERN.exec(value)
    if (match === null) return undefined
    const token = match[1]!
    const mac = canonicalBase64url(match[2]!)
    if (mac === undefined) return undefined
    for (const secret of this.#secrets) {
      if (timingSafeEqual(macOf(secret, token), mac)) return token
    }
    return undefined
  }

  #cookieValue(token: string): string {
    const secret = this.#secrets[0]
    return secret === undefined ? token : `${token}.${macOf(secret, token).toString('base64url')}`
  }

  #keyOf(token: string): string {
    // crypto.hash: one call, no Hash object per request (Node 20.12+).
    return this.#hashTokens ? hash('sha256', token, 'hex') : token
  }

  /**
   * The opaque id of the session stored under `key`: the subject and the creation time
   * (which find it in the `(subject, created_at)` index), and a hash of the key (which tells
   * it from the others created at that instant).
   */
  #deviceId(subject: string, key: string, createdAt: Date | null): string {
    const created = createdAt === null ? '_' : createdAt.getTime().toString(36)
    return `${Buffer.from(subject, 'utf8').toString('base64url')}.${created}.${this.#deviceHash(key).toString('base64url')}`
  }

  /** 16 bytes of SHA-256 over the key with a label: not the key, not the token's hash. */
  #deviceHash(key: string): Buffer {
    return createHash('sha256')
      .update('kysely-session-store device\0')
      .update(key)
      .digest()
      .subarray(0, MAC_BYTES)
  }

  #expiry(record: SessionRecord, now: number): number {
    const deadline = record.deadline
    return this.#idleTimeout === undefined ? deadline : Math.min(deadline, now + this.#idleTimeout)
  }

  #cookieFor(record: SessionRecord, expiry: number, now: number): HeaderList {
    const persistent = this.#cookie.persist || record.values[REMEMBER_ME] === true
    return this.#headers(writeCookie(this.#cookie, this.#cookieValue(record.token!), expiry, now, persistent))
  }

  #headers(setCookie: string): HeaderList {
    return [
      ['Set-Cookie', setCookie],
      ['Vary', 'Cookie'],
      ['Cache-Control', 'no-cache="Set-Cookie"'],
    ]
  }

  #report(error: unknown): void {
    try {
      this.#onError(error)
    } catch {
      // An onError that throws must not crash the process.
    }
  }
}

/** Waits for a session's pending deletions (of renewToken, destroy); rejects with the first that failed. */
async function settle(record: SessionRecord): Promise<void> {
  const pending = record.pending
  if (pending === undefined) return
  record.pending = undefined
  for (const result of await Promise.allSettled(pending)) {
    if (result.status === 'rejected') throw result.reason
  }
}

/** Gives a session its first token, just before its first commit. */
function assign(record: SessionRecord, identity: { token: string | undefined; key: string }): void {
  record.token = identity.token
  record.key = identity.key
  record.created = true
  record.stored = false
}

/** After a write: the store holds this session until `expiry`. */
function saved(record: SessionRecord, expiry: number): void {
  record.status = 'unmodified'
  record.created = false
  record.stored = true
  record.subjectChanged = false
  record.storedExpiry = expiry
}

/**
 * After a save found nothing to do, or found the session ended elsewhere (`ended`): nothing
 * is pending any more.
 */
function settled(record: SessionRecord, ended = false): void {
  record.status = 'unmodified'
  record.subjectChanged = false
  if (ended) record.stored = false
}

function checkPositive(name: string, value: unknown): void {
  checkInterval(name, value)
  if (value === 0) throw new RangeError(`${name} must be a positive number of milliseconds, got 0`)
}

function resolveSecrets(secret: unknown): readonly string[] {
  if (secret === undefined) return []
  const secrets = typeof secret === 'string' ? [secret] : secret
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new TypeError('secret must be a string or a non-empty array of strings')
  }
  for (const each of secrets) {
    if (typeof each !== 'string')
      throw new TypeError('secret must be a string or a non-empty array of strings')
    if (each.length < MIN_SECRET_LENGTH) {
      throw new RangeError(`secret must be at least ${MIN_SECRET_LENGTH} characters long, got ${each.length}`)
    }
  }
  return Object.freeze([...secrets])
}

/**
 * The bytes `text` spells in base64url, when `text` is their one canonical spelling; else
 * undefined. The last character of a 16-byte value carries 4 unused bits, so 16 spellings
 * decode to the same bytes: only the one with those bits zero (the one we write) is taken.
 */
function canonicalBase64url(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64url')
  return bytes.toString('base64url') === text ? bytes : undefined
}

/**
 * The time (ms) a device id's creation part spells, `null` for `_` (none), when `text` is its
 * one canonical spelling (no leading zeros, no `-0`); else undefined.
 */
function canonicalTime(text: string): number | null | undefined {
  if (text === '_') return null
  const ms = parseInt(text, 36)
  return Number.isSafeInteger(ms) && Math.abs(ms) <= 8.64e15 && ms.toString(36) === text ? ms : undefined
}

/** `deviceInfo` as the manager keeps it: undefined when off. */
function resolveDeviceInfo(deviceInfo: unknown): { readonly address: boolean } | undefined {
  if (deviceInfo === undefined || deviceInfo === false) return undefined
  if (deviceInfo === true) return Object.freeze({ address: true })
  if (typeof deviceInfo !== 'object' || deviceInfo === null || Array.isArray(deviceInfo)) {
    throw new TypeError('deviceInfo must be true, false or { address: boolean }')
  }
  checkKnownKeys('deviceInfo', deviceInfo, ['address'])
  const { address = true } = deviceInfo as DeviceInfoOptions
  if (typeof address !== 'boolean') throw new TypeError('deviceInfo.address must be a boolean')
  return Object.freeze({ address })
}

function checkLoadOptions(device: unknown): asserts device is LoadOptions {
  checkObject('device', device)
  checkKnownKeys('device', device, ['userAgent', 'address'])
  for (const key of ['userAgent', 'address'] as const) {
    const value = (device as LoadOptions)[key]
    if (value !== undefined && typeof value !== 'string') {
      throw new TypeError(`device.${key} must be a string or undefined, got ${typeof value}`)
    }
  }
}

/** An IPv4 address as itself rather than IPv6-mapped (`::ffff:192.0.2.1`), at most 64 characters. */
function normaliseAddress(address: string): string {
  const plain = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
  return plain.slice(0, MAX_ADDRESS_LENGTH)
}

function macOf(secret: string, token: string): Buffer {
  return createHmac('sha256', secret).update(token).digest().subarray(0, MAC_BYTES)
}
