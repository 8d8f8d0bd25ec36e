// The SQLite and PGlite factories against the moves users get wrong, and better-sqlite3 13 on
// a Node it was not built for (refused before its addon is loaded: loading it crashes Node 20).
import { execFile } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import pg from 'pg'
import { afterAll, describe, expect, test } from 'vitest'
import { pglite } from '../dialects/pglite.js'
import { sqlite } from '../dialects/sqlite.js'
import { fixture, type Fixture } from './runtime/bundle.js'

const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' })
afterAll(() => pool.end())

const mistakes: Array<[string, () => unknown, ErrorConstructor, string]> = [
  [
    'a postgres:// URL',
    () => 'postgres://app@db/app',
    RangeError,
    'a postgres:// URL belongs to another engine: use postgres() from kysely-session-store/postgres',
  ],
  [
    'a mysql:// URL',
    () => 'mysql://root@db/app',
    RangeError,
    'a mysql:// URL belongs to another engine: use mysql() from kysely-session-store/mysql',
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
    () => new Kysely({ dialect: new SqliteDialect({ database: new Database(':memory:') }) }),
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
