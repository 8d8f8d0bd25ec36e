// Stops and restarts the local Postgres server under a mixed load on one KyselyStore, then
// checks what users rely on: statements caught by the outage are retried on new connections
// (within the default retryBudget of 5 s, so a 4 s outage costs requests a pause, not an
// error), any operation that does reject does so with SessionStoreError and a cause, nothing
// rejects unhandled, the same store works once the server is back, every commit that
// resolved is present, and the cleanup timer reported only through onError.
// Needs root (pg_ctlcluster), so it is a script that .ci/run calls, not part of `npm test`.
//
//   npx tsx scripts/fault-restart.ts
import { execFileSync } from 'node:child_process'
import { subscribe } from 'node:diagnostics_channel'
import { existsSync, readdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { postgres } from '../dialects/postgres.js'
import { KyselyStore, migrate, SessionStoreError } from '../src/index.js'

const url = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

if (!existsSync('/etc/postgresql') || process.getuid?.() !== 0) {
  console.log('fault-restart: skipped: needs root and a local cluster under /etc/postgresql')
  process.exit(process.env.CI === 'true' ? 1 : 0)
}
const version = readdirSync('/etc/postgresql')[0]!
const ctl = (action: 'stop' | 'start') =>
  execFileSync(
    'pg_ctlcluster',
    ['--skip-systemctl-redirect', version, 'main', action, ...(action === 'stop' ? ['-m', 'fast'] : [])],
    {
      stdio: 'pipe',
    },
  )

const unhandled: unknown[] = []
process.on('unhandledRejection', (reason) => unhandled.push(reason))
const printed: string[] = []
for (const level of ['log', 'warn', 'error'] as const) {
  const original = console[level].bind(console)
  console[level] = (...args: unknown[]) => {
    printed.push(args.map(String).join(' '))
    original(...args)
  }
}

const table = `fault_restart_${process.pid}`
const db = postgres(url)
await migrate(db, { tableName: table })
const timerErrors: unknown[] = []
const store = new KyselyStore(db, 50, { tableName: table, onError: (e) => timerErrors.push(e) })
const encode = (text: string) => new TextEncoder().encode(text)

let retried = 0
subscribe('kysely-session-store:retry', () => retried++)

const resolved = new Map<string, string>()
const failures: unknown[] = []
let operations = 0
let running = true
let n = 0
async function worker() {
  while (running) {
    const token = `restart-token-${n++}`
    const value = `restart-value-${token}`
    try {
      operations++
      await store.commit(token, encode(value), new Date(Date.now() + 3600_000))
      resolved.set(token, value)
      operations++
      await store.find(token)
    } catch (error) {
      failures.push(error)
      await sleep(20) // as an app would: do not spin while the database is away
    }
  }
}

const workers = Array.from({ length: 8 }, worker)
await sleep(1500)
const stoppedAt = Date.now()
ctl('stop')
console.log('fault-restart: server stopped')
await sleep(1500)
ctl('start')
const downtime = Date.now() - stoppedAt
console.log(`fault-restart: server started again after ${downtime} ms`)
await sleep(2500)
running = false
await Promise.all(workers)

const problems: string[] = []
const check = (ok: boolean, what: string) => ok || problems.push(what)
check(retried > 0 || failures.length > 0, 'no statement was retried or failed: the outage was not felt')
check(
  failures.every((e) => e instanceof SessionStoreError && e.cause !== undefined),
  'a failure was not a SessionStoreError with a cause',
)
try {
  await store.commit('after-restart', encode('ok'), new Date(Date.now() + 60_000))
  check(
    new TextDecoder().decode(await store.find('after-restart')) === 'ok',
    'the store did not work after the restart',
  )
} catch (error) {
  problems.push(`the store failed after the restart: ${String(error)}`)
}
const rows = await db.selectFrom(table).select(['token', 'data']).execute()
const stored = new Map(
  rows.map((row) => [row.token as string, new TextDecoder().decode(row.data as Uint8Array)]),
)
const lost = [...resolved].filter(([token, value]) => stored.get(token) !== value).length
check(lost === 0, `${lost} resolved commit(s) missing`)
check(
  timerErrors.every((e) => e instanceof SessionStoreError),
  'the timer reported something other than SessionStoreError',
)
check(unhandled.length === 0, `${unhandled.length} unhandled rejection(s)`)
const leaked = [...printed, ...failures.map(String), ...timerErrors.map(String)].some((line) =>
  /restart-(token|value)-/.test(line),
)
check(!leaked, 'a token or session data appeared in an error or a log line')

await store.stopCleanup()
await db.schema.dropTable(table).execute()
await db.destroy()

console.log(
  `fault-restart: ${operations} operations, ${retried} retries, ${failures.length} rejected during a ${downtime} ms outage, ` +
    `${resolved.size} commits resolved, ${lost} lost, ${timerErrors.length} cleanup failures to onError, ` +
    `${unhandled.length} unhandled rejections`,
)
if (problems.length > 0) {
  console.log(`fault-restart: FAILED: ${problems.join('; ')}`)
  process.exit(1)
}
console.log('fault-restart: passed')
