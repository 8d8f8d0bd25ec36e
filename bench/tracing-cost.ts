/**
 * What the diagnostics_channel tracing costs a store call: a SQLite find with nobody
 * subscribed (the store checks one boolean) against the same find with a subscriber that does
 * nothing. CPU time per call in a tight loop, the two taking turns for 7 rounds, medians.
 *
 *   npx tsx bench/tracing-cost.ts
 */
import { tracingChannel } from 'node:diagnostics_channel'
import { sqlite } from '../dialects/sqlite.js'
import { KyselyStore, migrate, type StoreCall } from '../src/index.js'

const db = sqlite(':memory:')
await migrate(db)
const store = new KyselyStore(db, 0)
for (let i = 0; i < 1000; i++)
  await store.commit(`tok-${i}`, new Uint8Array(256), new Date(Date.now() + 3600_000))
const channel = tracingChannel<object, StoreCall>('kysely-session-store:call')
const handlers = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} }
const CALLS = 100_000

async function run(subscribed: boolean): Promise<number> {
  if (subscribed) channel.subscribe(handlers)
  for (let i = 0; i < 10_000; i++) await store.find(`tok-${i % 1000}`)
  const before = process.cpuUsage()
  for (let i = 0; i < CALLS; i++) await store.find(`tok-${i % 1000}`)
  const used = process.cpuUsage(before)
  if (subscribed) channel.unsubscribe(handlers)
  return (used.user + used.system) / CALLS
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const off: number[] = []
const on: number[] = []
for (let round = 0; round < 7; round++) {
  off.push(await run(false))
  on.push(await run(true))
}
console.log(`find, nobody subscribed: ${median(off).toFixed(2)} us`)
console.log(
  `find, a subscriber that does nothing: ${median(on).toFixed(2)} us (${(median(off) / median(on)).toFixed(2)}x the throughput)`,
)
console.log(`rounds, nobody subscribed: ${off.map((x) => x.toFixed(2)).join(', ')}`)
await db.destroy()
