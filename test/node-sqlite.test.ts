// node:sqlite, SQLite's second first-class driver on Node (22.13+). Here: the conformance suite
// on sqlite(database) given a node:sqlite DatabaseSync. In fresh projects on the built package
// (test/runtime/bundle.ts): sqlite(path) choosing node:sqlite where better-sqlite3 is not
// installed or its addon does not load, with the whole suite run on that choice, and what
// whichSqliteDriver() reports. On a Node without node:sqlite (20) those legs skip, with the
// reason printed, and the test of the error a broken better-sqlite3 gives there runs instead.
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, test } from 'vitest'
import { sqlite, type NodeSqliteDatabase } from '../dialects/sqlite.js'
import { conformance } from './conformance.js'
import { legModules, withBetterSqlite3 } from './leg-packages.js'
import { tempDir, type EngineLeg } from './legs.js'
import { fixture, root, runEntry, type Fixture, type RunResult } from './runtime/bundle.js'
import { sessionConformance } from './session-suite.js'

const CHILD_TIMEOUT = 240_000

type DatabaseSyncClass = new (path: string) => NodeSqliteDatabase & { exec(sql: string): void }

/** node:sqlite's DatabaseSync, or why this Node has none. */
const loaded = await import('node:sqlite' as string).then(
  (module: { DatabaseSync: DatabaseSyncClass }) => module.DatabaseSync,
  (error: Error) => `node:sqlite does not exist on Node ${process.versions.node} (${error.message})`,
)
const missing = typeof loaded === 'string' ? loaded : undefined
if (missing !== undefined) console.warn(`skipping the node:sqlite legs: ${missing}`)
const onNodeSqlite = missing === undefined ? describe : describe.skip
const title = (name: string) => (missing === undefined ? name : `${name} (skipped: ${missing})`)

const dir = tempDir('kss-node-sqlite-')

/** sqlite(database) on a DatabaseSync opened here (WAL for a file); db.destroy() leaves it open, so close does. */
function givenLeg(name: string, path: string): EngineLeg {
  let database: (NodeSqliteDatabase & { exec(sql: string): void }) | undefined
  return {
    name,
    family: 'sqlite',
    open: () => {
      database = new (loaded as DatabaseSyncClass)(path)
      if (path !== ':memory:') database.exec('PRAGMA journal_mode = WAL')
      return sqlite(database)
    },
    close: async (db) => {
      await db.destroy()
      database?.close()
    },
  }
}

if (missing === undefined) {
  conformance(givenLeg('node:sqlite file, sqlite(database)', join(dir, 'given.db')))
  conformance(givenLeg('node:sqlite :memory:, sqlite(database)', ':memory:'))
  sessionConformance(givenLeg('node:sqlite :memory:', ':memory:'))
} else {
  describe.skip(title('node:sqlite, sqlite(database)'), () => test('the conformance suite', () => undefined))
}

/** Fresh projects on the built package, each removed after this file. */
const projects: Fixture[] = []
afterAll(() => projects.forEach((project) => project.remove()))

/** A project without better-sqlite3. */
async function withoutBetterSqlite3(): Promise<Fixture> {
  const project = await fixture({ links: [] })
  projects.push(project)
  return project
}

/**
 * A project whose better-sqlite3 is the real package, but whose addon is not one (as an addon
 * built for another Node, it fails when `new Database()` loads it).
 */
async function withBrokenBetterSqlite3(): Promise<Fixture> {
  const project = await fixture({ links: [] })
  projects.push(project)
  const leg = legModules('better-sqlite3')
  for (const name of ['bindings', 'file-uri-to-path'])
    symlinkSync(join(leg, name), join(project.dir, 'node_modules', name), 'dir')
  const driver = join(project.dir, 'node_modules', 'better-sqlite3')
  for (const part of ['package.json', 'lib']) {
    cpSync(join(leg, 'better-sqlite3', part), join(driver, part), { recursive: true })
  }
  mkdirSync(join(driver, 'build', 'Release'), { recursive: true })
  writeFileSync(join(driver, 'build', 'Release', 'better_sqlite3.node'), 'not an addon for this Node')
  return project
}

/** A project whose better-sqlite3 is ours (built for this Node). */
async function withOurBetterSqlite3(): Promise<Fixture> {
  const project = await fixture({ links: [] })
  projects.push(project)
  symlinkSync(
    join(root, 'node_modules', 'better-sqlite3'),
    join(project.dir, 'node_modules', 'better-sqlite3'),
  )
  return project
}

/**
 * Runs `code` (an ES module that may import the built package) with this Node in `project`:
 * its stdout, and the lines of its stderr.
 */
async function runIn(project: Fixture, code: string): Promise<{ stdout: string; warnings: string[] }> {
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', code],
    {
      cwd: project.dir,
      timeout: 30_000,
    },
  )
  return { stdout: stdout.trim(), warnings: stderr.split('\n').filter((line) => line.includes('Warning')) }
}

/** Prints the driver choice as JSON, then commits and finds an empty session through sqlite(path). */
const CHOOSE_AND_ROUND_TRIP = `
  import { KyselyStore, migrate } from 'kysely-session-store'
  import { sqlite, whichSqliteDriver } from 'kysely-session-store/sqlite'
  console.log(JSON.stringify(await whichSqliteDriver()))
  const db = sqlite(':memory:')
  await migrate(db)
  const store = new KyselyStore(db, 0)
  await store.commit('t', new Uint8Array(0), new Date(Date.now() + 60_000))
  console.log(JSON.stringify(Array.from(await store.find('t'))))
  await db.destroy()`

/** The conformance suite on sqlite(path) (a file and :memory:) in `project`, run by this Node. */
function suiteIn(project: Fixture): Promise<RunResult> {
  return runEntry(process.execPath, [project.entry], {
    cwd: project.dir,
    env: { LEGS: 'sqlite-file,sqlite-memory' },
    timeout: CHILD_TIMEOUT,
  })
}

function check(result: RunResult): void {
  expect(result.failures.map((f) => `${f.name}: ${f.error?.slice(0, 500)}`)).toEqual([])
  expect(result.failed).toBe(0)
  expect(result.passed).toBeGreaterThan(100)
}

const nodeMajor = Number(process.versions.node.split('.')[0])

onNodeSqlite(title('sqlite(path) on node:sqlite, in a fresh project on the built package'), () => {
  test(
    'without better-sqlite3: whichSqliteDriver() says node:sqlite and why, empty data round-trips, and the conformance suite passes',
    async () => {
      const project = await withoutBetterSqlite3()
      const { stdout, warnings } = await runIn(project, CHOOSE_AND_ROUND_TRIP)
      expect(stdout.split('\n')).toEqual([
        JSON.stringify({ driver: 'node:sqlite', reason: 'better-sqlite3 is not installed' }),
        '[]',
      ])
      // Node's own warning, once, on Node 22 only: sqlite() neither adds to it nor hides it.
      expect(warnings).toEqual(
        nodeMajor === 22
          ? [expect.stringContaining('ExperimentalWarning: SQLite is an experimental feature')]
          : [],
      )
      check(await suiteIn(project))
    },
    CHILD_TIMEOUT + 30_000,
  )

  withBetterSqlite3('a better-sqlite3 whose addon does not load', () =>
    test(
      'with a better-sqlite3 whose addon does not load: node:sqlite, the loader error as the reason, and the conformance suite passes',
      async () => {
        const project = await withBrokenBetterSqlite3()
        const { stdout } = await runIn(project, CHOOSE_AND_ROUND_TRIP)
        const [choice, found] = stdout.split('\n')
        const { driver, reason } = JSON.parse(choice!) as { driver: string; reason: string }
        expect(driver).toBe('node:sqlite')
        expect(reason).toMatch(
          new RegExp(
            `^better-sqlite3 12\\.\\d+\\.\\d+ cannot load on Node ${process.versions.node}: .*better_sqlite3\\.node`,
          ),
        )
        expect(found).toBe('[]')
        check(await suiteIn(project))
      },
      CHILD_TIMEOUT + 30_000,
    ),
  )
})

withBetterSqlite3('which driver sqlite(path) opens beside better-sqlite3', () =>
  describe('which driver sqlite(path) opens', () => {
    test('a working better-sqlite3 is the driver, and node:sqlite is not loaded (no ExperimentalWarning on Node 22)', async () => {
      const project = await withOurBetterSqlite3()
      const { stdout, warnings } = await runIn(project, CHOOSE_AND_ROUND_TRIP)
      expect(stdout.split('\n')).toEqual([JSON.stringify({ driver: 'better-sqlite3' }), '[]'])
      expect(warnings).toEqual([])
    })

    test.skipIf(missing === undefined)(
      'without node:sqlite (Node 20), a better-sqlite3 whose addon does not load: an IncompatibleDriverError that says npm rebuild',
      async () => {
        const project = await withBrokenBetterSqlite3()
        const { stdout } = await runIn(
          project,
          `import { KyselyStore } from 'kysely-session-store'
         import { sqlite, whichSqliteDriver } from 'kysely-session-store/sqlite'
         const error = await new KyselyStore(sqlite(':memory:'), 0).find('t').catch((e) => e)
         console.log(error.cause?.name + ': ' + error.cause?.message)
         const refused = await whichSqliteDriver().catch((e) => e)
         console.log(refused.name + ': ' + (refused.message === error.cause?.message))`,
        )
        const [found, which] = stdout.split('\n')
        expect(found).toMatch(
          new RegExp(
            `^IncompatibleDriverError: sqlite\\(\\): better-sqlite3 12\\.\\d+\\.\\d+ cannot load on Node ${process.versions.node}: .*better_sqlite3\\.node.*: run npm rebuild better-sqlite3 to build it for this Node \\(or use Node 22\\.13\\+, whose node:sqlite sqlite\\(\\) opens instead\\)$`,
          ),
        )
        expect(which).toBe('IncompatibleDriverError: true')
      },
    )
  }),
)
