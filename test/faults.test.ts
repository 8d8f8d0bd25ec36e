// Faults on a real Postgres, inside the normal suite: the store's backends are terminated
// (pg_terminate_backend) while a mixed load runs. Restarting the server needs root and takes
// longer: scripts/fault-restart.ts does that, and .ci/run calls it.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { sql } from 'kysely'
import pg from 'pg'
import { describe, expect, test } from 'vitest'
import { postgres } from '../dialects/postgres.js'
import { KyselyStore, migrate, SessionStoreError, type StoreRetry } from '../src/index.js'
import { bytes, randomTable, readRows, sleep, text, waitFor } from './helpers.js'
import { lockPostgresTable, postgresStatementsOn, postgresUrl, withServer } from './servers.js'

await withServer('Postgres', () => {
  describe('Postgres connections terminated under load', () => {
    test.each([
      ['without retries (retryBudget 0), in-flight operations reject with SessionStoreError and a cause', 0],
      [
        'with the default retryBudget, reads are run again on a new connection and none rejects; a write rejects only when its connection was lost in flight (it may have committed: running it again could undo a later write)',
        undefined,
      ],
    ])('%s; the same store recovers; nothing resolved is lost', async (_, retryBudget) => {
      const table = randomTable('fault')
      const application = randomTable('app')
      const db = postgres(`${postgresUrl}?application_name=${application}`)
      const admin = postgres(postgresUrl)
      const unhandled: unknown[] = []
      const onUnhandled = (reason: unknown) => unhandled.push(reason)
      process.on('unhandledRejection', onUnhandled)
      const logged: string[] = []
      const { error: originalError, warn: originalWarn } = console
      console.error = console.warn = (...args: unknown[]) => logged.push(args.map(String).join(' '))
      const timerErrors: unknown[] = []
      const store = new KyselyStore(db, 10, {
        tableName: table,
        onError: (e) => timerErrors.push(e),
        ...(retryBudget === undefined ? {} : { retryBudget }),
      })
      const retried: StoreRetry[] = []
      const onRetry = (message: unknown) => retried.push(message as StoreRetry)
      subscribe('kysely-session-store:retry', onRetry)
      try {
        await migrate(db, { tableName: table })
        const resolved = new Map<string, string>()
        const failures: unknown[] = []
        let running = true
        let n = 0
        const worker = async () => {
          while (running) {
            const token = `tok-${n++}`
            const value = `value of ${token}`
            try {
              await store.commit(token, bytes(value), new Date(Date.now() + 3600_000))
              resolved.set(token, value)
              const known = [...resolved.keys()]
              await store.find(known[Math.floor(Math.random() * known.length)]!)
            } catch (error) {
              failures.push(error)
            }
          }
        }
        const workers = Array.from({ length: 8 }, worker)
        const terminated: number[] = []
        for (let round = 0; round < 4; round++) {
          await sleep(150)
          const { rows } = await sql<{ pid: number; killed: boolean }>`
            SELECT pid, pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = ${application}`.execute(
            admin,
          )
          terminated.push(...rows.filter((row) => row.killed).map((row) => row.pid))
        }
        // Work goes on until more than 50 commits have resolved, however slow the machine.
        await waitFor(() => resolved.size > 50, 30_000)
        running = false
        await Promise.all(workers)
        // The faults have all landed: every terminated backend is gone (it told its client
        // before leaving), and this process has read what they sent (setImmediate runs after
        // the I/O of the turn). A call before that may meet a connection ended a moment ago.
        await waitFor(async () => {
          const { rows } = await sql<{ n: string }>`
            SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY(${terminated})`.execute(admin)
          return Number(rows[0]!.n) === 0
        })
        await new Promise((resolve) => setImmediate(resolve))

        expect(terminated.length).toBeGreaterThan(0)
        if (retryBudget === 0) {
          expect(failures.length).toBeGreaterThan(0) // the fault reached operations in flight
          // Each says what happened: the server's code, or pg's own message for a lost
          // connection (it has no code), never just "the driver threw Error".
          for (const failure of failures) {
            expect((failure as Error).message).toMatch(
              /reported (57P01|08\w{3}|ECONNRESET|EPIPE)|the connection was lost \(/,
            )
          }
          expect(retried).toEqual([])
        } else {
          for (const failure of failures) {
            expect((failure as Error).message).toMatch(
              /^commit on table .* (the connection was lost \(|the database reported (ECONNRESET|EPIPE|08))/,
            )
          }
          expect(retried.length).toBeGreaterThan(0) // the fault reached operations in flight
          for (const retry of retried) expect(retry.table).toBe(table)
        }
        for (const failure of failures) {
          expect(failure).toBeInstanceOf(SessionStoreError)
          expect((failure as SessionStoreError).cause).toBeDefined()
        }
        // The same store, not rebuilt, works again.
        await store.commit('after', bytes('recovered'), new Date(Date.now() + 3600_000))
        expect(text(await store.find('after'))).toBe('recovered')
        // Every commit that resolved before or during the faults is there.
        const stored = new Map(
          (await readRows(db, table, 'postgres')).map((row) => [row.token, text(row.data)]),
        )
        for (const [token, value] of resolved) expect(stored.get(token)).toBe(value)
        expect(resolved.size).toBeGreaterThan(50)
        // The timer survived and reported only through onError.
        await store.cleanup()
        for (const error of timerErrors) expect(error).toBeInstanceOf(SessionStoreError)
        expect(unhandled).toEqual([])
        // No token and no session data in anything printed or thrown.
        const printed = [
          ...logged,
          ...failures.map(String),
          ...timerErrors.map(String),
          JSON.stringify(retried),
        ].join('\n')
        expect(printed).not.toMatch(/tok-\d|value of/)
      } finally {
        console.error = originalError
        console.warn = originalWarn
        process.off('unhandledRejection', onUnhandled)
        unsubscribe('kysely-session-store:retry', onRetry)
        await store.stopCleanup()
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
        await admin.destroy()
      }
    })
  })

  describe('a connection the server ends under a statement', () => {
    test.each([
      ['the store sends its statements itself', {}],
      ["with a log, through Kysely's executor", { log: () => undefined }],
    ])(
      'is not handed to the next call (%s): on a pool of one, the call asked the moment the first fails gets a new connection',
      async (_, config) => {
        const locked = randomTable('ended')
        const free = randomTable('free')
        const application = randomTable('app')
        // One connection: the second call can only get the first one's, or a new one.
        const pool = new pg.Pool({
          connectionString: `${postgresUrl}?application_name=${application}`,
          max: 1,
        })
        const db = postgres(pool, config)
        const admin = postgres(postgresUrl)
        const first = new KyselyStore(db, 0, { tableName: locked, retryBudget: 0 })
        const second = new KyselyStore(db, 0, { tableName: free, retryBudget: 0 })
        try {
          await migrate(db, { tableName: locked })
          await migrate(db, { tableName: free })
          await second.commit('a', bytes('a'), new Date(Date.now() + 3600_000))
          const lock = await lockPostgresTable(locked)
          try {
            // The next call is asked in the same turn as the first call's rejection, before Node
            // reads the end of the connection: the pool would hand the dead connection over if it
            // were given back.
            let next: Promise<Uint8Array | undefined> | undefined
            const failure = first.find('waits-on-the-lock').then(
              () => 'the first call resolved',
              (error: unknown) => {
                next = second.find('a')
                return error
              },
            )
            await expect.poll(() => postgresStatementsOn(admin, locked), { timeout: 5000 }).toBe(1)
            await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${application}`.execute(
              admin,
            )
            expect(((await failure) as SessionStoreError).message).toMatch(/reported 57P01/)
            expect(text(await next)).toBe('a')
          } finally {
            await lock.release()
          }
        } finally {
          await db.schema.dropTable(locked).ifExists().execute()
          await db.schema.dropTable(free).ifExists().execute()
          await db.destroy()
          await pool.end() // ours: postgres() never ends a pool it was given
          await admin.destroy()
        }
      },
    )
  })
})
