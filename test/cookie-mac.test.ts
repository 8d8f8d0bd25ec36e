// What a client sends that the session layer decodes: a signed cookie's MAC and a device id's
// hash have one spelling each, and any other spelling is refused without a query; cookies
// browsers would drop are refused when the manager is made. On SQLite in memory (what is
// checked here happens before any query, so one engine is enough); queries are counted on
// the store's diagnostics channel.
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { sqlite } from '../dialects/sqlite.js'
import { KyselyStore, migrate, SessionManager } from '../src/index.js'
import { recordOf } from '../src/session/session.js'
import { randomTable, tracedCalls } from './helpers.js'

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const SECRET = 'a secret of at least thirty-two characters'

/** `encoded` with its last character's lowest bit flipped: one of the unused bits of a 16-byte value. */
function flipUnusedBit(encoded: string): string {
  const last = BASE64URL.indexOf(encoded.at(-1)!)
  return encoded.slice(0, -1) + BASE64URL[last ^ 1]
}

/** The store operations `fn` made on `table`, from the store's tracing channel. */
async function storeCalls(table: string, fn: () => Promise<unknown>): Promise<string[]> {
  return (await tracedCalls(fn)).filter((call) => call.table === table).map((call) => call.operation)
}

describe('one spelling per MAC', () => {
  let db: Kysely<any>
  let table: string
  let sessions: SessionManager
  beforeAll(async () => {
    db = sqlite(':memory:')
    table = randomTable('mac')
    await migrate(db, { tableName: table })
    sessions = new SessionManager({ store: new KyselyStore(db, 0, { tableName: table }), secret: SECRET })
  })
  afterAll(() => db.destroy())

  test('a signed cookie whose MAC has its unused bits set is no session, and costs no query', async () => {
    const session = await sessions.load(undefined)
    session.set('userId', 'alice')
    const setCookie = new Map(await sessions.save(session)).get('Set-Cookie')!
    const cookie = setCookie.slice(0, setCookie.indexOf(';'))
    expect(cookie).toMatch(/^session=[\w-]{43}\.[\w-]{22}$/)

    let loaded: unknown
    expect(
      await storeCalls(table, async () => (loaded = (await sessions.load(cookie)).get('userId'))),
    ).toEqual(['get'])
    expect(loaded).toBe('alice') // the cookie as issued: one query, the session

    const respelled = flipUnusedBit(cookie)
    expect(respelled).not.toBe(cookie)
    // The same MAC bytes: before this was refused, the respelled cookie verified.
    expect(Buffer.from(respelled.split('.')[1]!, 'base64url')).toEqual(
      Buffer.from(cookie.split('.')[1]!, 'base64url'),
    )
    let forged: { userId: unknown; stored: boolean } | undefined
    expect(
      await storeCalls(table, async () => {
        const other = await sessions.load(respelled)
        forged = { userId: other.get('userId'), stored: recordOf(other).stored }
      }),
    ).toEqual([])
    expect(forged).toEqual({ userId: undefined, stored: false })
  })

  test('a device id whose hash has its unused bits set is refused before any query; as listed, it revokes', async () => {
    const subject = `user-${randomTable('s')}`
    const session = await sessions.load(undefined)
    session.setSubject(subject)
    session.set('x', 1)
    await sessions.save(session)
    const [device] = await sessions.listSubject(subject)
    const respelled = flipUnusedBit(device!.id)
    expect(Buffer.from(respelled.split('.')[1]!, 'base64url')).toEqual(
      Buffer.from(device!.id.split('.')[1]!, 'base64url'),
    )

    let error: unknown
    expect(
      await storeCalls(table, () =>
        sessions.revoke(respelled, { subject }).catch((e: unknown) => (error = e)),
      ),
    ).toEqual([])
    expect(error).toBeInstanceOf(RangeError)
    expect(String(error)).toMatch(/^RangeError: id must be an id from listSubject\(\)/)
    expect(await sessions.countSubject(subject)).toBe(1)

    expect(await sessions.revoke(device!.id, { subject })).toBe(true)
    expect(await sessions.countSubject(subject)).toBe(0)
  })
})

describe('cookies browsers would drop are refused when the manager is made', () => {
  const store = {
    find: async () => undefined,
    commit: async () => {},
    delete: async () => {},
    all: async () => new Map(),
  }

  test.each([
    [
      "sameSite 'none'",
      { sameSite: 'none' } as const,
      /^cookie\.secure must be true with sameSite 'none'.*set secure: true/,
    ],
    ['partitioned', { partitioned: true }, /^cookie\.secure must be true with partitioned.*set secure: true/],
    [
      "sameSite 'none' and partitioned",
      { sameSite: 'none', partitioned: true } as const,
      /^cookie\.secure must be true/,
    ],
  ])('%s without secure: a RangeError naming the fix', (_name, cookie, message) => {
    expect(() => new SessionManager({ store, cookie: { ...cookie, secure: false } })).toThrow(RangeError)
    expect(() => new SessionManager({ store, cookie: { ...cookie, secure: false } })).toThrow(message)
  })

  test("sameSite 'none' and partitioned with secure (the default) are accepted, and written", async () => {
    const sessions = new SessionManager({ store, cookie: { sameSite: 'none', partitioned: true } })
    const session = await sessions.load(undefined)
    session.set('x', 1)
    const setCookie = new Map(await sessions.save(session)).get('Set-Cookie')!
    expect(setCookie).toMatch(/; Secure; SameSite=None; Partitioned$/)
  })
})
