// The session layer as users run it: node:http, Express, fetch handlers and Hono with our
// SessionManager. Real HTTP, a cookie jar. (express-session and @fastify/session with our
// store: test/express.test.ts.)
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http'
import { createHash } from 'node:crypto'
import express from 'express'
import { Hono } from 'hono'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { KyselyStore, migrate, SessionManager, type Session } from '../src/index.js'
import { randomTable, readRows } from './helpers.js'
import { Browser, failingCommits, listen } from './http.js'
import { legs, sharedPGlite, type EngineLeg } from './legs.js'
import { withServer } from './servers.js'

type WithSession = IncomingMessage & { session: Session }

function frameworkSuite(leg: EngineLeg) {
  describe(leg.name, () => {
    let db: Kysely<any>
    let table: string
    let store: KyselyStore
    const closers: Array<() => Promise<void>> = []

    beforeAll(async () => {
      db = await leg.open()
      table = randomTable('web')
      await migrate(db, { tableName: table })
      store = new KyselyStore(db, 0, { tableName: table })
    })

    afterAll(async () => {
      for (const closeServer of closers) await closeServer()
      await db.schema.dropTable(table).ifExists().execute()
      await leg.close(db)
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
        const key = createHash('sha256').update(browser.cookies.get('session')!).digest('hex')
        const row = (await readRows(db, table, leg.family)).find((r) => r.token === key)
        expect(row).toBeDefined() // saved under this response's cookie, before the headers went out
        expect(Buffer.from(row!.data).toString()).toContain('"streamed":true')
        expect((await browser.get('/')).text_).toBe('visits=1')
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
  })
}

frameworkSuite(legs.sqliteMemory())
frameworkSuite(legs.pglite(sharedPGlite()))
await withServer('Postgres', () => frameworkSuite(legs.postgres()))
