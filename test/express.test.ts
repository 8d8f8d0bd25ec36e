// express-session and @fastify/session with our store (ExpressSessionStore), over real HTTP.
import { createServer } from 'node:http'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import express from 'express'
import expressSession from 'express-session'
import Fastify from 'fastify'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ExpressSessionStore } from '../src/express.js'
import { KyselyStore, migrate } from '../src/index.js'
import { randomTable, readRows, sleep } from './helpers.js'
import { Browser, listen } from './http.js'
import { legs, sharedPGlite, type EngineLeg } from './legs.js'
import { withServer } from './servers.js'

function adapterSuite(leg: EngineLeg) {
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

    async function serve(listener: Parameters<typeof listen>[0]) {
      const server = await listen(listener)
      closers.push(server.close)
      return new Browser(server.url)
    }

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
        expect((await readRows(db, table, leg.family)).some((row) => row.token === sid)).toBe(true)
        await browser.get('/regenerate')
        expect((await browser.get('/get')).text_).toBe('none')
        expect((await readRows(db, table, leg.family)).some((row) => row.token === sid)).toBe(false)
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
        expect((await readRows(db, table, leg.family)).find((row) => row.token === sid)?.expiry).toBe(
          expires.getTime(),
        )
        const before = Date.now()
        await call((cb) => expressStore.set(sid, { cookie: {} } as never, cb))
        const expiry = (await readRows(db, table, leg.family)).find((row) => row.token === sid)!.expiry
        expect(expiry).toBeGreaterThanOrEqual(before + 60_000)
        expect(expiry).toBeLessThanOrEqual(Date.now() + 60_000)
        const later = new Date(Date.now() + 7_200_000)
        await call((cb) => expressStore.touch(sid, { cookie: { expires: later } } as never, cb))
        const touched = (await readRows(db, table, leg.family)).find((row) => row.token === sid)!
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
        expect(await readRows(db, name, leg.family)).toEqual([])
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

adapterSuite(legs.sqliteMemory())
adapterSuite(legs.pglite(sharedPGlite()))
await withServer('Postgres', () => adapterSuite(legs.postgres()))
