// The session layer as users run it: node:http, Express, fetch handlers and Hono with our
// SessionManager. Real HTTP, a cookie jar. (express-session and @fastify/session with our
// store: test/express.test.ts.)
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http'
import { createHash } from 'node:crypto'
import { getRequestListener } from '@hono/node-server'
import express from 'express'
import { Hono } from 'hono'
import { afterAll, describe, expect, test } from 'vitest'
import { KyselyStore, SessionManager, type Session } from '../src/index.js'
import { randomTable, readRows } from './helpers.js'
import { Browser, failingCommits, listen } from './http.js'
import { legs, storeFixture, type EngineLeg } from './legs.js'
import { withServer } from './servers.js'

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex')

/** A promise with its resolve function, to hold a request open at a known point. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

/**
 * The routes of the logout tests, written once for every entry point: /slow loads the
 * session, waits at a gate, then modifies it; /login renews the token (with or without the
 * await); /logout destroys the session; /me reads it.
 */
function routes(gate: { reached: () => void; release: Promise<void> }) {
  return async (method: string, path: string, session: Session): Promise<string> => {
    if (path === '/slow') {
      gate.reached()
      await gate.release
      session.set('cart', ['book'])
      return 'slow'
    }
    if (method === 'POST' && path === '/login') {
      await session.renewToken()
      session.set('userId', 'alice')
      return 'ok'
    }
    if (method === 'POST' && path === '/forgetful-login') {
      void session.renewToken() // the await is forgotten: the new token must carry the login anyway
      session.set('userId', 'alice')
      return 'ok'
    }
    if (method === 'POST' && path === '/logout') {
      await session.destroy()
      return 'bye'
    }
    if (path === '/visit') {
      session.set('visits', ((session.get('visits') as number | undefined) ?? 0) + 1)
      return 'visited'
    }
    return String(session.get('userId') ?? 'nobody')
  }
}

type Route = ReturnType<typeof routes>

/** The three ways to use the manager: middleware(), handler(), load()/save() (Hono). */
const entryPoints: Record<string, (sessions: SessionManager, route: Route) => RequestListener> = {
  'middleware() on node:http': (sessions, route) => {
    const middleware = sessions.middleware()
    return (req, res) =>
      middleware(req, res, () => {
        void route(req.method!, req.url!, sessions.get(req)).then((body) => res.end(body))
      })
  },
  'handler() over @hono/node-server': (sessions, route) =>
    getRequestListener(
      sessions.handler(
        async (request, session) =>
          new Response(await route(request.method, new URL(request.url).pathname, session)),
      ),
    ),
  'load() and save() in a Hono middleware': (sessions, route) => {
    const app = new Hono<{ Variables: { session: Session } }>()
    app.use(async (c, next) => {
      const session = await sessions.load(c.req.header('cookie'))
      c.set('session', session)
      await next()
      for (const [name, value] of await sessions.save(session)) c.header(name, value, { append: true })
    })
    app.all('*', async (c) => c.text(await route(c.req.method, c.req.path, c.get('session'))))
    return getRequestListener(app.fetch)
  },
}

type WithSession = IncomingMessage & { session: Session }

const sqliteMemory = legs.sqliteMemory()

function frameworkSuite(leg: EngineLeg) {
  describe(leg.name, () => {
    const the = storeFixture(leg, 'web')
    const closers: Array<() => Promise<void>> = []
    /** Whether the leg's store answers at once (storeNow): sqlite(), the factory. */
    const answersAtOnce = leg === sqliteMemory

    afterAll(async () => {
      for (const closeServer of closers) await closeServer()
    })

    async function serve(listener: RequestListener | Server) {
      const server = await listen(listener)
      closers.push(server.close)
      return new Browser(server.url)
    }

    describe('SessionManager.middleware() on node:http', () => {
      const ended: Array<[ended: boolean, status: string]> = []
      function app(sessions: SessionManager): RequestListener {
        const middleware = sessions.middleware()
        return (req, res) =>
          middleware(req, res, (error) => {
            if (error) {
              res.statusCode = 500
              return res.end('load failed')
            }
            const session = (req as WithSession).session
            if (req.url === '/sync' || req.url === '/sync-write') {
              if (req.url === '/sync-write') session.set('written', true)
              res.end('sync')
              // whether end() ran at once or waits for a save, and whether the session was saved by then
              ended.push([res.writableEnded, session.status])
              return
            }
            if (req.url === '/own' || req.url === '/own-write') {
              const before = Object.hasOwn(res, 'end') // whether the response is held yet
              if (req.url === '/own-write') session.set('written', true)
              res.end(JSON.stringify([before, Object.hasOwn(res, 'end')]))
              return
            }
            if (req.url === '/late') {
              res.write('headers sent,')
              session.set('late', true)
              res.end('then changed')
              return
            }
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
        const browser = await serve(app(new SessionManager({ store: the.store })))
        expect((await browser.get('/')).text_).toBe('visits=1')
        const second = await browser.get('/')
        expect(second.text_).toBe('visits=2')
        const cookie = second.headers.getSetCookie()[0]!
        expect(cookie).toMatch(
          /^session=[\w-]{43}; Path=\/; Expires=.*; Max-Age=86400; HttpOnly; Secure; SameSite=Lax$/,
        )
        expect(second.headers.get('vary')).toBe('Cookie')
        expect(second.headers.get('cache-control')).toBe('no-cache="Set-Cookie"')
      })

      test('with nothing to save the response goes out at once; with something, after the save', async () => {
        const browser = await serve(app(new SessionManager({ store: the.store })))
        ended.length = 0
        const read = await browser.get('/sync')
        const write = await browser.get('/sync-write')
        expect([read.text_, write.text_]).toEqual(['sync', 'sync'])
        expect(ended[0]).toEqual([true, 'unmodified'])
        // end() waits for the save, or, where the store answers at once (sqlite()), goes out
        // at once after it: never before the session is saved.
        expect(ended[1]).toEqual(answersAtOnce ? [true, 'unmodified'] : [false, 'modified'])
        expect(read.headers.getSetCookie()).toEqual([])
        expect(write.headers.getSetCookie()).toHaveLength(1)
      })

      if (answersAtOnce) {
        test("on sqlite() a stored session is loaded, and a changed one saved, in the request's own turn", async () => {
          const sessions = new SessionManager({ store: the.store })
          const middleware = sessions.middleware()
          const turns: Array<[loadedAtOnce: boolean, endedAtOnce: boolean]> = []
          const browser = await serve((req, res) => {
            let returned = false
            middleware(req, res, () => {
              const loadedAtOnce = !returned
              sessions.get(req).set('n', 1)
              res.end('ok')
              turns.push([loadedAtOnce, res.writableEnded])
            })
            returned = true
          })
          await browser.get('/') // a new session: nothing to look up
          const second = await browser.get('/') // a stored one
          expect(second.headers.getSetCookie()).toHaveLength(1)
          expect(turns).toEqual([
            [true, true],
            [true, true],
          ])
        })
      }

      test('a response whose session does not change is left as it is; the first change holds it', async () => {
        const browser = await serve(app(new SessionManager({ store: the.store })))
        const read = await browser.get('/own')
        const write = await browser.get('/own-write')
        expect([read.text_, write.text_]).toEqual(['[false,false]', '[false,true]'])
        expect(read.headers.getSetCookie()).toEqual([])
        expect(write.headers.getSetCookie()).toHaveLength(1)
      })

      test('a change made after the headers went out is not saved and sets no cookie', async () => {
        const browser = await serve(app(new SessionManager({ store: the.store })))
        const before = (await readRows(the.db, the.table, leg.family)).length
        const response = await browser.get('/late')
        expect(response.text_).toBe('headers sent,then changed')
        expect(response.headers.getSetCookie()).toEqual([])
        expect(await readRows(the.db, the.table, leg.family)).toHaveLength(before)
      })

      test('a handler that streams its body still has its session saved and its cookie set', async () => {
        const browser = await serve(app(new SessionManager({ store: the.store })))
        const response = await browser.get('/stream')
        expect(response.text_).toBe('one,two,three')
        expect(response.headers.getSetCookie()).toHaveLength(1)
        expect(browser.cookies.has('session')).toBe(true)
        const key = createHash('sha256').update(browser.cookies.get('session')!).digest('hex')
        const row = (await readRows(the.db, the.table, leg.family)).find((r) => r.token === key)
        expect(row).toBeDefined() // saved under this response's cookie, before the headers went out
        expect(Buffer.from(row!.data).toString()).toContain('"streamed":true')
        expect((await browser.get('/')).text_).toBe('visits=1')
      })

      test('a store that fails while saving gives a 500 and goes to onError, never a hang', async () => {
        const errors: unknown[] = []
        const sessions = new SessionManager({
          store: failingCommits(the.store, the.db),
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
          app(
            new SessionManager({ store: new KyselyStore(the.db, 0, { tableName: randomTable('missing') }) }),
          ),
        )
        // A well-formed token makes the manager ask the store.
        browser.cookies.set('session', 'a'.repeat(43))
        const response = await browser.get('/')
        expect([response.status, response.text_]).toEqual([500, 'load failed'])
      })
    })

    describe.each(Object.keys(entryPoints))('logout that sticks, over real HTTP: %s', (entry) => {
      async function app() {
        let reached = deferred()
        let release = deferred()
        const gate = {
          reached: () => reached.resolve(),
          get release() {
            return release.promise
          },
        }
        const sessions = new SessionManager({ store: the.store, cookie: { secure: false } })
        const browser = await serve(entryPoints[entry]!(sessions, routes(gate)))
        /** Starts GET /slow and resolves once it has loaded the session and waits at the gate. */
        const slow = async (from: Browser) => {
          reached = deferred()
          release = deferred()
          const response = from.get('/slow')
          await reached.promise
          return { finish: () => (release.resolve(), response) }
        }
        return { browser, slow }
      }

      /** Another tab of the same browser: the same cookies, its own jar from now on. */
      const tab = (browser: Browser) => {
        const other = new Browser(browser.base)
        for (const [name, value] of browser.cookies) other.cookies.set(name, value)
        return other
      }

      test('a request in flight across a logout brings nothing back and sets no cookie', async () => {
        const { browser, slow } = await app()
        await browser.get('/login', { method: 'POST' })
        const token = browser.cookies.get('session')!
        const inFlight = await slow(tab(browser))
        expect((await browser.get('/logout', { method: 'POST' })).text_).toBe('bye')
        const response = await inFlight.finish()
        expect([response.status, response.text_]).toEqual([200, 'slow'])
        expect(response.headers.getSetCookie()).toEqual([])
        expect(
          (await readRows(the.db, the.table, leg.family)).some((row) => row.token === sha256(token)),
        ).toBe(false)
        browser.cookies.set('session', token) // even a stolen copy of the old cookie is dead
        expect((await browser.get('/me')).text_).toBe('nobody')
      })

      test('a request in flight across a login (renewToken) brings the old token back nowhere', async () => {
        const { browser, slow } = await app()
        await browser.get('/visit') // an anonymous session (say, with a token an attacker planted)
        const planted = browser.cookies.get('session')!
        const inFlight = await slow(tab(browser))
        await browser.get('/login', { method: 'POST' })
        const renewed = browser.cookies.get('session')!
        expect(renewed).not.toBe(planted)
        const response = await inFlight.finish()
        expect(response.headers.getSetCookie()).toEqual([])
        const keys = (await readRows(the.db, the.table, leg.family)).map((row) => row.token)
        expect(keys).not.toContain(sha256(planted))
        expect(keys).toContain(sha256(renewed))
        expect((await browser.get('/me')).text_).toBe('alice')
      })

      test('a forgotten await on renewToken at login still gives the login a new token only', async () => {
        const { browser } = await app()
        await browser.get('/visit') // an anonymous session
        const planted = browser.cookies.get('session')!
        const response = await browser.get('/forgetful-login', { method: 'POST' })
        expect(response.text_).toBe('ok')
        const renewed = browser.cookies.get('session')!
        expect(renewed).not.toBe(planted)
        expect((await browser.get('/me')).text_).toBe('alice')
        const rows = await readRows(the.db, the.table, leg.family)
        expect(rows.some((row) => row.token === sha256(planted))).toBe(false)
        const row = rows.find((r) => r.token === sha256(renewed))!
        expect(Buffer.from(row.data).toString()).toContain('"userId":"alice"')
      })
    })

    describe('SessionManager with Express', () => {
      test('login renews the token, logout destroys the session, a store failure reaches the error handler', async () => {
        const sessions = new SessionManager({ store: the.store })
        const app = express()
        app.use(sessions.middleware())
        app.get('/me', (req, res) => {
          res.send(String(sessions.get(req).get('user') ?? 'nobody')) // typed: no cast
        })
        app.post('/login', async (req, res) => {
          const session = sessions.get(req)
          await session.renewToken()
          session.set('user', 'alice')
          res.send('ok')
        })
        app.post('/logout', async (req, res) => {
          await sessions.get(req).destroy()
          res.send('bye')
        })
        app.get('/untyped', (req, res) => {
          // From JavaScript the session is also req.session, the same object.
          res.send(String((req as unknown as WithSession).session === sessions.get(req)))
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
        expect((await browser.get('/untyped')).text_).toBe('true')
        expect(() => sessions.get({})).toThrow(/^req has no session: is sessions.middleware\(\) installed/)

        const failing = express()
        failing.use(
          new SessionManager({
            store: new KyselyStore(the.db, 0, { tableName: randomTable('missing') }),
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
        const sessions = new SessionManager({ store: the.store })
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

        const broken = new SessionManager({
          store: failingCommits(the.store, the.db),
          onError: () => undefined,
        })
        const failed = await broken.handler((_r, session) => (session.set('x', 1), new Response('never')))(
          new Request('http://app.test/'),
        )
        expect([failed.status, await failed.text()]).toEqual([500, 'Internal Server Error'])
      })

      test("the README's Hono middleware works with real Hono", async () => {
        const sessions = new SessionManager({ store: the.store })
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
  })
}

frameworkSuite(sqliteMemory)
frameworkSuite(legs.pglite())
await withServer('Postgres', () => frameworkSuite(legs.postgres()))
await withServer('MySQL', () => frameworkSuite(legs.mysql()))
