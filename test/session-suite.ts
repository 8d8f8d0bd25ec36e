import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  KyselyStore,
  migrate,
  SessionManager,
  type HeaderList,
  type SessionManagerOptions,
} from '../src/index.js'
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
      clock.now += 60_000
      try {
        const loaded = await watched.load(cookie)
        const headers = await watched.save(loaded)
        expect(setCookie(headers)).toContain(cookie)
        expect(spy.queries.map((q) => q.sql.split(' ')[0])).toEqual(['SELECT', 'UPDATE'])
      } finally {
        clock.now -= 60_000
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
        /^session=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly; SameSite=Lax$/,
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
  })
}
