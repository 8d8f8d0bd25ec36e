// The conformance suite outside vitest: bundled by test/runtime/bundle.ts with 'vitest' mapped
// to ./vitest-shim.ts and the package's own modules mapped to the built package, then run by
// Bun, Deno, or Node in a project whose Kysely is another version. LEGS (comma separated)
// chooses the legs; the last stdout line is `RESULT <json>`, and the exit code is 0 only when
// tests ran and none failed.
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { mkdtempSync, rmSync } from 'node:fs'
import { pglite } from '../../dialects/pglite.js'
import { postgres } from '../../dialects/postgres.js'
import { sqlite, type NodeSqliteDatabase } from '../../dialects/sqlite.js'
import { conformance } from '../conformance.js'
import type { EngineLeg } from '../legs.js'
import { run } from './vitest-shim.js'

const runtime =
  (globalThis as { Bun?: unknown }).Bun !== undefined
    ? `Bun ${process.versions.bun}`
    : (globalThis as { Deno?: unknown }).Deno !== undefined
      ? `Deno ${process.versions.deno}`
      : `Node ${process.versions.node}`
const dir = mkdtempSync(join(tmpdir(), 'kss-runtime-'))
const postgresUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const given: Array<{ close(): void }> = []

/** bun:sqlite's Database on Bun, node:sqlite's DatabaseSync elsewhere. */
async function ownDatabase(path: string): Promise<NodeSqliteDatabase> {
  if ((globalThis as { Bun?: unknown }).Bun !== undefined) {
    const { Database } = (await import('bun:sqlite' as string)) as {
      Database: new (path: string) => NodeSqliteDatabase
    }
    return new Database(path)
  }
  const { DatabaseSync } = (await import('node:sqlite' as string)) as {
    DatabaseSync: new (path: string) => NodeSqliteDatabase
  }
  return new DatabaseSync(path)
}

const destroy = (db: { destroy(): Promise<void> }) => db.destroy()

const available: Record<string, EngineLeg> = {
  'sqlite-file': {
    name: `${runtime}, sqlite(path) on a file`,
    family: 'sqlite',
    open: () => sqlite(join(dir, 'sessions.db')),
    close: destroy,
  },
  'sqlite-memory': {
    name: `${runtime}, sqlite(':memory:')`,
    family: 'sqlite',
    open: () => sqlite(':memory:'),
    close: destroy,
  },
  // The runtime's own SQLite database, opened here and passed in: sqlite(database).
  'sqlite-given': {
    name: `${runtime}, sqlite(database) on the runtime's own SQLite`,
    family: 'sqlite',
    open: async () => {
      const database = await ownDatabase(join(dir, 'given.db'))
      given.push(database)
      return sqlite(database)
    },
    close: async (db) => {
      await db.destroy()
      for (const database of given.splice(0)) database.close()
    },
  },
  pglite: {
    name: `${runtime}, pglite() in memory`,
    family: 'postgres',
    open: () => pglite(),
    close: destroy,
  },
  postgres: {
    name: `${runtime}, postgres(connectionString)`,
    family: 'postgres',
    open: () => postgres(postgresUrl),
    close: destroy,
  },
}

const chosen = (process.env.LEGS ?? 'sqlite-file,sqlite-memory').split(',').filter(Boolean)
for (const name of chosen) {
  const leg = available[name]
  if (leg === undefined)
    throw new Error(`LEGS: unknown leg ${name}; known: ${Object.keys(available).join(', ')}`)
  conformance(leg)
}

/** Tests that do not apply in a runtime, with the reason (printed with the result). */
const skipped: Record<string, string> = JSON.parse(process.env.SKIP ?? '{}')
const outcomes = await run(skipped)
rmSync(dir, { recursive: true, force: true })
const count = (state: string) => outcomes.filter((o) => o.state === state).length
const result = {
  runtime,
  passed: count('passed'),
  failed: count('failed'),
  skipped: count('skipped'),
  failures: outcomes.filter((o) => o.state === 'failed'),
  skips: outcomes.filter((o) => o.state === 'skipped').map((o) => `${o.name}: ${o.error}`),
}
console.log(`RESULT ${JSON.stringify(result)}`)
process.exit(result.failed === 0 && result.passed > 0 ? 0 : 1)
