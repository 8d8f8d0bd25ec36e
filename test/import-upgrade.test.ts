// The upgrade from session ids kept in clear (ExpressSessionStore 0.1, or hashSids: false)
// to hashed ids: importSessions({ from: 'kysely-session-store' }) moves each session from
// the clear-id table into the hashed one, whole, and never brings back a session that ended.
// Each engine here runs it with the adapter on both sides, and reads both tables directly.
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { mysql } from '../dialects/mysql.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { CallbackSessionStore, type AdapterSession, type Callback } from '../src/adapters/callback-store.js'
import { importSessions } from '../src/import/index.js'
import { KyselyStore, migrate, type FamilyName } from '../src/index.js'
import { randomTable, readRows } from './helpers.js'
import { tempDir } from './legs.js'
import { mysqlUrl, postgresUrl, withServer } from './servers.js'

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
/** An id as express-session's genid gives it (24 random bytes, base64url). */
const sid = () => randomBytes(24).toString('base64url')
/** An id as apps that pass genid: () => randomBytes(32).toString('hex') give it. */
const hexSid = () => randomBytes(32).toString('hex')

type Session = AdapterSession & { userId?: string }
const subject = (session: Session) => session.userId

function session(userId: string): Session {
  return { cookie: { originalMaxAge: 3600_000, expires: new Date(Date.now() + 3600_000) }, userId }
}

/** The adapter's callback API as promises. */
function adapter(db: Kysely<any>, tableName: string, hashSids: boolean) {
  const store = new KyselyStore(db, 0, { tableName })
  const callbacks = new CallbackSessionStore<Session>(store, { hashSids, subject })
  const call = <T>(run: (callback: Callback<T>) => void) =>
    new Promise<T>((resolve, reject) =>
      run((error, result) => (error ? reject(error) : resolve(result as T))),
    )
  return {
    store,
    get: (id: string) => call<Session | null>((cb) => callbacks.get(id, cb)),
    set: (id: string, value: Session) => call<void>((cb) => callbacks.set(id, value, cb)),
    destroy: (id: string) => call<void>((cb) => callbacks.destroy(id, cb)),
    destroyBySubject: (who: string) => call<number>((cb) => callbacks.destroyBySubject(who, cb)),
  }
}

function upgradeSuite(name: string, family: FamilyName, open: () => Kysely<any>) {
  describe(name, () => {
    let db: Kysely<any>
    const tables: string[] = []
    /** A clear-id table (as 0.1 left it) and a hashed one, both made by migrate(). */
    async function tablePair() {
      const clear = randomTable('clear')
      const hashed = randomTable('hashed')
      tables.push(clear, hashed, `${hashed}_imported`)
      await migrate(db, { tableName: clear })
      await migrate(db, { tableName: hashed })
      return {
        clear,
        hashed,
        upgrade: { from: 'kysely-session-store', table: clear, tableName: hashed } as const,
      }
    }
    /** 0.1's own read of a clear id: `token = ? AND expiry > now`, it knew no other column. */
    async function readBy01(table: string, id: string) {
      const rows = await readRows(db, table, family)
      return rows.filter((row) => row.token === id && row.expiry > Date.now())
    }
    beforeAll(() => {
      db = open()
    })
    afterAll(async () => {
      for (const table of tables) await db.schema.dropTable(table).ifExists().execute()
      await db.destroy()
    })

    test('each session keeps its subject, data and times: destroyBySubject on the hashed table ends all of a user’s sessions', async () => {
      const { clear, hashed, upgrade } = await tablePair()
      const before = adapter(db, clear, false)
      const [alice1, alice2, bob] = [sid(), sid(), sid()]
      await before.set(alice1, session('alice'))
      await before.set(alice2, session('alice'))
      await before.set(bob, session('bob'))
      const clearRows = await readRows(db, clear, family)
      expect(clearRows.map((row) => row.subject).sort()).toEqual(['alice', 'alice', 'bob'])

      expect(await importSessions(db, upgrade)).toEqual({
        read: 3,
        imported: 3,
        existing: 0,
        expired: 0,
        invalid: 0,
      })

      // The rows are the same rows, under the hash of their id.
      const moved = await readRows(db, hashed, family)
      const expected = clearRows.map((row) => ({ ...row, token: sha256(row.token) }))
      expect(moved).toEqual(expect.arrayContaining(expected))
      expect(moved).toHaveLength(3)

      const after = adapter(db, hashed, true)
      expect((await after.get(alice1))?.userId).toBe('alice')
      expect(await after.destroyBySubject('alice')).toBe(2)
      expect(await after.get(alice1)).toBeNull()
      expect(await after.get(alice2)).toBeNull()
      expect((await after.get(bob))?.userId).toBe('bob')
    })

    test('the clear-id copy goes in the same transaction: after a logout on the new store no clear-id reader finds the session', async () => {
      const { clear, hashed, upgrade } = await tablePair()
      const before = adapter(db, clear, false)
      const id = sid()
      await before.set(id, session('carol'))
      await importSessions(db, upgrade)

      // Moved, not copied: a 0.1 instance still running no longer finds it (it serves that
      // request signed out), and nothing is left in clear.
      expect(await readRows(db, clear, family)).toEqual([])
      expect(await before.get(id)).toBeNull()

      const after = adapter(db, hashed, true)
      expect((await after.get(id))?.userId).toBe('carol')
      await after.destroy(id)
      expect(await after.get(id)).toBeNull()
      expect(await before.get(id)).toBeNull()
      expect(await readBy01(clear, id)).toEqual([])
    })

    test('ids of 64 hex characters are moved like any other id: nobody is logged out', async () => {
      const { clear, hashed, upgrade } = await tablePair()
      const before = adapter(db, clear, false)
      const ids = [hexSid(), hexSid()]
      for (const id of ids) await before.set(id, session(`user-${id.slice(0, 6)}`))

      expect(await importSessions(db, upgrade)).toEqual({
        read: 2,
        imported: 2,
        existing: 0,
        expired: 0,
        invalid: 0,
      })

      const after = adapter(db, hashed, true)
      for (const id of ids) expect((await after.get(id))?.userId).toBe(`user-${id.slice(0, 6)}`)
      expect((await readRows(db, hashed, family)).map((row) => row.token).sort()).toEqual(
        ids.map(sha256).sort(),
      )
    })

    test('a re-run never revives: sessions ended, deleted or cleared on the new store stay ended when a 0.1 instance saves them again', async () => {
      const { clear, hashed, upgrade } = await tablePair()
      const old = new KyselyStore(db, 0, { tableName: clear }) // 0.1's set was commit(), an upsert
      const before = adapter(db, clear, false)
      const [ended, deleted, later] = [sid(), sid(), sid()]
      await before.set(ended, session('dora'))
      await before.set(deleted, session('eve'))
      expect(await importSessions(db, upgrade)).toMatchObject({ imported: 2 })

      const after = adapter(db, hashed, true)
      await after.destroy(ended) // a logout: a tombstone
      await after.store.delete(sha256(deleted)) // gone without a trace, as cleanup or delete() leave it
      // 0.1 instances that loaded both before the move save them again; a third signs in.
      const resave = async (id: string, user: string) => {
        const data = Buffer.from(JSON.stringify(session(user)))
        await old.commit(id, data, new Date(Date.now() + 3600_000))
      }
      await resave(ended, 'dora')
      await resave(deleted, 'eve')
      await resave(later, 'frank')

      expect(await importSessions(db, upgrade)).toEqual({
        read: 3,
        imported: 1,
        existing: 2,
        expired: 0,
        invalid: 0,
      })
      expect(await after.get(ended)).toBeNull()
      expect(await after.get(deleted)).toBeNull()
      expect((await after.get(later))?.userId).toBe('frank')
      expect(await readRows(db, clear, family)).toEqual([]) // the stale clear copies went too

      await after.store.clear()
      await resave(later, 'frank')
      expect(await importSessions(db, upgrade)).toEqual({
        read: 1,
        imported: 0,
        existing: 1,
        expired: 0,
        invalid: 0,
      })
      expect(await after.get(later)).toBeNull()
      expect(await readBy01(clear, later)).toEqual([])
    })
  })
}

const file = join(tempDir('upgrade-'), 'app.db')
upgradeSuite('the upgrade on a SQLite file', 'sqlite', () => sqlite(file))

await withServer('Postgres', () => {
  upgradeSuite('the upgrade on Postgres', 'postgres', () => postgres(postgresUrl))
})

await withServer('MySQL', () => {
  upgradeSuite('the upgrade on MariaDB', 'mysql', () => mysql(mysqlUrl))
})
