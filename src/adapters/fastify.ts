import type {} from '@fastify/session' // its augmentation of fastify's Session (types only)
import type { Session } from 'fastify'
import { CallbackSessionStore, type AdapterOptions, type AdapterStore } from './callback-store.js'

export type {
  AdapterOptions,
  AdapterStore,
  Callback,
  AdapterSession,
  SubjectDevice,
} from './callback-store.js'
export { CallbackSessionStore } from './callback-store.js'

/**
 * Options of {@link FastifySessionStore}: see {@link AdapterOptions} (`touch` options
 * have no effect: @fastify/session never calls `touch`).
 *
 * @example
 * ```ts
 * const options: FastifySessionStoreOptions = { ttl: 3600, subject: (session) => session.userId }
 * ```
 */
export type FastifySessionStoreOptions = AdapterOptions<Session>

/**
 * A {@link KyselyStore} as a `@fastify/session` store (get, set, destroy, and the rest of
 * {@link CallbackSessionStore}), typed with @fastify/session's `Session` (and your
 * additions to it). This entry does not import express-session, so it works where only
 * Fastify's packages are installed. @fastify/session saves the session on every
 * request by default (`rolling: true`); with `rolling: false` an unchanged session is not
 * written at all and ends at the expiry of its last save.
 *
 * @example
 * ```ts
 * import fastifyCookie from '@fastify/cookie'
 * import fastifySession from '@fastify/session'
 * import Fastify from 'fastify'
 * import { KyselyStore } from 'kysely-session-store'
 * import { FastifySessionStore } from 'kysely-session-store/fastify'
 *
 * const app = Fastify()
 * await app.register(fastifyCookie)
 * await app.register(fastifySession, {
 *   secret: process.env.SESSION_SECRET!, // at least 32 characters
 *   store: new FastifySessionStore(new KyselyStore(db)),
 *   cookie: { maxAge: 7 * 24 * 3600_000 },
 * })
 * ```
 */
export class FastifySessionStore extends CallbackSessionStore<Session> {
  /**
   * @param store - a {@link KyselyStore}.
   * @param options - see {@link AdapterOptions}.
   * @throws TypeError or RangeError when an argument is not valid.
   *
   * @example
   * ```ts
   * const store = new FastifySessionStore(new KyselyStore(db), { hashSids: true })
   * ```
   */
  constructor(store: AdapterStore, options: FastifySessionStoreOptions = {}) {
    super(store, options)
  }
}
