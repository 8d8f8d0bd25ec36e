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
import {
  makeTokens,
  operation,
  sample,
  summarize,
  workloads,
  type Contender,
  type Engine,
  type Sample,
} from './harness.js'
import {
  addRatios,
  chart,
  machine,
  markdown,
  targets,
  type Results,
  type Row,
  type Section,
} from './report.js'

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
  const live: { contender: Contender; rows: Row[] }[] = []
  for (const contender of engine.contenders) {
    const rows = sections.map((section) => {
      const row: Row = { contender: contender.name, role: contender.role, cells: {} }
      section.rows.push(row)
      return row
    })
    try {
      await contender.setup(tokens)
      // A first warm-up for the contender as a whole (JIT, pools, caches); each cell warms up too.
      const warm = operation('mixed 90/10', contender, tokens, 99, 'warm-')
      await sample(warm, Math.max(...engine.concurrency), settings.warmupSeconds * 2, 0)
      live.push({ contender, rows })
    } catch (error) {
      fail(engine, contender, rows, error)
    }
  }
  // Every cell is measured in rounds, the contenders taking turns in a rotating order, so
  // that a burst of noise from elsewhere on the machine does not land on one contender only.
  for (const [i, concurrency] of engine.concurrency.entries()) {
    for (const [w, workload] of workloads.entries()) {
      const ops = live.map(({ contender }) =>
        operation(workload, contender, tokens, 1 + w, `ins-${concurrency}-`),
      )
      const samples: Sample[][] = live.map(() => [])
      for (let round = 0; round < settings.rounds; round++) {
        for (let k = 0; k < live.length; k++) {
          const j = (k + round) % live.length
          const { contender, rows } = live[j]!
          if (rows[i]!.error !== undefined) continue
          try {
            const warmup = round === 0 ? settings.warmupSeconds : settings.warmupSeconds / 10
            samples[j]!.push(await sample(ops[j]!, concurrency, settings.seconds / settings.rounds, warmup))
          } catch (error) {
            fail(engine, contender, rows, error)
          }
        }
      }
      for (const [j, { contender, rows }] of live.entries()) {
        if (rows[i]!.error !== undefined || samples[j]!.length === 0) continue
        const cell = summarize(samples[j]!)
        rows[i]!.cells[workload] = cell
        console.log(
          `${engine.name} | ${concurrency} in flight | ${contender.name} | ${workload}: ` +
            `${Math.round(cell.opsPerSec)} ops/s, p50 ${cell.p50us.toFixed(0)} us, p99 ${cell.p99us.toFixed(0)} us`,
        )
      }
    }
  }
  for (const contender of engine.contenders) {
    await contender
      .close()
      .catch((error: unknown) => console.log(`closing ${contender.name} failed: ${String(error)}`))
  }
  await engine.close()
  for (const section of sections) addRatios(section)
  results.sections.push(...sections)
}

function fail(engine: Engine, contender: Contender, rows: Row[], error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  console.log(`${engine.name} | ${contender.name} failed: ${message}`)
  for (const row of rows) row.error = message
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
