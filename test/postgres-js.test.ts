// postgres.js through kysely-postgres-js, a third-party Kysely dialect, on the local Postgres.
// postgres.js makes its errors' parameters, query and stack read-only: the store must never
// write into a driver's error.
import { describe, expect, test } from 'vitest'
import { KyselyStore, migrate, SessionStoreError } from '../src/index.js'
import { conformance } from './conformance.js'
import { legs } from './legs.js'
import { withLeg } from './leg-packages.js'
import { bytes, randomTable, randomToken } from './helpers.js'
import { withServer } from './servers.js'

await withLeg(
  'drivers',
  'the postgres.js legs',
  () => import('../legs/drivers/index.js'),
  async (drivers) => {
    const leg = legs.postgresJs(drivers)
    await withServer('Postgres', () => {
      conformance(leg)

      describe("postgres.js's errors", () => {
        test("a failing statement rejects with SessionStoreError whose cause is a copy of postgres.js's error", async () => {
          const db = await leg.open()
          const table = randomTable('pgjs')
          try {
            await migrate(db, { tableName: table })
            await db.schema.alterTable(table).addUniqueConstraint(`${table}_data_key`, ['data']).execute()
            const store = new KyselyStore(db, 0, { tableName: table })
            const [token, secret] = [randomToken('secret'), 'secret-data-0123456789']
            await store.commit(randomToken(), bytes(secret), new Date(Date.now() + 60_000))
            const error = (await store
              .commit(token, bytes(secret), new Date(Date.now() + 60_000))
              .catch((e: unknown) => e)) as SessionStoreError
            expect(error).toBeInstanceOf(SessionStoreError)
            expect(error.message).toBe(
              `commit on table "${table}" failed: the database reported 23505 (see error.cause)`,
            )
            const cause = error.cause as Error & { code: string; parameters: unknown; query: unknown }
            expect(cause.constructor.name).toBe('PostgresError')
            expect(cause.name).toBe('PostgresError')
            expect(cause.code).toBe('23505')
            expect(cause.parameters).toBe('[redacted]')
            for (const field of ['message', 'detail', 'query', 'stack']) {
              expect(String((cause as unknown as Record<string, unknown>)[field])).not.toContain(token)
            }
          } finally {
            await db.schema.dropTable(table).ifExists().execute()
            await db.destroy()
          }
        })
      })
    })
  },
)
