// Typed session data: SessionManager<Data> types its sessions' values. What is checked here is
// the type, by `tsc -p tsconfig.json` (npm run typecheck): an `expectTypeOf` that no longer
// holds, or a `@ts-expect-error` line that no longer is an error, fails it. The runtime half
// shows that the typed calls are the plain ones.
import { describe, expect, expectTypeOf, test } from 'vitest'
import { sqlite } from '../dialects/sqlite.js'
import { KyselyStore, migrate, Session, SessionManager } from '../src/index.js'

interface AppSession {
  userId: string
  cart: string[]
  flash?: string
}

async function managers() {
  const db = sqlite(':memory:')
  await migrate(db)
  const store = new KyselyStore(db, 0)
  return { typed: new SessionManager<AppSession>({ store }), plain: new SessionManager({ store }), db }
}

describe('SessionManager<Data>', () => {
  test('get returns the declared type; set and put take only it, under a declared key', async () => {
    const { typed, db } = await managers()
    try {
      const session = await typed.load(undefined)
      expectTypeOf(session).toEqualTypeOf<Session<AppSession>>()
      expectTypeOf(session.get('userId')).toEqualTypeOf<string | undefined>()
      expectTypeOf(session.get('cart')).toEqualTypeOf<string[] | undefined>()
      expectTypeOf(session.pop('flash')).toEqualTypeOf<string | undefined>()
      session.set('userId', 'user-42').put('cart', ['sku-1'])
      // @ts-expect-error: userId is a string
      expect(() => session.set('userId', 1)).not.toThrow() // the type refuses it, not the codec
      // @ts-expect-error: a key AppSession does not declare
      expect(session.get('usrId')).toBeUndefined()
      // @ts-expect-error: an optional key is removed, never set to undefined
      expect(() => session.set('flash', undefined)).toThrow(TypeError)
      // @ts-expect-error: not a key
      expect(session.has('nope')).toBe(false)
      session.remove('flash')
      expect(session.get('cart')).toEqual(['sku-1'])
    } finally {
      await db.destroy()
    }
  })

  test('every session the manager gives out is typed: get(req), handler(), iterate(), save()', async () => {
    const { typed, plain, db } = await managers()
    try {
      expectTypeOf(typed.get).returns.toEqualTypeOf<Session<AppSession>>()
      expectTypeOf(typed.handler).parameter(0).parameter(1).toEqualTypeOf<Session<AppSession>>()
      expectTypeOf(typed.iterate).parameter(0).parameter(0).toEqualTypeOf<Session<AppSession>>()
      expectTypeOf(typed.save).parameter(0).toEqualTypeOf<Session<AppSession>>()
      const other = await plain.load(undefined)
      // @ts-expect-error: a session of another manager's Data
      await expect(typed.save(other)).resolves.toEqual([])
    } finally {
      await db.destroy()
    }
  })

  test("without Data, today's untyped sessions: any key, unknown values", async () => {
    const { plain, db } = await managers()
    try {
      const session = await plain.load(undefined)
      expectTypeOf(plain).toEqualTypeOf<SessionManager<Record<string, unknown>>>()
      expectTypeOf(session).toEqualTypeOf<Session>()
      expectTypeOf(session.get('anything')).toEqualTypeOf<unknown>()
      expectTypeOf(session.set).parameter(1).toEqualTypeOf<unknown>()
      session.set('anything', { nested: [1, 'two'] })
      expect(session.get('anything')).toEqual({ nested: [1, 'two'] })
    } finally {
      await db.destroy()
    }
  })
})
