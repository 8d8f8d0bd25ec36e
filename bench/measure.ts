/**
 * One engine's line-up measured cell by cell: shared by `run.ts` (Node) and `runtime.ts`
 * (the same loop inside Bun or Deno).
 */
import {
  operation,
  sample,
  summarize,
  workloads,
  type Contender,
  type Engine,
  type Sample,
} from './harness.js'
import { addRatios, type Row, type Section } from './report.js'

export interface Settings {
  readonly seconds: number
  readonly warmupSeconds: number
  readonly rounds: number
}

/** Measures every contender of `engine` on every workload, then closes them and the engine. */
export async function measure(
  engine: Engine,
  settings: Settings,
  tokens: readonly string[],
): Promise<Section[]> {
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
  return sections
}

function fail(engine: Engine, contender: Contender, rows: Row[], error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  console.log(`${engine.name} | ${contender.name} failed: ${message}`)
  for (const row of rows) row.error = message
}
