// Kysely's Migrator, as users run it: a migrations batch of their own with sessionTable() in
// it, up, down and up again, on every engine.
import { sql, type Kysely } from 'kysely'
import { Migrator, type Migration } from 'kysely/migration'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { KyselyStore, sessionTable, type FamilyName } from '../src/index.js'
import { bytes, columnsOf, hasIndex, randomTable, randomToken, text } from './helpers.js'
import { legs, tempDir, type EngineLeg } from './legs.js'
import { withServer } from './servers.js'

async function tableExists(db: Kysely<any>, family: FamilyName, name: string): Promise<boolean> {
  return (await columnsOf(db, family, name)).length > 0
}

function migratorRun(leg: EngineLeg): void {
  describe(`Kysely's Migrator on ${leg.name}`, () => {
    let db: Kysely<any>
    const users = randomTable('users')
    const sessions = randomTable('sess')
    const suffix = randomTable('m')
    const migrationTable = `kmig_${suffix}`
    const lockTable = `kmig_lock_${suffix}`

    beforeAll(async () => {
      db = await leg.open()
    })

    afterAll(async () => {
      if (db === undefined) return
      for (const name of [sessions, users, migrationTable, lockTable]) {
        await db.schema.dropTable(name).ifExists().execute()
      }
      await leg.close(db)
    })

    function migrator(): Migrator {
      // The user's own migration first, ours second, in one batch.
      const migrations: Record<string, Migration> = {
        '0001_users': {
          up: (trx) =>
            trx.schema
              .createTable(users)
              .addColumn('id', 'integer', (c) => c.primaryKey())
              .execute(),
          down: (trx) => trx.schema.dropTable(users).execute(),
        },
        '0002_sessions': sessionTable({ tableName: sessions }),
      }
      return new Migrator({
        db,
        provider: { getMigrations: async () => migrations },
        migrationTableName: migrationTable,
        migrationLockTableName: lockTable,
      })
    }

    test('up, down, up: the table and its index come and go, the earlier migration stays', async () => {
      const first = await migrator().migrateToLatest()
      expect(first.error).toBeUndefined()
      expect(first.results?.map((r) => [r.migrationName, r.status])).toEqual([
        ['0001_users', 'Success'],
        ['0002_sessions', 'Success'],
      ])
      expect(await tableExists(db, leg.family, users)).toBe(true)
      expect(await tableExists(db, leg.family, sessions)).toBe(true)
      expect(await hasIndex(db, leg.family, sessions, `${sessions}_expiry_idx`)).toBe(true)
      const store = new KyselyStore(db, 0, { tableName: sessions })
      const token = randomToken()
      await store.commit(token, bytes('migrated'), new Date(Date.now() + 60_000))
      expect(text(await store.find(token))).toBe('migrated')

      const down = await migrator().migrateDown()
      expect(down.error).toBeUndefined()
      expect(down.results?.map((r) => [r.migrationName, r.direction, r.status])).toEqual([
        ['0002_sessions', 'Down', 'Success'],
      ])
      expect(await tableExists(db, leg.family, sessions)).toBe(false)
      expect(await hasIndex(db, leg.family, sessions, `${sessions}_expiry_idx`)).toBe(false)
      expect(await tableExists(db, leg.family, users)).toBe(true) // the user's migration was not rolled back

      const again = await migrator().migrateToLatest()
      expect(again.error).toBeUndefined()
      expect(again.results?.map((r) => [r.migrationName, r.status])).toEqual([['0002_sessions', 'Success']])
      expect(await tableExists(db, leg.family, sessions)).toBe(true)
      expect(await hasIndex(db, leg.family, sessions, `${sessions}_expiry_idx`)).toBe(true)
      expect(await new KyselyStore(db, 0, { tableName: sessions }).find(token)).toBeUndefined()
      const { rows } = await sql<{
        name: string
      }>`SELECT name FROM ${sql.table(migrationTable)} ORDER BY name`.execute(db)
      expect(rows.map((row) => row.name)).toEqual(['0001_users', '0002_sessions'])
    })
  })
}

const dir = tempDir('kss-migrator-')
migratorRun(legs.sqliteFile(`${dir}/migrator.db`))
migratorRun(legs.pglite())
await withServer('Postgres', () => migratorRun(legs.postgres()))
await withServer('MySQL', () => migratorRun(legs.mysql()))

describe('sessionTable()', () => {
  test.each([
    ['a table name that is not an identifier', { tableName: 'a b' }, RangeError, /^tableName/],
    ['an unknown option key', { table: 'x' }, TypeError, /^options\.table is not an option here/],
    ['a family that does not exist', { family: 'oracle' }, RangeError, /^family must be one of/],
    ['options that are not an object', 'sessions', TypeError, /^options/],
  ])('refuses %s at once', (_, options, type, message) => {
    expect(() => sessionTable(options as never)).toThrow(type)
    expect(() => sessionTable(options as never)).toThrow(message)
  })
})
