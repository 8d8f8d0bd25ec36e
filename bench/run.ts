/**
 * The side-by-side benchmark: raw drivers, our KyselyStore (on our factories and on Kysely's
 * stock dialects) and the peers, on Postgres, SQLite (file and :memory:), PGlite and MariaDB,
 * one run, same data. `npm run bench` (or `npm run bench -- --quick` for a smoke run).
 * Writes bench/report/results.{json,md} and bench/report/chart.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { openMysql } from './engines/mysql.js'
import { openPglite } from './engines/pglite.js'
import { openPostgres } from './engines/postgres.js'
import { openSqlite } from './engines/sqlite.js'
import { makeTokens, measure, operation, workloads, type Engine } from './harness.js'
import { addRatios, chart, machine, markdown, targets, type Results, type Section } from './report.js'

const quick = process.argv.includes('--quick')
const settings = {
  seconds: quick ? 0.3 : 1.5,
  warmupSeconds: quick ? 0.1 : 0.25,
  sessions: quick ? 2_000 : 20_000,
  payloadBytes: 256,
  quick,
}
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length)

const engines: { name: string; open: () => Promise<Engine> }[] = [
  { name: 'postgres', open: openPostgres },
  { name: 'sqlite-file', open: () => openSqlite(false) },
  { name: 'sqlite-memory', open: () => openSqlite(true) },
  { name: 'pglite', open: openPglite },
  { name: 'mariadb', open: openMysql },
]

const results: Results = { machine: machine(), settings, sections: [], skipped: [], targets: [] }
const tokens = makeTokens(settings.sessions, 'sess-')
const started = Date.now()

for (const { name, open } of engines) {
  if (only !== undefined && !only.split(',').includes(name)) continue
  let engine: Engine
  try {
    engine = await open()
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    console.log(`skipping ${name}: ${reason}`)
    results.skipped.push({ engine: name, reason })
    continue
  }
  const sections: Section[] = engine.concurrency.map((concurrency) => ({
    engine: engine.name,
    concurrency,
    rows: [],
  }))
  for (const contender of engine.contenders) {
    const rows = sections.map((section) => {
      const row = { contender: contender.name, role: contender.role, cells: {} }
      section.rows.push(row)
      return row as Section['rows'][number]
    })
    try {
      await contender.setup(tokens)
      // A first warm-up for the contender as a whole (JIT, pools, caches), then one per cell.
      const warm = operation('mixed 90/10', contender, tokens, 99, 'warm-')
      await measure(warm, Math.max(...engine.concurrency), settings.warmupSeconds * 2, 0)
      for (const [i, concurrency] of engine.concurrency.entries()) {
        for (const [w, workload] of workloads.entries()) {
          const op = operation(workload, contender, tokens, 1 + w, `ins-${concurrency}-`)
          const cell = await measure(op, concurrency, settings.seconds, settings.warmupSeconds)
          rows[i]!.cells[workload] = cell
          console.log(
            `${engine.name} | ${concurrency} in flight | ${contender.name} | ${workload}: ` +
              `${Math.round(cell.opsPerSec)} ops/s, p50 ${cell.p50us.toFixed(0)} us, p99 ${cell.p99us.toFixed(0)} us`,
          )
        }
      }
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      console.log(`${engine.name} | ${contender.name} failed: ${message}`)
      for (const row of rows) row.error = message
    } finally {
      await contender
        .close()
        .catch((error: unknown) => console.log(`closing ${contender.name} failed: ${String(error)}`))
    }
  }
  await engine.close()
  for (const section of sections) addRatios(section)
  results.sections.push(...sections)
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
