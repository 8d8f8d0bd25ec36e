// FastifySessionStore with the real fastify, @fastify/cookie and @fastify/session, over
// real HTTP, on SQLite, PGlite and Postgres. (The Fastify entry in a process where
// express-session cannot be resolved: test/fastify-entry.test.ts.)
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, test } from 'vitest'
import { FastifySessionStore } from '../src/adapters/fastify.js'
import { KyselyStore } from '../src/index.js'
import { randomTable, readRows } from './helpers.js'
import { Browser, listen } from './http.js'
import { legs, storeFixture, type EngineLeg } from './legs.js'
import { withServer } from './servers.js'

const SECRET = 'a secret with at least 32 characters in it'
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/** The session id in @fastify/session's signed cookie (`<sid>.<signature>`). */
function sidOf(cookie: string | undefined): string {
  if (cookie === undefined) throw new Error('no session cookie')
  return decodeURIComponent(cookie).split('.')[0]!
}

function gate() {
  let open!: () => void
  let entered!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  const arrived = new Promise<void>((resolve) => (entered = resolve))
  return { opened, arrived, open, entered }
}

type Options = Parameters<typeof fastifySession>[1]

async function fastifyApp(
  store: FastifySessionStore,
  options: Partial<Options> = {},
  hold?: ReturnType<typeof gate>,
): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    secret: SECRET,
    store,
    cookie: { secure: 'auto', maxAge: 3600_000 },
    saveUninitialized: false,
    ...options,
  })
  const session = (request: { session: unknown }) => request.session as Record<string, any>
  app.get('/login', async (request) => {
    session(request).userId = (request.query as { user?: string }).user ?? 'alice'
    return 'logged in'
  })
  app.get('/read', async (request) => String(session(request).userId ?? 'none'))
  app.get('/regenerate', async (request) => {
    await request.session.regenerate()
    session(request).userId = (request.query as { user?: string }).user ?? 'alice'
    return 'regenerated'
  })
  app.get('/logout', async (request) => {
    await request.session.destroy()
    return 'logged out'
  })
  app.get('/slow', async (request) => {
    hold!.entered()
    await hold!.opened
    session(request).visits = (session(request).visits ?? 0) + 1
    return `slow ${String(session(request).userId ?? 'none')}`
  })
  await app.ready()
  return app
}

function fastifySuite(leg: EngineLeg) {
  describe(leg.name, () => {
    const the = storeFixture(leg, 'fst')
    const closers: Array<() => Promise<void>> = []
    afterEach(async () => {
      for (const close of closers.splice(0)) await close()
    })

    async function browse(app: FastifyInstance): Promise<Browser> {
      const listening = await listen(app.server)
      closers.push(async () => {
        await listening.close()
        await app.close()
      })
      return new Browser(listening.url)
    }

    const rowOf = async (sid: string) =>
      (await readRows(the.db, the.table, leg.family)).find((row) => row.token === sha256(sid))

    test('set, get, regenerate and destroy over real HTTP; ids hashed at rest', async () => {
      const browser = await browse(await fastifyApp(new FastifySessionStore(the.store)))
      await browser.get('/login?user=fast')
      expect((await browser.get('/read')).text_).toBe('fast')
      const before = browser.cookies.get('sessionId')
      expect(await rowOf(sidOf(before))).toBeDefined()
      await browser.get('/regenerate?user=again')
      expect(browser.cookies.get('sessionId')).not.toBe(before)
      expect((await browser.get('/read')).text_).toBe('again')
      const old = new Browser(browser.base)
      old.cookies.set('sessionId', before!)
      expect((await old.get('/read')).text_).toBe('none')
      await browser.get('/logout')
      expect((await browser.get('/read')).text_).toBe('none')
    })

    test('the row expires with the cookie', async () => {
      const browser = await browse(await fastifyApp(new FastifySessionStore(the.store)))
      const before = Date.now()
      await browser.get('/login')
      const row = (await rowOf(sidOf(browser.cookies.get('sessionId'))))!
      expect(row.expiry).toBeGreaterThanOrEqual(before + 3600_000)
      expect(row.expiry).toBeLessThanOrEqual(Date.now() + 3600_000)
    })

    test("@fastify/session's default secure cookie over plain HTTP: no cookie, nothing stored, no error", async () => {
      const rows = (await readRows(the.db, the.table, leg.family)).length
      const browser = await browse(
        await fastifyApp(new FastifySessionStore(the.store), { cookie: { maxAge: 60_000 } }),
      )
      const response = await browser.get('/login')
      expect([response.status, response.headers.getSetCookie()]).toEqual([200, []])
      expect((await readRows(the.db, the.table, leg.family)).length).toBe(rows)
    })

    for (const end of ['/logout', '/regenerate?user=mallory'] as const) {
      test(`a request in flight across ${end.slice(1, 7) === 'logout' ? 'a logout' : 'a regenerate'} does not bring the session back`, async () => {
        const hold = gate()
        const browser = await browse(await fastifyApp(new FastifySessionStore(the.store), {}, hold))
        await browser.get('/login?user=alice')
        const old = browser.cookies.get('sessionId')!
        const slow = browser.get('/slow')
        await hold.arrived
        const ender = new Browser(browser.base)
        ender.cookies.set('sessionId', old)
        await ender.get(end)
        hold.open()
        const response = await slow
        expect(response.text_).toBe('slow alice')
        // @fastify/session saved (a commit that left the ended row alone) and set the old id's
        // cookie again: that id is dead.
        expect(
          response.headers.getSetCookie().map((line) => sidOf(line.split(';')[0]!.split('=')[1])),
        ).toEqual([sidOf(old)])
        expect(await the.store.get(sha256(sidOf(old)))).toBeUndefined()
        expect((await browser.get('/read')).text_).toBe('none')
        if (end !== '/logout') expect((await ender.get('/read')).text_).toBe('mallory')
      })
    }

    // @fastify/session rebuilds the loaded session into a new object and saves it with set():
    // the adapter recognises it by its id and saves it only while its row is live.
    const ends: Array<[string, (adapter: FastifySessionStore, browser: Browser) => Promise<unknown>]> = [
      ['adapter.clear()', (adapter) => promisify(adapter.clear.bind(adapter))()],
      [
        "adapter.destroyBySubject('alice')",
        (adapter) =>
          new Promise((resolve, reject) =>
            adapter.destroyBySubject('alice', (error, n) => (error ? reject(error) : resolve(n))),
          ),
      ],
      [
        'a logout, then adapter.clear() (which removes the tombstone)',
        async (adapter, browser) => {
          const ender = new Browser(browser.base)
          ender.cookies.set('sessionId', browser.cookies.get('sessionId')!)
          await ender.get('/logout')
          await promisify(adapter.clear.bind(adapter))()
        },
      ],
    ]
    for (const [label, end] of ends) {
      test(`a request in flight across ${label} does not bring the session back`, async () => {
        const hold = gate()
        const adapter = new FastifySessionStore(the.store, { subject: (session) => session.userId })
        const browser = await browse(await fastifyApp(adapter, {}, hold))
        await browser.get('/login?user=alice')
        const old = browser.cookies.get('sessionId')!
        expect((await browser.get('/read')).text_).toBe('alice')
        const slow = browser.get('/slow')
        await hold.arrived
        await end(adapter, browser)
        hold.open()
        expect((await slow).text_).toBe('slow alice')
        expect(await the.store.get(sha256(sidOf(old)))).toBeUndefined()
        browser.cookies.set('sessionId', old)
        expect((await browser.get('/read')).text_).toBe('none')
      })
    }

    test('a failing store reaches Fastify’s error path', async () => {
      const broken = new FastifySessionStore(
        new KyselyStore(the.db, 0, { tableName: randomTable('missing') }),
      )
      const browser = await browse(await fastifyApp(broken))
      expect((await browser.get('/login')).status).toBe(500)
    })
  })
}

fastifySuite(legs.sqliteMemory())
fastifySuite(legs.pglite())
await withServer('Postgres', () => fastifySuite(legs.postgres()))
