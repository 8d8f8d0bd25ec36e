// The conformance suite under Bun and under Deno (their npm packages, in legs/runtimes, ship
// the binaries), on the built package: test/runtime/entry.ts bundled with the real
// test/conformance.ts, run by the runtime in a fresh project; here we assert its result.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { installCommand, legModules, missingLeg } from './leg-packages.js'
import { fixture, runEntry, type Fixture, type RunResult } from './runtime/bundle.js'
import { postgresUrl, withServer } from './servers.js'

const RUN_TIMEOUT = 300_000

interface Runtime {
  name: string
  binary: string
  args: readonly string[]
  /** Tests of the suite that do not apply in this runtime, with the reason. */
  skip: Record<string, string>
}

const runtimes: Runtime[] = [
  {
    name: 'Bun',
    binary: join(legModules('runtimes'), '.bin', 'bun'),
    args: [],
    skip: {},
  },
  {
    name: 'Deno',
    binary: join(legModules('runtimes'), '.bin', 'deno'),
    // What the store needs: files (SQLite, PGlite's WASM), the network (Postgres), the
    // environment (pg reads PG* variables), and sys (os.hostname, for pg's defaults).
    args: ['run', '--allow-read', '--allow-write', '--allow-net', '--allow-env', '--allow-sys'],
    skip: {},
  },
]

function check(result: RunResult): void {
  console.log(
    `${result.runtime} ran the suite: ${result.passed} tests passed (${result.failed} failed, ${result.skipped} skipped)`,
  )
  for (const skip of result.skips) console.warn(`${result.runtime}: skipped ${skip}`)
  expect(result.failures.map((f) => `${f.name}: ${f.error?.slice(0, 500)}`)).toEqual([])
  expect(result.failed).toBe(0)
  expect(result.passed).toBeGreaterThan(40)
}

/** The runtimes that are installed; under CI=true a missing one is a failing test. */
const present = runtimes.filter((runtime) => {
  if (existsSync(runtime.binary)) return true
  const reason = `${runtime.binary} is missing: run ${installCommand('runtimes')}`
  missingLeg(runtime.name, reason)
  return false
})

// One project for every run of this file: the built package and the drivers, linked.
let project: Promise<Fixture> | undefined
afterAll(async () => (await project)?.remove())

function run(runtime: Runtime, legs: string): Promise<RunResult> {
  project ??= fixture({ links: ['pg', '@electric-sql/pglite', 'better-sqlite3'] })
  return project.then(({ dir, entry }) =>
    runEntry(runtime.binary, [...runtime.args, entry], {
      cwd: dir,
      env: { LEGS: legs, SKIP: JSON.stringify(runtime.skip), TEST_POSTGRES_URL: postgresUrl },
      timeout: RUN_TIMEOUT,
    }),
  )
}

describe.each(present.map((runtime) => [runtime.name, runtime] as const))(
  'the conformance suite under %s',
  (name, runtime) => {
    test(
      `sqlite(path) on a file and on :memory:, sqlite(database) on its own SQLite, and pglite(), under ${name}`,
      async () => check(await run(runtime, 'sqlite-file,sqlite-memory,sqlite-given,pglite')),
      RUN_TIMEOUT + 10_000,
    )
  },
)

// Only with a runtime present: a describe without tests fails.
if (present.length > 0)
  await withServer('Postgres', () => {
    for (const runtime of present) {
      test(
        `postgres(connectionString) under ${runtime.name}`,
        async () => check(await run(runtime, 'postgres')),
        RUN_TIMEOUT + 10_000,
      )
    }
  })
