// What a test file's database costs, as a user sees it: vitest run on N generated test files,
// each opening a migrated store in beforeAll, committing and finding a session, and closing it.
// One run per way, in one process, side by side:
//
//   npm run bench:test-setup [-- --files 8 --workers 2]
//
// Per way: the whole vitest run's wall time (vitest's own per-file cost, workers, global
// set-up included) divided by N; the median time of a file's set-up (open + migrate) measured
// inside the file; and the peak resident memory (process.resourceUsage().maxRSS) of each
// worker process, and how many files each ran. Writes bench/report/test-setup.md.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const ROOT = join(import.meta.dirname, '..')
const { values } = parseArgs({
  options: { files: { type: 'string', default: '8' }, workers: { type: 'string', default: '2' } },
})
const FILES = Number(values.files)
const WORKERS = Number(values.workers)
const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

interface Way {
  name: string
  /** vitest's isolate option: true (its default) gives each file a process of its own. */
  isolate: boolean
  /** Writes the PGlite template in a global set-up. */
  template?: boolean
  /** The body of beforeAll: sets `db` (and `close`). */
  open: string
}

const src = (path: string) => JSON.stringify(join(ROOT, path))
const WAYS: Way[] = [
  {
    name: 'pglite() + migrate() per file',
    isolate: true,
    open: `const { pglite } = await import(${src('dialects/pglite.ts')})
      db = pglite(); await migrate(db); close = () => db.destroy()`,
  },
  {
    name: 'openPGliteTestDatabase, vitest default (a process per file)',
    isolate: true,
    template: true,
    open: `const { openPGliteTestDatabase } = await import(${src('dialects/pglite-testing.ts')})
      const t = await openPGliteTestDatabase({ template: process.env.PGLITE_TEMPLATE })
      db = t.db; close = () => t.close()`,
  },
  {
    name: 'openPGliteTestDatabase, isolate: false (the recipe)',
    isolate: false,
    template: true,
    open: `const { openPGliteTestDatabase } = await import(${src('dialects/pglite-testing.ts')})
      const t = await openPGliteTestDatabase({ template: process.env.PGLITE_TEMPLATE })
      db = t.db; close = () => t.close()`,
  },
  {
    name: 'openPGliteTestDatabase, isolate: false, template kept from the run before',
    isolate: false,
    template: true,
    open: `const { openPGliteTestDatabase } = await import(${src('dialects/pglite-testing.ts')})
      const t = await openPGliteTestDatabase({ template: process.env.PGLITE_TEMPLATE })
      db = t.db; close = () => t.close()`,
  },
  {
    name: "sqlite(':memory:') + migrate(), vitest default",
    isolate: true,
    open: `const { sqlite } = await import(${src('dialects/sqlite.ts')})
      db = sqlite(':memory:'); await migrate(db); close = () => db.destroy()`,
  },
  {
    name: "sqlite(':memory:') + migrate(), isolate: false",
    isolate: false,
    open: `const { sqlite } = await import(${src('dialects/sqlite.ts')})
      db = sqlite(':memory:'); await migrate(db); close = () => db.destroy()`,
  },
  {
    name: 'server Postgres, a table per file, vitest default',
    isolate: true,
    open: `const { postgres } = await import(${src('dialects/postgres.ts')})
      db = postgres(${JSON.stringify(POSTGRES_URL)}); tableName = 'setup_' + Math.random().toString(36).slice(2)
      await migrate(db, { tableName })
      close = async () => { await db.schema.dropTable(tableName).execute(); await db.destroy() }`,
  },
]

function testFile(way: Way, index: number, log: string): string {
  return `import { performance } from 'node:perf_hooks'
import { appendFileSync } from 'node:fs'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { KyselyStore, migrate } from ${src('src/index.ts')}

let db, close, store, tableName = 'sessions', setupMs = 0
beforeAll(async () => {
  const started = performance.now()
  ${way.open}
  store = new KyselyStore(db, 0, { tableName })
  setupMs = performance.now() - started
})
afterAll(async () => {
  await close()
  appendFileSync(${JSON.stringify(log)}, JSON.stringify({ file: ${index}, pid: process.pid, setupMs,
    maxRssKiB: process.resourceUsage().maxRSS }) + '\\n')
})
for (const n of [1, 2, 3]) {
  test('commit and find ' + n, async () => {
    await store.commit('t' + n, new Uint8Array([n]), new Date(Date.now() + 60_000))
    expect([...(await store.find('t' + n))]).toEqual([n]) // a Buffer on pg and SQLite, a Uint8Array on PGlite
  })
}
`
}

const GLOBAL_SETUP = `import { createPGliteTemplate } from ${src('dialects/pglite-testing.ts')}

export default async function setup() {
  // Kept for the next way's run (reuse: true), as a user keeps it between runs.
  process.env.PGLITE_TEMPLATE = await createPGliteTemplate(process.env.BENCH_TEMPLATE, { reuse: process.env.BENCH_REUSE === '1' })
}
`

interface Row {
  file: number
  pid: number
  setupMs: number
  maxRssKiB: number
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const mib = (kib: number) => Math.round(kib / 1024)

const base = join(ROOT, 'bench', 'tmp', `test-setup-${process.pid}`)
const results: Array<{ way: Way; wallMs: number; rows: Row[]; ok: boolean }> = []
try {
  for (const [w, way] of WAYS.entries()) {
    const dir = join(base, `way-${w}`)
    const log = join(dir, 'results.jsonl')
    mkdirSync(dir, { recursive: true })
    writeFileSync(log, '')
    for (let i = 0; i < FILES; i++) writeFileSync(join(dir, `f${i}.test.ts`), testFile(way, i, log))
    if (way.template) writeFileSync(join(dir, 'global-setup.ts'), GLOBAL_SETUP)
    writeFileSync(
      join(dir, 'vitest.config.ts'),
      `import { defineConfig } from 'vitest/config'
export default defineConfig({ test: { include: ['*.test.ts'], pool: 'forks', isolate: ${way.isolate},
  maxWorkers: ${WORKERS}, hookTimeout: 120_000, ${way.template ? "globalSetup: ['./global-setup.ts']," : ''} } })
`,
    )
    const started = Date.now()
    const run = spawnSync(join(ROOT, 'node_modules', '.bin', 'vitest'), ['run'], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        CI: '',
        BENCH_TEMPLATE: join(base, 'template.tar'),
        // Every way writes the template anew, except the one measuring a kept template.
        BENCH_REUSE: way.name.includes('kept') ? '1' : '0',
      },
    })
    const wallMs = Date.now() - started
    const rows = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Row)
    const ok = run.status === 0 && rows.length === FILES
    if (!ok) console.error(`${way.name}: vitest exited ${run.status}\n${run.stdout}\n${run.stderr}`)
    results.push({ way, wallMs, rows, ok })
    console.error(`${way.name}: ${(wallMs / 1000).toFixed(1)} s`)
  }
} finally {
  rmSync(base, { recursive: true, force: true })
}

const sqliteDefault = results.find((r) =>
  r.way.name.startsWith("sqlite(':memory:') + migrate(), vitest default"),
)
const lines = [
  `# Test set-up: a migrated store per test file`,
  '',
  `vitest ${FILES} files, maxWorkers ${WORKERS}, pool forks; each file opens a store in beforeAll, runs 3 commit+find tests, closes it.`,
  `${cpus().length} cores, Node ${process.version}, load average at the end ${loadavg()[0]!.toFixed(1)}. One run; read ratios, not absolute times.`,
  '',
  '| way | wall per file | vs sqlite(:memory:) | set-up in the file (median) | processes | files per process | peak RSS per process (max) |',
  '|---|---|---|---|---|---|---|',
]
for (const { way, wallMs, rows, ok } of results) {
  const pids = new Map<number, Row[]>()
  for (const row of rows) pids.set(row.pid, [...(pids.get(row.pid) ?? []), row])
  const peak = Math.max(...[...pids.values()].map((r) => Math.max(...r.map((x) => x.maxRssKiB))))
  const perFile = wallMs / FILES
  const ratio = sqliteDefault ? perFile / (sqliteDefault.wallMs / FILES) : NaN
  lines.push(
    `| ${way.name}${ok ? '' : ' (FAILED)'} | ${Math.round(perFile)} ms | ${ratio.toFixed(2)}x | ${Math.round(median(rows.map((r) => r.setupMs)))} ms | ${pids.size} | ${(rows.length / Math.max(1, pids.size)).toFixed(1)} | ${mib(peak)} MiB |`,
  )
}
const report = lines.join('\n') + '\n'
console.log(report)
mkdirSync(join(ROOT, 'bench', 'report'), { recursive: true })
writeFileSync(join(ROOT, 'bench', 'report', 'test-setup.md'), report)
