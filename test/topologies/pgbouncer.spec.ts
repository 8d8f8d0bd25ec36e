// postgres() behind PgBouncer 1.18 (Debian 12's), the real pooler: in transaction mode (server
// sessions shared between client connections, pool size 2), the whole conformance suite and
// 8 workers of mixed load with zero errors; in session mode, the suite, with the store's
// statements still prepared under their names.
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { postgres } from '../../dialects/postgres.js'
import { KyselyStore, migrate } from '../../src/index.js'
import { pgbouncerLoad } from '../../scripts/topologies/scenarios.js'
import { pgbouncerMissing, startPgBouncer, type PgBouncer } from '../../scripts/topologies/pgbouncer.js'
import { conformance } from '../conformance.js'
import { randomTable } from '../helpers.js'
import { withServer } from '../servers.js'
import { printFigures, whenAvailable } from './require.js'

await withServer('Postgres', () => {
  whenAvailable('PgBouncer 1.18', pgbouncerMissing(), () => {
    // First in the file: names are given to the first 400 statement texts of a process, and
    // the conformance suite's random tables use them up.
    test('8 workers of mixed load through transaction mode (pool size 2): zero errors, nothing lost, no stale read', async () => {
      const result = await pgbouncerLoad({ seconds: 8, mode: 'transaction' })
      printFigures('PgBouncer transaction mode, 8 workers', result)
      expect(result.named).toBe(true) // the statements had names to collide
      expect(result.operations).toBeGreaterThan(1000)
      expect(result.firstRejections).toEqual([])
      expect(result.rejected).toBe(0)
      expect(result.lost).toBe(0)
      expect(result.staleReads).toBe(0)
    })

    describe('session mode, statements named', () => {
      let bouncer: PgBouncer
      beforeAll(async () => {
        bouncer = await startPgBouncer('session', { poolSize: 20 })
      })
      afterAll(() => bouncer?.stop())

      test('the store statements are still prepared under their names (the session is the connection’s own)', async () => {
        const db = postgres(bouncer.url)
        const table = randomTable('named')
        try {
          await migrate(db, { tableName: table })
          const prepared = await db.connection().execute(async (connection) => {
            const store = new KyselyStore(connection, 0, { tableName: table })
            await store.commit('a-token', new Uint8Array([1]), new Date(Date.now() + 60_000))
            await store.find('a-token')
            const { rows } = await sql<{ name: string }>`SELECT name FROM pg_prepared_statements`.execute(
              connection,
            )
            return rows.map((row) => row.name)
          })
          expect(prepared.filter((name) => name.startsWith('kss_'))).toHaveLength(2)
        } finally {
          await db.schema.dropTable(table).ifExists().execute()
          await db.destroy()
        }
      })
    })

    describe('transaction mode, pool size 2', () => {
      let bouncer: PgBouncer
      beforeAll(async () => {
        bouncer = await startPgBouncer('transaction', { poolSize: 2 })
      })
      afterAll(() => bouncer?.stop())

      conformance({
        name: 'Postgres through PgBouncer (transaction mode), postgres()',
        family: 'postgres',
        open: () => postgres(bouncer.url),
        close: (db) => db.destroy(),
      })
    })

    describe('session mode', () => {
      let bouncer: PgBouncer
      beforeAll(async () => {
        bouncer = await startPgBouncer('session', { poolSize: 20 })
      })
      afterAll(() => bouncer?.stop())

      conformance({
        name: 'Postgres through PgBouncer (session mode), postgres()',
        family: 'postgres',
        open: () => postgres(bouncer.url),
        close: (db) => db.destroy(),
      })

      test('8 workers of mixed load through session mode: zero errors', async () => {
        const result = await pgbouncerLoad({ seconds: 4, mode: 'session' })
        printFigures('PgBouncer session mode, 8 workers', result)
        expect(result.rejected).toBe(0)
        expect(result.lost).toBe(0)
      })
    })
  })
})
