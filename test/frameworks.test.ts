// The session layer as users run it: node:http, Express, fetch handlers and Hono with our
// SessionManager; express-session and @fastify/session with our store. Real HTTP, a cookie jar.
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import express from 'express'
import expressSession from 'express-session'
import Fastify from 'fastify'
import { Hono } from 'hono'
import type { Kysely } from 'kysely'
import { PGlite } from '@electric-sql/pglite'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { pglite } from '../dialects/pglite.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { ExpressSessionStore } from '../src/express.js'
import { KyselyStore, migrate, SessionManager, type Session, type SessionStore } from '../src/index.js'
import { randomTable, readRows, sleep } from './helpers.js'
import { postgresUrl, withServer } from './servers.js'

/** A client with a cookie jar, speaking real HTTP to a server on a random port. */
class Browser {
  readonly cookies = new Map<string, string>()
  constructor(readonly base: string) {}

  async get(path: string, init: RequestInit = {}): Promise<Response & { text_: string }> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    const response = await fetch(this.base + path, {
      ...init,
      redirect: 'manual',
      headers: { ...(cookie ? { cookie } : {}), ...(init.headers as Record<string, string>) },
    })
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';')
      const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)]
      if (value === '' || attributes.some((a) => /max-age=0$/i.test(a.trim()))) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return Object.assign(response, { text_: await response.text() })
  }
}

async function listen(
  listener: RequestListener | Server,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = typeof listener === 'function' ? createServer(listener) : listener
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A store whose commits fail (its table does not exist) while finds work. */
function failingCommits(store: KyselyStore, db: Kysely<any>): SessionStore {
  const broken = new KyselyStore(db, 0, { tableName: randomTable('missing') })
  return {
    find: (t) => store.find(t),
    commit: (t, d, e) => broken.commit(t, d, e),
    delete: (t) => store.delete(t),
    all: () => store.all(),
  }
}

type WithSession = IncomingMessage & { session: Session }

function frameworkSuite(
  name: string,
  open: () => Promise<Kysely<any>>,
  close: (db: Kysely<any>) => Promise<void>,
) {
  describe(name, () => {
    let db: Kysely<any>
    let table: string
    let store: KyselyStore
    const closers: Array<() => Promise<void>> = []

    beforeAll(async () => {
      db = await open()
      table = randomTable('web')
      await migrate(db, { tableName: table })
      store = new KyselyStore(db, 0, { tableName: table })
    })

    afterAll(async () => {
      for (const closeServer of closers) await closeServer()
      await db.schema.dropTable(table).ifExists().execute()
      await close(db)
    })

    async function serve(listener: RequestListener | Server) {
      const server = await listen(listener)
      closers.push(server.close)
      return new Browser(server.url)
    }

    describe('SessionManager.middleware() on node:http', () => {
      function app(sessions: SessionManager): RequestListener {
        const middleware = sessions.middleware()
        return (req, res) =>
          middleware(req, res, (error) => {
            if (error) {
              res.statusCode = 500
              return res.end('load failed')
            }
            const session = (req as WithSession).session
            if (req.url === '/stream') {
              session.set('streamed', true)
              res.setHeader('Content-Type', 'text/plain')
              res.write('one,')
              setTimeout(() => {
                res.write('two,')
                res.end('three')
              }, 20)
              return
            }
            const visits = ((session.get('visits') as number | undefined) ?? 0) + 1
            session.set('visits', visits)
            res.end(`visits=${visits}`)
          })
      }

      test('a value set in one request is there in the next; cookie flags and caching headers', async () => {
        const browser = await serve(app(new SessionManager({ store })))
        expect((await browser.get('/')).text_).toBe('visits=1')
        const second = await browser.get('/')
        expect(second.text_).toBe('visits=2')
        const cookie = second.headers.getSetCookie()[0]!
        expect(cookie).toMatch(
          /^session=[\w-]{43}; Path=\/; Expires=.*; Max-Age=86400; HttpOnly; SameSite=Lax$/,
        )
        expect(second.headers.get('vary')).toBe('Cookie')
        expect(second.headers.get('cache-control')).toBe('no-cache="Set-Cookie"')
      })

      test('a handler that streams its body still has its session saved and its cookie set', async () => {
        const browser = await serve(app(new SessionManager({ store })))
        const response = await browser.get('/stream')
        expect(response.text_).toBe('one,two,three')
        expect(response.headers.getSetCookie()).toHaveLength(1)
        expect(browser.cookies.has('session')).toBe(true)
        expect((await browser.get('/')).text_).toBe('visits=1')
        const rows = await readRows(db, table)
        expect(rows.length).toBeGreaterThan(0)
      })

      test('a store that fails while saving gives a 500 and goes to onError, never a hang', async () => {
        const errors: unknown[] = []
        const sessions = new SessionManager({
          store: failingCommits(store, db),
          onError: (e) => errors.push(e),
        })
        const browser = await serve(app(sessions))
        for (const path of ['/', '/stream']) {
          const response = await browser.get(path)
          expect(response.status).toBe(500)
          expect(response.text_).toBe('Internal Server Error')
          expect(response.headers.getSetCookie()).toEqual([])
        }
        expect(errors).toHaveLength(2)
        expect(String(errors[0])).toMatch(/commit failed: table "missing_\w+" does not exist/)
      })

      test('a store that fails while loading reaches next(error)', async () => {
        const browser = await serve(
          app(new SessionManager({ store: new KyselyStore(db, 0, { tableName: randomTable('missing') }) })),
        )
        // A well-formed token makes the manager ask the store.
        browser.cookies.set('session', 'a'.repeat(43))
        const response = await browser.get('/')
        expect([response.status, response.text_]).toEqual([500, 'load failed'])
      })
    })

    describe('SessionManager with Express', () => {
      test('login renews the token, logout destroys the session, a store failure reaches the error handler', async () => {
        const sessions = new SessionManager({ store })
        const app = express()
        app.use(sessions.middleware())
        app.get('/me', (req, res) => {
          res.send(String((req as unknown as WithSession).session.get('user') ?? 'nobody'))
        })
        app.post('/login', async (req, res) => {
          const session = (req as unknown as WithSession).session
          await session.renewToken()
          session.set('user', 'alice')
          res.send('ok')
        })
        app.post('/logout', async (req, res) => {
          await (req as unknown as WithSession).session.destroy()
          res.send('bye')
        })
        const browser = await serve(createServer(app))
        await browser.get('/me')
        expect(browser.cookies.size).toBe(0) // nothing changed: no cookie
        await browser.get('/login', { method: 'POST' })
        const token = browser.cookies.get('session')
        expect(token).toMatch(/^[\w-]{43}$/)
        expect((await browser.get('/me')).text_).toBe('alice')
        await browser.get('/login', { method: 'POST' })
        expect(browser.cookies.get('session')).not.toBe(token) // renewed at each login
        await browser.get('/logout', { method: 'POST' })
        expect(browser.cookies.has('session')).toBe(false)
        expect((await browser.get('/me')).text_).toBe('nobody')

        const failing = express()
        failing.use(
          new SessionManager({
            store: new KyselyStore(db, 0, { tableName: randomTable('missing') }),
          }).middleware(),
        )
        failing.get('/', (_req, res) => res.send('unreachable'))
        failing.use(
          (error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
            res.status(500).send(`error handler: ${error.name}`)
          },
        )
        const other = await serve(createServer(failing))
        other.cookies.set('session', 'b'.repeat(43))
        const response = await other.get('/')
        expect([response.status, response.text_]).toEqual([500, 'error handler: SessionStoreError'])
      })
    })

    describe('fetch handlers and Hono', () => {
      test('handler() wraps a (Request) => Response function with the same semantics', async () => {
        const sessions = new SessionManager({ store })
        const fetchHandler = sessions.handler(async (_request, session) => {
          const n = ((session.get('n') as number | undefined) ?? 0) + 1
          session.set('n', n)
          return new Response(`n=${n}`, { status: 201, headers: { 'X-Test': 'kept' } })
        })
        const first = await fetchHandler(new Request('http://app.test/'))
        expect([first.status, await first.text(), first.headers.get('x-test')]).toEqual([201, 'n=1', 'kept'])
        const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!
        const second = await fetchHandler(new Request('http://app.test/', { headers: { cookie } }))
        expect(await second.text()).toBe('n=2')
        expect(second.headers.get('vary')).toBe('Cookie')

        const broken = new SessionManager({ store: failingCommits(store, db), onError: () => undefined })
        const failed = await broken.handler((_r, session) => (session.set('x', 1), new Response('never')))(
          new Request('http://app.test/'),
        )
        expect([failed.status, await failed.text()]).toEqual([500, 'Internal Server Error'])
      })

      test("the README's Hono middleware works with real Hono", async () => {
        const sessions = new SessionManager({ store })
        // The README's example, verbatim.
        const app = new Hono<{ Variables: { session: Session } }>()
        app.use(async (c, next) => {
          const session = await sessions.load(c.req.header('cookie'))
          c.set('session', session)
          await next()
          for (const [name, value] of await sessions.save(session)) c.header(name, value, { append: true })
        })
        app.get('/', (c) => {
          const session = c.get('session')
          const visits = ((session.get('visits') as number | undefined) ?? 0) + 1
          session.set('visits', visits)
          return c.text(`visits=${visits}`)
        })
        const first = await app.request('/')
        expect(await first.text()).toBe('visits=1')
        const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!
        const second = await app.request('/', { headers: { cookie } })
        expect(await second.text()).toBe('visits=2')
        expect(second.headers.getSetCookie()).toHaveLength(1)
      })
    })

    describe('ExpressSessionStore with express-session', () => {
      function app(sessionStore: expressSession.Store, errors: Error[] = []) {
        const application = express()
        application.use(
          expressSession({
            store: sessionStore,
            secret: 'test secret',
            resave: false,
            saveUninitialized: false,
          }),
        )
        application.get('/set', (req, res) => {
          ;(req.session as unknown as Record<string, unknown>).value = req.query.v
          res.send('set')
        })
        application.get('/get', (req, res) => {
          res.send(String((req.session as unknown as Record<string, unknown>).value ?? 'none'))
        })
        application.get('/regenerate', (req, res, next) => {
          req.session.regenerate((error) => (error ? next(error) : res.send('regenerated')))
        })
        application.get('/destroy', (req, res, next) => {
          req.session.destroy((error) => (error ? next(error) : res.send('destroyed')))
        })
        application.use(
          (error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
            errors.push(error)
            if (!res.headersSent) res.status(500).send(`error handler: ${error.name}`)
          },
        )
        return createServer(application)
      }

      test('set, get, regenerate and destroy over real HTTP', async () => {
        const browser = await serve(app(new ExpressSessionStore(store)))
        await browser.get('/set?v=hello')
        expect((await browser.get('/get')).text_).toBe('hello')
        const sid = decodeURIComponent(browser.cookies.get('connect.sid')!).slice(2).split('.')[0]!
        expect((await readRows(db, table)).some((row) => row.token === sid)).toBe(true)
        await browser.get('/regenerate')
        expect((await browser.get('/get')).text_).toBe('none')
        expect((await readRows(db, table)).some((row) => row.token === sid)).toBe(false)
        await browser.get('/set?v=again')
        await browser.get('/destroy')
        expect((await browser.get('/get')).text_).toBe('none')
      })

      test('the expiry is the cookie’s expires, else the ttl', async () => {
        const expressStore = new ExpressSessionStore(store, { ttl: 60_000 })
        const sid = randomTable('sid')
        const expires = new Date(Date.now() + 3_600_000)
        const call = (fn: (cb: (error?: unknown) => void) => void) =>
          new Promise<void>((resolve, reject) => fn((error) => (error ? reject(error) : resolve())))
        await call((cb) => expressStore.set(sid, { cookie: { expires } } as never, cb))
        expect((await readRows(db, table)).find((row) => row.token === sid)?.expiry).toBe(expires.getTime())
        const before = Date.now()
        await call((cb) => expressStore.set(sid, { cookie: {} } as never, cb))
        const expiry = (await readRows(db, table)).find((row) => row.token === sid)!.expiry
        expect(expiry).toBeGreaterThanOrEqual(before + 60_000)
        expect(expiry).toBeLessThanOrEqual(Date.now() + 60_000)
        const later = new Date(Date.now() + 7_200_000)
        await call((cb) => expressStore.touch(sid, { cookie: { expires: later } } as never, cb))
        const touched = (await readRows(db, table)).find((row) => row.token === sid)!
        expect(touched.expiry).toBe(later.getTime())
        expect(JSON.parse(Buffer.from(touched.data).toString())).toEqual({ cookie: {} }) // data not rewritten
        await call((cb) => expressStore.destroy(sid, cb))
      })

      test('all, length and clear; every callback is called exactly once, errors included', async () => {
        const name = randomTable('es')
        await migrate(db, { tableName: name })
        const expressStore = new ExpressSessionStore(new KyselyStore(db, 0, { tableName: name }))
        const calls: unknown[][] = []
        const done = () => new Promise<unknown[]>((resolve) => calls.push([resolve]))
        const callback =
          (slot: number) =>
          (...args: unknown[]) => {
            calls[slot]!.push(args)
            ;(calls[slot]![0] as (v: unknown[]) => void)(args)
          }
        const expires = new Date(Date.now() + 60_000)
        for (const sid of ['a', 'b']) {
          const waiting = done()
          expressStore.set(sid, { cookie: { expires }, sid } as never, callback(calls.length - 1))
          await waiting
        }
        let waiting = done()
        expressStore.all(callback(calls.length - 1))
        const [error, all] = (await waiting) as [unknown, Array<{ sid: string }>]
        expect(error).toBeNull()
        expect(all.map((s) => s.sid).sort()).toEqual(['a', 'b'])
        waiting = done()
        expressStore.length(callback(calls.length - 1))
        expect(await waiting).toEqual([null, 2])
        waiting = done()
        expressStore.clear(callback(calls.length - 1))
        await waiting
        expect(await readRows(db, name)).toEqual([])
        waiting = done()
        expressStore.get('a', callback(calls.length - 1))
        expect(await waiting).toEqual([null, null])

        await db.schema.dropTable(name).execute() // now every operation fails
        for (const operation of [
          (cb: never) => expressStore.get('a', cb),
          (cb: never) => expressStore.set('a', { cookie: {} } as never, cb),
          (cb: never) => expressStore.destroy('a', cb),
          (cb: never) => expressStore.touch('a', { cookie: {} } as never, cb),
          (cb: never) => expressStore.all(cb),
          (cb: never) => expressStore.length(cb),
          (cb: never) => expressStore.clear(cb),
        ]) {
          waiting = done()
          operation(callback(calls.length - 1) as never)
          const [failure] = (await waiting) as [Error]
          expect(failure.name).toBe('SessionStoreError')
        }
        expressStore.set('no-callback', { cookie: {} } as never) // must not reject unhandled
        await sleep(50)
        for (const call of calls) expect(call).toHaveLength(2) // the resolver and exactly one call
      })

      test('a session that is not JSON is an error that does not quote it', async () => {
        const expressStore = new ExpressSessionStore(store)
        await store.commit(
          'corrupt-sid',
          new TextEncoder().encode('secret-not-json'),
          new Date(Date.now() + 60_000),
        )
        const error = await new Promise((resolve) => expressStore.get('corrupt-sid', (e) => resolve(e)))
        expect(String(error)).toBe('TypeError: session data is not valid JSON (15 bytes)')
        await store.delete('corrupt-sid')
      })

      test('a failing store reaches the framework’s error path', async () => {
        const working = await serve(app(new ExpressSessionStore(store)))
        await working.get('/set?v=x') // a signed session cookie, for a store that will fail
        const errors: Error[] = []
        const broken = new ExpressSessionStore(new KyselyStore(db, 0, { tableName: randomTable('missing') }))
        const browser = await serve(app(broken, errors))
        browser.cookies.set('connect.sid', working.cookies.get('connect.sid')!)
        const response = await browser.get('/get') // express-session loads it: get() fails
        expect([response.status, response.text_]).toEqual([500, 'error handler: SessionStoreError'])
        const fresh = await serve(app(broken, errors))
        await fresh.get('/set?v=y') // a new session: set() fails after the handler ran
        await sleep(20)
        expect(errors.map((e) => e.name)).toEqual(['SessionStoreError', 'SessionStoreError'])
      })
    })

    describe('ExpressSessionStore with Fastify and @fastify/session', () => {
      async function fastifyApp(sessionStore: ExpressSessionStore) {
        const app = Fastify()
        await app.register(fastifyCookie)
        await app.register(fastifySession, {
          secret: 'a secret with at least 32 characters in it',
          store: sessionStore as never,
          cookie: { secure: false },
          saveUninitialized: false,
        })
        app.get('/set', async (request) => {
          request.session.set('value' as never, (request.query as { v: string }).v as never)
          return 'set'
        })
        app.get('/get', async (request) => String(request.session.get('value' as never) ?? 'none'))
        app.get('/regenerate', async (request) => {
          await request.session.regenerate()
          return 'regenerated'
        })
        app.get('/destroy', async (request) => {
          await request.session.destroy()
          return 'destroyed'
        })
        await app.ready()
        closers.push(() => app.close())
        return app
      }

      test('set, get, regenerate and destroy over real HTTP', async () => {
        const app = await fastifyApp(new ExpressSessionStore(store))
        const browser = await serve(app.server)
        await browser.get('/set?v=fast')
        expect((await browser.get('/get')).text_).toBe('fast')
        const before = browser.cookies.get('sessionId')
        await browser.get('/regenerate')
        expect(browser.cookies.get('sessionId')).not.toBe(before)
        expect((await browser.get('/get')).text_).toBe('none')
        await browser.get('/set?v=again')
        expect((await browser.get('/get')).text_).toBe('again')
        await browser.get('/destroy')
        expect((await browser.get('/get')).text_).toBe('none')
      })

      test('a failing store reaches Fastify’s error path', async () => {
        const broken = new ExpressSessionStore(new KyselyStore(db, 0, { tableName: randomTable('missing') }))
        const app = await fastifyApp(broken)
        const browser = await serve(app.server)
        const response = await browser.get('/set?v=x')
        expect(response.status).toBe(500)
      })
    })
  })
}

frameworkSuite(
  'SQLite :memory:',
  async () => sqlite(':memory:'),
  (db) => db.destroy(),
)

let instance: PGlite | undefined
frameworkSuite(
  'PGlite',
  async () => pglite((instance = await PGlite.create())),
  async (db) => {
    await db.destroy()
    await instance?.close()
  },
)

await withServer('Postgres', () =>
  frameworkSuite(
    'Postgres',
    async () => postgres(postgresUrl),
    (db) => db.destroy(),
  ),
)
