// The store's call path under faults, on the real servers: a time limit frees the server
// (statements cancelled there, no connection pinned, no late write), a retry never replays a
// write whose reply was lost, nothing runs after a call settled, a script awaiting a call gets
// its answer, and dropped connections never crash the process.
import { spawnSync } from 'node:child_process'
import { createServer, Socket, type AddressInfo, type Server } from 'node:net'
import { sql, type Kysely } from 'kysely'
import mysql2 from 'mysql2/promise'
import pg from 'pg'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { mysql } from '../dialects/mysql.js'
import { postgres } from '../dialects/postgres.js'
import { KyselyStore, migrate, SessionStoreError } from '../src/index.js'
import { bytes, randomTable, randomToken, sleep, text, waitFor } from './helpers.js'
import { lockPostgresTable, mysqlUrl, postgresStatementsOn, postgresUrl, withServer } from './servers.js'

const HOUR = 3600_000
const later = () => new Date(Date.now() + HOUR)

/** What each server leg needs: a factory, a URL, a table lock held by another client, and a look at the server's work. */
interface ServerLeg {
  name: 'Postgres' | 'MariaDB'
  url: string
  open(url: string, options?: { poolSize?: number }): Kysely<any>
  /** Holds an exclusive lock on `table` from another client until `release()`. */
  lock(table: string): Promise<{ release(): Promise<void> }>
  /** How many statements on `table` the server is running or waiting on, other than `admin`'s. */
  running(admin: Kysely<any>, table: string): Promise<number>
}

const legs: ServerLeg[] = [
  {
    name: 'Postgres',
    url: postgresUrl,
    open: (url, options) => postgres(url, options),
    lock: lockPostgresTable,
    running: postgresStatementsOn,
  },
  {
    name: 'MariaDB',
    url: mysqlUrl,
    open: (url, options) => mysql(url, options),
    async lock(table) {
      const connection = await mysql2.createConnection(mysqlUrl)
      await connection.query(`LOCK TABLES \`${table}\` WRITE`)
      return {
        async release() {
          await connection.query('UNLOCK TABLES')
          await connection.end()
        },
      }
    },
    async running(admin, table) {
      const { rows } = await sql<{ n: number }>`
        SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
        WHERE ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INFO LIKE ${`%\`${table}\`%`}`.execute(admin)
      return Number(rows[0]!.n)
    },
  },
]

/** `url` with its host and port replaced by 127.0.0.1:`port`. */
function through(url: string, port: number): string {
  const parsed = new URL(url)
  parsed.host = `127.0.0.1:${port}`
  return parsed.toString()
}

/**
 * A TCP proxy in front of a server that, once armed, lets the server's next reply (written
 * after the statement committed) get lost: it swallows the reply and drops the client's
 * connection. New connections then wait, unconnected, until `release()`, so a test can write
 * in between a lost reply and anything the client does next.
 */
class LossyProxy {
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly #waiting: (() => void)[] = []
  #armed: (() => void) | undefined
  #holding = false

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(target: string): Promise<LossyProxy> {
    const { hostname, port } = new URL(target)
    const server = createServer()
    const proxy = new LossyProxy(server)
    server.on('connection', (client) => proxy.#accept(client, hostname, Number(port)))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return proxy
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port
  }

  /** Resolves once the next reply from the server has been lost. */
  loseNextReply(): Promise<void> {
    return new Promise((resolve) => {
      this.#armed = () => {
        this.#armed = undefined
        this.#holding = true
        resolve()
      }
    })
  }

  /** Lets waiting and new connections through again. */
  release(): void {
    this.#holding = false
    for (const go of this.#waiting.splice(0)) go()
  }

  async close(): Promise<void> {
    this.release()
    for (const socket of this.#sockets) socket.destroy()
    await new Promise((resolve) => this.#server.close(resolve))
  }

  #accept(client: Socket, host: string, port: number): void {
    this.#sockets.add(client)
    client.on('close', () => this.#sockets.delete(client))
    client.on('error', () => undefined)
    client.pause()
    const connect = () => {
      const server = new Socket()
      this.#sockets.add(server)
      server.on('error', () => client.destroy())
      server.on('close', () => client.destroy())
      client.on('close', () => server.destroy())
      server.connect(port, host, () => {
        client.on('data', (chunk: Buffer) => server.write(chunk))
        client.resume()
      })
      server.on('data', (chunk: Buffer) => {
        if (this.#armed !== undefined) {
          const lost = this.#armed
          client.destroy()
          server.destroy()
          lost()
          return
        }
        client.write(chunk)
      })
    }
    if (this.#holding) this.#waiting.push(connect)
    else connect()
  }
}

await withServer('Postgres', () => {
  describe('Postgres connections terminated every few milliseconds under load', () => {
    test('never crash the process: every call settles, each failure is a SessionStoreError, nothing is unhandled', async () => {
      const application = randomTable('crash')
      const db = postgres(`${postgresUrl}?application_name=${application}`, { poolSize: 8 })
      const admin = postgres(postgresUrl, { poolSize: 1 })
      const table = randomTable('crash')
      const uncaught: unknown[] = []
      const onUncaught = (error: unknown) => uncaught.push(error)
      process.on('uncaughtException', onUncaught)
      process.on('unhandledRejection', onUncaught)
      try {
        await migrate(db, { tableName: table })
        const store = new KyselyStore(db, 0, { tableName: table, timeout: 2000 })
        for (let round = 0; round < 3; round++) {
          let running = true
          let settled = 0
          const failures: unknown[] = []
          const worker = async (w: number) => {
            for (let i = 0; running; i++) {
              const token = `crash-${round}-${w}-${i}`
              await store
                .commit(token, bytes('x'), later())
                .then(() => store.find(token))
                .catch((error: unknown) => failures.push(error))
              settled++
            }
          }
          const workers = Array.from({ length: 8 }, (_, w) => worker(w))
          let terminated = 0
          const started = Date.now()
          // At least 1.5 s of faults, and until more than 20 connections were ended (a loaded
          // machine runs fewer passes): at most 10 s.
          while (Date.now() - started < 1500 || (terminated <= 20 && Date.now() - started < 10_000)) {
            const { rows } = await sql<{ killed: boolean }>`
              SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
              WHERE application_name = ${application}`.execute(admin)
            terminated += rows.filter((row) => row.killed).length
            await sleep(3)
          }
          running = false
          await Promise.all(workers)
          expect(terminated).toBeGreaterThan(20)
          expect(settled).toBeGreaterThan(0)
          for (const failure of failures) expect(failure).toBeInstanceOf(SessionStoreError)
        }
        // The same store works afterwards.
        await store.commit('after', bytes('recovered'), later())
        expect(text(await store.find('after'))).toBe('recovered')
        expect(uncaught).toEqual([])
      } finally {
        process.off('uncaughtException', onUncaught)
        process.off('unhandledRejection', onUncaught)
        await admin.schema.dropTable(table).ifExists().execute()
        await db.destroy()
        await admin.destroy()
      }
    }, 60_000)

    test('a pg.Pool of yours given to postgres() gets the same protection for its clients', async () => {
      const application = randomTable('given')
      const pool = new pg.Pool({ connectionString: `${postgresUrl}?application_name=${application}`, max: 8 })
      pool.on('error', () => undefined) // the pool's own 'error' event is yours to handle (documented)
      const db = postgres(pool)
      const admin = postgres(postgresUrl, { poolSize: 1 })
      const table = randomTable('given')
      const uncaught: unknown[] = []
      const onUncaught = (error: unknown) => uncaught.push(error)
      process.on('uncaughtException', onUncaught)
      try {
        await migrate(db, { tableName: table })
        const store = new KyselyStore(db, 0, { tableName: table, timeout: 2000 })
        let running = true
        const worker = async (w: number) => {
          for (let i = 0; running; i++) {
            await store.commit(`given-${w}-${i}`, bytes('x'), later()).catch(() => undefined)
          }
        }
        const workers = Array.from({ length: 8 }, (_, w) => worker(w))
        const started = Date.now()
        let terminated = 0
        // At least 1.5 s of faults, and until more than 20 connections were ended (a loaded
        // machine runs fewer passes): at most 10 s.
        while (Date.now() - started < 1500 || (terminated <= 20 && Date.now() - started < 10_000)) {
          const { rows } = await sql<{ killed: boolean }>`
            SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
            WHERE application_name = ${application}`.execute(admin)
          terminated += rows.filter((row) => row.killed).length
          await sleep(3)
        }
        running = false
        await Promise.all(workers)
        expect(terminated).toBeGreaterThan(20)
        expect(uncaught).toEqual([])
      } finally {
        process.off('uncaughtException', onUncaught)
        await admin.schema.dropTable(table).ifExists().execute()
        await db.destroy()
        await pool.end()
        await admin.destroy()
      }
    }, 30_000)
  })
})

await withServer('MySQL', () => {
  describe('MariaDB connections killed every few milliseconds under load', () => {
    test('never crash the process: every call settles, each failure is a SessionStoreError', async () => {
      // A database of its own: the connections killed are this test's, never another file's.
      const database = randomTable('crashdb')
      const admin = mysql(mysqlUrl, { poolSize: 1 })
      await sql.raw(`CREATE DATABASE \`${database}\``).execute(admin)
      const url = new URL(mysqlUrl)
      url.pathname = `/${database}`
      const db = mysql(url.toString(), { poolSize: 8 })
      const table = randomTable('crash')
      const uncaught: unknown[] = []
      const onUncaught = (error: unknown) => uncaught.push(error)
      process.on('uncaughtException', onUncaught)
      process.on('unhandledRejection', onUncaught)
      try {
        await migrate(db, { tableName: table })
        const store = new KyselyStore(db, 0, { tableName: table, timeout: 2000 })
        let running = true
        const failures: unknown[] = []
        const worker = async (w: number) => {
          for (let i = 0; running; i++) {
            const token = `crash-${w}-${i}`
            await store
              .commit(token, bytes('x'), later())
              .then(() => store.find(token))
              .catch((error: unknown) => failures.push(error))
          }
        }
        const workers = Array.from({ length: 8 }, (_, w) => worker(w))
        const { rows: self } = await sql<{ id: number }>`SELECT CONNECTION_ID() AS id`.execute(admin)
        let killed = 0
        const started = Date.now()
        // At least 1.5 s of faults, and until more than 20 connections were ended (a loaded
        // machine runs fewer passes): at most 10 s.
        while (Date.now() - started < 1500 || (killed <= 20 && Date.now() - started < 10_000)) {
          const { rows } = await sql<{ id: number }>`
            SELECT ID AS id FROM information_schema.PROCESSLIST
            WHERE DB = ${database} AND ID <> ${self[0]!.id}`.execute(admin)
          for (const { id } of rows) {
            await sql
              .raw(`KILL CONNECTION ${Number(id)}`)
              .execute(admin)
              .catch(() => undefined)
            killed++
          }
          await sleep(3)
        }
        running = false
        await Promise.all(workers)
        expect(killed).toBeGreaterThan(20)
        for (const failure of failures) expect(failure).toBeInstanceOf(SessionStoreError)
        await store.commit('after', bytes('recovered'), later())
        expect(text(await store.find('after'))).toBe('recovered')
        expect(uncaught).toEqual([])
      } finally {
        process.off('uncaughtException', onUncaught)
        process.off('unhandledRejection', onUncaught)
        await sql.raw(`DROP DATABASE IF EXISTS \`${database}\``).execute(admin)
        await db.destroy()
        await admin.destroy()
      }
    }, 30_000)
  })
})

for (const leg of legs) {
  await withServer(leg.name === 'MariaDB' ? 'MySQL' : leg.name, () => {
    describe(`${leg.name}: a call that times out frees the server`, () => {
      test('statements waiting on a lock are cancelled there, the pool serves the next call, and no timed-out write lands later', async () => {
        const db = leg.open(leg.url, { poolSize: 4 })
        const table = randomTable('locked')
        const other = randomTable('free')
        const token = randomToken()
        try {
          await migrate(db, { tableName: table })
          await migrate(db, { tableName: other })
          // The calls meant to time out get 500 ms; the others the default, which a loaded
          // machine cannot run out.
          const store = new KyselyStore(db, 0, { tableName: table, timeout: 500 })
          const patient = new KyselyStore(db, 0, { tableName: table })
          await patient.commit(token, bytes('before'), later())
          const lock = await leg.lock(table)
          let released = false
          try {
            // More calls than connections: four wait on the lock, two for a connection.
            const outcomes = await Promise.allSettled(
              Array.from({ length: 6 }, (_, i) => store.update(token, bytes(`timed out ${i}`), later())),
            )
            for (const outcome of outcomes) {
              expect(outcome.status).toBe('rejected')
              expect(((outcome as PromiseRejectedResult).reason as SessionStoreError).code).toBe('timeout')
            }
            // Nothing of ours is left running or waiting on the server.
            await waitFor(async () => (await leg.running(db, table)) === 0, 3000)
            // The pool serves the next call (another table: this one is still locked), which a
            // pool pinned by the timed-out statements never would.
            const free = new KyselyStore(db, 0, { tableName: other })
            await free.commit(token, bytes('served'), later())
            expect(text(await free.find(token))).toBe('served')
            await lock.release()
            released = true
          } finally {
            if (!released) await lock.release()
          }
          // No timed-out update landed after the lock was released.
          await sleep(200)
          expect(text(await patient.find(token))).toBe('before')
        } finally {
          await db.schema.dropTable(table).ifExists().execute()
          await db.schema.dropTable(other).ifExists().execute()
          await db.destroy()
        }
      }, 30_000)
    })

    describe(`${leg.name}: a write whose reply was lost after it committed is not run again`, () => {
      let proxy: LossyProxy | undefined
      afterEach(async () => {
        await proxy?.close()
        proxy = undefined
      })

      /** A store through the proxy (one connection), a direct store on the same table, and a clean-up. */
      async function stores() {
        proxy = await LossyProxy.start(leg.url)
        const table = randomTable('lossy')
        const direct = leg.open(leg.url, { poolSize: 1 })
        await migrate(direct, { tableName: table })
        const lossy = leg.open(through(leg.url, proxy.port), { poolSize: 1 })
        return {
          lossyStore: new KyselyStore(lossy, 0, { tableName: table }),
          directStore: new KyselyStore(direct, 0, { tableName: table }),
          async close() {
            await lossy.destroy()
            await direct.schema.dropTable(table).ifExists().execute()
            await direct.destroy()
          },
        }
      }

      test('a sign-out everywhere (deleteBySubject) never deletes a login made after it took effect', async () => {
        const { lossyStore, directStore, close } = await stores()
        try {
          const before = randomToken()
          await directStore.commit(before, bytes('old login'), later(), { subject: 'alice' })
          expect(await lossyStore.count()).toBe(1) // the proxied connection is open and idle
          const lost = proxy!.loseNextReply()
          const signOut = lossyStore.deleteBySubject('alice').then(
            (n) => n,
            (error: unknown) => error,
          )
          await lost // the server deleted, and its reply was lost
          expect(await directStore.find(before)).toBeUndefined()
          const after = randomToken()
          await directStore.commit(after, bytes('new login'), later(), { subject: 'alice' })
          proxy!.release()
          const outcome = await signOut
          // The outcome is unknown to the store: it says so, and does not run the delete again.
          expect(outcome).toBeInstanceOf(SessionStoreError)
          expect((outcome as SessionStoreError).message).toMatch(
            /deleteBySubject .*(lost|PROTOCOL_CONNECTION_LOST)/,
          )
          await sleep(100)
          expect(text(await directStore.find(after))).toBe('new login')
        } finally {
          await close()
        }
      })

      test('a stale update never overwrites a newer one (a demotion stays)', async () => {
        const { lossyStore, directStore, close } = await stores()
        try {
          const token = randomToken()
          await directStore.commit(token, bytes('role=admin'), later())
          expect(text(await lossyStore.find(token))).toBe('role=admin')
          const lost = proxy!.loseNextReply()
          const stale = lossyStore.update(token, bytes('role=admin; theme=dark'), later()).then(
            (saved) => saved,
            (error: unknown) => error,
          )
          await lost
          expect(await directStore.update(token, bytes('role=user'), later())).toBe(true) // the demotion
          proxy!.release()
          expect(await stale).toBeInstanceOf(SessionStoreError)
          await sleep(100)
          expect(text(await directStore.find(token))).toBe('role=user')
        } finally {
          await close()
        }
      })

      test('a read whose reply was lost is run again on a new connection, and resolves', async () => {
        const { lossyStore, directStore, close } = await stores()
        try {
          const token = randomToken()
          await directStore.commit(token, bytes('kept'), later())
          expect(await lossyStore.count()).toBe(1)
          const lost = proxy!.loseNextReply()
          const read = lossyStore.find(token)
          await lost
          proxy!.release()
          expect(text(await read)).toBe('kept')
        } finally {
          await close()
        }
      })
    })
  })
}

describe('after a call settled, nothing of it runs', () => {
  test('a read retried against a server that drops every connection: no connection is attempted after its timeout', async () => {
    let accepted = 0
    const server = createServer((socket) => {
      accepted++
      socket.destroy()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    const db = postgres(`postgres://nobody@127.0.0.1:${port}/none`)
    // The connections pg starts, counted as it starts them: one started in the turn before
    // the time limit's timer runs (both due at once) reaches the server's count only in the
    // next turn.
    const connects = vi.spyOn(Socket.prototype, 'connect')
    try {
      const store = new KyselyStore(db, 0, { timeout: 300, retryBudget: 60_000 })
      const error = (await store.find(randomToken()).catch((e: unknown) => e)) as SessionStoreError
      expect(error).toBeInstanceOf(SessionStoreError)
      expect(error.code).toBe('timeout')
      expect(error.message).toMatch(/no answer within 300 ms \(the timeout option\); the last try failed: /)
      const atRejection = connects.mock.calls.length
      expect(atRejection).toBeGreaterThan(1) // it was retried while the call ran
      await sleep(600)
      expect(connects.mock.calls.length).toBe(atRejection)
      expect(accepted).toBe(atRejection)
    } finally {
      connects.mockRestore()
      await db.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

describe('a script whose only pending work is a store call', () => {
  test('gets the rejection, naming the host and port, and exits normally instead of silently', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve)) // nothing listens there now
    const script = `
      import { KyselyStore } from 'kysely-session-store'
      import { postgres } from 'kysely-session-store/postgres'
      const store = new KyselyStore(postgres('postgres://app@127.0.0.1:${port}/app'), 0, { timeout: 1500 })
      try {
        await store.find('a-token')
        console.log('resolved')
      } catch (error) {
        console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message }))
      }
    `
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(child.status).toBe(0)
    const printed = JSON.parse(child.stdout.trim()) as { name: string; code: string; message: string }
    expect(printed.name).toBe('SessionStoreError')
    expect(printed.code).toBe('timeout')
    expect(printed.message).toContain(`ECONNREFUSED (127.0.0.1:${port})`)
    expect(printed.message).not.toContain('a-token')
  })
})
