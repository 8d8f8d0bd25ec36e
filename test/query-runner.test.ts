import { CompiledQuery, type Kysely, type KyselyPlugin } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import pg from 'pg'
import { pglite } from '../dialects/pglite.js'
import { postgres } from '../dialects/postgres.js'
import type { PGliteTestDatabase } from '../dialects/pglite-testing.js'
import { queryRunnerOf } from '../src/store/direct.js'
import { KyselyStore, migrate, SessionStoreError } from '../src/index.js'
import { bytes, randomTable, text } from './helpers.js'
import { pgliteTestDatabase } from './legs.js'
import { postgresUrl, withServer } from './servers.js'

// pglite() and postgres() register a query runner (src/store/direct.ts) that sends the store's statements to
// the instance without Kysely's executor: these tests prove when it does and when it does not,
// and that what it answers is what Kysely answers.

let database: PGliteTestDatabase
let db: Kysely<any>
beforeAll(async () => {
  database = await pgliteTestDatabase()
  db = pglite(database.pglite)
  await migrate(db)
})
afterAll(async () => {
  await db.destroy()
  await database.close()
})

const noop: KyselyPlugin = {
  transformQuery: ({ node }) => node,
  transformResult: async ({ result }) => result,
}

describe('pglite() query runner', () => {
  test('answers the rows and numAffectedRows Kysely answers, for reads and writes', async () => {
    const run = queryRunnerOf(db)!
    const far = new Date(Date.now() + 3600_000).toISOString()
    const statements: Array<[string, unknown[]]> = [
      [
        'INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3), ($4, $2, $3) ON CONFLICT (token) DO UPDATE SET expiry = EXCLUDED.expiry',
        ['r-1', bytes('one'), far, 'r-2'],
      ],
      ['UPDATE sessions SET expiry = $1 WHERE token LIKE $2', [far, 'r-%']],
      ['SELECT token, data, expiry, ended_at FROM sessions WHERE token LIKE $1 ORDER BY token', ['r-%']],
      ['SELECT token FROM sessions WHERE token = $1', ['none']],
      ['DELETE FROM sessions WHERE token = $1', ['none']],
    ]
    // Each statement has the same effect twice (the first run of the INSERT inserts, the second updates).
    for (const [sql, parameters] of statements) {
      const direct = await run(sql, parameters)!
      const kysely = await db.executeQuery(CompiledQuery.raw(sql, parameters))
      expect(direct).toEqual(kysely)
      expect(typeof direct.numAffectedRows === typeof kysely.numAffectedRows).toBe(true)
    }
    expect(
      (await run('UPDATE sessions SET data = $1 WHERE token LIKE $2', [bytes('x'), 'r-%'])!).numAffectedRows,
    ).toBe(2n)
  })

  test('rejects with what PGlite throws, which the store maps as before', async () => {
    const run = queryRunnerOf(db)!
    await expect(run('SELECT * FROM no_such_table', [])!).rejects.toMatchObject({ code: '42P01' })
    const store = new KyselyStore(db, 0, { tableName: 'no_such_table' })
    await expect(store.find('t')).rejects.toMatchObject({ code: 'missing_table' })
  })

  test('is not registered with plugins or a log, nor for a transaction or a derived instance', async () => {
    expect(queryRunnerOf(pglite(database.pglite, { plugins: [noop] }))).toBeUndefined()
    expect(queryRunnerOf(pglite(database.pglite, { log: ['error'] }))).toBeUndefined()
    expect(queryRunnerOf(pglite(database.pglite, { plugins: [] }))).toBeDefined()
    expect(queryRunnerOf(db.withPlugin(noop))).toBeUndefined()
    await db.transaction().execute(async (trx) => {
      expect(queryRunnerOf(trx)).toBeUndefined()
    })
  })

  test('takes no statement before the driver is open, nor after db.destroy()', async () => {
    const fresh = pglite(database.pglite)
    const run = queryRunnerOf(fresh)!
    expect(run('SELECT 1 AS one', [])).toBeUndefined()
    const kysely = await fresh.executeQuery(CompiledQuery.raw('SELECT 1 AS one'))
    expect(await run('SELECT 1 AS one', [])).toEqual(kysely)
    await fresh.destroy()
    expect(run('SELECT 1 AS one', [])).toBeUndefined()
    expect(database.pglite.closed).toBe(false)
  })

  test('takes no statement while a transaction or db.connection() holds the connection', async () => {
    const run = queryRunnerOf(db)!
    await db.transaction().execute(async () => {
      expect(run('SELECT 1', [])).toBeUndefined()
    })
    await db.connection().execute(async () => {
      expect(run('SELECT 1', [])).toBeUndefined()
    })
    expect(run('SELECT 1', [])).toBeDefined()
  })

  test('a store call awaited inside a transaction on the same instance waits for it, as through Kysely', async () => {
    // Kysely's executor gives PGlite's one connection to one holder at a time: a call on `db`
    // inside a transaction on `db` waits for the connection until its timeout, as it always
    // did; it never runs beside the transaction, nor inside it.
    const store = new KyselyStore(db, 0, { timeout: 200, retryBudget: 0 })
    await store.commit('tx-1', bytes('before'), new Date(Date.now() + 3600_000))
    let failure: unknown
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('sessions')
        .set({ data: bytes('inside') })
        .where('token', '=', 'tx-1')
        .execute()
      failure = await store.find('tx-1').catch((error: unknown) => error)
    })
    expect(failure).toBeInstanceOf(SessionStoreError)
    expect((failure as SessionStoreError).code).toBe('timeout')
    expect(text((await store.find('tx-1'))!)).toBe('inside')
    // A store on the transaction runs inside it.
    await db.transaction().execute(async (trx) => {
      const inside = new KyselyStore(trx, 0)
      await inside.commit('tx-2', bytes('two'), new Date(Date.now() + 3600_000))
      expect(text((await inside.find('tx-2'))!)).toBe('two')
    })
    expect(text((await store.find('tx-2'))!)).toBe('two')
  })

  test('store calls in flight together, beside queries of the caller on db, all answer', async () => {
    const store = new KyselyStore(db, 0)
    const expiry = new Date(Date.now() + 3600_000)
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.commit(`many-${i}`, bytes(`v${i}`), expiry)))
    const [found, counted] = await Promise.all([
      Promise.all(Array.from({ length: 20 }, (_, i) => store.find(`many-${i}`))),
      db.transaction().execute((trx) =>
        trx
          .selectFrom('sessions')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow(),
      ),
    ])
    expect(found.map((data) => text(data!))).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`))
    expect(Number(counted.n)).toBeGreaterThanOrEqual(20)
  })
})

await withServer('Postgres', () => {
  describe('postgres() query runner', () => {
    test('answers the rows and numAffectedRows Kysely answers, named or not, on a pool of ours or yours', async () => {
      const table = randomTable()
      const given = new pg.Pool({ connectionString: postgresUrl, max: 2 })
      const dbs = [
        postgres(postgresUrl),
        postgres(given),
        postgres(postgresUrl, { preparedStatements: false }),
      ]
      try {
        // Until Kysely's driver has its pool (on the first query), the store goes through Kysely.
        for (const db of dbs) expect(queryRunnerOf(db)!('SELECT 1', [])).toBeUndefined()
        for (const db of dbs) await db.executeQuery(CompiledQuery.raw('SELECT 1'))
        await dbs[0]!.executeQuery(
          CompiledQuery.raw(`CREATE TABLE ${table} (token text PRIMARY KEY, data bytea, n int)`),
        )
        for (const db of dbs) {
          const run = queryRunnerOf(db)!
          const statements: Array<[string, unknown[]]> = [
            [
              `INSERT INTO ${table} (token, data, n) VALUES ($1, $2, 1), ($3, $2, 2) ON CONFLICT (token) DO UPDATE SET n = EXCLUDED.n /* kss_0123456789abcdef */`,
              ['a', bytes('x'), 'b'],
            ],
            [`UPDATE ${table} SET n = n WHERE token = ANY($1)`, [['a', 'b']]],
            [
              `SELECT token, data, n FROM ${table} WHERE n > $1 ORDER BY token /* kss_fedcba9876543210 */`,
              [0],
            ],
            [`DELETE FROM ${table} WHERE token = $1`, ['none']],
          ]
          for (const [sql, parameters] of statements) {
            const direct = await run(sql, parameters)!
            expect(direct).toEqual(await db.executeQuery(CompiledQuery.raw(sql, parameters)))
          }
          await expect(run('SELECT * FROM no_such_table_here', [])!).rejects.toMatchObject({ code: '42P01' })
        }
        await dbs[1]!.destroy()
        expect(queryRunnerOf(dbs[1]!)!('SELECT 1', [])).toBeUndefined()
        expect((await given.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]) // yours, still open
      } finally {
        await dbs[0]!.executeQuery(CompiledQuery.raw(`DROP TABLE IF EXISTS ${table}`))
        for (const db of dbs) await db.destroy()
        await given.end()
      }
    })

    test('is not registered with plugins or a log, nor for a transaction or a derived instance', async () => {
      const db = postgres(postgresUrl)
      try {
        expect(queryRunnerOf(postgres(postgresUrl, { plugins: [noop] }))).toBeUndefined()
        expect(queryRunnerOf(postgres(postgresUrl, { log: ['error'] }))).toBeUndefined()
        expect(queryRunnerOf(db.withPlugin(noop))).toBeUndefined()
        await db.transaction().execute(async (trx) => {
          expect(queryRunnerOf(trx)).toBeUndefined()
        })
        await db.destroy()
        expect(queryRunnerOf(db)!('SELECT 1', [])).toBeUndefined()
      } finally {
        await db.destroy()
      }
    })
  })
})
