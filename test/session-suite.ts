import { createHash, randomBytes } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  JSON_CODEC_MAX_DEPTH,
  KyselyStore,
  migrate,
  Session,
  SessionManager,
  type HeaderList,
  type SessionManagerOptions,
  type SessionStore,
} from '../src/index.js'
import { recordOf } from '../src/session/session.js'
import type { EngineLeg } from './legs.js'
import { randomTable, readRows, recording } from './helpers.js'

const HOUR = 3600_000
const sha256 = (token: string) => createHash('sha256').update(token).digest('hex')

/** The cookie value a response's headers set, or undefined. */
export function setCookie(headers: HeaderList): string | undefined {
  return headers.find(([name]) => name === 'Set-Cookie')?.[1]
}

/** The `session=...` pair a Set-Cookie value carries, for the next request's Cookie header. */
export function cookiePair(headers: HeaderList): string {
  return setCookie(headers)!.split(';')[0]!
}

/** `store`, with one method replaced (a spy or a fault), the others its own. */
export function replacing<K extends keyof SessionStore>(
  store: KyselyStore,
  method: K,
  replacement: NonNullable<SessionStore[K]>,
): SessionStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === method) return replacement
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  }) as unknown as SessionStore
}

/** Runs `fn` and resolves to the unhandled rejections that happened meanwhile (and just after). */
export async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = []
  const listener = (reason: unknown) => seen.push(reason)
  process.on('unhandledRejection', listener)
  try {
    await fn()
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('unhandledRejection', listener)
  }
  return seen
}

/**
 * The SessionManager's contract on one engine: load, save, tokens, expiry, renewal,
 * destruction, cookies and iteration, checked against what the table really holds.
 */
export function sessionConformance(leg: EngineLeg): void {
  describe(`${leg.name}: SessionManager`, () => {
    let db: Kysely<any>
    let table: string
    const clock = { now: Date.UTC(2032, 1, 3, 4, 5, 6, 789) }

    function manager(options: Partial<SessionManagerOptions> = {}, on: Kysely<any> = db) {
      const store = new KyselyStore(on, 0, { tableName: table, now: () => clock.now })
      return new SessionManager({ store, now: () => clock.now, ...options })
    }

    beforeAll(async () => {
      db = await leg.open()
      table = randomTable('mgr')
      await migrate(db, { tableName: table })
    })

    afterAll(async () => {
      if (db) {
        await db.schema.dropTable(table).ifExists().execute()
        await leg.close(db)
      }
    })

    test('a new session that is not modified is not saved and sets no cookie', async () => {
      const spy = recording(db)
      const sessions = manager({}, spy.db)
      const session = await sessions.load(undefined)
      expect(session.status).toBe('unmodified')
      expect(await sessions.save(session)).toEqual([])
      expect(spy.queries).toHaveLength(0)
    })

    test('a modified session gets a 43-character token from the CSPRNG, and the response its cookie', async () => {
      const sessions = manager()
      const session = await sessions.load(undefined)
      session.set('user', 'alice')
      const headers = await sessions.save(session)
      const token = /^session=([^;]*);/.exec(setCookie(headers)!)![1]!
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(Buffer.from(token, 'base64url')).toHaveLength(32)
      expect(headers).toContainEqual(['Vary', 'Cookie'])
      expect(headers).toContainEqual(['Cache-Control', 'no-cache="Set-Cookie"'])
      expect(session.status).toBe('unmodified') // saved: nothing pending
    })

    test('with hashTokens (the default) the table holds only the SHA-256 of the token', async () => {
      const sessions = manager()
      const session = await sessions.load(undefined)
      session.set('n', 1)
      const token = cookiePair(await sessions.save(session)).split('=')[1]!
      const rows = await readRows(db, table, leg.family)
      expect(rows.some((row) => row.token === sha256(token))).toBe(true)
      expect(rows.some((row) => row.token === token)).toBe(false)
    })

    test('with hashTokens: false the table holds the token itself', async () => {
      const sessions = manager({ hashTokens: false })
      const session = await sessions.load(undefined)
      session.set('n', 1)
      const token = cookiePair(await sessions.save(session)).split('=')[1]!
      expect((await readRows(db, table, leg.family)).some((row) => row.token === token)).toBe(true)
    })

    test('the next request with the cookie sees the values, Dates and bytes included', async () => {
      const sessions = manager()
      const first = await sessions.load(undefined)
      const when = new Date(Date.UTC(2030, 0, 1, 2, 3, 4, 5))
      first
        .set('when', when)
        .set('bytes', new Uint8Array([0, 1, 255]))
        .set('nested', { a: [1, 'x', null] })
      const cookie = cookiePair(await sessions.save(first))
      const second = await sessions.load(`other=1; ${cookie}; more=2`)
      expect(second.get('when')).toEqual(when)
      expect(second.get('bytes')).toEqual(new Uint8Array([0, 1, 255]))
      expect(second.get('nested')).toEqual({ a: [1, 'x', null] })
      expect(second.keys()).toEqual(['bytes', 'nested', 'when'])
    })

    test('an unknown token is never adopted: the new session gets a fresh token', async () => {
      const sessions = manager()
      const forged = randomBytes(32).toString('base64url')
      const session = await sessions.load(`session=${forged}`)
      expect(session.keys()).toEqual([])
      session.set('x', 1)
      const token = cookiePair(await sessions.save(session)).split('=')[1]
      expect(token).not.toBe(forged)
      expect((await readRows(db, table, leg.family)).some((row) => row.token === sha256(forged))).toBe(false)
    })

    test.each([
      ['too short', 'abc'],
      ['not base64url', '!'.repeat(43)],
      ['100 KB long', 'a'.repeat(100_000)],
      ['SQL text', "x' OR '1'='1"],
    ])('a malformed token (%s) is not looked up and not adopted', async (_, token) => {
      const spy = recording(db)
      const sessions = manager({}, spy.db)
      const session = await sessions.load(`session=${token}`)
      expect(spy.queries).toHaveLength(0)
      session.set('x', 1)
      expect(cookiePair(await sessions.save(session))).not.toContain(token)
    })

    test('an expired session is not adopted', async () => {
      const sessions = manager({ lifetime: HOUR })
      const session = await sessions.load(undefined)
      session.set('x', 1)
      const cookie = cookiePair(await sessions.save(session))
      clock.now += HOUR
      try {
        expect((await sessions.load(cookie)).keys()).toEqual([])
      } finally {
        clock.now -= HOUR
      }
    })

    test('the expiry is min(deadline, now + idleTimeout), and the lifetime is absolute', async () => {
      const sessions = manager({ lifetime: 2 * HOUR, idleTimeout: HOUR / 2 })
      const session = await sessions.load(undefined)
      session.set('x', 1)
      const cookie = cookiePair(await sessions.save(session))
      const key = sha256(cookie.split('=')[1]!)
      const expiry = async () =>
        (await readRows(db, table, leg.family)).find((row) => row.token === key)?.expiry
      expect(await expiry()).toBe(clock.now + HOUR / 2)
      const start = clock.now
      try {
        // Active every 20 minutes: the idle timeout moves, until the deadline caps it.
        for (let minutes = 20; minutes <= 100; minutes += 20) {
          clock.now = start + minutes * 60_000
          const loaded = await sessions.load(cookie)
          expect(loaded.get('x')).toBe(1)
          await sessions.save(loaded)
          expect(await expiry()).toBe(Math.min(start + 2 * HOUR, clock.now + HOUR / 2))
        }
        clock.now = start + 2 * HOUR
        expect((await sessions.load(cookie)).keys()).toEqual([])
      } finally {
        clock.now = start
      }
    })

    test('an unmodified session with an idle timeout is touched: expiry moves, data is not rewritten', async () => {
      const sessions = manager({ idleTimeout: HOUR })
      const session = await sessions.load(undefined)
      session.set('x', 1)
      const cookie = cookiePair(await sessions.save(session))
      const spy = recording(db)
      const watched = manager({ idleTimeout: HOUR }, spy.db)
      clock.now += 10 * 60_000 // more than touchAfter (by default a tenth of the idle timeout)
      try {
        const loaded = await watched.load(cookie)
        const headers = await watched.save(loaded)
        expect(setCookie(headers)).toContain(cookie)
        expect(spy.queries.map((q) => q.sql.split(' ')[0])).toEqual(['SELECT', 'UPDATE'])
      } finally {
        clock.now -= 10 * 60_000
      }
    })

    test('an unmodified session without an idle timeout is not written', async () => {
      const sessions = manager()
      const session = await sessions.load(undefined)
      session.set('x', 1)
      const cookie = cookiePair(await sessions.save(session))
      const spy = recording(db)
      const watched = manager({}, spy.db)
      expect(await watched.save(await watched.load(cookie))).toEqual([])
      expect(spy.queries.map((q) => q.sql.split(' ')[0])).toEqual(['SELECT'])
    })

    test('renewToken deletes the old token, keeps the data and issues a new token', async () => {
      const sessions = manager()
      const session = await sessions.load(undefined)
      session.set('cart', ['a'])
      const old = cookiePair(await sessions.save(session))
      const loaded = await sessions.load(old)
      await loaded.renewToken()
      expect(loaded.status).toBe('modified')
      const renewed = cookiePair(await sessions.save(loaded))
      expect(renewed).not.toBe(old)
      expect((await sessions.load(old)).keys()).toEqual([])
      expect((await sessions.load(renewed)).get('cart')).toEqual(['a'])
      const keys = (await readRows(db, table, leg.family)).map((row) => row.token)
      expect(keys).not.toContain(sha256(old.split('=')[1]!))
    })

    test('destroy deletes the session and the response clears the cookie', async () => {
      const sessions = manager()
      const session = await sessions.load(undefined)
      session.set('user', 'bob')
      const cookie = cookiePair(await sessions.save(session))
      const loaded = await sessions.load(cookie)
      await loaded.destroy()
      expect(loaded.status).toBe('destroyed')
      expect(loaded.keys()).toEqual([])
      const headers = await sessions.save(loaded)
      expect(setCookie(headers)).toMatch(
        /^session=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Lax$/,
      )
      expect(
        (await readRows(db, table, leg.family)).some((row) => row.token === sha256(cookie.split('=')[1]!)),
      ).toBe(false)
      expect((await sessions.load(cookie)).keys()).toEqual([])
    })

    test('cookie attributes: Expires and Max-Age with persist, none without unless rememberMe', async () => {
      const persistent = manager({
        lifetime: HOUR,
        cookie: { secure: true, sameSite: 'strict', domain: 'example.com', path: '/app' },
      })
      const a = await persistent.load(undefined)
      a.set('x', 1)
      const value = setCookie(await persistent.save(a))!
      const expires = new Date(Math.ceil((clock.now + HOUR) / 1000) * 1000).toUTCString()
      expect(value).toMatch(
        new RegExp(
          `^session=[\\w-]{43}; Path=/app; Domain=example.com; Expires=${expires}; Max-Age=3600; HttpOnly; Secure; SameSite=Strict$`,
        ),
      )
      const browserSession = manager({ cookie: { persist: false } })
      const b = await browserSession.load(undefined)
      b.set('x', 1)
      expect(setCookie(await browserSession.save(b))).not.toMatch(/Expires|Max-Age/)
      b.rememberMe(true)
      expect(b.remembered).toBe(true)
      expect(b.keys()).toEqual(['x'])
      expect(setCookie(await browserSession.save(b))).toMatch(/; Expires=.*; Max-Age=\d+;/)
    })

    test('iterate visits every live session and saves what it changed: end all sessions of one user', async () => {
      const name = randomTable('iter')
      await migrate(db, { tableName: name })
      try {
        const store = new KyselyStore(db, 0, { tableName: name, now: () => clock.now })
        const sessions = new SessionManager({ store, now: () => clock.now })
        const cookies: string[] = []
        for (const user of ['mallory', 'alice', 'mallory', 'bob']) {
          const s = await sessions.load(undefined)
          s.set('user', user)
          cookies.push(cookiePair(await sessions.save(s)))
        }
        const seen: string[] = []
        await sessions.iterate(async (session) => {
          seen.push(session.get('user') as string)
          if (session.get('user') === 'mallory') await session.destroy()
          else session.set('checked', true)
          await expect(session.renewToken()).rejects.toThrow(/renewToken\(\) needs a request/)
        })
        expect(seen.sort()).toEqual(['alice', 'bob', 'mallory', 'mallory'])
        const left = await Promise.all(cookies.map(async (c) => (await sessions.load(c)).get('user') ?? null))
        expect(left).toEqual([null, 'alice', null, 'bob'])
        expect((await sessions.load(cookies[1])).get('checked')).toBe(true)
        expect(await readRows(db, name, leg.family)).toHaveLength(2)
      } finally {
        await db.schema.dropTable(name).execute()
      }
    })

    test('session data the codec cannot read rejects the load, without quoting the data', async () => {
      const token = randomBytes(32).toString('base64url')
      const store = new KyselyStore(db, 0, { tableName: table, now: () => clock.now })
      await store.commit(
        sha256(token),
        new TextEncoder().encode('secret-garbage'),
        new Date(clock.now + HOUR),
      )
      const error = await manager()
        .load(`session=${token}`)
        .catch((e: unknown) => e)
      expect(String(error)).toBe('TypeError: session data is not valid JSON (14 bytes)')
    })

    test('get, has, pop, remove, clear and keys, and what they do to the status', async () => {
      const session = await manager().load(undefined)
      expect(session.has('a')).toBe(false)
      session.remove('a')
      expect(session.pop('a')).toBeUndefined()
      session.clear()
      expect(session.status).toBe('unmodified') // nothing existed: nothing changed
      session.put('a', 1).set('b', 2)
      expect(session.status).toBe('modified')
      expect([session.has('a'), session.get('a'), session.keys()]).toEqual([true, 1, ['a', 'b']])
      expect(session.pop('a')).toBe(1)
      expect(session.has('a')).toBe(false)
      session.clear()
      expect(session.keys()).toEqual([])
    })

    test('a value the codec cannot encode is refused when it is set', async () => {
      const session = await manager().load(undefined)
      expect(() => session.set('f', () => 1)).toThrow(/^f is a function; session values must be JSON values/)
      expect(() => session.set('m', { deep: new Map() })).toThrow(/^m\.deep is a Map/)
      expect(() => session.set('n', NaN)).toThrow(/^n is NaN/)
      expect(() => session.set('', 1)).toThrow(/^key must be a non-empty string/)
      expect(session.status).toBe('unmodified')
    })

    // Issue 10: a session ended anywhere stays ended.

    /** A logged-in session saved by one request; resolves to its Cookie header and row key. */
    async function loggedIn(sessions: SessionManager, user = 'alice') {
      const session = await sessions.load(undefined)
      session.set('userId', user)
      const cookie = cookiePair(await sessions.save(session))
      return { cookie, key: sha256(cookie.split('=')[1]!) }
    }

    const rowOf = async (key: string) =>
      (await readRows(db, table, leg.family)).find((row) => row.token === key)

    test.each(['destroy', 'renewToken'] as const)(
      'a request that loaded a session before another request ended it (%s) writes nothing back and sets no cookie',
      async (end) => {
        const sessions = manager()
        const { cookie, key } = await loggedIn(sessions)
        const inFlight = await sessions.load(cookie) // request A loads the session...
        const other = await sessions.load(cookie) // ...request B loads it too and ends it
        if (end === 'destroy') await other.destroy()
        else await other.renewToken()
        await sessions.save(other)
        inFlight.set('cart', ['book']) // A modifies it, then saves
        expect(await sessions.save(inFlight)).toEqual([])
        expect(await rowOf(key)).toBeUndefined()
        expect((await sessions.load(cookie)).keys()).toEqual([])
      },
    )

    test('a request that loaded a session before revokeSubject signed it out writes nothing back', async () => {
      const sessions = manager()
      const subject = `user-${randomBytes(6).toString('hex')}`
      const session = await sessions.load(undefined)
      session.setSubject(subject)
      session.set('userId', subject)
      const cookie = cookiePair(await sessions.save(session))
      const inFlight = await sessions.load(cookie)
      expect(await sessions.revokeSubject(subject)).toBe(1)
      inFlight.set('cart', ['book'])
      expect(await sessions.save(inFlight)).toEqual([])
      expect(await rowOf(sha256(cookie.split('=')[1]!))).toBeUndefined()
    })

    test.each([false, true])(
      'a request that loaded a session before the store was cleared (after a logout: %s) writes nothing back',
      async (logoutFirst) => {
        const sessions = manager()
        const { cookie, key } = await loggedIn(sessions)
        const inFlight = await sessions.load(cookie)
        if (logoutFirst) {
          const other = await sessions.load(cookie)
          await other.destroy()
          await sessions.save(other)
        }
        await new KyselyStore(db, 0, { tableName: table }).clear() // tombstones included
        inFlight.set('cart', ['book'])
        expect(await sessions.save(inFlight)).toEqual([])
        expect(await rowOf(key)).toBeUndefined()
        expect((await sessions.load(cookie)).keys()).toEqual([])
      },
    )

    test('a forgotten await on renewToken still saves the data under the new token only', async () => {
      const sessions = manager()
      const anonymous = await sessions.load(undefined)
      anonymous.set('visits', 1)
      const planted = cookiePair(await sessions.save(anonymous)) // say, an attacker's token
      const session = await sessions.load(planted)
      void session.renewToken() // the await is forgotten
      session.set('userId', 'alice')
      const renewed = cookiePair(await sessions.save(session))
      expect(renewed).not.toBe(planted)
      expect(await rowOf(sha256(planted.split('=')[1]!))).toBeUndefined()
      const row = await rowOf(sha256(renewed.split('=')[1]!))
      expect(Buffer.from(row!.data).toString()).toContain('"userId":"alice"')
      expect((await sessions.load(planted)).get('userId')).toBeUndefined()
    })

    test('renewToken and destroy change the session before they return', async () => {
      const sessions = manager()
      const { cookie } = await loggedIn(sessions)
      const session = await sessions.load(cookie)
      const token = recordOf(session).token
      const renewal = session.renewToken()
      expect([recordOf(session).token !== token, session.status]).toEqual([true, 'modified'])
      await renewal
      const destruction = session.destroy()
      expect([recordOf(session).token, session.status, session.keys()]).toEqual([undefined, 'destroyed', []])
      await destruction
    })

    test.each(['renewToken', 'destroy'] as const)(
      'a %s whose deletion fails fails the save, writes nothing, and is never an unhandled rejection',
      async (method) => {
        const real = new KyselyStore(db, 0, { tableName: table, now: () => clock.now })
        const missing = new KyselyStore(db, 0, { tableName: randomTable('missing') })
        const store = replacing(real, 'delete', (token: string) => missing.delete(token))
        const sessions = new SessionManager({ store, now: () => clock.now })
        const { cookie, key } = await loggedIn(sessions)
        let error: unknown
        const unhandled = await unhandledDuring(async () => {
          const session = await sessions.load(cookie)
          void session[method]() // not awaited
          session.set('userId', 'mallory')
          error = await sessions.save(session).catch((e: unknown) => e)
        })
        expect(unhandled).toEqual([])
        expect(String(error)).toMatch(/delete failed: table "missing_\w+" does not exist/)
        expect(Buffer.from((await rowOf(key))!.data).toString()).toContain('"userId":"alice"')
        const rows = await readRows(db, table, leg.family)
        expect(rows.filter((row) => Buffer.from(row.data).toString().includes('mallory'))).toEqual([])
      },
    )

    test('a store without update(): a loaded session is committed, so the guarantee needs update()', async () => {
      const real = new KyselyStore(db, 0, { tableName: table, now: () => clock.now })
      const sessions = new SessionManager({
        store: replacing(real, 'update', undefined as never),
        now: () => clock.now,
      })
      const { cookie, key } = await loggedIn(sessions)
      const inFlight = await sessions.load(cookie)
      await (await sessions.load(cookie)).destroy()
      inFlight.set('cart', ['book'])
      expect(setCookie(await sessions.save(inFlight))).toBeDefined() // SCS's upsert: it comes back
      expect(await rowOf(key)).toBeDefined()
    })

    test('a store without get(): with idleTimeout every request writes (touchAfter needs get)', async () => {
      const real = new KyselyStore(db, 0, { tableName: table, now: () => clock.now })
      const store = replacing(real, 'get', undefined as never)
      const sessions = new SessionManager({ store, now: () => clock.now, idleTimeout: HOUR })
      const { cookie } = await loggedIn(sessions)
      clock.now += 1000
      try {
        const loaded = await sessions.load(cookie)
        expect(loaded.get('userId')).toBe('alice') // found with find()
        expect(setCookie(await sessions.save(loaded))).toBeDefined() // 1 s later: touched anyway
      } finally {
        clock.now -= 1000
      }
    })

    test('iterate reads all() where the store has no entries()', async () => {
      const name = randomTable('iterall')
      await migrate(db, { tableName: name })
      try {
        const real = new KyselyStore(db, 0, { tableName: name, now: () => clock.now })
        const sessions = new SessionManager({
          store: replacing(real, 'entries', undefined as never),
          now: () => clock.now,
        })
        await loggedIn(sessions, 'a')
        await loggedIn(sessions, 'b')
        const seen: string[] = []
        await sessions.iterate((session) => void seen.push(session.get('userId') as string))
        expect(seen.sort()).toEqual(['a', 'b'])
      } finally {
        await db.schema.dropTable(name).execute()
      }
    })

    // Issue 10: a safe codec and values.

    test('the keys __proto__, constructor and prototype are refused by set, naming the key', async () => {
      const session = await manager().load(undefined)
      for (const key of ['__proto__', 'constructor', 'prototype']) {
        expect(() => session.set(key, { userId: 'admin' })).toThrow(TypeError)
        expect(() => session.set(key, 1)).toThrow(new RegExp(`^key must not be "${key}"`))
      }
      expect(() => session.set('prefs', JSON.parse('{"__proto__": {"userId": "admin"}}'))).toThrow(
        /^prefs has the key __proto__/,
      )
      expect([session.status, session.get('userId'), session.get('constructor')]).toEqual([
        'unmodified',
        undefined,
        undefined,
      ])
      expect([session.has('toString'), session.has('constructor')]).toEqual([false, false])
    })

    test('a tampered row with prototype keys changes no prototype: get and has see own values only', async () => {
      const token = randomBytes(32).toString('base64url')
      const store = new KyselyStore(db, 0, { tableName: table, now: () => clock.now })
      const json = `{"d":${clock.now + HOUR},"v":{"__proto__":{"userId":"admin"},"constructor":"x","prototype":{"a":1},"name":"bob","prefs":{"__proto__":{"isAdmin":true},"theme":"dark"}}}`
      await store.commit(sha256(token), new TextEncoder().encode(json), new Date(clock.now + HOUR))
      const session = await manager().load(`session=${token}`)
      expect(session.get('name')).toBe('bob')
      expect(session.keys()).toEqual(['name', 'prefs'])
      expect([session.get('userId'), session.get('constructor'), session.get('prototype')]).toEqual([
        undefined,
        undefined,
        undefined,
      ])
      const prefs = session.get('prefs') as Record<string, unknown>
      expect([prefs.theme, prefs.isAdmin, Object.getPrototypeOf(prefs) === Object.prototype]).toEqual([
        'dark',
        undefined,
        true,
      ])
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined()
    })

    test(`values nested ${JSON_CODEC_MAX_DEPTH} deep are kept, deeper (or cyclic) ones refused at set`, async () => {
      const sessions = manager()
      const session = await sessions.load(undefined)
      let deepest: unknown = 'leaf'
      for (let i = 0; i < JSON_CODEC_MAX_DEPTH; i++) deepest = i % 2 ? [deepest] : { next: deepest }
      session.set('deep', deepest)
      expect(() => session.set('deeper', [deepest])).toThrow(RangeError)
      expect(() => session.set('deeper', [deepest])).toThrow(/^deeper\[0\]/)
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      expect(() => session.set('cyclic', cyclic)).toThrow(RangeError)
      expect(session.keys()).toEqual(['deep'])
      const cookie = cookiePair(await sessions.save(session))
      expect((await sessions.load(cookie)).get('deep')).toEqual(deepest)
    })

    test('maxDataSize: a set that would make the session larger is refused, and so is such a save', async () => {
      const sessions = manager({ maxDataSize: 1024 })
      const session = await sessions.load(undefined)
      session.set('a', 'x'.repeat(500))
      expect(() => session.set('b', 'y'.repeat(600))).toThrow(RangeError)
      expect(() => session.set('b', 'y'.repeat(600))).toThrow(
        /^value of "b" makes the session \d+ bytes when encoded, more than maxDataSize \(1024\)$/,
      )
      expect(session.has('b')).toBe(false)
      const cookie = cookiePair(await sessions.save(session))
      const loaded = await sessions.load(cookie)
      const list = ['x']
      loaded.set('list', list)
      list.push('z'.repeat(2000)) // grown in place after set
      const before = (await rowOf(sha256(cookie.split('=')[1]!)))!.data
      await expect(sessions.save(loaded)).rejects.toThrow(
        /^session \d+ bytes when encoded, more than maxDataSize/,
      )
      expect((await rowOf(sha256(cookie.split('=')[1]!)))!.data).toEqual(before)
      expect(() => manager({ maxDataSize: 0 })).toThrow(/^maxDataSize must be an integer/)
      // Small sets near the limit: each is accepted while the session fits, exactly.
      const near = await sessions.load(undefined)
      near.set('a', 'x'.repeat(900))
      let accepted = 0
      expect(() => {
        for (; accepted < 100; accepted++) near.set(`k${accepted}`, accepted)
      }).toThrow(/^value of "k\d+" makes the session \d+ bytes when encoded, more than maxDataSize/)
      expect(accepted).toBeGreaterThan(5)
      expect(near.keys()).toHaveLength(accepted + 1)
      const saved = cookiePair(await sessions.save(near)) // what set accepted, save takes
      const row = await rowOf(sha256(saved.split('=')[1]!))
      expect(row!.data.byteLength).toBeLessThanOrEqual(1024)
      expect(row!.data.byteLength).toBeGreaterThan(1024 - 16)
    })

    test('iterate reports a session it cannot decode to onError and goes on', async () => {
      const name = randomTable('iterbad')
      await migrate(db, { tableName: name })
      try {
        const store = new KyselyStore(db, 0, { tableName: name, now: () => clock.now })
        const errors: unknown[] = []
        const sessions = new SessionManager({ store, now: () => clock.now, onError: (e) => errors.push(e) })
        for (const user of ['a', 'b']) {
          const s = await sessions.load(undefined)
          s.set('user', user)
          await sessions.save(s)
        }
        await store.commit('0'.repeat(64), new TextEncoder().encode('not json'), new Date(clock.now + HOUR))
        const seen: string[] = []
        await sessions.iterate((session) => void seen.push(session.get('user') as string))
        expect(seen.sort()).toEqual(['a', 'b'])
        expect(errors.map(String)).toEqual(['TypeError: session data is not valid JSON (8 bytes)'])
      } finally {
        await db.schema.dropTable(name).execute()
      }
    })

    // Issue 10: fewer writes.

    test('with idleTimeout, 1,000 reads a second apart write 5 times: only when the expiry is stale by more than touchAfter', async () => {
      const idleTimeout = 30 * 60_000 // touchAfter: 3 minutes
      const sessions = manager({ idleTimeout })
      const { cookie, key } = await loggedIn(sessions)
      const spy = recording(db)
      const watched = manager({ idleTimeout }, spy.db)
      const start = clock.now
      let cookies = 0
      try {
        for (let i = 1; i <= 1000; i++) {
          clock.now = start + i * 1000
          const headers = await watched.save(await watched.load(cookie))
          if (headers.length > 0) {
            cookies++
            // The cookie's lifetime is what is stored.
            expect(setCookie(headers)).toContain(`; Max-Age=${idleTimeout / 1000};`)
            expect((await rowOf(key))!.expiry).toBe(clock.now + idleTimeout)
          }
        }
        const writes = spy.queries.filter((q) => !/^\s*select/i.test(q.sql))
        expect([writes.length, cookies]).toEqual([5, 5]) // at 181, 362, 543, 724 and 905 s
        // The bound: the session ends between idleTimeout - touchAfter and idleTimeout after
        // its last request (1,000 s).
        const last = start + 1000 * 1000
        expect((await rowOf(key))!.expiry).toBe(start + 905 * 1000 + idleTimeout)
        clock.now = last + idleTimeout - 3 * 60_000
        expect((await sessions.load(cookie)).get('userId')).toBe('alice')
        clock.now = last + idleTimeout
        expect((await sessions.load(cookie)).get('userId')).toBeUndefined()
      } finally {
        clock.now = start
      }
    })

    test('touchAfter: 0 writes on every request; touchAfter needs an idleTimeout longer than it', async () => {
      const sessions = manager({ idleTimeout: HOUR, touchAfter: 0 })
      const { cookie } = await loggedIn(sessions)
      clock.now += 1
      try {
        expect(setCookie(await sessions.save(await sessions.load(cookie)))).toBeDefined()
      } finally {
        clock.now -= 1
      }
      expect(() => manager({ touchAfter: 1000 })).toThrow(/^touchAfter must be shorter than idleTimeout/)
      expect(() => manager({ idleTimeout: 1000, touchAfter: 1000 })).toThrow(RangeError)
    })

    // Issue 10: cookies.

    test('the cookie is Secure by default, not with secure: false; with secret it is signed, and secrets rotate', async () => {
      const plain = manager({ cookie: { secure: false } })
      const a = await plain.load(undefined)
      a.set('x', 1)
      expect(setCookie(await plain.save(a))).not.toContain('Secure')
      const older = 'an older secret, of thirty-two characters'
      const newer = 'a newer secret, of thirty-two characters'
      const before = manager({ secret: older })
      const b = await before.load(undefined)
      b.set('x', 2)
      const headers = await before.save(b)
      expect(setCookie(headers)).toMatch(
        /^session=[\w-]{43}\.[\w-]{22}; Path=\/; Expires=.*; HttpOnly; Secure; SameSite=Lax$/,
      )
      const cookie = cookiePair(headers)
      const rotated = manager({ secret: [newer, older] }) // the first signs, each verifies
      const loaded = await rotated.load(cookie)
      expect(loaded.get('x')).toBe(2)
      loaded.set('x', 3)
      const resigned = cookiePair(await rotated.save(loaded))
      expect(resigned).not.toBe(cookie) // same token, signed with the newer secret
      expect(resigned.split('.')[0]).toBe(cookie.split('.')[0])
      expect((await manager({ secret: newer }).load(resigned)).get('x')).toBe(3)
      expect((await manager({ secret: newer }).load(cookie)).get('x')).toBeUndefined()
      expect(() => manager({ secret: 'short' })).toThrow(/^secret must be at least 32 characters long/)
    })

    test('with secret, a forged or unsigned cookie is refused without a query', async () => {
      const spy = recording(db)
      const sessions = manager({ secret: 'a secret of at least thirty-two characters' }, spy.db)
      const token = randomBytes(32).toString('base64url')
      for (const value of [token, `${token}.${'A'.repeat(22)}`, `${token}.`]) {
        expect((await sessions.load(`session=${value}`)).keys()).toEqual([])
      }
      expect(spy.queries).toHaveLength(0)
    })

    // Issue 14: per-user sessions.

    test('setSubject and subject: kept with the session, carried over by renewToken, cleared by destroy', async () => {
      const sessions = manager()
      const subject = `user-${randomBytes(6).toString('hex')}`
      const session = await sessions.load(undefined)
      expect(session.subject).toBeNull()
      await session.renewToken()
      session.setSubject(subject)
      expect([session.subject, session.status]).toEqual([subject, 'modified'])
      const cookie = cookiePair(await sessions.save(session))
      const loaded = await sessions.load(cookie)
      expect(loaded.subject).toBe(subject)
      loaded.setSubject(subject) // unchanged: not modified
      expect(loaded.status).toBe('unmodified')
      await loaded.renewToken()
      const renewed = cookiePair(await sessions.save(loaded))
      expect((await sessions.load(renewed)).subject).toBe(subject)
      expect(await sessions.countSubject(subject)).toBe(1)
      const again = await sessions.load(renewed)
      again.setSubject(null)
      await sessions.save(again)
      expect(await sessions.countSubject(subject)).toBe(0)
      const ended = await sessions.load(renewed)
      ended.setSubject(subject)
      await ended.destroy()
      expect(ended.subject).toBeNull()
      expect(() => session.setSubject('')).toThrow(RangeError)
      expect(() => session.setSubject('x'.repeat(256))).toThrow(/^subject must be 1 to 255 characters long/)
      expect(() => session.setSubject(42 as never)).toThrow(/^subject must be a string or null/)
    })

    test("listSubject lists a subject's devices with opaque ids; revoke signs one out, revokeSubject the others", async () => {
      const sessions = manager()
      const subject = `user-${randomBytes(6).toString('hex')}`
      const devices: Array<{ cookie: string; session: Session }> = []
      for (let i = 0; i < 3; i++) {
        const session = await sessions.load(undefined)
        await session.renewToken()
        session.setSubject(subject)
        const cookie = cookiePair(await sessions.save(session))
        devices.push({ cookie, session: await sessions.load(cookie) })
        clock.now += 1000
      }
      clock.now -= 3000
      const other = await sessions.load(undefined)
      other.setSubject(`${subject}-other`)
      await sessions.save(other)

      const listed = await sessions.listSubject(subject, { current: devices[0]!.session })
      expect(listed).toHaveLength(3)
      expect(listed.filter((d) => d.current)).toHaveLength(1)
      // The most recently seen first.
      expect(listed.map((d) => d.lastSeenAt!.getTime() - clock.now)).toEqual([2000, 1000, 0])
      expect(listed[2]!.current).toBe(true)
      const tokens = devices.map((d) => d.cookie.split('=')[1]!)
      for (const device of listed) {
        expect(device.createdAt).toBeInstanceOf(Date)
        expect(device.expiry.getTime()).toBeGreaterThan(clock.now)
        for (const token of tokens) {
          expect(device.id).not.toContain(token)
          expect(device.id).not.toContain(sha256(token))
          expect(device.id).not.toContain(
            Buffer.from(sha256(token), 'hex').toString('base64url').slice(0, 16),
          )
        }
      }
      expect((await sessions.listSubject(subject, { limit: 2 })).length).toBe(2)

      const second = listed.find((d) => !d.current)!
      expect(await sessions.revoke(second.id, { subject: `${subject}-other` })).toBe(false) // not theirs
      expect(await sessions.revoke(second.id, { subject })).toBe(true)
      expect(await sessions.revoke(second.id)).toBe(false) // already gone
      expect(await sessions.countSubject(subject)).toBe(2)

      expect(await sessions.revokeSubject(subject, { except: devices[0]!.session })).toBe(1)
      const left = await Promise.all(devices.map(async (d) => (await sessions.load(d.cookie)).subject))
      expect(left).toEqual([subject, null, null])
      expect(await sessions.countSubject(`${subject}-other`)).toBe(1)
      expect(await sessions.revokeSubject(subject)).toBe(1)
      expect(await sessions.listSubject(subject)).toEqual([])

      await expect(sessions.revoke('not an id')).rejects.toThrow(/^id must be an id from listSubject/)
      await expect(sessions.listSubject(subject, { limit: 1001 })).rejects.toThrow(
        /^limit must be an integer from 1 to 1000/,
      )
      await expect(sessions.listSubject('')).rejects.toThrow(RangeError)
    })

    /** Signs `subject` in on a new device; resolves to its cookie and its session as loaded. */
    async function signIn(
      sessions: SessionManager,
      subject: string,
      device?: { userAgent?: string; address?: string },
    ) {
      const session = await sessions.load(undefined, device)
      await session.renewToken()
      session.setSubject(subject)
      const cookie = cookiePair(await sessions.save(session))
      return { cookie, session: await sessions.load(cookie, device) }
    }

    test('listSubject: the most recently seen first, truncated when there are more, and the current session always among them', async () => {
      const sessions = manager()
      const subject = `user-${randomBytes(6).toString('hex')}`
      const current = await signIn(sessions, subject)
      const base = clock.now
      const newer: string[] = []
      try {
        // Someone with the password signs in again and again: each is seen after the current one.
        for (let i = 1; i <= 4; i++) {
          clock.now = base + i * 1000
          newer.push((await signIn(sessions, subject)).cookie)
        }
      } finally {
        clock.now = base
      }
      const listed = await sessions.listSubject(subject, { limit: 3, current: current.session })
      expect(listed).toHaveLength(3)
      expect(listed.truncated).toBe(true)
      expect(listed.map((d) => d.lastSeenAt!.getTime() - base)).toEqual([4000, 3000, 0])
      expect(listed.map((d) => d.current)).toEqual([false, false, true])
      const all = await sessions.listSubject(subject, { limit: 5, current: current.session })
      expect([all.length, all.truncated]).toEqual([5, false])
      expect(all.map((d) => d.lastSeenAt!.getTime() - base)).toEqual([4000, 3000, 2000, 1000, 0])
      expect(Object.keys(all)).toEqual(['0', '1', '2', '3', '4']) // truncated is not enumerable
      const mostRecent = await sessions.load(newer.at(-1)!)
      const top = await sessions.listSubject(subject, { limit: 1, current: mostRecent })
      expect(top.map((d) => [d.lastSeenAt!.getTime() - base, d.current, top.truncated])).toEqual([
        [4000, true, true],
      ])
      // A current session of someone else is not listed.
      const stranger = await signIn(sessions, `${subject}-other`)
      expect(
        (await sessions.listSubject(subject, { limit: 2, current: stranger.session })).map((d) => d.current),
      ).toEqual([false, false])
    })

    test('revoke(id) finds its session by the indexed creation time the id carries: one query for an unknown id, two for a live one', async () => {
      const spy = recording(db)
      const sessions = manager({}, spy.db)
      const subject = `user-${randomBytes(6).toString('hex')}`
      const devices = [await signIn(sessions, subject), await signIn(sessions, subject)]
      const listed = await sessions.listSubject(subject, { current: devices[0]!.session })
      const other = listed.find((d) => !d.current)!
      const [encodedSubject, created, hash] = other.id.split('.')
      expect(Buffer.from(encodedSubject!, 'base64url').toString()).toBe(subject)
      expect(parseInt(created!, 36)).toBe(other.createdAt!.getTime())
      expect(hash).toMatch(/^[\w-]{22}$/)
      const bogus = `${encodedSubject}.${created}.${'A'.repeat(22)}`
      spy.queries.length = 0
      expect(await sessions.revoke(bogus)).toBe(false)
      expect(spy.queries.map((q) => q.sql.split(' ')[0])).toEqual(['SELECT'])
      spy.queries.length = 0
      expect(await sessions.revoke(other.id, { subject })).toBe(true)
      expect(spy.queries.map((q) => q.sql.split(' ')[0])).toEqual(['SELECT', 'DELETE'])
      expect((await sessions.load(devices[1]!.cookie)).subject).toBeNull()
      expect((await sessions.load(devices[0]!.cookie)).subject).toBe(subject)
      // An id in another shape (an earlier version's, a changed creation time) is refused or finds nothing.
      await expect(sessions.revoke(`${encodedSubject}.${hash}`)).rejects.toThrow(
        /^id must be an id from listSubject\(\)/,
      )
      await expect(sessions.revoke(`${encodedSubject}.0${created}.${hash}`)).rejects.toThrow(
        /^id must be an id/,
      )
      const mine = listed.find((d) => d.current)!
      const [, mineCreated, mineHash] = mine.id.split('.')
      expect(
        await sessions.revoke(
          `${encodedSubject}.${(parseInt(mineCreated!, 36) + 1).toString(36)}.${mineHash}`,
        ),
      ).toBe(false)
      expect(await sessions.countSubject(subject)).toBe(1)
    })

    test('maxSessionsPerSubject: a new sign-in ends the least recently seen sessions beyond the limit, never itself', async () => {
      const sessions = manager({ maxSessionsPerSubject: 2 })
      const subject = `user-${randomBytes(6).toString('hex')}`
      const base = clock.now
      const cookies: string[] = []
      try {
        for (let i = 0; i < 3; i++) {
          clock.now = base + i * 1000
          cookies.push((await signIn(sessions, subject)).cookie)
        }
        expect(await sessions.countSubject(subject)).toBe(2)
        expect((await sessions.load(cookies[0]!)).subject).toBeNull() // the oldest ended
        // Seen again, the second is now more recent than the third: the next sign-in ends the third.
        clock.now = base + 5000
        const second = await sessions.load(cookies[1]!)
        second.set('n', 1)
        await sessions.save(second)
        clock.now = base + 4000 // a new session seen before the others ... still never ends itself
        const fourth = await signIn(sessions, subject)
        expect((await sessions.load(cookies[1]!)).subject).toBe(subject)
        expect((await sessions.load(cookies[2]!)).subject).toBeNull()
        expect((await sessions.load(fourth.cookie)).subject).toBe(subject)
        // A session that takes the subject later (setSubject without renewToken) counts as new too.
        const late = await sessions.load(undefined)
        late.set('n', 1)
        const lateCookie = cookiePair(await sessions.save(late))
        const loaded = await sessions.load(lateCookie)
        loaded.setSubject(subject)
        await sessions.save(loaded)
        expect(await sessions.countSubject(subject)).toBe(2)
        expect((await sessions.load(lateCookie)).subject).toBe(subject)
      } finally {
        clock.now = base
      }
      expect(() => manager({ maxSessionsPerSubject: 0 })).toThrow(
        /^maxSessionsPerSubject must be an integer from 1 to/,
      )
    })

    test('deviceInfo: off by default nothing is kept; on, the browser, OS and address are kept with a signed-in session, listed, and written again only when they change', async () => {
      const firefox = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
      const chrome =
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'
      const subject = `user-${randomBytes(6).toString('hex')}`
      const dataOf = async (cookie: string) => {
        const token = cookie.split('=')[1]!
        const row = (await readRows(db, table, leg.family)).find((r) => r.token === sha256(token))!
        return Buffer.from(row.data).toString()
      }
      const plain = await signIn(manager(), subject, { userAgent: firefox, address: '203.0.113.7' })
      expect(await dataOf(plain.cookie)).not.toMatch(/Firefox|Linux|203\.0\.113/)
      expect((await manager().listSubject(subject))[0]).toMatchObject({
        browser: null,
        os: null,
        address: null,
      })

      const spy = recording(db)
      const sessions = manager({ deviceInfo: true }, spy.db)
      const mine = await signIn(sessions, subject, { userAgent: firefox, address: '203.0.113.7' })
      expect(await dataOf(mine.cookie)).toMatch(/Firefox 128/)
      const listed = await sessions.listSubject(subject, { current: mine.session })
      expect(listed.find((d) => d.current)).toMatchObject({
        browser: 'Firefox 128',
        os: 'Linux',
        address: '203.0.113.7',
      })
      expect(listed.find((d) => !d.current)).toMatchObject({ browser: null, os: null, address: null }) // signed in while off

      spy.queries.length = 0
      const same = await sessions.load(mine.cookie, { userAgent: firefox, address: '203.0.113.7' })
      expect(same.status).toBe('unmodified')
      expect(await sessions.save(same)).toEqual([])
      expect(spy.queries).toHaveLength(1) // the load only: nothing changed, nothing written
      const moved = await sessions.load(mine.cookie, { userAgent: chrome, address: '::ffff:198.51.100.4' })
      expect(moved.status).toBe('modified')
      await sessions.save(moved)
      expect((await sessions.listSubject(subject, { current: moved })).find((d) => d.current)).toMatchObject({
        browser: 'Chrome 126',
        os: 'Windows',
        address: '198.51.100.4',
      })
      // Anonymous sessions keep nothing; without the address option, no address.
      const anonymous = await sessions.load(undefined, { userAgent: firefox, address: '203.0.113.9' })
      anonymous.set('n', 1)
      expect(await dataOf(cookiePair(await sessions.save(anonymous)))).not.toMatch(/Firefox|203\.0\.113/)
      const noAddress = manager({ deviceInfo: { address: false } })
      const browserOnly = await signIn(noAddress, `${subject}-b`, {
        userAgent: firefox,
        address: '203.0.113.7',
      })
      expect(await dataOf(browserOnly.cookie)).not.toMatch(/203\.0\.113/)
      expect((await noAddress.listSubject(`${subject}-b`))[0]).toMatchObject({
        browser: 'Firefox 128',
        address: null,
      })
      // Turned off again: the next write drops what was kept.
      const off = manager()
      const again = await off.load(mine.cookie)
      again.set('n', 2)
      await off.save(again)
      expect(await dataOf(mine.cookie)).not.toMatch(/Chrome|198\.51/)
    })
  })
}
