// Concurrent finds and gets gathered into one statement (src/store/gather.ts), on the Postgres
// family: a lone read is its own statement, the reads asked while one is in flight go out
// together after it, a statement that stalls holds the next reads back by at most
// GATHER_WAIT_MS, and a gathered statement's failure or time limit is each read's.
import { describe, expect, test } from 'vitest'
import { postgres } from '../dialects/postgres.js'
import { KyselyStore, migrate, SessionStoreError } from '../src/index.js'
import { GATHER_WAIT_MS } from '../src/store/gather.js'
import { bytes, randomTable, randomToken, text, tracedCalls } from './helpers.js'
import { legs, storeFixture, type EngineLeg } from './legs.js'
import { lockPostgresTable, postgresStatementsOn, postgresUrl, withServer } from './servers.js'

const HOUR = 3_600_000

/** The store calls traced while `fn` runs: operation and rows of each. */
async function traced(
  fn: () => Promise<unknown>,
): Promise<{ operation: string; rows: number | undefined }[]> {
  return (await tracedCalls(fn)).map(({ operation, rows }) => ({ operation, rows }))
}

function gatherSuite(leg: EngineLeg) {
  describe(`gathered reads on ${leg.name}`, () => {
    const the = storeFixture(leg, 'gather')

    test('a lone find or get is one statement of its own', async () => {
      const token = randomToken()
      await the.store.commit(token, bytes('a'), new Date(Date.now() + HOUR))
      const calls = await traced(async () => {
        expect(text(await the.store.find(token))).toBe('a')
        expect(text((await the.store.get(token))?.data)).toBe('a')
      })
      expect(calls).toEqual([
        { operation: 'find', rows: 1 },
        { operation: 'get', rows: 1 },
      ])
    })

    test('20 reads asked at once: the first alone, the other 19 gathered after it', async () => {
      const tokens = Array.from({ length: 20 }, () => randomToken())
      await Promise.all(
        tokens.map((token) => the.store.commit(token, bytes(token), new Date(Date.now() + HOUR))),
      )
      let answers: unknown[] = []
      let asking = 0
      const calls = await traced(async () => {
        const started = performance.now()
        const reads = tokens.map((token, i) => (i % 2 === 0 ? the.store.find(token) : the.store.get(token)))
        asking = performance.now() - started
        answers = await Promise.all(reads)
      })
      expect(
        answers.map((answer, i) =>
          text(i % 2 === 0 ? (answer as Uint8Array) : (answer as { data: Uint8Array }).data),
        ),
      ).toEqual(tokens)
      // The calls in the order they answered: the 19 go out once the first answered, or
      // GATHER_WAIT_MS after it was sent (a loaded server), and may then answer before it.
      expect(calls).toContainEqual({ operation: 'find', rows: 1 })
      expect(calls.reduce((sum, call) => sum + call.rows!, 0)).toBe(20)
      if (asking < GATHER_WAIT_MS) {
        expect(calls).toHaveLength(2)
        expect(calls).toContainEqual({ operation: 'get', rows: 19 })
      } else {
        // The loop that asks took longer than GATHER_WAIT_MS (a loaded machine): the reads
        // asked after that went out together without waiting further.
        expect(calls.length).toBeLessThan(20)
      }
    })

    test("a gathered statement's failure is each of its reads' failure", async () => {
      const missing = new KyselyStore(the.db, 0, { tableName: randomTable('missing') })
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => missing.find(randomToken())))
      for (const result of results) {
        expect(result.status).toBe('rejected')
        expect((result as PromiseRejectedResult).reason).toBeInstanceOf(SessionStoreError)
        expect((result as PromiseRejectedResult).reason.code).toBe('missing_table')
      }
    })
  })
}

gatherSuite(legs.pglite())

await withServer('Postgres', () => {
  gatherSuite(legs.postgres())

  describe('gathered reads on Postgres, behind a statement that waits', () => {
    test('a read asked while the statement in flight waits goes out without it, and both answer', async () => {
      const db = postgres(postgresUrl)
      const table = randomTable('gatherlock')
      const store = new KyselyStore(db, 0, { tableName: table })
      try {
        await migrate(db, { tableName: table })
        const [a, b] = [randomToken(), randomToken()]
        await store.commit(a, bytes('a'), new Date(Date.now() + HOUR))
        await store.commit(b, bytes('b'), new Date(Date.now() + HOUR))
        const { release } = await lockPostgresTable(table)
        const first = store.find(a)
        await new Promise((resolve) => setTimeout(resolve, 50))
        const second = store.find(b)
        // Both wait for the lock on the server: the second did not wait for the first.
        await expect.poll(() => postgresStatementsOn(db, table), { timeout: 5000 }).toBe(2)
        await release()
        expect([text(await first), text(await second)]).toEqual(['a', 'b'])
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })

    test('at its time limit a gathered statement fails each of its reads, and is cancelled on the server', async () => {
      const db = postgres(postgresUrl)
      const table = randomTable('gathertime')
      const store = new KyselyStore(db, 0, { tableName: table, timeout: 500 })
      try {
        await migrate(db, { tableName: table })
        const { release } = await lockPostgresTable(table)
        try {
          const reads = Array.from({ length: 6 }, () => store.get(randomToken()))
          const results = await Promise.allSettled(reads)
          for (const result of results) {
            expect(result.status).toBe('rejected')
            expect((result as PromiseRejectedResult).reason.code).toBe('timeout')
          }
          await expect.poll(() => postgresStatementsOn(db, table), { timeout: 5000 }).toBe(0)
        } finally {
          await release()
        }
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })
  })
})
