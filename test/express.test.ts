// ExpressSessionStore with the real express and express-session, over real HTTP, on SQLite,
// PGlite and Postgres: each of express-session's documented behaviours, the consistency of
// the stored cookie with what express-session believes, writes per read, hashed ids, ended
// sessions that stay ended, and subjects. Time is express-session's own clock (Date),
// faked where a test needs it to pass; the store reads the same clock.
import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import express from 'express'
import expressSession from 'express-session'
import { DummyDriver, Kysely, sql, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { postgres } from '../dialects/postgres.js'
import { ExpressSessionStore, type ExpressSessionStoreOptions } from '../src/adapters/express.js'
import { importSessions } from '../src/import/index.js'
import { KyselyStore, migrate } from '../src/index.js'
import { randomTable, readRows, sleep, type StoredRow } from './helpers.js'
import { Browser, listen } from './http.js'
import { legs, storeFixture, type EngineLeg } from './legs.js'
import { postgresUrl, withServer } from './servers.js'

const MINUTE = 60_000
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/** The session id inside express-session's signed cookie value (`s:<sid>.<signature>`). */
function sidOf(cookie: string | undefined): string {
  if (cookie === undefined) throw new Error('no session cookie')
  return decodeURIComponent(cookie).slice(2).split('.')[0]!
}

/** The `Expires` of the session cookie a response set, or undefined when it set none. */
function cookieExpires(response: Response, name = 'connect.sid'): Date | null | undefined {
  const line = response.headers.getSetCookie().find((l) => l.startsWith(`${name}=`))
  if (line === undefined) return undefined
  const expires = /;\s*Expires=([^;]+)/i.exec(line)?.[1]
  return expires === undefined ? null : new Date(expires)
}

/** A gate a handler waits at: `entered` resolves when a request is waiting, `open()` lets it go. */
function gate() {
  let open!: () => void
  let entered!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  const arrived = new Promise<void>((resolve) => (entered = resolve))
  return { opened, arrived, open, entered }
}

/** Counts the store calls that write, and every other call by name, passing each through to the real store. */
function counting(store: KyselyStore) {
  const writes = { commit: 0, update: 0, touch: 0, delete: 0 }
  const calls = new Map<string, number>()
  const proxy = new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown
      if (typeof value !== 'function' || typeof property !== 'string') return value
      return (...args: unknown[]) => {
        calls.set(property, (calls.get(property) ?? 0) + 1)
        if (property in writes) writes[property as keyof typeof writes]++
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return { store: proxy, writes, calls }
}

type Session = Record<string, any> & expressSession.Session

/** An express app with the routes the tests use; `hold` gates the /slow route. */
function expressApp(
  store: expressSession.Store,
  options: Partial<expressSession.SessionOptions> = {},
  hold?: ReturnType<typeof gate>,
): Server {
  const app = express()
  app.use(
    expressSession({
      store,
      secret: 'test secret',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 60 * MINUTE },
      ...options,
    }),
  )
  const session = (req: express.Request) => req.session as Session
  app.get('/login', (req, res) => {
    session(req).userId = String(req.query.user ?? 'alice')
    res.send('logged in')
  })
  app.get('/read', (req, res) => {
    res.send(String(session(req).userId ?? 'none'))
  })
  app.get('/count', (req, res) => {
    session(req).count = (session(req).count ?? 0) + 1
    res.send(String(session(req).count))
  })
  app.get('/save-then-redirect', (req, res, next) => {
    session(req).returnTo = '/read'
    req.session.save((error) => (error ? next(error) : res.redirect('/read')))
  })
  app.get('/touch', (req, res) => {
    session(req).hit = true
    req.session.touch()
    res.send('touched')
  })
  app.get('/remember-me', (req, res) => {
    req.session.cookie.maxAge = 30 * 24 * 60 * MINUTE // the cookie changes, the data does not
    res.send('remembered')
  })
  app.get('/regenerate', (req, res, next) => {
    req.session.regenerate((error) => {
      if (error) return next(error)
      session(req).userId = String(req.query.user ?? 'alice')
      res.send('regenerated')
    })
  })
  app.get('/logout', (req, res, next) => {
    req.session.destroy((error) => (error ? next(error) : res.send('logged out')))
  })
  app.get('/slow', async (req, res) => {
    hold!.entered()
    await hold!.opened
    session(req).visits = (session(req).visits ?? 0) + 1 // modified: express-session saves it
    res.send(`slow ${String(session(req).userId ?? 'none')}`)
  })
  app.get('/admin/length', (req, res, next) => {
    req.sessionStore.length!((error, n) => (error ? next(error) : res.send(String(n))))
  })
  app.get('/admin/all', (req, res, next) => {
    req.sessionStore.all!((error, all) =>
      error
        ? next(error)
        : res.send(
            (Object.values(all ?? {}) as Session[])
              .map((s) => s.userId)
              .sort()
              .join(','),
          ),
    )
  })
  app.get('/admin/clear', (req, res, next) => {
    req.sessionStore.clear!((error) => (error ? next(error) : res.send('cleared')))
  })
  app.get('/devices', (req, res, next) => {
    const store = req.sessionStore as unknown as ExpressSessionStore
    store.listBySubject(String(session(req).userId), (error, list) =>
      error
        ? next(error)
        : res.json(list!.map((s) => ({ current: s.id === store.idOf(req.sessionID), expires: s.expires }))),
    )
  })
  app.get('/sign-out-others', (req, res, next) => {
    const store = req.sessionStore as unknown as ExpressSessionStore
    store.destroyBySubject(String(session(req).userId), { except: req.sessionID }, (error, n) =>
      error ? next(error) : res.send(String(n)),
    )
  })
  app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    if (!res.headersSent) res.status(500).send(`error handler: ${error.name}`)
  })
  return createServer(app)
}

function adapterSuite(leg: EngineLeg) {
  describe(leg.name, () => {
    // The store reads the same clock as express-session, so that faked time is one time.
    const the = storeFixture(leg, 'web', { now: () => Date.now() })
    const closers: Array<() => Promise<void>> = []

    afterEach(async () => {
      vi.useRealTimers()
      for (const close of closers.splice(0)) await close()
    })

    async function browse(server: Server): Promise<Browser> {
      const listening = await listen(server)
      closers.push(listening.close)
      return new Browser(listening.url)
    }

    async function rowOf(sid: string): Promise<StoredRow | undefined> {
      return (await readRows(the.db, the.table, leg.family)).find((row) => row.token === sha256(sid))
    }

    function adapter(options: ExpressSessionStoreOptions = {}, backing: KyselyStore = the.store) {
      return new ExpressSessionStore(backing, options)
    }

    /** Fakes Date only (express-session's clock and the store's), starting now. */
    function fakeClock() {
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
      return (ms: number) => vi.advanceTimersByTime(ms)
    }

    describe('consistency with what express-session believes', () => {
      test('an explicit save after touch-only requests for longer than maxAge keeps the session', async () => {
        const advance = fakeClock()
        const browser = await browse(expressApp(adapter()))
        await browser.get('/login')
        for (let i = 0; i < 4; i++) {
          advance(25 * MINUTE) // 100 minutes of reads in all, with a 60-minute maxAge
          expect((await browser.get('/read')).text_).toBe('alice')
        }
        const redirect = await browser.get('/save-then-redirect')
        expect([redirect.status, redirect.headers.get('location')]).toEqual([302, '/read'])
        expect((await browser.get('/read')).text_).toBe('alice')
        const row = (await rowOf(sidOf(browser.cookies.get('connect.sid'))))!
        expect(row.expiry).toBeGreaterThan(Date.now() + 50 * MINUTE)
        expect(JSON.parse(Buffer.from(row.data).toString())).toMatchObject({
          userId: 'alice',
          returnTo: '/read',
        })
      })

      test('get hands out the stored expiry as cookie.expires, not the one of the last save', async () => {
        const advance = fakeClock()
        const browser = await browse(expressApp(adapter()))
        await browser.get('/login')
        advance(30 * MINUTE)
        await browser.get('/read') // a touch: the row's expiry moves, the data is not rewritten
        const row = (await rowOf(sidOf(browser.cookies.get('connect.sid'))))!
        const saved = JSON.parse(Buffer.from(row.data).toString()).cookie.expires
        expect(new Date(saved).getTime()).toBeLessThan(row.expiry) // stale in the data
        const loaded = await new Promise<expressSession.SessionData>((resolve, reject) =>
          adapter().get(sidOf(browser.cookies.get('connect.sid')), (e, s) => (e ? reject(e) : resolve(s!))),
        )
        expect(new Date(loaded.cookie.expires!).getTime()).toBe(row.expiry)
      })

      test('a change of the cookie alone (remember me) is stored by touch', async () => {
        const advance = fakeClock()
        // rolling, so that express-session sends the changed cookie (it sends none for a
        // request that only changed the cookie otherwise)
        const browser = await browse(expressApp(adapter(), { rolling: true }))
        await browser.get('/login')
        const response = await browser.get('/remember-me') // not modified: express-session touches
        expect(cookieExpires(response)?.getTime()).toBeGreaterThan(Date.now() + 29 * 24 * 60 * MINUTE)
        const row = (await rowOf(sidOf(browser.cookies.get('connect.sid'))))!
        expect(row.expiry).toBe(Date.now() + 30 * 24 * 60 * MINUTE)
        expect(JSON.parse(Buffer.from(row.data).toString()).cookie.originalMaxAge).toBe(30 * 24 * 60 * MINUTE)
        advance(2 * 60 * MINUTE) // past the old 60-minute maxAge
        expect((await browser.get('/read')).text_).toBe('alice')
      })

      // express-session ends a response at once when touch calls back before returning; when
      // it calls back later, it sends all but the last byte of the body first and the last
      // byte after the callback: two writes on the socket for every read.
      test('a touch that writes nothing calls back before it returns', async () => {
        const own = adapter()
        const sid = randomTable('sid')
        const expires = new Date(Date.now() + 60 * MINUTE).toISOString()
        await new Promise((resolve, reject) =>
          own.set(sid, { cookie: { originalMaxAge: 60 * MINUTE, expires } } as never, (e) =>
            e ? reject(e) : resolve(undefined),
          ),
        )
        const loaded = await new Promise<expressSession.SessionData>((resolve, reject) =>
          own.get(sid, (e, s) => (e ? reject(e) : resolve(s!))),
        )
        const calls: unknown[][] = []
        own.touch(sid, loaded, (...args: unknown[]) => calls.push(args))
        adapter({ disableTouch: true }).touch(sid, loaded, (...args: unknown[]) => calls.push(args))
        expect(calls).toEqual([
          [null, undefined],
          [null, undefined],
        ])
      })
    })

    describe("express-session's documented behaviours", () => {
      test('resave: false: a request that changes nothing saves nothing (a touch at most)', async () => {
        fakeClock()
        const { store: counted, writes } = counting(the.store)
        const browser = await browse(expressApp(adapter({}, counted), { resave: false }))
        await browser.get('/login')
        expect(writes).toEqual({ commit: 1, update: 0, touch: 0, delete: 0 })
        const before = (await rowOf(sidOf(browser.cookies.get('connect.sid'))))!
        for (let i = 0; i < 5; i++) expect((await browser.get('/read')).text_).toBe('alice')
        expect(writes).toEqual({ commit: 1, update: 0, touch: 0, delete: 0 })
        expect(await rowOf(sidOf(browser.cookies.get('connect.sid')))).toEqual(before)
      })

      // express-session recomputes the cookie's originalMaxAge on every request from a second
      // read of the clock: a millisecond short when the clock moved in between.
      test('resave: false: nothing is saved either when the clock moves at every read of it', async () => {
        const start = Date.now()
        let reads = 0
        vi.spyOn(Date, 'now').mockImplementation(() => start + reads++)
        try {
          const { store: counted, writes } = counting(the.store)
          const browser = await browse(expressApp(adapter({}, counted), { resave: false }))
          await browser.get('/login')
          const before = (await rowOf(sidOf(browser.cookies.get('connect.sid'))))!
          for (let i = 0; i < 5; i++) expect((await browser.get('/read')).text_).toBe('alice')
          expect(writes).toEqual({ commit: 1, update: 0, touch: 0, delete: 0 })
          expect(await rowOf(sidOf(browser.cookies.get('connect.sid')))).toEqual(before)
        } finally {
          vi.restoreAllMocks()
        }
      })

      test('resave: true: a request that changes nothing saves the session anyway', async () => {
        const { store: counted, writes } = counting(the.store)
        const browser = await browse(expressApp(adapter({}, counted), { resave: true }))
        await browser.get('/login')
        for (let i = 0; i < 3; i++) expect((await browser.get('/read')).text_).toBe('alice')
        expect(writes).toMatchObject({ commit: 1, update: 3 })
      })

      test('rolling: every response sets the cookie, with the expiry the store holds', async () => {
        const advance = fakeClock()
        const browser = await browse(expressApp(adapter(), { rolling: true }))
        await browser.get('/login')
        const sid = sidOf(browser.cookies.get('connect.sid'))
        advance(MINUTE) // within touchAfter (6 minutes): no write, the cookie says what is stored
        const within = await browser.get('/read')
        expect(cookieExpires(within)?.getTime()).toBe(Math.floor((await rowOf(sid))!.expiry / 1000) * 1000)
        advance(10 * MINUTE) // past touchAfter: the expiry moves, and the cookie with it
        const past = await browser.get('/read')
        const row = (await rowOf(sid))!
        expect(row.expiry).toBe(Date.now() + 60 * MINUTE)
        expect(cookieExpires(past)?.getTime()).toBe(Math.floor(row.expiry / 1000) * 1000)
      })

      test('rolling: false: a response to an unmodified request sets no cookie', async () => {
        const browser = await browse(expressApp(adapter(), { rolling: false }))
        expect(cookieExpires(await browser.get('/login'))).toBeInstanceOf(Date)
        expect(cookieExpires(await browser.get('/read'))).toBeUndefined()
      })

      test('saveUninitialized: false stores nothing for an unmodified new session; true stores it', async () => {
        const before = (await readRows(the.db, the.table, leg.family)).length
        const lazy = await browse(expressApp(adapter(), { saveUninitialized: false }))
        const response = await lazy.get('/read')
        expect([response.text_, cookieExpires(response)]).toEqual(['none', undefined])
        expect((await readRows(the.db, the.table, leg.family)).length).toBe(before)
        const eager = await browse(expressApp(adapter(), { saveUninitialized: true }))
        expect(cookieExpires(await eager.get('/read'))).toBeInstanceOf(Date)
        expect(await rowOf(sidOf(eager.cookies.get('connect.sid')))).toBeDefined()
      })

      test('an explicit save before a redirect is stored before the redirect is sent', async () => {
        const browser = await browse(expressApp(adapter()))
        await browser.get('/login')
        const response = await browser.get('/save-then-redirect')
        expect(response.status).toBe(302)
        const row = (await rowOf(sidOf(browser.cookies.get('connect.sid'))))!
        expect(JSON.parse(Buffer.from(row.data).toString()).returnTo).toBe('/read')
      })

      test('regenerate: a new id with a new session; the old id finds nothing', async () => {
        const browser = await browse(expressApp(adapter()))
        await browser.get('/login?user=anon')
        const old = browser.cookies.get('connect.sid')!
        await browser.get('/regenerate?user=alice')
        const current = browser.cookies.get('connect.sid')!
        expect(sidOf(current)).not.toBe(sidOf(old))
        expect((await browser.get('/read')).text_).toBe('alice')
        const attacker = new Browser(browser.base)
        attacker.cookies.set('connect.sid', old)
        expect((await attacker.get('/read')).text_).toBe('none')
      })

      test('destroy: the session is gone; the next request starts a new one', async () => {
        const browser = await browse(expressApp(adapter()))
        await browser.get('/login')
        const sid = sidOf(browser.cookies.get('connect.sid'))
        await browser.get('/logout')
        expect((await browser.get('/read')).text_).toBe('none')
        const row = await rowOf(sid)
        expect(row === undefined || row.endedAt !== null).toBe(true)
      })

      test('touch: req.session.touch() and unmodified requests reset the expiry, past touchAfter', async () => {
        const advance = fakeClock()
        const browser = await browse(expressApp(adapter()))
        await browser.get('/touch') // express-session's own test: hit = true, touch(), end
        const sid = sidOf(browser.cookies.get('connect.sid'))
        const first = (await rowOf(sid))!.expiry
        advance(10 * MINUTE)
        await browser.get('/touch') // unmodified (hit was already true): store.touch
        expect((await rowOf(sid))!.expiry).toBe(first + 10 * MINUTE)
      })

      test('touch writes at most once per touchAfter: 100 reads, one write', async () => {
        const advance = fakeClock()
        const { store: counted, writes } = counting(the.store)
        const browser = await browse(expressApp(adapter({}, counted)))
        await browser.get('/login')
        for (let i = 0; i < 100; i++) {
          advance(3_000) // 5 minutes in all, under the default touchAfter of 6 (a tenth of maxAge)
          await browser.get('/read')
        }
        expect(writes.touch).toBe(0)
        advance(MINUTE + 1)
        await browser.get('/read')
        expect(writes).toMatchObject({ commit: 1, update: 0, touch: 1 })
      })

      test('touchAfter: 0 writes on every touch; disableTouch never does', async () => {
        const advance = fakeClock()
        const eager = counting(the.store)
        const a = await browse(expressApp(adapter({ touchAfter: 0 }, eager.store)))
        await a.get('/login')
        for (let i = 0; i < 3; i++) {
          advance(1)
          await a.get('/read')
        }
        expect(eager.writes.touch).toBe(3)
        const never = counting(the.store)
        const b = await browse(expressApp(adapter({ disableTouch: true }, never.store)))
        await b.get('/login')
        const expiry = (await rowOf(sidOf(b.cookies.get('connect.sid'))))!.expiry
        advance(30 * MINUTE)
        await b.get('/read')
        expect(never.writes.touch).toBe(0)
        expect((await rowOf(sidOf(b.cookies.get('connect.sid'))))!.expiry).toBe(expiry)
        advance(31 * MINUTE) // the expiry of its last save has passed
        expect((await b.get('/read')).text_).toBe('none')
      })

      test('maxAge: the row expires with the cookie; without maxAge, after ttl seconds', async () => {
        fakeClock()
        const browser = await browse(expressApp(adapter(), { cookie: { maxAge: 5 * MINUTE } }))
        const response = await browser.get('/login')
        const row = (await rowOf(sidOf(browser.cookies.get('connect.sid'))))!
        expect(row.expiry).toBe(Date.now() + 5 * MINUTE)
        expect(cookieExpires(response)?.getTime()).toBe(Math.floor(row.expiry / 1000) * 1000)
        const session = await browse(expressApp(adapter({ ttl: 3600 }), { cookie: {} }))
        expect(cookieExpires(await session.get('/login'))).toBeNull() // a browser-session cookie
        expect((await rowOf(sidOf(session.cookies.get('connect.sid'))))!.expiry).toBe(Date.now() + 3600_000)
      })

      test('expires: a cookie with a fixed expires date is stored until that date', async () => {
        fakeClock()
        const expires = new Date(Math.ceil((Date.now() + 2 * 60 * MINUTE) / 1000) * 1000)
        const browser = await browse(expressApp(adapter(), { cookie: { expires } }))
        const response = await browser.get('/login')
        expect(cookieExpires(response)?.getTime()).toBe(expires.getTime())
        expect((await rowOf(sidOf(browser.cookies.get('connect.sid'))))!.expiry).toBe(expires.getTime())
      })

      test('all, length and clear through req.sessionStore', async () => {
        const name = randomTable('es')
        await migrate(the.db, { tableName: name })
        const own = new KyselyStore(the.db, 0, { tableName: name })
        const { store: counted, calls } = counting(own)
        const server = expressApp(adapter({}, counted))
        const alice = await browse(server)
        const [bob, admin] = [new Browser(alice.base), new Browser(alice.base)]
        await alice.get('/login?user=alice')
        await bob.get('/login?user=bob')
        await own.commit('expired', new TextEncoder().encode('{"cookie":{}}'), new Date(Date.now() - 1))
        expect((await admin.get('/admin/length')).text_).toBe('2')
        expect([calls.get('count'), calls.get('all')]).toEqual([1, undefined]) // one COUNT, no data read
        expect((await admin.get('/admin/all')).text_).toBe('alice,bob')
        await alice.get('/logout') // ended: no longer counted or listed
        expect((await admin.get('/admin/length')).text_).toBe('1')
        expect((await admin.get('/admin/all')).text_).toBe('bob')
        expect((await admin.get('/admin/clear')).text_).toBe('cleared')
        expect(await readRows(the.db, name, leg.family)).toEqual([]) // every row, expired and ended ones too
        expect(calls.get('clear')).toBe(1)
        expect((await bob.get('/read')).text_).toBe('none')
        await the.db.schema.dropTable(name).execute()
      })
    })

    describe('ids at rest', () => {
      test('the table holds the SHA-256 of each session id, never the id', async () => {
        const browser = await browse(expressApp(adapter()))
        await browser.get('/login')
        const sid = sidOf(browser.cookies.get('connect.sid'))
        const tokens = (await readRows(the.db, the.table, leg.family)).map((row) => row.token)
        expect(tokens).toContain(sha256(sid))
        expect(tokens).not.toContain(sid)
      })

      test('turning hashSids on logs nobody out: the import moves clear ids into the hashed table under their hashes', async () => {
        const name = randomTable('v01')
        const hashedName = randomTable('hashed')
        await migrate(the.db, { tableName: name })
        await migrate(the.db, { tableName: hashedName })
        const own = new KyselyStore(the.db, 0, { tableName: name })
        const clear = await browse(expressApp(adapter({ hashSids: false }, own))) // as version 0.1 stored them
        const users = ['ann', 'ben']
        const browsers = users.map(() => new Browser(clear.base))
        for (const [i, b] of browsers.entries()) await b.get(`/login?user=${users[i]}`)
        const options = { from: 'kysely-session-store', table: name, tableName: hashedName } as const
        expect(await importSessions(the.db, options)).toEqual({
          read: 2,
          imported: 2,
          existing: 0,
          expired: 0,
          invalid: 0,
        })
        const hashedStore = new KyselyStore(the.db, 0, { tableName: hashedName })
        const hashed = await browse(expressApp(adapter({}, hashedStore)))
        for (const [i, b] of browsers.entries()) {
          const moved = new Browser(hashed.base)
          moved.cookies.set('connect.sid', b.cookies.get('connect.sid')!)
          expect((await moved.get('/read')).text_).toBe(users[i])
        }
        expect(await readRows(the.db, name, leg.family)).toEqual([]) // moved, not copied
        expect(await importSessions(the.db, options)).toMatchObject({ read: 0, imported: 0 })
        for (const table of [name, hashedName, `${hashedName}_imported`]) {
          await the.db.schema.dropTable(table).execute()
        }
      })

      test('hashSids: false keeps the id itself (sessions stored by an earlier version)', async () => {
        const browser = await browse(expressApp(adapter({ hashSids: false })))
        await browser.get('/login')
        const sid = sidOf(browser.cookies.get('connect.sid'))
        expect((await readRows(the.db, the.table, leg.family)).map((row) => row.token)).toContain(sid)
      })
    })

    describe('ended means ended', () => {
      // express-session writes Set-Cookie before it calls store.set, so the in-flight
      // response still names the old id; the tests show that this id is dead.
      async function inFlightAcross(end: '/logout' | '/regenerate?user=mallory', twoProcesses: boolean) {
        const hold = gate()
        const first = await browse(expressApp(adapter(), {}, hold))
        const second = twoProcesses ? await browse(expressApp(adapter(), {}, hold)) : first
        await first.get('/login?user=alice')
        const old = first.cookies.get('connect.sid')!
        const slow = first.get('/slow') // loads the session, then waits at the gate
        await hold.arrived
        const ender = new Browser(second.base)
        ender.cookies.set('connect.sid', old)
        await ender.get(end)
        hold.open()
        const response = await slow // modified the session: express-session saves it
        expect(response.text_).toBe('slow alice')
        // express-session set the old id's cookie before it called store.set: it is dead.
        const sent = response.headers.getSetCookie().map((line) => sidOf(line.split(';')[0]!.split('=')[1]))
        expect(sent).toEqual([sidOf(old)])
        expect(await the.store.get(sha256(sidOf(old)))).toBeUndefined() // not brought back
        expect((await first.get('/read')).text_).toBe('none') // the old id is dead
        const row = await rowOf(sidOf(old))
        expect(row === undefined || row.endedAt !== null).toBe(true)
        if (end !== '/logout') expect((await ender.get('/read')).text_).toBe('mallory')
      }

      test('a request in flight across a logout does not bring the session back', () =>
        inFlightAcross('/logout', false))
      test('a request in flight across a regenerate does not bring the old session back', () =>
        inFlightAcross('/regenerate?user=mallory', false))
      test('the same when the logout runs in another process', () => inFlightAcross('/logout', true))
      test('the same when the regenerate runs in another process', () =>
        inFlightAcross('/regenerate?user=mallory', true))

      for (const logoutFirst of [false, true]) {
        test(`a request in flight across ${logoutFirst ? 'a logout, then ' : ''}clear() (which removes every row, tombstones included) does not bring the session back`, async () => {
          const hold = gate()
          const browser = await browse(expressApp(adapter(), {}, hold))
          await browser.get('/login?user=alice')
          const old = browser.cookies.get('connect.sid')!
          const slow = browser.get('/slow')
          await hold.arrived
          if (logoutFirst) {
            const ender = new Browser(browser.base)
            ender.cookies.set('connect.sid', old)
            await ender.get('/logout')
          }
          await new Promise<void>((resolve, reject) =>
            adapter().clear((error) => (error ? reject(error) : resolve())),
          )
          hold.open()
          expect((await slow).text_).toBe('slow alice')
          expect(await the.store.get(sha256(sidOf(old)))).toBeUndefined()
          browser.cookies.set('connect.sid', old)
          expect((await browser.get('/read')).text_).toBe('none')
        })
      }
    })

    describe('subjects', () => {
      test('the subject is stored; devices are listed; other devices are signed out in one call', async () => {
        const server = expressApp(adapter({ subject: (s) => s.userId }))
        const phone = await browse(server)
        const laptop = new Browser(phone.base)
        const subject = `user-${randomTable('u')}`
        await phone.get(`/login?user=${subject}`)
        await laptop.get(`/login?user=${subject}`)
        expect((await rowOf(sidOf(phone.cookies.get('connect.sid'))))!.subject).toBe(subject)
        const devices = JSON.parse((await phone.get('/devices')).text_) as Array<{ current: boolean }>
        expect(devices.map((d) => d.current).sort()).toEqual([false, true])
        expect((await phone.get('/sign-out-others')).text_).toBe('1')
        expect((await laptop.get('/read')).text_).toBe('none')
        expect((await phone.get('/read')).text_).toBe(subject)
      })

      test('a subject that is not a string or a number fails the save, through the callback', async () => {
        const failing = adapter({ subject: () => ({ id: 1 }) as never })
        const error = await new Promise((resolve) => failing.set('sid-x', { cookie: {} } as never, resolve))
        expect(String(error)).toMatch(/^TypeError: subject\(session\) must return a string/)
      })
    })

    describe('callbacks and failures', () => {
      test('every callback is called exactly once, errors included, and nothing rejects unhandled', async () => {
        const name = randomTable('es')
        await migrate(the.db, { tableName: name })
        const own = adapter({}, new KyselyStore(the.db, 0, { tableName: name }))
        await the.db.schema.dropTable(name).execute() // now every operation fails
        const calls: unknown[][] = []
        const operations: Array<(cb: (...args: unknown[]) => void) => void> = [
          (cb) => own.get('a', cb),
          (cb) => own.set('a', { cookie: {} } as never, cb),
          (cb) => own.destroy('a', cb),
          (cb) => own.touch('a', { cookie: {} } as never, cb),
          (cb) => own.all(cb),
          (cb) => own.length(cb),
          (cb) => own.clear(cb),
          (cb) => own.listBySubject('s', cb),
          (cb) => own.destroyBySubject('s', cb),
        ]
        for (const operation of operations) {
          const args = await new Promise<unknown[]>((resolve) =>
            operation((...a) => {
              calls.push(a)
              resolve(a)
            }),
          )
          expect((args[0] as Error).name).toBe('SessionStoreError')
        }
        own.set('no-callback', { cookie: {} } as never) // must not reject unhandled
        await sleep(50)
        expect(calls).toHaveLength(operations.length)
      })

      test('a session that is not JSON is an error that does not quote it', async () => {
        const sid = randomTable('sid')
        await the.store.commit(
          sha256(sid),
          new TextEncoder().encode('secret-not-json'),
          new Date(Date.now() + MINUTE),
        )
        const error = await new Promise((resolve) => adapter().get(sid, (e) => resolve(e)))
        expect(String(error)).toBe('TypeError: session data is not valid JSON (15 bytes)')
      })

      test('a failing store reaches the framework’s error path', async () => {
        const working = await browse(expressApp(adapter()))
        await working.get('/login') // a signed session cookie, for a store that will fail
        const broken = adapter({}, new KyselyStore(the.db, 0, { tableName: randomTable('missing') }))
        const browser = await browse(expressApp(broken))
        browser.cookies.set('connect.sid', working.cookies.get('connect.sid')!)
        const response = await browser.get('/read') // express-session loads it: get() fails
        expect([response.status, response.text_]).toEqual([500, 'error handler: SessionStoreError'])
      })
    })
  })
}

describe('options, refused before any query', () => {
  const offline = new Kysely<any>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (k) => new SqliteIntrospector(k),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  })
  const store = new KyselyStore(offline, 0)
  test.each([
    [{ ttl: 86_400_000 }, RangeError, 'ttl must be a number of seconds (as connect-pg-simple’s)'],
    [{ ttl: 0 }, RangeError, 'ttl must be a number of seconds'],
    [{ ttl: '3600' }, TypeError, 'ttl must be a number of seconds, got string'],
    [{ touchAfter: -1 }, RangeError, 'touchAfter must be a number of seconds'],
    [{ disableTouch: 'yes' }, TypeError, 'disableTouch must be a boolean'],
    [{ hashSids: 1 }, TypeError, 'hashSids must be a boolean'],
    [{ subject: 'userId' }, TypeError, 'subject must be a function'],
    [{ tableName: 'x' }, TypeError, 'options.tableName is not an option here'],
  ])('%o', (options, type, message) => {
    expect(() => new ExpressSessionStore(store, options as never)).toThrow(type)
    expect(() => new ExpressSessionStore(store, options as never)).toThrow(message.replace('’', "'"))
  })
  test('an old millisecond ttl is refused with the unit and the likely fix', () => {
    expect(() => new ExpressSessionStore(store, { ttl: 86_400_000 })).toThrow(
      "ttl must be a number of seconds (as connect-pg-simple's), more than 0 and at most 34560000 (400 days), got 86400000: milliseconds? one day is ttl: 86400",
    )
  })
  test('a store without the methods the adapter needs is refused', () => {
    expect(() => new ExpressSessionStore({} as never)).toThrow('store must be a KyselyStore, it has no get()')
  })
})

adapterSuite(legs.sqliteMemory())
adapterSuite(legs.pglite())
await withServer('Postgres', () => adapterSuite(legs.postgres()))

await withServer('Postgres', () => {
  test("the store's schema option: sessions live in the table of another Postgres schema", async () => {
    const db = postgres(postgresUrl)
    const schema = randomTable('auth')
    await sql`CREATE SCHEMA ${sql.id(schema)}`.execute(db)
    try {
      await migrate(db, { schema, tableName: 'sessions' })
      const store = new KyselyStore(db, 0, { schema, tableName: 'sessions' })
      const listening = await listen(expressApp(new ExpressSessionStore(store)))
      const browser = new Browser(listening.url)
      await browser.get('/login?user=schemed')
      expect((await browser.get('/read')).text_).toBe('schemed')
      await listening.close()
      const { rows } = await sql<{
        token: string
      }>`SELECT token FROM ${sql.table(`${schema}.sessions`)}`.execute(db)
      expect(rows.map((r) => r.token)).toEqual([sha256(sidOf(browser.cookies.get('connect.sid')))])
    } finally {
      await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(db)
      await db.destroy()
    }
  })
})
