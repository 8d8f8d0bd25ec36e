// PGlite served over the Postgres wire protocol by @electric-sql/pglite-socket, so that
// several processes share one PGlite. Every client connection runs on the same PGlite
// session: a store must work there with zero errors, through postgres() and through Kysely's
// stock PostgresDialect, with concurrent finds and after the pool's idle reconnect.
import type { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { postgres } from '../dialects/postgres.js'
import { KyselyStore, migrate } from '../src/index.js'
import { conformance } from './conformance.js'
import { withLeg } from './leg-packages.js'
import { bytes, randomTable, randomToken, text, waitFor } from './helpers.js'
import { freshPGlite } from './legs.js'

/** This file's port range (55500-55599 is the stack legs'): a free one is found by trying. */
const PORTS = [55510, 55530]

await withLeg(
  'drivers',
  'the pglite-socket legs',
  () => import('../legs/drivers/index.js'),
  ({ PGLiteSocketServer }) => {
    let instance: PGlite | undefined
    let server: InstanceType<typeof PGLiteSocketServer> | undefined
    let url = ''

    beforeAll(async () => {
      instance = await freshPGlite()
      for (let port = PORTS[0]!; port < PORTS[1]!; port++) {
        // Enough connections for a pool of 10 per leg plus the direct checks.
        const candidate = new PGLiteSocketServer({
          db: instance as never,
          host: '127.0.0.1',
          port,
          maxConnections: 40,
        })
        try {
          await candidate.start()
          server = candidate
          url = `postgres://postgres@127.0.0.1:${port}/postgres`
          return
        } catch (error) {
          if ((error as { code?: unknown }).code !== 'EADDRINUSE') throw error
        }
      }
      throw new Error(`no free port in ${PORTS.join('-')} for pglite-socket`)
    })

    afterAll(async () => {
      await server?.stop()
      await instance?.close()
    })

    // First: the store names statements only up to a limit per process, and the suites below
    // would use the names up, hiding the collision these checks look for.
    describe.each([
      ['postgres(pool)', (pool: pg.Pool) => postgres(pool)],
      [
        "Kysely's PostgresDialect",
        (pool: pg.Pool) => new Kysely<any>({ dialect: new PostgresDialect({ pool }) }),
      ],
    ])('pglite-socket through %s: one PGlite session behind every connection', (_, open) => {
      let pool: pg.Pool
      let db: Kysely<any>
      const table = randomTable('sock')

      beforeAll(async () => {
        // A short idle timeout, so that the pool drops its connections within the test.
        pool = new pg.Pool({ connectionString: url, max: 8, idleTimeoutMillis: 200 })
        db = open(pool)
        await migrate(db, { tableName: table })
      })

      afterAll(async () => {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy() // Kysely's PostgresDialect ends the pool; postgres(pool) leaves it
        if (!(pool as pg.Pool & { ended: boolean }).ended) await pool.end()
      })

      test('100 concurrent finds and commits on 8 connections: no error, every answer right', async () => {
        const store = new KyselyStore(db, 0, { tableName: table })
        const tokens = Array.from({ length: 50 }, () => randomToken())
        const expiry = new Date(Date.now() + 3600_000)
        const used = new Set<pg.PoolClient>()
        const acquired = (client: pg.PoolClient) => void used.add(client)
        pool.on('acquire', acquired)
        try {
          await Promise.all(tokens.map((token) => store.commit(token, bytes(token), expiry)))
          const found = await Promise.all([...tokens, ...tokens].map((token) => store.find(token)))
          expect(found.map(text)).toEqual([...tokens, ...tokens])
        } finally {
          pool.off('acquire', acquired)
        }
        expect(used.size).toBeGreaterThan(1) // the calls really ran on several connections
      })

      test("finds after the pool's idle connections closed and new ones opened", async () => {
        const store = new KyselyStore(db, 0, { tableName: table })
        const token = randomToken()
        await store.commit(token, bytes('before'), new Date(Date.now() + 3600_000))
        for (let round = 0; round < 3; round++) {
          await waitFor(() => pool.totalCount === 0, 5000) // every connection closed for idleness
          const found = await Promise.all(Array.from({ length: 6 }, () => store.find(token)))
          expect(found.map(text)).toEqual(Array(6).fill('before'))
        }
      })
    })

    conformance({
      name: 'pglite-socket, postgres(connectionString) factory',
      family: 'postgres',
      open: () => postgres(url),
      close: (db) => db.destroy(),
    })

    conformance({
      name: "pglite-socket, Kysely's stock PostgresDialect",
      family: 'postgres',
      open: () =>
        new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }) }),
      close: (db) => db.destroy(),
    })
  },
)
