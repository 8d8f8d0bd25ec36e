import session, { type SessionData } from 'express-session'
import { CallbackSessionStore, type AdapterOptions, type AdapterStore } from './callback-store.js'

export type {
  AdapterOptions,
  AdapterStore,
  Callback,
  AdapterSession,
  SubjectDevice,
} from './callback-store.js'
export { CallbackSessionStore } from './callback-store.js'

type Request = Parameters<session.Store['regenerate']>[0]

/**
 * Options of {@link ExpressSessionStore}: see {@link AdapterOptions}. `ttl` and
 * `touchAfter` are in seconds, as connect-pg-simple's and connect-mongo's.
 *
 * @example
 * ```ts
 * const options: ExpressSessionStoreOptions = { ttl: 3600, subject: (session) => session.userId ?? session.passport?.user }
 * ```
 */
export type ExpressSessionStoreOptions = AdapterOptions<SessionData>

/**
 * A {@link KyselyStore} as an express-session store: get, set, destroy, touch, all,
 * length and clear, plus listBySubject and destroyBySubject (see
 * {@link CallbackSessionStore} for what each does). Session ids are stored hashed
 * (`hashSids`); a destroyed or regenerated session stays ended even for requests that
 * loaded it before; `touch` writes only when it must. express-session's own `regenerate`,
 * `load` and `createSession` are used as they are.
 *
 * @example
 * ```ts
 * import session from 'express-session'
 * import { KyselyStore } from 'kysely-session-store'
 * import { ExpressSessionStore } from 'kysely-session-store/express'
 *
 * app.use(
 *   session({
 *     store: new ExpressSessionStore(new KyselyStore(db), { subject: (s) => s.userId }),
 *     secret: process.env.SESSION_SECRET!,
 *     resave: false,
 *     saveUninitialized: false,
 *     cookie: { maxAge: 7 * 24 * 3600_000 },
 *   }),
 * )
 * ```
 */
export class ExpressSessionStore extends CallbackSessionStore<SessionData> {
  /**
   * @param store - a {@link KyselyStore}.
   * @param options - see {@link AdapterOptions}.
   * @throws TypeError or RangeError when an argument is not valid.
   *
   * @example
   * ```ts
   * const store = new ExpressSessionStore(new KyselyStore(db), { ttl: 3600 })
   * ```
   */
  constructor(store: AdapterStore, options: ExpressSessionStoreOptions = {}) {
    super(store, options)
  }

  /**
   * express-session's: destroys the request's session, then makes a new one.
   *
   * @example
   * ```ts
   * const sessionStore = new ExpressSessionStore(store)
   * app.get('/login', (req, res, next) => sessionStore.regenerate(req, (error) => (error ? next(error) : res.send('ok'))))
   * ```
   */
  regenerate(req: Request, callback: (error?: any) => any): void {
    session.Store.prototype.regenerate.call(this as never, req, callback)
  }

  /**
   * express-session's: reads a session and builds its Session object.
   *
   * @example
   * ```ts
   * const sessionStore = new ExpressSessionStore(store)
   * sessionStore.load('sid-from-the-cookie', (error, session) => console.log(error ?? session?.cookie))
   * ```
   */
  load(sid: string, callback: (error: any, session?: SessionData) => any): void {
    session.Store.prototype.load.call(this as never, sid, callback)
  }

  /**
   * express-session's, keeping track of which session object came from the store (so
   * that its save is update-only and its touch can skip unneeded writes).
   *
   * @example
   * ```ts
   * import session from 'express-session'
   *
   * const sessionStore = new ExpressSessionStore(store)
   * app.get('/', (req, res) => res.send(sessionStore.createSession(req, { cookie: new session.Cookie() }).id))
   * ```
   */
  createSession(req: Request, data: SessionData): session.Session & SessionData {
    const created = session.Store.prototype.createSession.call(this as never, req, data)
    this.adopt(data, created)
    return created
  }
}
