// Kysely 0.28, which npm picks on Node 20 for a bare `npm install kysely`: the built package
// in a fresh project whose `kysely` is 0.28.x (the kysely-028 alias), running the real
// conformance suite on SQLite and Postgres; the PGlite entry refuses with the version it needs.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, test } from 'vitest'
import { legMissing, legModules, missingLeg } from './leg-packages.js'
import { fixture, runEntry, type Fixture, type RunResult } from './runtime/bundle.js'
import { postgresUrl, withServer } from './servers.js'

const RUN_TIMEOUT = 240_000
// Kysely 0.28 is the kysely-028 alias of legs/drivers.
const missing = legMissing('drivers')
if (missing !== undefined) missingLeg('Kysely 0.28', missing)
const kysely028 = join(legModules('drivers'), 'kysely-028')
const version =
  missing === undefined
    ? (JSON.parse(readFileSync(join(kysely028, 'package.json'), 'utf8')) as { version: string }).version
    : ''

let project: Promise<Fixture> | undefined
afterAll(async () => (await project)?.remove())
const project$ = () =>
  (project ??= fixture({ kysely: kysely028, links: ['pg', 'better-sqlite3', '@electric-sql/pglite'] }))

async function suite(legs: string): Promise<RunResult> {
  const { dir, entry } = await project$()
  return runEntry(process.execPath, [entry], {
    cwd: dir,
    env: { LEGS: legs, TEST_POSTGRES_URL: postgresUrl },
    timeout: RUN_TIMEOUT,
  })
}

function check(result: RunResult): void {
  console.log(
    `${result.runtime} ran the suite: ${result.passed} tests passed (${result.failed} failed, ${result.skipped} skipped)`,
  )
  expect(result.failures.map((f) => `${f.name}: ${f.error?.slice(0, 500)}`)).toEqual([])
  expect(result.failed).toBe(0)
  expect(result.passed).toBeGreaterThan(40)
}

if (missing === undefined)
  describe(`Kysely ${version}`, () => {
    test('the project resolves kysely to 0.28, which has no PGliteDialect', async () => {
      expect(version).toMatch(/^0\.28\./)
      const { dir } = await project$()
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          "import * as k from 'kysely'; console.log(typeof k.Kysely, 'PGliteDialect' in k)",
        ],
        { cwd: dir, timeout: 20_000 },
      )
      expect(stdout.trim()).toBe('function false')
    })

    test(
      'the conformance suite passes on sqlite(path) and sqlite(":memory:")',
      async () => {
        check(await suite('sqlite-file,sqlite-memory'))
      },
      RUN_TIMEOUT + 10_000,
    )

    test('pglite() throws an IncompatibleDriverError naming the Kysely version it needs', async () => {
      const { dir } = await project$()
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { pglite, IncompatibleDriverError } from 'kysely-session-store/pglite'
         try { pglite(); console.log('no error') } catch (e) { console.log(e instanceof IncompatibleDriverError, e.message) }`,
        ],
        { cwd: dir, timeout: 20_000 },
      )
      expect(stdout.trim()).toBe(
        'true pglite(): kysely-session-store/pglite needs Kysely 0.29 or later (its PGliteDialect), and the installed Kysely has none: run npm install kysely@^0.29 (the other entries also work on 0.28)',
      )
    })
  })

if (missing === undefined)
  await withServer('Postgres', () => {
    test(
      `the conformance suite passes on postgres(connectionString) with Kysely ${version}`,
      async () => {
        check(await suite('postgres'))
      },
      RUN_TIMEOUT + 10_000,
    )
  })
