// The SQLite and PGlite factories against the moves users get wrong, and better-sqlite3 13 on
// a Node it was not built for (refused before its addon is loaded: loading it crashes Node 20).
import { execFile } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, describe, expect, test, vi } from 'vitest'
import { mysql } from '../dialects/mysql.js'
import { pglite } from '../dialects/pglite.js'
import { createPGliteTemplate, openPGliteTestDatabase } from '../dialects/pglite-testing.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { importSessions } from '../src/import/index.js'
import { KyselyStore, migrate, sessionTable } from '../src/index.js'
import { fixture, type Fixture } from './runtime/bundle.js'
import { bytes, text } from './helpers.js'

const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' })
afterAll(() => pool.end())

const mistakes: Array<[string, () => unknown, ErrorConstructor, string]> = [
  [
    'a postgres:// URL',
    () => 'postgres://app@db/app',
    RangeError,
    "'postgres:' is a Postgres URL: use postgres() from 'kysely-session-store/postgres'",
  ],
  [
    'a mysql:// URL',
    () => 'mysql://root@db/app',
    RangeError,
    "'mysql:' is a MySQL URL: use mysql() from 'kysely-session-store/mysql'",
  ],
  [
    'a file:// URL string',
    () => 'file:///tmp/x.db',
    RangeError,
    'got a file:// URL: pass a path (fileURLToPath(url))',
  ],
  ['a URL object', () => new URL('file:///tmp/x.db'), TypeError, 'got a URL object: pass a path string'],
  ['a Promise', () => Promise.resolve(), TypeError, 'got a Promise: await it first'],
  [
    'a Kysely instance',
    () => sqlite(':memory:'),
    TypeError,
    'got a Kysely instance: pass it to new KyselyStore(db) and migrate(db) directly',
  ],
  ['a pg Pool', () => pool, TypeError, 'got a client or pool of a database server: use postgres(pool)'],
]

describe.each([
  ['sqlite', 'pathOrDatabase', (value: unknown) => sqlite(value as string)],
  ['pglite', 'dataDirOrInstance', (value: unknown) => pglite(value as string)],
])('%s() refuses wrong moves at once, naming the fix', (factory, argument, call) => {
  test.each(mistakes)('%s', (_, make, type, message) => {
    const value = make()
    let error: unknown
    try {
      call(value)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(type)
    expect((error as Error).message).toContain(`${factory}(${argument}): ${message}`)
    if (value instanceof Promise) void value.catch(() => undefined)
  })
})

describe('better-sqlite3 and this Node', () => {
  const nodeMajor = Number(process.versions.node.split('.')[0])
  let project: Fixture | undefined
  afterAll(() => project?.remove())

  /** Runs the built package's sqlite(path) in a project whose better-sqlite3 is `manifest`. */
  async function findWith(manifest: object | undefined): Promise<string> {
    project ??= await fixture({ links: [] })
    const driver = join(project.dir, 'node_modules', 'better-sqlite3')
    rmSync(driver, { recursive: true, force: true })
    if (manifest !== undefined) {
      mkdirSync(driver, { recursive: true })
      writeFileSync(
        join(driver, 'package.json'),
        JSON.stringify({ name: 'better-sqlite3', main: 'index.js', ...manifest }),
      )
      // What loading the real addon does on the wrong Node: the process dies, no message.
      writeFileSync(join(driver, 'index.js'), "console.log('addon loaded'); process.exit(139)")
    }
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { KyselyStore } from 'kysely-session-store'
         import { sqlite } from 'kysely-session-store/sqlite'
         const error = await new KyselyStore(sqlite(':memory:'), 0).find('t').catch((e) => e)
         console.log(error.cause?.name + ': ' + error.message)`,
      ],
      { cwd: project.dir, timeout: 20_000 },
    )
    return stdout.trim()
  }

  test.skipIf(nodeMajor >= 22)(
    'better-sqlite3 13 on Node 20 is refused before its addon is loaded',
    async () => {
      const printed = await findWith({ version: '13.0.0', engines: { node: '>=22' } })
      expect(printed).not.toContain('addon loaded')
      expect(printed).toBe(
        `IncompatibleDriverError: find on table "sessions" failed: sqlite(): better-sqlite3 13.0.0 is built for Node 22 or later and crashes Node ${process.versions.node}: run npm install better-sqlite3@^12 (or use Node 22+) (see error.cause)`,
      )
    },
  )

  test.skipIf(nodeMajor >= 22)(
    'without better-sqlite3 on Node 20, the error names the package to install',
    async () => {
      const printed = await findWith(undefined)
      expect(printed).toBe(
        'MissingPeerDependencyError: find on table "sessions" failed: sqlite(): the optional peer dependency \'better-sqlite3\' is not installed: run npm install better-sqlite3@^12 (or use Node 22.13+, whose node:sqlite sqlite() opens instead) (see error.cause)',
      )
    },
  )
})

describe("sqlite(): the store's statements skip Kysely's executor only while nobody holds the connection", () => {
  const expiry = () => new Date(Date.now() + 60_000)

  test('a free connection: find and commit run on the database at once, not through executeQuery', async () => {
    const db = sqlite(':memory:')
    await migrate(db)
    const store = new KyselyStore(db, 0)
    const executeQuery = vi.spyOn(db, 'executeQuery')
    await store.commit('t', bytes('one'), expiry())
    expect(text(await store.find('t'))).toBe('one')
    expect(executeQuery).not.toHaveBeenCalled()
    await db.destroy()
  })

  test("a caller's transaction holds the connection: a store call waits for it and is not part of it", async () => {
    const db = sqlite(':memory:')
    await migrate(db)
    const store = new KyselyStore(db, 0)
    let commit: Promise<void> | undefined
    let settledInside = false
    const outcome = await db
      .transaction()
      .execute(async (trx) => {
        await trx
          .insertInto('sessions')
          .values({ token: 'mine', data: bytes('x'), expiry: 1e13 })
          .execute()
        commit = store.commit('t', bytes('kept'), expiry())
        void commit.then(() => (settledInside = true))
        await new Promise((resolve) => setTimeout(resolve, 30))
        throw new Error('the caller rolls back')
      })
      .catch((error: Error) => error.message)
    expect(outcome).toBe('the caller rolls back')
    expect(settledInside).toBe(false) // it waited for the connection
    await commit
    expect(text(await store.find('t'))).toBe('kept') // not rolled back with the caller's work
    expect(await store.find('mine')).toBeUndefined()
    await db.destroy()
  })

  test("a caller's streamed query holds the connection: a store call waits until the stream ends", async () => {
    const db = sqlite(':memory:')
    await migrate(db)
    const store = new KyselyStore(db, 0)
    for (const token of ['a', 'b']) await store.commit(token, bytes(token), expiry())
    const rows = db.selectFrom('sessions').select('token').orderBy('token').stream()[Symbol.asyncIterator]()
    expect((await rows.next()).value).toEqual({ token: 'a' })
    let settled = false
    const commit = store.commit('t', bytes('after the stream'), expiry()).finally(() => (settled = true))
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(settled).toBe(false) // it waits for the connection
    expect((await rows.next()).value).toEqual({ token: 'b' })
    expect((await rows.next()).done).toBe(true)
    await commit
    expect(text(await store.find('t'))).toBe('after the stream')
    await db.destroy()
  })

  test('with plugins or a log, every statement goes through the executor (which applies them)', async () => {
    const logged: string[] = []
    const db = sqlite(':memory:', { log: (event) => void logged.push(event.query.sql) })
    await migrate(db)
    const store = new KyselyStore(db, 0)
    await store.commit('t', bytes('one'), expiry())
    expect(text(await store.find('t'))).toBe('one')
    expect(logged.filter((sql) => /^(INSERT|SELECT data FROM)/.test(sql))).toHaveLength(2)
    await db.destroy()
  })

  test('after db.destroy(), a store call rejects with a SessionStoreError', async () => {
    const db = sqlite(':memory:')
    await migrate(db)
    const store = new KyselyStore(db, 0)
    await db.destroy()
    await expect(store.find('t')).rejects.toMatchObject({ name: 'SessionStoreError' })
  })
})

describe('the embedded factories refuse what is not an option', () => {
  test('refuses an unknown config key, naming it and the options there are', () => {
    expect(() => sqlite(':memory:', { bogus: 1 } as never)).toThrow(
      "sqlite(..., config): bogus is not an option here; the options are Kysely's log and plugins",
    )
    expect(() => pglite(undefined, { bogus: 1 } as never)).toThrow(
      "pglite(..., config): bogus is not an option here; the options are Kysely's log and plugins",
    )
  })
})

describe('every public options object refuses an unknown key, naming it and the options there are', () => {
  const db = sqlite(':memory:')
  afterAll(() => db.destroy())
  const store = new KyselyStore(db, 0)
  const bogus = { bogus: 1 } as never
  // [entry, a known key the message must list, the call with an unknown key]
  const entries: Array<[string, string, () => unknown]> = [
    ['postgres(url, options)', 'preparedStatements', () => postgres('postgres://app@127.0.0.1:1/app', bogus)],
    ['postgres(pool, options)', 'preparedStatements', () => postgres(pool, bogus)],
    ['mysql(url, options)', 'causalReads', () => mysql('mysql://app@127.0.0.1:1/app', bogus)],
    ['sqlite(path, config)', 'plugins', () => sqlite(':memory:', bogus)],
    ['pglite(dataDir, config)', 'plugins', () => pglite(undefined, bogus)],
    ['new KyselyStore(db, interval, options)', 'tableName', () => new KyselyStore(db, 0, bogus)],
    ['migrate(db, options)', 'tableName', () => migrate(db, bogus)],
    ['sessionTable(options)', 'tableName', () => sessionTable(bogus)],
    [
      'importSessions(db, options)',
      'hashSids',
      () => importSessions(db, { from: 'connect-pg-simple', bogus: 1 } as never),
    ],
    [
      'store.commit(..., options)',
      'subject',
      () => store.commit('t', bytes('x'), new Date(Date.now() + 60_000), bogus),
    ],
    ['store.delete(token, options)', 'tombstone', () => store.delete('t', bogus)],
    ['store.entries(options)', 'pageSize', () => store.entries(bogus).next()],
    ['store.listBySubject(subject, options)', 'limit', () => store.listBySubject('s', bogus)],
    ['store.deleteBySubject(subject, options)', 'except', () => store.deleteBySubject('s', bogus)],
    [
      'createPGliteTemplate(file, options)',
      'reuse',
      () => createPGliteTemplate(join(tmpdir(), 'never-written.tar'), bogus),
    ],
    ['openPGliteTestDatabase(options)', 'template', () => openPGliteTestDatabase(bogus)],
    ['openPGliteTestDatabase({ config })', 'plugins', () => openPGliteTestDatabase({ config: bogus })],
  ]
  test.each(entries)('%s', async (_, known, call) => {
    const error = await (async () => call())().then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(error).toBeInstanceOf(TypeError)
    expect((error as Error).message).toMatch(/\bbogus is not an option here; the options are\b/)
    expect((error as Error).message).toContain(known)
  })
})
