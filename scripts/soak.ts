// Soak: minutes of mixed load on one KyselyStore with a cleanup every second, sampling
// memory, so that leaks and slow failures show. Not part of `npm test`.
//
//   npx tsx scripts/soak.ts --engine postgres|sqlite [--minutes 10]
//
// Prints operations, errors (must be 0), cleanup failures, and RSS over time (must level off).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Kysely } from 'kysely'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { KyselyStore, migrate } from '../src/index.js'

const { values } = parseArgs({
  options: { engine: { type: 'string', default: 'sqlite' }, minutes: { type: 'string', default: '10' } },
})
const minutes = Number(values.minutes)
if (!(minutes > 0) || !['postgres', 'sqlite'].includes(values.engine!)) {
  console.error('usage: npx tsx scripts/soak.ts --engine postgres|sqlite [--minutes 10]')
  process.exit(2)
}

const dir = mkdtempSync(join(tmpdir(), 'kss-soak-'))
const db: Kysely<any> =
  values.engine === 'postgres'
    ? postgres(process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test')
    : sqlite(join(dir, 'soak.db'))
const table = `soak_${process.pid}`
await migrate(db, { tableName: table })
let cleanupFailures = 0
const store = new KyselyStore(db, 1000, { tableName: table, onError: () => cleanupFailures++ })

const TOKENS = 50_000
const data = new Uint8Array(256).fill(42)
const counts = { find: 0, commit: 0, touch: 0, delete: 0, errors: 0 }
const end = Date.now() + minutes * 60_000
const started = Date.now()

async function worker(): Promise<void> {
  for (let i = 0; Date.now() < end; i++) {
    // Yield to timers and I/O now and then, as a server does between requests: better-sqlite3
    // is synchronous, and a loop of resolved promises alone would starve the cleanup timer.
    if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve))
    const token = `soak-${Math.floor(Math.random() * TOKENS)}`
    const roll = Math.random()
    try {
      if (roll < 0.85) {
        await store.find(token)
        counts.find++
      } else if (roll < 0.95) {
        // Expiries from 1 s ago to 30 s ahead: the cleanup always has rows to delete.
        await store.commit(token, data, new Date(Date.now() - 1000 + Math.random() * 31_000))
        counts.commit++
      } else if (roll < 0.98) {
        await store.touch(token, new Date(Date.now() + 30_000))
        counts.touch++
      } else {
        await store.delete(token)
        counts.delete++
      }
    } catch {
      counts.errors++
    }
  }
}

const samples: Array<{ minute: number; rssMiB: number; heapMiB: number; operations: number; rows: number }> =
  []
async function sample(): Promise<void> {
  const { rss, heapUsed } = process.memoryUsage()
  const rows = Number(
    (
      await db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirst()
    )?.n ?? 0,
  )
  samples.push({
    minute: Math.round(((Date.now() - started) / 60_000) * 10) / 10,
    rssMiB: Math.round(rss / 2 ** 20),
    heapMiB: Math.round(heapUsed / 2 ** 20),
    operations: counts.find + counts.commit + counts.touch + counts.delete,
    rows,
  })
}
const sampler = setInterval(() => void sample(), Math.max(5000, (minutes * 60_000) / 40))
await sample()
await Promise.all(Array.from({ length: values.engine === 'postgres' ? 8 : 4 }, worker))
clearInterval(sampler)
await sample()
await store.stopCleanup()
await db.schema.dropTable(table).execute()
await db.destroy()
rmSync(dir, { recursive: true, force: true })

const operations = counts.find + counts.commit + counts.touch + counts.delete
const third = Math.floor(samples.length / 3)
const mean = (list: typeof samples) => list.reduce((sum, s) => sum + s.rssMiB, 0) / Math.max(1, list.length)
const middle = mean(samples.slice(third, 2 * third))
const last = mean(samples.slice(2 * third))
const growth = middle > 0 ? (last - middle) / middle : 0
console.log('minute  rss MiB  heap MiB  operations  rows')
for (const s of samples) {
  console.log(
    `${String(s.minute).padStart(6)}  ${String(s.rssMiB).padStart(7)}  ${String(s.heapMiB).padStart(8)}  ${String(s.operations).padStart(10)}  ${s.rows}`,
  )
}
console.log(
  `soak ${values.engine}: ${minutes} min, ${operations} operations (${Math.round(operations / (minutes * 60))}/s; ` +
    `find ${counts.find}, commit ${counts.commit}, touch ${counts.touch}, delete ${counts.delete}), ` +
    `${counts.errors} errors, ${cleanupFailures} cleanup failures, RSS ${Math.round(middle)} -> ${Math.round(last)} MiB ` +
    `(middle third -> last third: ${(growth * 100).toFixed(1)}%)`,
)
process.exit(counts.errors === 0 && cleanupFailures === 0 && growth < 0.1 ? 0 : 1)
