/**
 * The SessionManager's own cost per request, before and after a change, in one run:
 * `npx tsx bench/session.ts [--before <git ref>] [--rounds 7] [--ops 4000] [--only <scenario>]`.
 *
 * "before" is the source tree at a git ref (default: the commit before the logout and
 * performance work of issues 10 and 15), extracted into bench/tmp/; "after" is this working
 * tree; "old manager" is before's SessionManager on this tree's store, so that after / old
 * manager is the manager's own change and after / before includes the store's. Each request runs through `middleware()` on a real `http.ServerResponse` whose socket
 * discards what it is given (no network, no client), and ends when the response's real `end`
 * runs (after the session is saved). Scenarios:
 *
 * - save: a logged-in session increments a counter (a write per request), SQLite :memory:
 * - read, idleTimeout: reads a value with idleTimeout 30 minutes, SQLite :memory:
 * - read: reads a value, no idle timeout, SQLite :memory:
 * - read, memory store: the same on an in-memory store, so the manager's own cost shows
 *
 * Then hold() alone, before and after: the cost it adds to a response (against the same
 * response without it), with nothing to save and with a save that resolves at once.
 *
 * In each round the variants take turns in batches of 100 requests (in a rotating order);
 * the ratios are taken per round, and their medians are reported. Rates are requests per second of this process's CPU time
 * (user + system), which a busy shared machine disturbs far less than wall time. A benchmark, not a test: nothing is asserted.
 * Writes bench/report/session.md.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { IncomingMessage, ServerResponse } from 'node:http'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Duplex } from 'node:stream'

const root = join(import.meta.dirname, '..')
const { values: args } = parseArgs({
  options: {
    before: { type: 'string', default: 'c4ef128' },
    rounds: { type: 'string', default: '7' },
    ops: { type: 'string', default: '4000' },
    only: { type: 'string' },
  },
})
const ROUNDS = Number(args.rounds)
const OPS = Number(args.ops)
const SESSIONS = 1000
/** Requests a variant runs before the next takes its turn. */
const BATCH = 100

/** A SessionManager class, and the store (with its migrate and SQLite factory) under it. */
interface Variant {
  name: string
  SessionManager: any
  store: { KyselyStore: any; migrate: any; sqlite: (file: string) => any }
}

async function loadTree(dir: string) {
  const lib = await import(join(dir, 'src/index.ts'))
  const { sqlite } = await import(join(dir, 'dialects/sqlite.ts'))
  return {
    SessionManager: lib.SessionManager,
    store: { KyselyStore: lib.KyselyStore, migrate: lib.migrate, sqlite },
  }
}

function extract(ref: string): string {
  const sha = execFileSync('git', ['-C', root, 'rev-parse', '--short', ref], { encoding: 'utf8' }).trim()
  const dir = join(root, 'bench/tmp', `before-${sha}`)
  if (!existsSync(join(dir, 'src/index.ts'))) {
    mkdirSync(dir, { recursive: true })
    const archive = execFileSync('git', ['-C', root, 'archive', sha, 'src', 'dialects'])
    execFileSync('tar', ['-x', '-C', dir], { input: archive })
  }
  return dir
}

class NullSocket extends Duplex {
  override _read(): void {}
  override _write(_chunk: unknown, _encoding: unknown, callback: () => void): void {
    callback()
  }
}
const socket = new NullSocket()
const realEnd = ServerResponse.prototype.end

type Handler = (session: any, res: ServerResponse) => void

/** One request through the middleware; resolves when the response's real end() has run. */
function request(middleware: any, cookie: string, handler: Handler): Promise<void> {
  const req = new IncomingMessage(socket as never)
  req.method = 'GET'
  req.url = '/'
  req.headers = { cookie }
  const res = new ServerResponse(req)
  res.assignSocket(socket as never)
  return new Promise<void>((resolve, reject) => {
    // As an outer middleware (compression, logging) would: an own end() the manager wraps.
    res.end = function (this: ServerResponse, ...rest: unknown[]) {
      const result = realEnd.apply(this, rest as never)
      res.detachSocket(socket as never)
      resolve()
      return result
    } as never
    middleware(req, res, (error?: unknown) => {
      if (error) return reject(error)
      handler((req as any).session, res)
    })
  })
}

/** An in-memory store with the methods both variants may use. */
function memoryStore() {
  const rows = new Map<string, { data: Uint8Array; expiry: Date; subject: string | null }>()
  const live = (token: string) => {
    const row = rows.get(token)
    return row !== undefined && row.expiry.getTime() > Date.now() ? row : undefined
  }
  return {
    find: async (token: string) => live(token)?.data,
    get: async (token: string) => {
      const row = live(token)
      return row && { ...row, createdAt: null, lastSeenAt: null }
    },
    commit: async (token: string, data: Uint8Array, expiry: Date) => {
      rows.set(token, { data, expiry, subject: null })
    },
    update: async (token: string, data: Uint8Array, expiry: Date) => {
      const row = live(token)
      if (row) Object.assign(row, { data, expiry })
      return row !== undefined
    },
    touch: async (token: string, expiry: Date) => {
      const row = live(token)
      if (row) row.expiry = expiry
      return row !== undefined
    },
    delete: async (token: string) => void rows.delete(token),
    all: async () => new Map([...rows].map(([token, row]) => [token, row.data])),
  }
}

interface Scenario {
  name: string
  idleTimeout?: number
  memory?: boolean
  handler: Handler
}

const scenarios: Scenario[] = [
  {
    name: 'save',
    handler: (session, res) => {
      session.set('n', (session.get('n') ?? 0) + 1)
      res.end('ok')
    },
  },
  {
    name: 'read, idleTimeout',
    idleTimeout: 30 * 60_000,
    handler: (session, res) => res.end(String(session.get('n'))),
  },
  { name: 'read', handler: (session, res) => res.end(String(session.get('n'))) },
  {
    name: 'read, memory store',
    memory: true,
    handler: (session, res) => res.end(String(session.get('n'))),
  },
]

interface Setup {
  run: (ops: number) => Promise<number>
  close: () => Promise<void>
}

async function setup(variant: Variant, scenario: Scenario): Promise<Setup> {
  const { SessionManager } = variant
  const { KyselyStore, migrate } = variant.store
  let db: any
  let store: any
  if (scenario.memory) {
    store = memoryStore()
  } else {
    db = variant.store.sqlite(':memory:')
    await migrate(db)
    store = new KyselyStore(db, 0)
  }
  const options: Record<string, unknown> = { store, cookie: { secure: false } }
  if (scenario.idleTimeout !== undefined) options.idleTimeout = scenario.idleTimeout
  const manager = new SessionManager(options)
  const cookies: string[] = []
  for (let i = 0; i < SESSIONS; i++) {
    const session = await manager.load(undefined)
    session.set('n', i).set('user', `user-${i}`).set('roles', ['reader'])
    const headers: Array<[string, string]> = await manager.save(session)
    cookies.push(headers.find(([name]) => name === 'Set-Cookie')![1].split(';')[0]!)
  }
  const middleware = manager.middleware()
  let next = 0
  return {
    /** Runs `ops` requests; resolves to the CPU time they took, in microseconds. */
    async run(ops) {
      // CPU time of this process, not wall time: everything here runs in-process (SQLite,
      // the discarding socket), so it is the cost, and it does not count the time other
      // processes on a shared machine took the core away.
      const start = process.cpuUsage()
      for (let i = 0; i < ops; i++) {
        await request(middleware, cookies[next++ % SESSIONS]!, scenario.handler)
      }
      const used = process.cpuUsage(start)
      return used.user + used.system
    },
    close: async () => db?.destroy(),
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const before = await loadTree(extract(args.before!))
const after = await loadTree(root)
const variants: Variant[] = [
  { name: 'before', ...before },
  { name: 'old manager', SessionManager: before.SessionManager, store: after.store },
  { name: 'after', ...after },
]
const lines: string[] = []
const log = (line: string) => {
  lines.push(line)
  console.log(line)
}
log(
  `SessionManager per request: before (${args.before}), old manager (before's SessionManager on this tree's store) and after (this tree); ${ROUNDS} rounds of ${OPS} requests each`,
)
log('')
log(
  '| scenario | before req/CPU-s | old manager req/CPU-s | after req/CPU-s | after / before | after / old manager |',
)
log('| --- | ---: | ---: | ---: | ---: | ---: |')
for (const scenario of scenarios.filter((s) => args.only === undefined || s.name === args.only)) {
  const setups = await Promise.all(variants.map((variant) => setup(variant, scenario)))
  for (const each of setups) await each.run(OPS / 2) // warm-up
  const rates: number[][] = variants.map(() => [])
  const whole: number[] = []
  const manager: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    // Small batches, the variants taking turns in a rotating order, so that garbage one
    // leaves and noise from elsewhere land on every variant alike.
    const cpu = variants.map(() => 0)
    for (let batch = 0; batch < OPS / BATCH; batch++) {
      for (let i = 0; i < variants.length; i++) {
        const index = (batch + i) % variants.length
        cpu[index]! += await setups[index]!.run(BATCH)
      }
    }
    cpu.forEach((micros, index) => rates[index]!.push(OPS / (micros / 1e6)))
    whole.push(rates[2]![round]! / rates[0]![round]!)
    manager.push(rates[2]![round]! / rates[1]![round]!)
  }
  for (const each of setups) await each.close()
  const [b, o, a] = rates.map((r) => Math.round(median(r)))
  log(
    `| ${scenario.name} | ${b} | ${o} | ${a} | ${median(whole).toFixed(2)}x | ${median(manager).toFixed(2)}x |`,
  )
}
/** One response with `hold` (or none) around its end(); resolves when the real end() ran. */
function heldResponse(install: ((res: ServerResponse) => void) | undefined): Promise<void> {
  const req = new IncomingMessage(socket as never)
  const res = new ServerResponse(req)
  res.assignSocket(socket as never)
  return new Promise<void>((resolve) => {
    res.end = function (this: ServerResponse, ...rest: unknown[]) {
      const result = realEnd.apply(this, rest as never)
      res.detachSocket(socket as never)
      resolve()
      return result
    } as never
    install?.(res)
    res.end('ok')
  })
}

const oldHold = (await import(join(extract(args.before!), 'src/session/hold.ts'))).hold
const newHold = (await import(join(root, 'src/session/hold.ts'))).hold
log('')
log('hold() alone: CPU microseconds it adds to one response (the response without it as the base)')
log('')
log('| | before | after | after / before |')
log('| --- | ---: | ---: | ---: |')
for (const save of [false, true]) {
  const headers = save ? [['Set-Cookie', 'session=x']] : []
  const installs = [
    undefined,
    (res: ServerResponse) =>
      oldHold(
        res,
        () => Promise.resolve(headers),
        () => undefined,
      ),
    (res: ServerResponse) =>
      newHold(res, {}, { needsSave: () => save, save: async () => headers, report: () => undefined }),
  ]
  const cpu = installs.map(() => 0)
  const rounds = ROUNDS * 20
  for (let round = 0; round < rounds + 20; round++) {
    for (let i = 0; i < installs.length; i++) {
      const index = (round + i) % installs.length
      const start = process.cpuUsage()
      for (let n = 0; n < BATCH; n++) await heldResponse(installs[index])
      const used = process.cpuUsage(start)
      if (round >= 20) cpu[index]! += used.user + used.system // the first 20 warm up
    }
  }
  const [base, old, now] = cpu.map((micros) => micros / (rounds * BATCH))
  log(
    `| ${save ? 'with a save' : 'nothing to save'} | ${(old! - base!).toFixed(2)} us | ${(now! - base!).toFixed(2)} us | ${((now! - base!) / (old! - base!)).toFixed(2)}x |`,
  )
}

mkdirSync(join(root, 'bench/report'), { recursive: true })
writeFileSync(
  join(root, 'bench/report/session.md'),
  `${lines.join('\n')}\n\nNode ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()[0]!.toFixed(1)} at the end (2 cores). Ratios are medians of per-round ratios within one run; absolute rates are not comparable across runs.\n`,
)
