/*
 * The long model-based run: random sequences of store operations and clock moves on the
 * real engines, compared with the reference model of test/model.ts after every command,
 * until at least --ops store operations ran on each engine.
 *
 *   npx tsx scripts/model-run.ts --ops 100000 [--engine sqlite|pglite|postgres|mysql|all]
 *                                [--max-commands 60] [--seed N]
 *
 * Prints per engine: store operations, clock moves, runs, divergences, wall time. Exits 1
 * on a divergence (fast-check's shrunk counterexample is printed) or when an engine cannot
 * be opened, 2 on bad arguments. TEST_POSTGRES_URL and TEST_MYSQL_URL pick the servers.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { PGlite } from '@electric-sql/pglite'
import fc from 'fast-check'
import { sql, type Kysely } from 'kysely'
import { mysql } from '../dialects/mysql.js'
import { pglite } from '../dialects/pglite.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import type { FamilyName } from '../src/index.js'
import { modelProperty, newStats, type ModelStats } from '../test/model.js'
import { mysqlUrl, postgresUrl } from '../test/servers.js'

interface Leg {
  name: string
  family: FamilyName
  open(): Promise<Kysely<any>>
  close(db: Kysely<any>): Promise<void>
}

const usage =
  'usage: npx tsx scripts/model-run.ts --ops 100000 [--engine sqlite|pglite|postgres|mysql|all] [--max-commands 60] [--seed N]'

function fail(message: string): never {
  console.error(`${message}\n${usage}`)
  process.exit(2)
}

function positiveInteger(name: string, value: string | undefined, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n <= 0) fail(`--${name} must be a positive integer`)
  return n
}

let args: ReturnType<typeof parse>
function parse() {
  return parseArgs({
    options: {
      ops: { type: 'string' },
      engine: { type: 'string', default: 'all' },
      'max-commands': { type: 'string' },
      seed: { type: 'string' },
    },
    strict: true,
  }).values
}
try {
  args = parse()
} catch (error) {
  fail((error as Error).message)
}

const ops = positiveInteger('ops', args.ops)
const maxCommands = positiveInteger('max-commands', args['max-commands'], 60)
const firstSeed = args.seed === undefined ? undefined : Number(args.seed)
if (firstSeed !== undefined && !Number.isSafeInteger(firstSeed)) fail('--seed must be an integer')

const dir = mkdtempSync(join(tmpdir(), 'kss-model-run-'))
let sharedPGlite: PGlite | undefined
const destroy = (db: Kysely<any>) => db.destroy()

const engines: Record<string, Leg[]> = {
  sqlite: [
    { name: 'SQLite :memory:', family: 'sqlite', open: async () => sqlite(':memory:'), close: destroy },
    {
      name: 'SQLite file (WAL)',
      family: 'sqlite',
      open: async () => sqlite(join(dir, 'model.db')),
      close: destroy,
    },
  ],
  pglite: [
    {
      name: 'PGlite',
      family: 'postgres',
      open: async () => pglite((sharedPGlite = await PGlite.create())),
      close: async (db) => {
        await db.destroy()
        await sharedPGlite?.close()
      },
    },
  ],
  postgres: [
    { name: 'Postgres', family: 'postgres', open: async () => postgres(postgresUrl), close: destroy },
  ],
  mysql: [{ name: 'MariaDB/MySQL', family: 'mysql', open: async () => mysql(mysqlUrl), close: destroy }],
}

const selected = args.engine === 'all' ? Object.keys(engines) : [args.engine ?? 'all']
for (const name of selected) if (!(name in engines)) fail(`unknown --engine ${name}`)

interface Outcome {
  leg: string
  stats: ModelStats
  divergences: number
  seconds: number
  error?: string
}

/** Runs batches of property runs on one leg until `ops` store operations have run. */
async function runLeg(leg: Leg): Promise<Outcome> {
  const started = performance.now()
  const stats = newStats()
  const outcome = (divergences: number, error?: string): Outcome => ({
    leg: leg.name,
    stats,
    divergences,
    seconds: (performance.now() - started) / 1000,
    ...(error === undefined ? {} : { error }),
  })
  let db: Kysely<any>
  try {
    db = await leg.open()
    await sql`SELECT 1`.execute(db)
  } catch (error) {
    return outcome(0, `cannot open: ${(error as Error).message || String(error)}`)
  }
  try {
    let seed = firstSeed
    while (stats.operations < ops) {
      // A batch of runs on one seed, so that a failure can be replayed with --seed.
      const batchSeed = seed ?? (Math.random() * 2 ** 31) | 0
      seed = batchSeed + 1
      const details = await fc.check(modelProperty(db, leg.family, stats, maxCommands), {
        numRuns: 50,
        seed: batchSeed,
        includeErrorInReport: true,
      })
      if (details.failed) {
        const report = await fc.asyncDefaultReportMessage(details)
        return outcome(1, `divergence (batch seed ${batchSeed}, --max-commands ${maxCommands}):\n${report}`)
      }
    }
    return outcome(0)
  } finally {
    await leg.close(db)
  }
}

const outcomes: Outcome[] = []
try {
  for (const engine of selected) {
    for (const leg of engines[engine]!) {
      const outcome = await runLeg(leg)
      outcomes.push(outcome)
      const { operations, clockMoves, runs } = outcome.stats
      console.log(
        `${leg.name.padEnd(18)} operations ${String(operations).padStart(7)}  clock moves ${String(clockMoves).padStart(6)}  ` +
          `runs ${String(runs).padStart(5)}  divergences ${outcome.divergences}  time ${outcome.seconds.toFixed(1)} s`,
      )
      if (outcome.error !== undefined) console.error(outcome.error)
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
// Every pool, database and PGlite was closed above; exit explicitly all the same, so a
// stray driver handle can never keep the run from stopping.
process.exit(outcomes.some((o) => o.divergences > 0 || o.error !== undefined) ? 1 : 0)
