import { defineConfig } from 'vitest/config'

/**
 * Files that only `npm run test:all` runs: child processes, other runtimes, bundlers, a
 * browser, crash loops and faults, scale, other drivers and Kysely versions, Kysely's
 * Migrator, the importer. `npm test` is the core: the conformance suite on SQLite,
 * PGlite, Postgres and MariaDB, the session layer, the adapters, bad input.
 */
export const SLOW_FILES = [
  'test/bench-http.test.ts', // wrk against the HTTP apps
  'test/bundle.test.ts', // esbuild bundles of the package
  'test/crash-pglite.test.ts', // a writer killed over and over
  'test/crash-sqlite.test.ts',
  'test/demo.test.ts', // the demo app, and Chromium
  'test/docs.test.ts', // the documentation site, built and opened in Chromium
  'test/node-sqlite.test.ts', // fresh projects on the built package
  'test/postgres-versions.test.ts', // Postgres 14 to 18 servers of its own
  'test/import-cli.test.ts', // the importer's command line, in child processes
  'test/kysely-028.test.ts', // the suite bundled and run against Kysely 0.28
  'test/libsql.test.ts', // other drivers
  'test/postgres-js.test.ts',
  'test/pglite-socket.test.ts',
  'test/migrate-processes.test.ts', // migrate() in 4 processes at once
  'test/model.test.ts', // model-based runs
  'test/package.test.ts', // the packed package in child processes
  'test/pglite-testing.test.ts', // the PGlite test recipe, run by a child vitest
  'test/published-types.test.ts', // tsc on the published types
  'test/runtimes.test.ts', // Bun, Deno, workerd
  'test/d1.test.ts', // workerd with a local D1, through wrangler
  'test/neon.test.ts', // Neon's driver through a WebSocket proxy
  'test/codec-process.test.ts', // the codec's deepest value in a cold process
  'test/fastify-entry.test.ts', // the Fastify entry in a process without express-session
  'test/call-path.test.ts', // connections killed, servers paused, a process crashed
  'test/faults.test.ts', // connections terminated under load
  'test/timeouts.test.ts', // a server that never answers
  'test/devices-scale.test.ts', // listBySubject and trimBySubject at scale
  'test/migrator.test.ts', // Kysely's Migrator on every engine
  'test/import.test.ts', // the importer, from the peers' tables
  'test/import-upgrade.test.ts', // the importer's upgrade of version 0.1 tables
]

/**
 * The suite's configuration, without the files of `exclude`. `isolate: false` lets a worker
 * import Kysely, the drivers and our code once for all its files instead of once per file;
 * the core's files leave nothing behind in a module's state, while some slow ones (the PGlite
 * test recipe's own tests, which open the worker's PGlite from other templates) need a fresh
 * module registry, so `npm run test:all` isolates each file.
 */
export function suite(exclude: readonly string[], { isolate }: { isolate: boolean }) {
  return defineConfig({
    test: {
      include: ['test/**/*.test.ts'],
      // test/fixtures holds files that tests run in child processes, not tests of this suite.
      exclude: ['**/node_modules/**', 'test/fixtures/**', ...exclude],
      globalSetup: ['test/global-setup.ts'],
      pool: 'forks',
      isolate,
      // Two files at a time: most of a file's time is an engine or a child process working.
      maxWorkers: 2,
      testTimeout: 30_000,
      hookTimeout: 60_000,
      // The JSON report is what .ci/run counts; the default reporter is for people.
      reporters: ['default', 'json'],
      outputFile: { json: '.vitest-report.json' },
    },
  })
}

// npm test: the core.
export default suite(SLOW_FILES, { isolate: false })
