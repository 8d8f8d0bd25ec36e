// The store's calls answered at once (storeNow, src/store/store.ts): on sqlite() while nobody
// holds its connection and nobody traces, the answer itself; otherwise the promise of the
// public method. And what the express-session adapter makes of it: callbacks before the
// method returns, and a response express-session sends in one piece.
import express from 'express'
import expressSession from 'express-session'
import { describe, expect, test, vi } from 'vitest'
import { ExpressSessionStore } from '../src/adapters/express.js'
import { SessionStoreError } from '../src/errors.js'
import { storeNow } from '../src/store/store.js'
import { randomTable, tracedCalls } from './helpers.js'
import { Browser, listen } from './http.js'
import { legs, storeFixture } from './legs.js'

const HOUR = 3_600_000
const bytes = (text: string) => new TextEncoder().encode(text)
/** Session data as text, whichever Uint8Array (a Buffer, say) the driver returned. */
const text = (data: unknown) =>
  data === undefined ? undefined : new TextDecoder().decode(data as Uint8Array)

describe('storeNow on sqlite(): the answer itself', () => {
  const the = storeFixture(legs.sqliteMemory(), 'now')

  test('get, find, commit, update, touch and delete answer at once, as their promises would', async () => {
    const token = randomTable('t')
    const expiry = new Date(Date.now() + HOUR)
    expect(storeNow.commit(the.store, token, bytes('a'), expiry, { subject: 'alice' })).toBeUndefined()
    expect(text(storeNow.find(the.store, token))).toBe('a')
    const stored = storeNow.get(the.store, token)
    expect(stored).not.toBeInstanceOf(Promise)
    expect(stored).toEqual(await the.store.get(token))
    expect(storeNow.update(the.store, token, bytes('b'), expiry)).toBe(true)
    expect(storeNow.touch(the.store, token, new Date(Date.now() + 2 * HOUR))).toBe(true)
    expect(storeNow.delete(the.store, token, { tombstone: true })).toBeUndefined()
    expect(storeNow.find(the.store, token)).toBeUndefined()
    expect(storeNow.get(the.store, token)).toBeUndefined()
    expect(storeNow.update(the.store, token, bytes('c'), expiry)).toBe(false)
    expect(storeNow.touch(the.store, token, expiry)).toBe(false)
  })

  test('a bad argument, or a statement that fails, is thrown at once', () => {
    expect(() => storeNow.get(the.store, '')).toThrow(RangeError)
    expect(() => storeNow.commit(the.store, 't', 'not bytes' as never, new Date())).toThrow(TypeError)
    const missing = new (the.store.constructor as typeof import('../src/index.js').KyselyStore)(the.db, 0, {
      tableName: randomTable('missing'),
    })
    expect(() => storeNow.find(missing, 't')).toThrow(SessionStoreError)
    expect(() => storeNow.find(missing, 't')).toThrow(/does not exist: run migrate/)
  })

  test("a promise while the caller's transaction holds the connection, answered after it", async () => {
    const token = randomTable('t')
    await the.store.commit(token, bytes('a'), new Date(Date.now() + HOUR))
    let release!: () => void
    let found: unknown
    await the.db.transaction().execute(async () => {
      found = storeNow.find(the.store, token)
      await new Promise<void>((resolve) => {
        release = resolve
        setTimeout(release, 10)
      })
    })
    expect(found).toBeInstanceOf(Promise)
    expect(text(await found)).toBe('a')
  })

  test('a promise while the tracing channel has subscribers, which see the call', async () => {
    const token = randomTable('t')
    let found: unknown
    const calls = await tracedCalls(async () => {
      found = storeNow.find(the.store, token)
      expect(found).toBeInstanceOf(Promise)
      expect(await found).toBeUndefined()
    })
    const seen = calls.map((call) => call.operation)
    expect(seen).toEqual(['find'])
  })

  test('an object that only has the methods (a wrapper) is called through them', async () => {
    const token = randomTable('t')
    await the.store.commit(token, bytes('a'), new Date(Date.now() + HOUR))
    const called: string[] = []
    const wrapper = new Proxy(the.store, {
      get: (target, name) => {
        const value = Reflect.get(target, name, target) as unknown
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          called.push(String(name))
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    })
    const found = storeNow.find(wrapper, token)
    expect(found).toBeInstanceOf(Promise)
    expect(text(await found)).toBe('a')
    expect(called).toEqual(['find'])
  })
})

describe('storeNow on PGlite: promises', () => {
  const the = storeFixture(legs.pglite(), 'now')

  test('every call answers with the promise of the public method', async () => {
    const token = randomTable('t')
    const expiry = new Date(Date.now() + HOUR)
    const committed = storeNow.commit(the.store, token, bytes('a'), expiry)
    expect(committed).toBeInstanceOf(Promise)
    await committed
    const found = storeNow.get(the.store, token)
    expect(found).toBeInstanceOf(Promise)
    expect(text((await found)?.data)).toBe('a')
  })
})

/** Calls `call` with a callback; says whether the callback came before `call` returned, and with what. */
async function callsBack(call: (callback: (error: unknown, value?: unknown) => void) => void) {
  let returned = false
  let before: boolean | undefined
  const answer = await new Promise<unknown[]>((resolve) => {
    call((...args) => {
      before = !returned
      resolve(args)
    })
    returned = true
  })
  return { before, answer }
}

for (const [leg, atOnce] of [
  [legs.sqliteMemory(), true],
  [legs.pglite(), false],
] as const) {
  describe(`the express-session adapter on ${leg.name}`, () => {
    const the = storeFixture(leg, 'nowweb')
    const when = atOnce ? 'before it returns' : 'after it returned'

    test(`get, set, touch (a write) and destroy call back ${when}`, async () => {
      const adapter = new ExpressSessionStore(the.store, { touchAfter: 0 })
      const sid = randomTable('sid')
      const session = () => ({
        cookie: { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR).toISOString() },
        n: 1,
      })
      const set = await callsBack((done) => adapter.set(sid, session() as never, done))
      expect(set).toEqual({ before: atOnce, answer: [null, undefined] })
      const got = await callsBack((done) => adapter.get(sid, done))
      expect(got.before).toBe(atOnce)
      expect(got.answer[0]).toBeNull()
      expect((got.answer[1] as { n: number }).n).toBe(1)
      const loaded = got.answer[1] as never
      expect(await callsBack((done) => adapter.set(sid, loaded, done))).toEqual({
        before: atOnce,
        answer: [null, undefined],
      })
      expect(await callsBack((done) => adapter.touch(sid, loaded, done))).toEqual({
        before: atOnce,
        answer: [null, undefined],
      })
      expect(await callsBack((done) => adapter.destroy(sid, done))).toEqual({
        before: atOnce,
        answer: [null, undefined],
      })
      expect(await callsBack((done) => adapter.get(sid, done))).toEqual({
        before: atOnce,
        answer: [null, null],
      })
    })

    if (atOnce) {
      test('with a subscriber to the tracing channel, get calls back after it returned', async () => {
        const adapter = new ExpressSessionStore(the.store)
        let got: Awaited<ReturnType<typeof callsBack>> | undefined
        const calls = await tracedCalls(async () => {
          got = await callsBack((done) => adapter.get(randomTable('sid'), done))
        })
        expect(got).toEqual({ before: false, answer: [null, null] })
        expect(calls.map((call) => call.operation)).toEqual(['get'])
      })
    }

    test("a store that answers with another library's promise (a thenable) is waited for", async () => {
      const thenable = <T>(promise: Promise<T>): PromiseLike<T> => ({
        then: (resolve, reject) => promise.then(resolve, reject),
      })
      const store = the.store
      const wrapper = {
        get: (token: string) => thenable(store.get(token)),
        commit: (...args: Parameters<typeof store.commit>) => thenable(store.commit(...args)),
        update: (...args: Parameters<typeof store.update>) => thenable(store.update(...args)),
        touch: (...args: Parameters<typeof store.touch>) => thenable(store.touch(...args)),
        delete: (...args: Parameters<typeof store.delete>) => thenable(store.delete(...args)),
        all: () => store.all(),
        count: () => store.count(),
        clear: () => store.clear(),
        listBySubject: (...args: Parameters<typeof store.listBySubject>) => store.listBySubject(...args),
        deleteBySubject: (...args: Parameters<typeof store.deleteBySubject>) =>
          store.deleteBySubject(...args),
      }
      const adapter = new ExpressSessionStore(wrapper as never)
      const sid = randomTable('sid')
      const session = {
        cookie: { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR).toISOString() },
        n: 7,
      }
      expect(await callsBack((done) => adapter.set(sid, session as never, done))).toEqual({
        before: false,
        answer: [null, undefined],
      })
      const got = await callsBack((done) => adapter.get(sid, done))
      expect(got.before).toBe(false)
      expect((got.answer[1] as { n: number }).n).toBe(7)
    })

    test('a failure calls back with the error, once', async () => {
      const adapter = new ExpressSessionStore(
        new (the.store.constructor as typeof import('../src/index.js').KyselyStore)(the.db, 0, {
          tableName: randomTable('missing'),
        }),
      )
      const got = await callsBack((done) => adapter.get('sid', done))
      expect(got.before).toBe(atOnce)
      expect(got.answer).toHaveLength(1)
      expect(got.answer[0]).toBeInstanceOf(SessionStoreError)
    })

    // express-session sends a response whose session saves or touches in one piece when the
    // store calls back at once; otherwise all but the last byte first (res.write), then the
    // last byte once the store called back. Its cookie recomputes originalMaxAge from a second
    // read of the clock on every request, a millisecond short when the clock moved in between
    // (now and then; always under the ticking clock here): the adapter takes it for the same
    // cookie, where rewriting the session would call back late.
    for (const clock of ['the clock', 'a clock that moves 1 ms at every read'] as const) {
      test(`express-session sends /read and /write ${atOnce ? 'in one piece' : 'in two pieces'}, on ${clock}`, async () => {
        if (clock !== 'the clock') {
          const start = Date.now()
          let reads = 0
          vi.spyOn(Date, 'now').mockImplementation(() => start + reads++)
        }
        try {
          expect(await pieces()).toEqual(atOnce ? [] : ['/login', '/read', '/write', '/read'])
        } finally {
          vi.restoreAllMocks()
        }
      })
    }

    /** Logs in, reads, writes and reads again: the paths of the responses sent in two pieces. */
    async function pieces(): Promise<string[]> {
      const writes: string[] = []
      const app = express()
      app.use((req, res, next) => {
        const write = res.write.bind(res) as (...args: unknown[]) => boolean
        res.write = ((...args: unknown[]) => {
          writes.push(req.path)
          return write(...args)
        }) as typeof res.write
        next()
      })
      app.use(
        expressSession({
          store: new ExpressSessionStore(the.store, { touchAfter: 0 }),
          secret: 'test secret',
          resave: false,
          saveUninitialized: false,
          cookie: { maxAge: HOUR },
        }),
      )
      app.get('/login', (req, res) => {
        ;(req.session as unknown as { n: number }).n = 1
        res.send('in')
      })
      app.get('/read', (req, res) => {
        res.send(String((req.session as unknown as { n: number }).n))
      })
      app.get('/write', (req, res) => {
        const session = req.session as unknown as { n: number }
        session.n++
        res.send(String(session.n))
      })
      const server = await listen(app)
      try {
        const browser = new Browser(server.url)
        expect((await browser.get('/login')).text_).toBe('in')
        expect((await browser.get('/read')).text_).toBe('1')
        expect((await browser.get('/write')).text_).toBe('2')
        expect((await browser.get('/read')).text_).toBe('2')
      } finally {
        await server.close()
      }
      return writes
    }
  })
}
