/**
 * The end-to-end HTTP benchmark of issue 15: `npm run bench:http` (about 10 minutes), or
 * `npm run bench:http -- --quick` (a smoke run, about 2 minutes). One Express 5 process per
 * contender, wrk in its own process cycling through the cookies of logged-in sessions,
 * interleaved rounds, medians of per-round ratios. Writes bench/report/http.{md,json,svg}.
 *
 * Flags: --quick, --rounds=N, --seconds=N (per cell and round), --sessions=N,
 * --connections=N, --threads=N (wrk's), --only=id,id (see contenders.ts; the references
 * connect-redis and no-sessions are always added).
 */
import { existsSync, readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createClient } from '../../legs/peers/index.js'
import { contenders as lineUp, routes, type Contender, type Route } from './contenders.js'
import { findWrk, login, runWrk, send, writeCookieFile, wrkVersion } from './load.js'
import { cpuMicros, killAll, startApp, type App } from './processes.js'
import { cellOf, references, type ContenderResult, type Results, type Sample } from './report.js'
import { postgresUrl, redisUrl, unavailable, Workspace } from './workspace.js'
import { writeReport } from './write-report.js'

const root = new URL('../../', import.meta.url)
const argv = process.argv.slice(2)
const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const number = (name: string, fallback: number) => {
  const text = flag(name)
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer, got ${JSON.stringify(text)}`)
    process.exit(2)
  }
  return value
}
const known = ['quick', 'rounds', 'seconds', 'sessions', 'connections', 'threads', 'only']
for (const arg of argv) {
  const name = /^--([a-z]+)/.exec(arg)?.[1]
  if (name === undefined || !known.includes(name)) {
    console.error(`unknown argument ${JSON.stringify(arg)}; flags: ${known.map((k) => `--${k}`).join(', ')}`)
    process.exit(2)
  }
}
const quick = argv.includes('--quick')
const settings = {
  rounds: number('rounds', quick ? 2 : 5),
  seconds: number('seconds', quick ? 1 : 3),
  warmupSeconds: quick ? 1 : 2,
  cellWarmupSeconds: quick ? 0 : 1,
  sessions: number('sessions', quick ? 1_000 : 10_000),
  connections: number('connections', 16),
  threads: number('threads', 1),
  quick,
}
if (settings.threads > settings.connections) {
  console.error('--threads must not exceed --connections (wrk gives each thread its own connections)')
  process.exit(2)
}

const wrk = findWrk()
if (wrk === undefined) {
  console.error(
    'wrk is not installed: this benchmark uses it as its load generator. ' +
      'Install it with `apt-get install wrk` (Debian/Ubuntu), or set WRK=/path/to/wrk.',
  )
  process.exit(1)
}
if (!existsSync(new URL('dist/src/index.js', root))) {
  console.error('dist/ is missing: run `npm run build` first (`npm run bench:http` does).')
  process.exit(1)
}

const only = flag('only')?.split(',')
if (only !== undefined) {
  const unknown = only.filter((id) => !lineUp.some((c) => c.id === id))
  if (unknown.length > 0) {
    console.error(
      `--only: unknown contender(s) ${unknown.join(', ')}; known: ${lineUp.map((c) => c.id).join(', ')}`,
    )
    process.exit(2)
  }
}
const wanted = lineUp.filter(
  (c) =>
    only === undefined || only.includes(c.id) || c.id === references.redis || c.id === references.ceiling,
)

const results: Results = {
  machine: {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
    loadBefore: loadavg(),
  },
  settings,
  versions: await versions(wrk),
  contenders: [],
  skipped: [],
  roundIndex: {},
  targets: [],
}

const started = Date.now()
const cells =
  settings.rounds * routes.length * wanted.length * (settings.seconds + settings.cellWarmupSeconds)
const warmups = wanted.length * routes.length * settings.warmupSeconds
console.log(
  `${wanted.length} contenders, ${settings.rounds} rounds x ${routes.length} routes x ${settings.seconds} s; ` +
    `measuring takes about ${Math.round((cells + warmups) / 60)} min after the logins`,
)

const workspace = new Workspace()
const apps = new Map<string, App>()
const cookieFiles = new Map<string, string>()
let cleaning: Promise<void> | undefined
const cleanUp = () =>
  (cleaning ??= (async () => {
    await Promise.all([...apps.values()].map((app) => app.stop()))
    await workspace.dispose()
  })())
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping the apps and removing the tables, keys and files`)
    void cleanUp()
      .catch((error: unknown) => console.error(String(error)))
      .finally(() => {
        killAll()
        process.exit(130)
      })
  })
}

try {
  const reasons = new Map<string, string | undefined>()
  for (const backend of new Set(wanted.map((c) => c.backend)))
    reasons.set(backend, await unavailable(backend))

  // Start every app and log its sessions in before anything is measured.
  for (const contender of wanted) {
    const reason = reasons.get(contender.backend)
    if (reason !== undefined) {
      console.log(`skipping ${contender.id}: ${reason}`)
      results.skipped.push({ id: contender.id, reason })
      continue
    }
    const result: ContenderResult = {
      id: contender.id,
      label: contender.label,
      backend: contender.backend,
      ours: contender.ours,
      cells: {},
    }
    results.contenders.push(result)
    try {
      const app = await startApp(contender, await workspace.prepare(contender))
      apps.set(contender.id, app)
      const t0 = Date.now()
      const count = contender.backend === 'none' ? 0 : settings.sessions
      const cookies = await login(app.url, count)
      result.loginSeconds = (Date.now() - t0) / 1000
      if (cookies.some((cookie) => cookie === null)) throw new Error('a login set no session cookie')
      await check(contender, app, cookies[0] ?? null)
      const file = join(workspace.dir, `${contender.id}.cookies`)
      writeCookieFile(file, contender.backend === 'none' ? new Array(settings.sessions).fill(null) : cookies)
      cookieFiles.set(contender.id, file)
      console.log(
        `${contender.id}: listening; ${count.toLocaleString('en-US')} sessions logged in ` +
          `in ${result.loginSeconds.toFixed(1)} s`,
      )
    } catch (error) {
      fail(result, error)
    }
  }

  await workspace.vacuum()

  const live = () => results.contenders.filter((c) => c.error === undefined)
  const appOf = (contender: ContenderResult) => apps.get(contender.id)!
  const measure = (contender: ContenderResult, route: Route, seconds: number) => {
    const app = appOf(contender)
    if (!app.alive) throw new Error(`its app exited: ${app.stderr.trim().split('\n').slice(-3).join(' | ')}`)
    return runWrk({
      wrk,
      base: app.url,
      path: route,
      cookieFile: cookieFiles.get(contender.id)!,
      seconds,
      connections: settings.connections,
      threads: settings.threads,
    })
  }

  // A warm-up per contender and route (JIT, pools, statement caches, the OS page cache).
  for (const contender of live()) {
    for (const route of routes) {
      try {
        await measure(contender, route, settings.warmupSeconds)
      } catch (error) {
        fail(contender, error)
      }
    }
  }

  // Interleaved rounds: within a round every contender takes its turn on a route, in an order
  // rotated from round to round, so that noise from elsewhere on the machine is spread evenly.
  const samples = new Map<string, Sample[]>()
  for (let round = 0; round < settings.rounds; round++) {
    for (const route of routes) {
      const turn = live()
      const shift = (round * Math.ceil(turn.length / settings.rounds)) % Math.max(1, turn.length)
      const order = [...turn.slice(shift), ...turn.slice(0, shift)]
      for (const contender of order) {
        if (contender.error !== undefined) continue
        try {
          if (settings.cellWarmupSeconds > 0) await measure(contender, route, settings.cellWarmupSeconds)
          const cpuBefore = cpuMicros(appOf(contender).pid)
          const r = await measure(contender, route, settings.seconds)
          const cpuAfter = cpuMicros(appOf(contender).pid)
          const sample: Sample = {
            round: round + 1,
            requests: r.requests,
            seconds: r.durationUs / 1e6,
            rps: r.requests / (r.durationUs / 1e6),
            p50Ms: r.p50Us / 1000,
            p99Ms: r.p99Us / 1000,
            socketErrors: r.socketErrors,
            non2xx: r.non2xx,
            ...(cpuBefore === undefined || cpuAfter === undefined || r.requests === 0
              ? {}
              : { cpuUsPerRequest: (cpuAfter - cpuBefore) / r.requests }),
          }
          const key = `${contender.id} ${route}`
          samples.set(key, [...(samples.get(key) ?? []), sample])
          const bad = sample.non2xx + sample.socketErrors
          console.log(
            `round ${round + 1}/${settings.rounds} | ${route.padEnd(6)} | ${contender.id.padEnd(28)} ` +
              `${Math.round(sample.rps).toLocaleString('en-US').padStart(7)} req/s, ` +
              `p50 ${sample.p50Ms.toFixed(2)} ms, p99 ${sample.p99Ms.toFixed(2)} ms` +
              (bad > 0 ? `, ${sample.non2xx} non-2xx and ${sample.socketErrors} socket errors` : ''),
          )
        } catch (error) {
          fail(contender, error)
        }
      }
    }
  }
  for (const contender of results.contenders) {
    for (const route of routes) {
      const list = samples.get(`${contender.id} ${route}`)
      if (list !== undefined && list.length > 0) contender.cells[route] = cellOf(list)
    }
  }
} finally {
  await cleanUp().catch((error: unknown) => console.error(`cleanup: ${String(error)}`))
}

results.machine.loadAfter = loadavg()
results.durationSeconds = (Date.now() - started) / 1000
const md = writeReport(results)
console.log(`\n${md}`)
console.log(`done in ${Math.round(results.durationSeconds)} s; wrote bench/report/http.{md,json,svg}`)
process.exitCode = results.contenders.some((c) => c.error !== undefined) ? 1 : 0

function fail(contender: ContenderResult, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error)
  console.log(`${contender.id} failed: ${message}`)
  contender.error = message
  void apps.get(contender.id)?.stop()
}

/** One logged-in session reads its own user back, and no cookie means no session (401). */
async function check(contender: Contender, app: App, cookie: string | null): Promise<void> {
  const read = await send(`${app.url}/read`, { cookie: cookie ?? undefined })
  if (read.status !== 200 || read.body !== 'user_0') {
    throw new Error(`GET /read with the first session's cookie answered ${read.status}, not 200 user_0`)
  }
  if (contender.backend === 'none') return
  const anonymous = await send(`${app.url}/read`)
  if (anonymous.status !== 401)
    throw new Error(`GET /read without a cookie answered ${anonymous.status}, not 401`)
}

/** Versions of what the run measures, for the report. */
async function versions(wrkPath: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {
    wrk:
      wrkVersion(wrkPath)
        .replace(/^wrk\s+/, '')
        .split(' ')[0] ?? '?',
  }
  for (const name of [
    'express',
    'express-session',
    'connect-redis',
    'redis',
    'better-sqlite3',
    'better-sqlite3-session-store',
    'connect-pg-simple',
    'pg',
    'kysely',
  ]) {
    try {
      // The peers' stores live in their own leg (legs/peers), the rest at the root.
      const file = [`node_modules/${name}/package.json`, `legs/peers/node_modules/${name}/package.json`]
        .map((path) => new URL(path, root))
        .find((url) => existsSync(url))
      if (file === undefined) throw new Error('not installed')
      out[name] = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
    } catch {
      out[name] = 'not installed'
    }
  }
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3_000 })
  try {
    await client.connect()
    out['Postgres'] = (
      (await client.query('SHOW server_version')).rows[0] as { server_version: string }
    ).server_version
    const { rows } = await client.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('autovacuum', 'synchronous_commit')",
    )
    for (const { name, setting } of rows) out[`Postgres ${name}`] = setting
  } catch {
    out['Postgres'] = 'unreachable'
  } finally {
    await client.end().catch(() => undefined)
  }
  const redis = createClient({ url: redisUrl, socket: { connectTimeout: 3_000, reconnectStrategy: false } })
  redis.on('error', () => undefined)
  try {
    await redis.connect()
    out['Redis'] = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?'
  } catch {
    out['Redis'] = 'unreachable'
  } finally {
    redis.destroy()
  }
  return out
}
