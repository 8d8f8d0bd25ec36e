/**
 * The SessionManager's own cost per request, before and after a change, in one run:
 * `npx tsx bench/session.ts [--before <git ref>] [--rounds 5] [--ops 20000] [--only <scenario>]`.
 *
 * Variants: "before" is the source tree at a git ref (default: the commit before the logout
 * and performance work of issues 10 and 15), extracted into bench/tmp/; "after" is this
 * working tree; "old manager" is before's SessionManager on this tree's store, so that
 * after / old manager is the manager's own change and after / before includes the store's;
 * "before, again" repeats before, so that its ratio to before shows the noise.
 *
 * Each request runs through `middleware()` on a real `http.ServerResponse` whose socket
 * discards what it is given (no network, no client), and ends when the response's real
 * `end` runs (after the session is saved). Scenarios, on SQLite :memory: with 1,000 sessions:
 *
 * - save: a logged-in session increments a counter (a write per request)
 * - read, idleTimeout: reads a value with idleTimeout 30 minutes
 * - read: reads a value, no idle timeout
 *
 * Each measurement is a child process of its own (so that no variant's code shares JIT
 * state with another's) that warms up, then runs `--ops` requests and reports the CPU time
 * they took (user + system: everything runs in-process, so that is the cost, and a busy
 * shared machine disturbs it far less than wall time). Rounds run every variant once, in a
 * rotating order; a variant's rate is the median over rounds.
 *
 * Then hold() alone, before and after, in this process: the CPU it adds to one response
 * (against the same response without it), with nothing to save and with a save that
 * resolves at once.
 *
 * A benchmark, not a test: nothing is asserted. Writes bench/report/session.md.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { IncomingMessage, ServerResponse } from 'node:http'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { Duplex } from 'node:stream'
import { parseArgs } from 'node:util'

const root = join(import.meta.dirname, '..')
const { values: args } = parseArgs({
  options: {
    before: { type: 'string', default: 'c4ef128' },
    rounds: { type: 'string', default: '5' },
    ops: { type: 'string', default: '20000' },
    only: { type: 'string' },
    child: { type: 'string' }, // internal: "<variant>/<scenario>"
  },
})
const ROUNDS = Number(args.rounds)
const OPS = Number(args.ops)
const SESSIONS = 1000
const BATCH = 100

/** The source tree at `ref`, extracted once into bench/tmp/. */
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

/** A response whose real end() resolves the promise, as an outer middleware's own end(). */
function response(cookie: string | undefined): {
  req: IncomingMessage
  res: ServerResponse
  ended: Promise<void>
} {
  const req = new IncomingMessage(socket as never)
  req.method = 'GET'
  req.url = '/'
  req.headers = cookie === undefined ? {} : { cookie }
  const res = new ServerResponse(req)
  res.assignSocket(socket as never)
  const ended = new Promise<void>((resolve) => {
    res.end = function (this: ServerResponse, ...rest: unknown[]) {
      const result = realEnd.apply(this, rest as never)
      res.detachSocket(socket as never)
      resolve()
      return result
    } as never
  })
  return { req, res, ended }
}

type Handler = (session: any, res: ServerResponse) => void

const scenarios: Record<string, { idleTimeout?: number; handler: Handler }> = {
  save: {
    handler: (session, res) => {
      session.set('n', (session.get('n') ?? 0) + 1)
      res.end('ok')
    },
  },
  'read, idleTimeout': {
    idleTimeout: 30 * 60_000,
    handler: (session, res) => res.end(String(session.get('n'))),
  },
  read: { handler: (session, res) => res.end(String(session.get('n'))) },
}

const variants = ['before', 'old manager', 'after', 'before, again'] as const

/** In a child: one variant, one scenario; prints the CPU microseconds of `OPS` requests. */
async function child(variant: string, name: string): Promise<void> {
  const beforeDir = extract(args.before!)
  const managerDir = variant === 'after' ? root : beforeDir
  const storeDir = variant === 'after' || variant === 'old manager' ? root : beforeDir
  const { SessionManager } = await import(join(managerDir, 'src/index.ts'))
  const { KyselyStore, migrate } = await import(join(storeDir, 'src/index.ts'))
  const { sqlite } = await import(join(storeDir, 'dialects/sqlite.ts'))
  const scenario = scenarios[name]!
  const db = sqlite(':memory:')
  await migrate(db)
  const options: Record<string, unknown> = { store: new KyselyStore(db, 0), cookie: { secure: false } }
  if (scenario.idleTimeout !== undefined) options.idleTimeout = scenario.idleTimeout
  const manager = new SessionManager(options)
  const cookies: string[] = []
  for (let i = 0; i < SESSIONS; i++) {
    const session = await manager.load(undefined)
    session.set('n', i).set('user', `user-${i}`).set('roles', ['reader'])
    const headers: Array<[string, string]> = await manager.save(session)
    cookies.push(headers.find(([header]) => header === 'Set-Cookie')![1].split(';')[0]!)
  }
  const middleware = manager.middleware()
  const run = async (ops: number) => {
    for (let i = 0; i < ops; i++) {
      const { req, res, ended } = response(cookies[i % SESSIONS])
      middleware(req, res, () => scenario.handler((req as any).session, res))
      await ended
    }
  }
  await run(OPS / 2) // warm-up
  const start = process.cpuUsage()
  await run(OPS)
  const used = process.cpuUsage(start)
  await db.destroy()
  console.log(JSON.stringify({ micros: used.user + used.system }))
}

/** hold() alone: CPU microseconds it adds to one response, before and after. */
async function holdAlone(): Promise<Array<[string, number, number]>> {
  const oldHold = (await import(join(extract(args.before!), 'src/session/hold.ts'))).hold
  const newHold = (await import(join(root, 'src/session/hold.ts'))).hold
  const rows: Array<[string, number, number]> = []
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
    const batches = ROUNDS * 100
    for (let batch = 0; batch < batches + 20; batch++) {
      for (let i = 0; i < installs.length; i++) {
        const index = (batch + i) % installs.length
        const start = process.cpuUsage()
        for (let n = 0; n < BATCH; n++) {
          const { res, ended } = response(undefined)
          installs[index]?.(res)
          res.end('ok')
          await ended
        }
        const used = process.cpuUsage(start)
        if (batch >= 20) cpu[index]! += used.user + used.system // the first 20 warm up
      }
    }
    const [base, old, now] = cpu.map((micros) => micros / (batches * BATCH))
    rows.push([save ? 'with a save' : 'nothing to save', old! - base!, now! - base!])
  }
  return rows
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

if (args.child !== undefined) {
  const [variant, scenario] = args.child.split('/') as [string, string]
  await child(variant, scenario)
} else {
  extract(args.before!)
  const lines: string[] = []
  const log = (line: string) => {
    lines.push(line)
    console.log(line)
  }
  log(
    `SessionManager per request, before (${args.before}) and after (this tree): ${ROUNDS} rounds of ${OPS} requests per variant, each in a child process of its own`,
  )
  log('')
  log(
    '| scenario | before req/CPU-s | old manager req/CPU-s | after req/CPU-s | after / before | after / old manager | noise: before, again / before |',
  )
  log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const name of Object.keys(scenarios).filter((s) => args.only === undefined || s === args.only)) {
    const rates: number[][] = variants.map(() => [])
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < variants.length; i++) {
        const index = (round + i) % variants.length
        const output = execFileSync(
          process.execPath,
          [
            '--import',
            'tsx',
            join(root, 'bench/session.ts'),
            '--child',
            `${variants[index]}/${name}`,
            '--before',
            args.before!,
            '--ops',
            String(OPS),
          ],
          { cwd: root, encoding: 'utf8', timeout: 300_000 },
        )
        const { micros } = JSON.parse(output.trim().split('\n').at(-1)!) as { micros: number }
        rates[index]!.push(OPS / (micros / 1e6))
      }
    }
    const [b, o, a, again] = rates.map(median)
    log(
      `| ${name} | ${Math.round(b!)} | ${Math.round(o!)} | ${Math.round(a!)} | ${(a! / b!).toFixed(2)}x | ${(a! / o!).toFixed(2)}x | ${(again! / b!).toFixed(2)}x |`,
    )
  }
  log('')
  log('hold() alone: CPU microseconds it adds to one response (the response without it as the base)')
  log('')
  log('| | before | after | after / before |')
  log('| --- | ---: | ---: | ---: |')
  for (const [label, old, now] of await holdAlone()) {
    log(`| ${label} | ${old.toFixed(2)} us | ${now.toFixed(2)} us | ${(now / old).toFixed(2)}x |`)
  }
  mkdirSync(join(root, 'bench/report'), { recursive: true })
  writeFileSync(
    join(root, 'bench/report/session.md'),
    `${lines.join('\n')}\n\nNode ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()[0]!.toFixed(1)} at the end (2 cores, shared). Ratios are within one run; absolute rates are not comparable across runs.\n`,
  )
}
