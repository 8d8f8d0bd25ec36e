// Cloudflare Workers and D1. First, what needs no Worker: migrate() on a SQLite connection that
// refuses SQL transactions with D1's own message (better-sqlite3 underneath). Then, with the
// legs/workers folder installed, the real thing: the conformance suite inside workerd on a
// local D1 (legs/workers/conformance-worker.ts, bundled and run by wrangler's test harness), what
// a compatibility date and the nodejs_compat flag change, and examples/workers as a user runs it.
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import {
  Kysely,
  sql,
  SqliteDialect,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely'
import { afterAll, describe, expect, test } from 'vitest'
import { sqlite } from '../dialects/sqlite.js'
import { KyselyStore, migrate, SessionStoreError } from '../src/index.js'
import { betterSqlite3, missingLeg, withBetterSqlite3 } from './leg-packages.js'
import { bytes, columnsOf, createVersion1Table, randomTable, text, waitFor } from './helpers.js'

const root = resolve(import.meta.dirname, '..')
const dir = mkdtempSync(join(tmpdir(), 'kss-d1-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** What D1 (and a Durable Object's SQLite) answers to BEGIN and SAVEPOINT, word for word. */
const D1_REFUSAL =
  'D1_ERROR: To execute a transaction, please use the state.storage.transaction() or ' +
  'state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. ' +
  'The JavaScript API is safer because it will automatically roll back on exceptions, and because it ' +
  "interacts correctly with Durable Objects' automatic atomic write coalescing."

/** A connection that refuses statements `refuse` matches with `message`, and runs the rest. */
class RefusingConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    readonly refuse: RegExp,
    readonly message: string,
  ) {}
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.refuse.test(query.sql)) return Promise.reject(new Error(this.message))
    return this.inner.executeQuery(query)
  }
  streamQuery<R>(query: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery(query, chunkSize)
  }
}

/** Kysely's SqliteDialect on `file`, whose connections refuse what `refuse` matches. */
function refusing(file: string, refuse = /^\s*(BEGIN|SAVEPOINT)\b/i, message = D1_REFUSAL): Kysely<any> {
  const inner = new SqliteDialect({ database: new (betterSqlite3())(file) })
  const dialect: Dialect = {
    createAdapter: () => inner.createAdapter(),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createIntrospector: (db) => inner.createIntrospector(db),
    createDriver: (): Driver => {
      const driver = inner.createDriver()
      const wrapped = new WeakMap<DatabaseConnection, DatabaseConnection>()
      return {
        init: () => driver.init(),
        destroy: () => driver.destroy(),
        acquireConnection: async () => {
          const connection = await driver.acquireConnection()
          const refusingOne = new RefusingConnection(connection, refuse, message)
          wrapped.set(refusingOne, connection)
          return refusingOne
        },
        releaseConnection: (connection) => driver.releaseConnection(wrapped.get(connection) ?? connection),
        beginTransaction: () => Promise.reject(new Error(message)),
        commitTransaction: () => Promise.reject(new Error(message)),
        rollbackTransaction: () => Promise.reject(new Error(message)),
      }
    },
  }
  return new Kysely<any>({ dialect })
}

/** An index's SQL as SQLite keeps it, with the table's name written TABLE, unquoted, on one line. */
const normalise = (index: string, table: string) =>
  index.replaceAll('"', '').replaceAll(table, 'TABLE').replace(/\s+/g, ' ')

/** A table's columns and its indexes' SQL. */
async function shape(db: Kysely<any>, table: string) {
  const { rows } = await sql<{ sql: string }>`SELECT sql FROM sqlite_master
    WHERE type = 'index' AND tbl_name = ${table} AND sql IS NOT NULL ORDER BY name`.execute(db)
  return {
    columns: await columnsOf(db, 'sqlite', table),
    indexes: rows.map((row) => normalise(row.sql, table)),
  }
}

/** The shape migrate() gives a table on a connection that allows transactions. */
async function expectedShape() {
  const db = sqlite(':memory:')
  try {
    await migrate(db, { tableName: 'expected' })
    return await shape(db, 'expected')
  } finally {
    await db.destroy()
  }
}

withBetterSqlite3('migrate() on a better-sqlite3 connection that refuses SQL transactions', () =>
  describe('migrate() on a connection that refuses SQL transactions, as D1 does', () => {
    test('creates the table with the same columns and indexes, without BEGIN, and again idempotently', async () => {
      const db = refusing(join(dir, 'create.db'))
      const table = randomTable()
      await migrate(db, { tableName: table })
      const expected = await expectedShape()
      expect(expected.indexes.length).toBeGreaterThan(0)
      expect(await shape(db, table)).toEqual(expected)
      await migrate(db, { tableName: table })
      expect(await shape(db, table)).toEqual(expected)
      const store = new KyselyStore(db, 0, { tableName: table })
      await store.commit('t', bytes('on D1'), new Date(Date.now() + 60_000), { subject: 'u' })
      expect(text(await store.find('t'))).toBe('on D1')
      await db.destroy()
    })

    test('two migrations of a version 0.1 table at once both succeed, and every session is kept', async () => {
      const file = join(dir, 'upgrade.db')
      const [a, b] = [refusing(file), refusing(file)]
      const table = randomTable()
      await createVersion1Table(a, 'sqlite', table)
      const raw = new (betterSqlite3())(file)
      raw
        .prepare(`INSERT INTO "${table}" (token, data, expiry) VALUES ('old', X'6b657074', ?)`)
        .run(Date.now() + 60_000)
      raw.close()
      // Without a transaction each step runs alone: both read the old columns, both add `subject`.
      await Promise.all([migrate(a, { tableName: table }), migrate(b, { tableName: table })])
      expect(await shape(a, table)).toEqual(await expectedShape())
      expect(text(await new KyselyStore(a, 0, { tableName: table }).find('old'))).toBe('kept')
      await Promise.all([a.destroy(), b.destroy()])
    })

    test('a BEGIN refused for another reason still fails the migration, with that cause', async () => {
      const db = refusing(join(dir, 'busy.db'), /^\s*BEGIN\b/i, 'SQLITE_BUSY: database is locked')
      const table = randomTable()
      const error = (await migrate(db, { tableName: table }).catch((e: unknown) => e)) as SessionStoreError
      expect(error).toBeInstanceOf(SessionStoreError)
      expect((error.cause as Error).message).toBe('SQLITE_BUSY: database is locked')
      expect(await columnsOf(db, 'sqlite', table)).toEqual([])
      await db.destroy()
    })
  }),
)

// ---- Inside workerd: needs legs/workers (wrangler, with its miniflare and workerd; kysely-d1; Hono).

const leg = join(root, 'legs', 'workers')
const INSTALL = 'npm run legs:install -- workers'
const workersMissing = existsSync(join(leg, 'node_modules', 'wrangler', 'package.json'))
  ? undefined
  : `legs/workers is not installed: run ${INSTALL}`
const RUN_TIMEOUT = 300_000

/** The part of wrangler's createTestHarness() these tests use (structural: wrangler is not a root dependency). */
interface TestHarness {
  listen(): Promise<{ url: URL }>
  fetch(input: string, init?: RequestInit): Promise<Response>
  getWorker(name?: string): {
    scheduled(options: { cron: string; scheduledTime?: Date }): Promise<{ outcome: string }>
    applyD1Migrations(binding: string): Promise<void>
    getEnv(): Promise<Record<string, unknown>>
  }
  close(): Promise<void>
}
type WorkerInput = { configPath: string } | { config: Record<string, unknown> }

/** A wrangler test harness on `workers`, resolved from `harnessRoot`; closed after the file's tests. */
function harness(harnessRoot: string, workers: WorkerInput[]): TestHarness {
  // No network here: wrangler would fetch Request.cf and send metrics; its logs go to our temp dir.
  Object.assign(process.env, {
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_LOG_PATH: join(dir, 'wrangler-logs'),
  })
  const { createTestHarness } = createRequire(join(leg, 'package.json'))('wrangler') as {
    createTestHarness(options: { root: string; workers: WorkerInput[] }): TestHarness
  }
  const server = createTestHarness({ root: harnessRoot, workers })
  afterAll(() => server.close(), 60_000)
  return server
}

/** An inline Worker of legs/workers on a local D1 bound as DB; `kysely` and `vitest` are ours. */
function worker(main: string, date: string, flags: string[], vars: Record<string, string> = {}): WorkerInput {
  return {
    config: {
      name: `kss-${main.replace(/\W/g, '-')}-${date}-${flags.join('-') || 'no-flags'}`,
      main: join(leg, main),
      compatibility_date: date,
      compatibility_flags: flags,
      d1_databases: [{ binding: 'DB', database_name: 'sessions', database_id: 'kss-local' }],
      vars,
      alias: {
        kysely: join(root, 'node_modules', 'kysely'),
        'kysely-d1': join(leg, 'node_modules', 'kysely-d1'),
        vitest: join(root, 'test', 'runtime', 'vitest-shim.ts'),
      },
    },
  }
}

/** The part of a D1 binding the example's test reads through. */
interface D1 {
  prepare(query: string): {
    bind(...values: unknown[]): { run(): Promise<unknown> }
    all<T>(): Promise<{ results: T[] }>
  }
}

/**
 * examples/workers in a project of its own, as a user's: its files copied, the built package
 * in its node_modules (npm test builds dist/), Kysely ours, wrangler, kysely-d1, Hono and the
 * Workers types from legs/workers.
 */
function exampleProject(): string {
  if (!existsSync(join(root, 'dist', 'src', 'index.js'))) {
    throw new Error('dist/ is missing: run npm run build first (npm test does)')
  }
  const project = join(dir, 'example')
  cpSync(join(root, 'examples', 'workers'), project, {
    recursive: true,
    filter: (source) => !/[\\/](node_modules|\.wrangler)$/.test(source),
  })
  const modules = join(project, 'node_modules')
  const ours = join(modules, 'kysely-session-store')
  mkdirSync(ours, { recursive: true })
  for (const part of ['package.json', 'dist', 'schema'])
    cpSync(join(root, part), join(ours, part), { recursive: true })
  const link = (name: string, from: string) => {
    mkdirSync(dirname(join(modules, name)), { recursive: true })
    symlinkSync(join(from, 'node_modules', name), join(modules, name), 'dir')
  }
  link('kysely', root)
  for (const name of ['wrangler', 'hono', '@cloudflare/workers-types']) link(name, leg)
  // A copy, not a link: its import of kysely must find the project's, as in a user's project.
  cpSync(join(leg, 'node_modules', 'kysely-d1'), join(modules, 'kysely-d1'), { recursive: true })
  return project
}

interface RunResult {
  runtime: string
  passed: number
  failed: number
  skipped: number
  failures: Array<{ name: string; error?: string }>
  skips: string[]
}

/** Tests of the suite that do not apply inside workerd, with the reason. */
const SKIP_IN_WORKERD: Record<string, string> = {
  'the timer never keeps the process alive':
    "workerd has no process.getActiveResourcesInfo(), and a Worker's timers keep nothing alive",
  '1 MiB of random bytes':
    "workerd's crypto.randomBytes refuses more than 64 KiB at once, so the test cannot make its data " +
    '(legs/workers/probe-worker.ts round-trips 1 MiB on D1)',
}

if (workersMissing !== undefined) {
  missingLeg('Cloudflare Workers (legs/workers)', workersMissing)
} else {
  describe('Cloudflare Workers: workerd and a local D1', () => {
    test(
      'the conformance suite inside workerd, through kysely-d1 (compatibility date 2026-11-01, nodejs_compat)',
      async () => {
        const started = Date.now()
        const server = harness(dir, [
          worker('conformance-worker.ts', '2026-11-01', ['nodejs_compat'], {
            SKIP: JSON.stringify(SKIP_IN_WORKERD),
          }),
        ])
        await server.listen()
        const body = await (await server.fetch('/')).text()
        const line = body.split('\n').find((l) => l.startsWith('RESULT '))
        if (line === undefined) throw new Error(`the Worker printed no result:\n${body.slice(-4000)}`)
        const result = JSON.parse(line.slice('RESULT '.length)) as RunResult
        console.log(
          `${result.runtime} ran the suite on D1 in ${Date.now() - started} ms: ${result.passed} passed, ` +
            `${result.failed} failed, ${result.skipped} skipped`,
        )
        for (const skip of result.skips) console.warn(`workerd: skipped ${skip}`)
        expect(result.failures.map((f) => `${f.name}: ${f.error?.slice(0, 600)}`)).toEqual([])
        expect(result.passed).toBeGreaterThan(40)
      },
      RUN_TIMEOUT,
    )

    // What the README's Workers section says about compatibility dates and flags.
    test.each([
      ['2026-11-01', ['nodejs_compat'], 'object'],
      ['2026-08-04', [], 'object'], // nodejs_compat is on by default from this date
      ['2024-09-23', ['nodejs_compat'], 'number'],
      ['2024-09-22', ['nodejs_compat_v2'], 'number'],
    ])(
      'at compatibility date %s with flags %j the package loads; timers are %s, and new KyselyStore(db) with its cleanup timer works on D1',
      async (date, flags, timer) => {
        const server = harness(dir, [worker('probe-worker.ts', date, flags)])
        await server.listen()
        const response = await server.fetch('/')
        expect(await response.json()).toEqual({ timer, found: 'Uint8Array', same: true })
      },
      120_000,
    )

    test.each([
      ['2026-08-03', [], 'node:diagnostics_channel'],
      ['2024-09-22', ['nodejs_compat'], 'node:http'],
    ])(
      'at compatibility date %s with flags %j the Worker does not start: No such module "%s"',
      async (date, flags, module) => {
        const server = harness(dir, [worker('probe-worker.ts', date, flags)])
        const error = (await server.listen().catch((e: unknown) => e)) as Error
        expect(error).toBeInstanceOf(Error)
        expect(`${error.message}\n${String((error as { cause?: unknown }).cause ?? '')}`).toContain(
          `No such module \\"${module}\\"`,
        )
      },
      120_000,
    )
  })

  describe('examples/workers, as a user runs it', () => {
    const project = exampleProject()
    const server = harness(project, [{ configPath: 'wrangler.jsonc' }])
    const worker = () => server.getWorker()
    /** The local D1 of the example, from Node (wrangler's proxy to the binding). */
    const d1 = async () => (await server.getWorker().getEnv()).DB as D1

    test('it type-checks: strict TypeScript, @cloudflare/workers-types, the built package', async () => {
      const tsc = join(root, 'node_modules', '.bin', 'tsc')
      const outcome = await promisify(execFile)(tsc, ['-p', join(project, 'tsconfig.json')], {
        cwd: project,
      }).catch((error: { stdout?: string; stderr?: string }) => error)
      expect(`${outcome.stdout ?? ''}${outcome.stderr ?? ''}`).toBe('')
    }, 120_000)

    test('its D1 migrations make the table migrate() makes', async () => {
      await server.listen()
      await worker().applyD1Migrations('DB')
      const { results } = await (
        await d1()
      )
        .prepare(
          `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' AND sql IS NOT NULL ORDER BY name`,
        )
        .all<{ sql: string }>()
      const columns = await (
        await d1()
      )
        .prepare(`SELECT name FROM pragma_table_info('sessions')`)
        .all<{ name: string }>()
      const expected = await expectedShape()
      expect({
        columns: columns.results.map((row) => row.name).sort(),
        indexes: results.map((row) => normalise(row.sql, 'sessions')),
      }).toEqual(expected)
    }, 120_000)

    test('a visit, a login with a new token, the devices count, the Cron Trigger, a logout', async () => {
      await server.listen()
      const get = (path: string, cookie?: string, init: RequestInit = {}) =>
        server.fetch(path, { ...init, headers: { ...(cookie ? { cookie } : {}), ...(init.headers ?? {}) } })
      const cookieOf = (response: Response) => response.headers.getSetCookie()[0]?.split(';')[0]

      const first = await get('/')
      expect(await first.json()).toEqual({ user: null, visits: 1 })
      const visitor = cookieOf(first)
      expect(visitor).toMatch(/^__Host-session=./)
      expect(await (await get('/', visitor)).json()).toEqual({ user: null, visits: 2 })

      const login = await get('/login', visitor, {
        method: 'POST',
        body: JSON.stringify({ user: 'ada' }),
        headers: { 'content-type': 'application/json' },
      })
      expect(await login.json()).toEqual({ user: 'ada' })
      const signedIn = cookieOf(login)
      expect(signedIn).toMatch(/^__Host-session=./)
      expect(signedIn).not.toBe(visitor)
      expect(await (await get('/devices', signedIn)).json()).toEqual({ user: 'ada', sessions: 1 })
      expect(await (await get('/', signedIn)).json()).toEqual({ user: 'ada', visits: 3 })

      // An expired row, as a session left behind; the Cron Trigger deletes it and nothing else.
      const db = await d1()
      await db
        .prepare('INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?)')
        .bind('expired-row', new Uint8Array([1]), Date.now() - 1000)
        .run()
      const tokens = async () =>
        (await db.prepare('SELECT token FROM sessions ORDER BY token').all<{ token: string }>()).results
          .length
      expect(await tokens()).toBe(2)
      expect((await worker().scheduled({ cron: '*/15 * * * *' })).outcome).toBe('ok')
      await waitFor(async () => (await tokens()) === 1)
      expect(await (await get('/devices', signedIn)).json()).toEqual({ user: 'ada', sessions: 1 })

      const logout = await get('/logout', signedIn, { method: 'POST' })
      expect(await logout.json()).toEqual({ user: null })
      expect(logout.headers.getSetCookie()[0]).toMatch(/^__Host-session=;/)
      expect((await get('/devices', signedIn)).status).toBe(401)
      expect(await tokens()).toBe(0)
    }, 120_000)
  })
}
