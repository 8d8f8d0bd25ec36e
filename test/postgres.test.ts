import { sql } from 'kysely'
import pg from 'pg'
import { describe, expect, test } from 'vitest'
import { postgres } from '../dialects/postgres.js'
import { isoTime } from '../src/families/postgres.js'
import { KyselyStore, migrate, SessionStoreError } from '../src/index.js'
import { conformance } from './conformance.js'
import { legs, named } from './legs.js'
import { checkSchemaOption } from './migrate-checks.js'
import { sessionConformance } from './session-suite.js'
import { bytes, connectionsNamed, randomTable, randomToken, text, waitFor } from './helpers.js'
import { postgresUrl, withServer } from './servers.js'

describe('the times bound on Postgres (isoTime)', () => {
  test('each is the text Date.toISOString() gives, for times now, in other seconds and years, and out of its range', () => {
    const now = Date.now()
    const times = [0, 1, 999, 1000, 1001, now, now + 1, now + 86_400_000, now - 999, 253_402_300_799_999]
    // Seconds come and go: more distinct seconds than it keeps, each asked twice, far apart.
    // Times spread over 1970 to 2096, the same on every run.
    for (let i = 0; i < 200; i++) times.push(now + i * 1_000 + (i % 1000), (i * 19_999_999_937) % 4e12)
    times.push(...times.slice(0, 50))
    for (const ms of times) expect(isoTime(ms)).toBe(new Date(ms).toISOString())
    // Before 1970, from year 10000 on, and not a whole millisecond: Date's own text.
    for (const ms of [-1, -1500, -62_198_755_200_000, 253_402_300_800_000, now + 0.5, 1500.25])
      expect(isoTime(ms)).toBe(new Date(ms).toISOString())
    expect(() => isoTime(Number.NaN)).toThrow(RangeError)
  })
})

await withServer('Postgres', () => {
  conformance(named('Postgres, postgres(connectionString) factory', legs.postgres()))
  conformance(legs.postgresStock())
  sessionConformance(legs.postgres())

  describe('postgres() factory and migrate() on a server', () => {
    test("a pool passed in is the caller's: db.destroy() leaves it open", async () => {
      const pool = new pg.Pool({ connectionString: postgresUrl })
      const db = postgres(pool)
      expect((await sql<{ one: number }>`SELECT 1 AS one`.execute(db)).rows).toEqual([{ one: 1 }])
      await db.destroy()
      expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
      await pool.end()
    })

    test("a table made by SCS pgxstore is upgraded in place, and SCS's own statements keep working on it", async () => {
      const db = postgres(postgresUrl)
      const table = randomTable('pgx')
      try {
        // pgxstore's README, verbatim but for the table name.
        await sql
          .raw(
            `CREATE TABLE ${table} (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)`,
          )
          .execute(db)
        await sql.raw(`CREATE INDEX ${table}_expiry_idx ON ${table} (expiry)`).execute(db)
        // pgxstore's statements (its Commit, Find, Delete), as the SCS app runs them.
        const scsCommit = (token: string, data: string) =>
          sql`INSERT INTO ${sql.table(table)} (token, data, expiry) VALUES (${token}, ${Buffer.from(data)},
            now() + interval '1 hour') ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`.execute(
            db,
          )
        const scsFind = async (token: string) =>
          (
            await sql<{ data: Buffer }>`SELECT data FROM ${sql.table(table)}
              WHERE token = ${token} AND current_timestamp < expiry`.execute(db)
          ).rows[0]?.data.toString()
        await scsCommit('from-scs', 'scs data')
        await migrate(db, { tableName: table })
        const store = new KyselyStore(db, 0, { tableName: table })
        expect(text(await store.find('from-scs'))).toBe('scs data') // our store reads SCS's session
        const token = randomToken()
        await store.commit(token, bytes('ours'), new Date(Date.now() + 60_000), { subject: 'u' })
        expect(await scsFind(token)).toBe('ours') // and SCS reads ours
        await scsCommit('from-scs-later', 'still works')
        expect(await scsFind('from-scs-later')).toBe('still works')
        await sql`DELETE FROM ${sql.table(table)} WHERE token = ${token}`.execute(db)
        expect(await store.find(token)).toBeUndefined()
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })

    test('the schema option puts the table in a Postgres schema, for migrate() and the store', async () => {
      const db = postgres(postgresUrl)
      const schema = randomTable('kss_schema')
      const table = randomTable('in_schema')
      try {
        await sql.raw(`CREATE SCHEMA ${schema}`).execute(db)
        await checkSchemaOption(db, schema, table)
      } finally {
        await sql.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).execute(db)
        await db.destroy()
      }
    })

    test('a connection string gets its own pool, which db.destroy() ends', async () => {
      const name = randomTable('app')
      const db = postgres(`${postgresUrl}?application_name=${name}`)
      const observer = postgres(postgresUrl)
      const connections = () => connectionsNamed(observer, name)
      try {
        await sql`SELECT 1`.execute(db)
        expect(await connections()).toBe(1)
        await db.destroy()
        await waitFor(async () => (await connections()) === 0)
      } finally {
        await observer.destroy()
      }
    })

    test('a database that is down: operations reject with the cause, cleanup failures go to onError', async () => {
      const db = postgres('postgres://nobody@127.0.0.1:1/none') // nothing listens on port 1
      const errors: SessionStoreError[] = []
      // No retries: a refused connection is retried within retryBudget (a failover looks the
      // same from here), and this test is about what the caller gets once the store gives up.
      const store = new KyselyStore(db, 5, { onError: (error) => errors.push(error), retryBudget: 0 })
      try {
        const error = (await store.find(randomToken()).catch((e: unknown) => e)) as SessionStoreError
        expect(error).toBeInstanceOf(SessionStoreError)
        expect(error.code).toBe('engine')
        expect(error.message).toBe(
          'find on table "sessions" failed: the database reported ECONNREFUSED (127.0.0.1:1) (see error.cause)',
        )
        await waitFor(() => errors.length >= 2) // the timer keeps going
        expect(
          errors.every((e) => e instanceof SessionStoreError && e.message.includes('ECONNREFUSED')),
        ).toBe(true)
      } finally {
        await store.stopCleanup()
        await db.destroy()
      }
    })

    test.each([
      ['a number', 42],
      ['an empty string', ''],
      ['an object without connect()', { end() {} }],
    ])('refuses %s with a TypeError naming the argument', (_, argument) => {
      expect(() => postgres(argument as string)).toThrow(TypeError)
      expect(() => postgres(argument as string)).toThrow(/^postgres\(poolOrConnectionString\): expected/)
    })
  })
})
