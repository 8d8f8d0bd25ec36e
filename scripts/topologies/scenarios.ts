// The topology scenarios: each starts its servers, runs a mixed load (and a fault), tears
// everything down, and returns its figures. test/topologies/ asserts on them; run.ts prints them.
import { randomBytes } from 'node:crypto'
import { postgres } from '../../dialects/postgres.js'
import { KyselyStore, migrate } from '../../src/index.js'
import { Load, readTable, type LoadFigures } from './load.js'
import { startPgBouncer, type PoolMode } from './pgbouncer.js'

export interface ScenarioOptions {
  seconds: number
  mode?: PoolMode
}

export interface ScenarioResult extends Omit<LoadFigures, 'firstRejections'> {
  topology: string
  lost: number
  lostExamples: string[]
  rejectedPerSecond: number
  firstRejections: string[]
  [extra: string]: unknown
}

export const topologyTable = () => `topo_${randomBytes(5).toString('hex')}`

function summarise(topology: string, figures: LoadFigures, lost: { lost: number; examples: string[] }) {
  return {
    topology,
    ...figures,
    lost: lost.lost,
    lostExamples: lost.examples,
    rejectedPerSecond: Math.round((figures.rejected / Math.max(figures.elapsedMs, 1)) * 10_000) / 10,
    firstRejections: figures.firstRejections.map((r) => `${r.operation}: ${r.message}`),
  }
}

/** 8 workers of mixed load through PgBouncer (pool size 2) with postgres(). */
export async function pgbouncerLoad(options: ScenarioOptions): Promise<ScenarioResult> {
  const mode = options.mode ?? 'transaction'
  const bouncer = await startPgBouncer(mode, { poolSize: mode === 'transaction' ? 2 : 10 })
  const db = postgres(bouncer.url, { poolSize: 8 })
  const table = topologyTable()
  try {
    await migrate(db, { tableName: table })
    const store = new KyselyStore(db, 0, { tableName: table })
    const load = new Load({ workers: 8, writer: () => store, reader: () => store })
    const figures = await load.runFor(options.seconds * 1000)
    return summarise(`PgBouncer 1.18, ${mode} mode`, figures, load.lostWrites(await readTable(db, table)))
  } finally {
    await db.schema
      .dropTable(table)
      .ifExists()
      .execute()
      .catch(() => undefined)
    await db.destroy()
    await bouncer.stop()
  }
}

export const scenarios = {
  pgbouncer: pgbouncerLoad,
}
export type ScenarioName = keyof typeof scenarios
