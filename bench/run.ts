/**
 * The side-by-side benchmark: raw drivers, our KyselyStore (on our factories and on Kysely's
 * stock dialects) and the peers, on Postgres, SQLite (file and :memory:), PGlite and MariaDB,
 * one run, same data. `npm run bench` (or `npm run bench -- --quick` for a smoke run).
 * Writes bench/report/results.{json,md} and bench/report/chart.svg.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fixture, root } from '../test/runtime/bundle.js'
import { openLibsql, openLibsqlClient } from './engines/libsql.js'
import { openMysql } from './engines/mysql.js'
import { openPglite } from './engines/pglite.js'
import { openPgliteSocket } from './engines/pglite-socket.js'
import { openPostgres } from './engines/postgres.js'
import { openPostgresJs } from './engines/postgres-js.js'
import { openSqlite } from './engines/sqlite.js'
import { makeTokens, type Engine } from './harness.js'
import { measure } from './measure.js'
import { chart, machine, markdown, targets, type Results, type Section } from './report.js'

const quick = process.argv.includes('--quick')
const settings = {
  seconds: quick ? 0.3 : 1.5,
  warmupSeconds: quick ? 0.1 : 0.25,
  rounds: quick ? 1 : 5,
  sessions: quick ? 2_000 : 20_000,
  payloadBytes: 256,
  quick,
}
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length)

/**
 * The benchmark's SQLite line-up run inside Bun or Deno (their npm packages' binaries, in
 * legs/runtimes: npm run legs:install -- runtimes), on the built package bundled into a fresh
 * project; resolves to its sections.
 */
async function inRuntime(binary: string, args: readonly string[]): Promise<Section[]> {
  const project = await fixture({ links: [], entry: join(root, 'bench', 'runtime.ts') })
  try {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        join(root, 'legs', 'runtimes', 'node_modules', '.bin', binary),
        [...args, project.entry],
        {
          cwd: project.dir,
          env: { ...process.env, BENCH_SETTINGS: JSON.stringify(settings) },
          stdio: ['ignore', 'pipe', 'inherit'],
          timeout: 15 * 60_000,
        },
      )
      let stdout = ''
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString()
        process.stdout.write(chunk)
      })
      child.on('error', reject)
      child.on('close', (code) =>
        code === 0 ? resolve(stdout) : reject(new Error(`${binary} exited with ${code}`)),
      )
    })
    const line = output.split('\n').find((l) => l.startsWith('SECTIONS '))
    if (line === undefined) throw new Error(`${binary} printed no SECTIONS line`)
    return JSON.parse(line.slice('SECTIONS '.length)) as Section[]
  } finally {
    project.remove()
  }
}

/** Engines measured in this process (`open`), or in another runtime (`sections`). */
const engines: { name: string; open?: () => Promise<Engine>; sections?: () => Promise<Section[]> }[] = [
  { name: 'postgres', open: openPostgres },
  { name: 'sqlite-file', open: () => openSqlite(false) },
  { name: 'sqlite-memory', open: () => openSqlite(true) },
  { name: 'pglite', open: openPglite },
  { name: 'mariadb', open: openMysql },
  { name: 'postgres-js', open: openPostgresJs },
  { name: 'libsql', open: openLibsql },
  { name: 'libsql-client', open: openLibsqlClient },
  { name: 'pglite-socket', open: openPgliteSocket },
  { name: 'bun-sqlite', sections: () => inRuntime('bun', []) },
  {
    name: 'deno-sqlite',
    sections: () => inRuntime('deno', ['run', '--allow-read', '--allow-write', '--allow-env', '--allow-sys']),
  },
]

const results: Results = { machine: machine(), settings, sections: [], skipped: [], targets: [] }
const tokens = makeTokens(settings.sessions, 'sess-')
const started = Date.now()

for (const { name, open, sections } of engines) {
  if (only !== undefined && !only.split(',').includes(name)) continue
  let engine: Engine
  try {
    if (sections !== undefined) {
      results.sections.push(...(await sections()))
      continue
    }
    engine = await open!()
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    console.log(`skipping ${name}: ${reason}`)
    results.skipped.push({ engine: name, reason })
    continue
  }
  results.sections.push(...(await measure(engine, settings, tokens)))
}

results.targets = targets(results.sections)
const md = markdown(results)
const dir = new URL('./report/', import.meta.url)
mkdirSync(dir, { recursive: true })
writeFileSync(new URL('results.json', dir), `${JSON.stringify(results, null, 2)}\n`)
writeFileSync(new URL('results.md', dir), md)
writeFileSync(new URL('chart.svg', dir), chart(results))
console.log(`\n${md}`)
console.log(
  `done in ${((Date.now() - started) / 1000).toFixed(0)} s; wrote bench/report/results.{json,md} and chart.svg`,
)

// Every pool and database is closed above, so the process should exit by itself; if a
// dependency ever leaves a handle open, say so and exit anyway.
setTimeout(() => {
  console.log('warning: an open handle kept the process alive after the run; exiting')
  process.exit(0)
}, 5_000).unref()
