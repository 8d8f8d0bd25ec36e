/**
 * The benchmark's SQLite line-up inside Bun or Deno: run.ts bundles this file onto the built
 * package (test/runtime/bundle.ts) and runs it in that runtime with BENCH_SETTINGS; the last
 * stdout line is `SECTIONS <json>`.
 */
import { openRuntimeSqlite } from './engines/runtime-sqlite.js'
import { makeTokens } from './harness.js'
import { measure, type Settings } from './measure.js'

const settings = JSON.parse(process.env['BENCH_SETTINGS'] ?? '{}') as Settings & { sessions: number }
const runtime =
  (globalThis as { Bun?: unknown }).Bun !== undefined
    ? `Bun ${process.versions['bun']}`
    : `Deno ${process.versions['deno']}`
const sections = await measure(
  await openRuntimeSqlite(runtime),
  settings,
  makeTokens(settings.sessions, 'sess-'),
)
console.log(`SECTIONS ${JSON.stringify(sections)}`)
process.exit(0)
