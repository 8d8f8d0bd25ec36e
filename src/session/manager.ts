import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { checkInterval, checkObject } from '../validate.js'
import { jsonCodec, type Codec } from './codec.js'
import { readCookie, resolveCookie, writeCookie, type CookieOptions, type ResolvedCookie } from './cookie.js'
import { hold } from './hold.js'
import { REMEMBER_ME, Session, type SessionBackend } from './session.js'

/**
 * What a SessionManager needs of a store: {@link KyselyStore} fits, and so does any object
 * with these methods (SCS's Store interface, in promises).
 *
 * @example
 * ```ts
 * const store: SessionStore = new KyselyStore(db)
 * ```
 */
export interface SessionStore {
  find(token: string): Promise<Uint8Array | undefined>
  commit(token: string, data: Uint8Array, expiry: Date): Promise<void>
  delete(token: string): Promise<void>
  all(): Promise<Map<string, Uint8Array>>
  /** Optional: lets an idle timeout be extended without rewriting the data. */
  touch?(token: string, expiry: Date): Promise<boolean>
}

/**
 * Options of {@link SessionManager}. Only `store` is required.
 *
 * @example
 * ```ts
 * new SessionManager({ store, lifetime: 24 * 3600_000, idleTimeout: 30 * 60_000, cookie: { secure: true } })
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
   * End a session after this many ms without a request (each request extends it).
   * @default none
   */
  readonly idleTimeout?: number
  /** The session cookie's attributes; see {@link CookieOptions}. */
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
}

/** 24 hours: SCS's default lifetime. */
const DEFAULT_LIFETIME = 24 * 3600_000
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

function logError(error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : 'a non-Error value was thrown'
  console.error(`kysely-session-store: session failed: ${message}`)
}

/**
 * Response headers to add: `[name, value]` pairs, names may repeat.
 *
 * @example
 * ```ts
 * const headers: HeaderList = await sessions.save(session)
 * for (const [name, value] of headers) response.headers.append(name, value)
 * ```
 */
export type HeaderList = Array<[name: string, value: string]>

/**
 * Sessions for web apps, over any store: SCS's session manager in TypeScript. Loads the
 * session from the request's cookie, gives it to your handler, and saves it (and sets the
 * cookie) before the response's headers go out.
 *
 * @example
 * ```ts
 * import { KyselyStore, SessionManager } from 'kysely-session-store'
 *
 * const sessions = new SessionManager({ store: new KyselyStore(db), cookie: { secure: true } })
 * app.use(sessions.middleware()) // Express, Connect, node:http: req.session
 * app.get('/', (req, res) => {
 *   req.session.set('visits', ((req.session.get('visits') as number) ?? 0) + 1)
 *   res.send('hello')
 * })
 * ```
 */
export class SessionManager {
  readonly #store: SessionStore
  readonly #lifetime: number
  readonly #idleTimeout: number | undefined
  readonly #cookie: ResolvedCookie
  readonly #hashTokens: boolean
  readonly #codec: Codec
  readonly #onError: (error: unknown) => void
  readonly #now: () => number
  readonly #backend: SessionBackend

  /**
   * @throws TypeError or RangeError when an option is not valid.
   *
   * @example
   * ```ts
   * const sessions = new SessionManager({ store, idleTimeout: 20 * 60_000 })
   * ```
   */
  constructor(options: SessionManagerOptions) {
    checkObject('options', options)
    const { store, lifetime = DEFAULT_LIFETIME, idleTimeout, hashTokens = true } = options
    const { codec = jsonCodec, onError = logError, now = Date.now } = options
    for (const method of ['find', 'commit', 'delete', 'all'] as const) {
      if (typeof (store as Partial<SessionStore> | undefined)?.[method] !== 'function') {
        throw new TypeError(
          `store must have find, commit, delete and all methods (a KyselyStore), it has no ${method}()`,
        )
      }
    }
    checkPositive('lifetime', lifetime)
    if (idleTimeout !== undefined) checkPositive('idleTimeout', idleTimeout)
    if (typeof hashTokens !== 'boolean') throw new TypeError('hashTokens must be a boolean')
    if (typeof codec?.encode !== 'function' || typeof codec.decode !== 'function') {
      throw new TypeError('codec must have encode() and decode() methods')
    }
    if (typeof onError !== 'function') throw new TypeError('onError must be a function')
    if (typeof now !== 'function') throw new TypeError('now must be a function')
    this.#store = store
    this.#lifetime = lifetime
    this.#idleTimeout = idleTimeout
    this.#cookie = resolveCookie(options.cookie)
    this.#hashTokens = hashTokens
    this.#codec = codec
    this.#onError = onError
    this.#now = now
    this.#backend = this.#makeBackend(true)
  }

  /**
   * The session of a request, from its Cookie header. An unknown, expired or malformed
   * token is never adopted: the result is then a new, empty session, which gets a fresh
   * token when it is first saved.
   *
   * @example
   * ```ts
   * const session = await sessions.load(request.headers.get('cookie'))
   * ```
   */
  async load(cookieHeader: string | null | undefined): Promise<Session> {
    const token = readCookie(cookieHeader, this.#cookie.name)
    if (token === undefined || !TOKEN_PATTERN.test(token)) return new Session(this.#backend)
    const key = this.#keyOf(token)
    const data = await this.#store.find(key)
    if (data === undefined) return new Session(this.#backend)
    const { deadline, values } = this.#codec.decode(data)
    return new Session(this.#backend, { token, key, deadline: deadline.getTime(), values })
  }

  /**
   * Saves what changed in `session` and returns the headers the response needs: nothing
   * when the session is unchanged (and no idle timeout needs extending); else `Set-Cookie`,
   * `Vary: Cookie` and `Cache-Control: no-cache="Set-Cookie"`. Use it where `middleware()`
   * and `handler()` do not fit.
   *
   * @example
   * ```ts
   * for (const [name, value] of await sessions.save(session)) response.headers.append(name, value)
   * ```
   */
  async save(session: Session): Promise<HeaderList> {
    const now = this.#now()
    switch (session.status) {
      case 'destroyed':
        session.saved()
        return this.#headers(writeCookie(this.#cookie, '', undefined, now, false))
      case 'modified': {
        if (session.key === undefined) session.assign(this.#backend.newToken())
        const expiry = this.#expiry(session, now)
        await this.#store.commit(
          session.key!,
          this.#codec.encode(session.deadline, session.values),
          new Date(expiry),
        )
        session.saved()
        return this.#cookieFor(session, expiry, now)
      }
      case 'unmodified': {
        if (this.#idleTimeout === undefined || session.key === undefined) return []
        // Only the expiry moves: touch, or rewrite the data where the store cannot touch.
        const expiry = this.#expiry(session, now)
        if (this.#store.touch) {
          if (!(await this.#store.touch(session.key, new Date(expiry)))) return []
        } else {
          await this.#store.commit(
            session.key,
            this.#codec.encode(session.deadline, session.values),
            new Date(expiry),
          )
        }
        return this.#cookieFor(session, expiry, now)
      }
    }
  }

  /**
   * Middleware for node:http, Connect and Express: puts the session on `req.session` and
   * saves it before the response's headers go out, even for a streamed body. A store that
   * fails while loading reaches `next(error)`; while saving, the response becomes a 500
   * and the error goes to `onError`.
   *
   * @example
   * ```ts
   * app.use(sessions.middleware())
   * ```
   */
  middleware(): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
    return (req, res, next) => {
      this.load(req.headers.cookie).then(
        (session) => {
          ;(req as IncomingMessage & { session: Session }).session = session
          hold(
            res,
            () => this.save(session),
            (error) => this.#report(error),
          )
          this.#call(next)
        },
        (error: unknown) => this.#call(next, error),
      ) // both handlers catch everything: the chain cannot reject
    }
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
    fn: (request: Request, session: Session) => Response | Promise<Response>,
  ): (request: Request) => Promise<Response> {
    if (typeof fn !== 'function') throw new TypeError('handler(fn): fn must be a function')
    return async (request) => {
      let session: Session
      try {
        session = await this.load(request.headers.get('cookie'))
      } catch (error) {
        return this.#failed(error)
      }
      const response = await fn(request, session)
      let headers: HeaderList
      try {
        headers = await this.save(session)
      } catch (error) {
        await response.body?.cancel().catch(() => undefined)
        return this.#failed(error)
      }
      if (headers.length === 0) return response
      const out = new Response(response.body, response)
      for (const [name, value] of headers) out.headers.append(name, value)
      return out
    }
  }

  /**
   * Calls `fn` with every live session, one at a time, and saves what it changed: a
   * session it destroys is deleted, one it modifies is committed. For example, to end
   * every session of one user. Sessions reached this way cannot `renewToken()`.
   *
   * @example
   * ```ts
   * await sessions.iterate(async (session) => {
   *   if (session.get('userId') === bannedUserId) await session.destroy()
   * })
   * ```
   */
  async iterate(fn: (session: Session) => void | Promise<void>): Promise<void> {
    if (typeof fn !== 'function') throw new TypeError('iterate(fn): fn must be a function')
    const backend = this.#makeBackend(false)
    for (const [key, data] of await this.#store.all()) {
      const { deadline, values } = this.#codec.decode(data)
      const session = new Session(backend, { key, deadline: deadline.getTime(), values })
      await fn(session)
      if (session.status === 'modified') {
        const expiry = this.#expiry(session, this.#now())
        await this.#store.commit(key, this.#codec.encode(session.deadline, session.values), new Date(expiry))
      }
    }
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
    }
  }

  #keyOf(token: string): string {
    return this.#hashTokens ? createHash('sha256').update(token).digest('hex') : token
  }

  #expiry(session: Session, now: number): number {
    const deadline = session.deadline.getTime()
    return this.#idleTimeout === undefined ? deadline : Math.min(deadline, now + this.#idleTimeout)
  }

  #cookieFor(session: Session, expiry: number, now: number): HeaderList {
    const persistent = this.#cookie.persist || session.values[REMEMBER_ME] === true
    return this.#headers(writeCookie(this.#cookie, session.token!, expiry, now, persistent))
  }

  #headers(setCookie: string): HeaderList {
    return [
      ['Set-Cookie', setCookie],
      ['Vary', 'Cookie'],
      ['Cache-Control', 'no-cache="Set-Cookie"'],
    ]
  }

  #failed(error: unknown): Response {
    this.#report(error)
    return new Response('Internal Server Error', { status: 500, headers: { 'Content-Type': 'text/plain' } })
  }

  #report(error: unknown): void {
    try {
      this.#onError(error)
    } catch {
      // An onError that throws must not crash the process.
    }
  }

  #call(next: (error?: unknown) => void, error?: unknown): void {
    try {
      if (error === undefined) next()
      else next(error)
    } catch (thrown) {
      this.#report(thrown)
    }
  }
}

function checkPositive(name: string, value: unknown): void {
  checkInterval(name, value)
  if (value === 0) throw new RangeError(`${name} must be a positive number of milliseconds, got 0`)
}
