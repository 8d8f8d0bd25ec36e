/**
 * Where the time of one SQLite find goes: the raw prepared statement; the same text through
 * Kysely's executeQuery on our sqlite() factory (its statement cache), the path of a caller's
 * own queries; and the store's find (validation, the tracing check, reading the bytes), which
 * on sqlite() runs its statement on the database at once while nobody holds the connection.
 * CPU time per call in a tight loop, layers taking turns for 5 rounds, medians; a SQLite file
 * (WAL, synchronous=NORMAL) holding 20,000 sessions, as `npm run bench`'s SQLite file cell.
 *
 * The store is the built package (bench/ours.ts): `npm run build` first.
 *
 *   npm run build && npx tsx bench/find-breakdown.ts
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { CompiledQuery } from 'kysely'
import { KyselyStore, migrate, sqlite } from './ours.js'

const SESSIONS = 20_000
const CALLS = 100_000
const dir = mkdtempSync(join(tmpdir(), 'kss-find-'))
const file = join(dir, 'find.db')
const db = sqlite(file)
await migrate(db)
const store = new KyselyStore(db, 0)
const data = new Uint8Array(256).fill(7)
const expiry = new Date(Date.now() + 3600_000)
for (let i = 0; i < SESSIONS; i++) await store.commit(`tok-${i}`, data, expiry)
const raw = new Database(file)
const text = 'SELECT data FROM "sessions" WHERE token = ? AND expiry > ? AND ended_at IS NULL'
const statement = raw.prepare(text)

const layers: Array<[string, (i: number) => unknown]> = [
  ['raw better-sqlite3 get, prepared once', (i) => statement.get(`tok-${i % SESSIONS}`, Date.now())],
  [
    'Kysely executeQuery on sqlite()',
    (i) => db.executeQuery(CompiledQuery.raw(text, [`tok-${i % SESSIONS}`, Date.now()])),
  ],
  ['KyselyStore.find', (i) => store.find(`tok-${i % SESSIONS}`)],
]
const times = new Map<string, number[]>(layers.map(([name]) => [name, []]))
for (let round = 0; round < 5; round++) {
  for (const [name, call] of layers) {
    for (let i = 0; i < 10_000; i++) await call(i)
    const before = process.cpuUsage()
    for (let i = 0; i < CALLS; i++) await call(i)
    const used = process.cpuUsage(before)
    times.get(name)!.push((used.user + used.system) / CALLS)
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const rawMedian = median(times.get(layers[0]![0])!)
console.log('| layer | CPU us per find (median of 5) | x raw | over raw |')
console.log('| --- | ---: | ---: | ---: |')
for (const [name] of layers) {
  const us = median(times.get(name)!)
  const over = us - rawMedian
  console.log(
    `| ${name} | ${us.toFixed(2)} | ${(rawMedian / us).toFixed(2)}x | ${name === layers[0]![0] ? '' : `${over >= 0 ? '+' : ''}${over.toFixed(2)}`} |`,
  )
}
raw.close()
await db.destroy()
rmSync(dir, { recursive: true, force: true })
