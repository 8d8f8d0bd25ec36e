/** Ratios, targets, and the Markdown, JSON and SVG of one end-to-end benchmark run. */
import type { Backend } from './contenders.js'
import { routes, type Route } from './contenders.js'

/** One contender on one route in one round: one wrk run. */
export interface Sample {
  readonly round: number
  readonly requests: number
  readonly seconds: number
  readonly rps: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly socketErrors: number
  /** Answers other than 2xx/3xx: a session that was not found answers 401. */
  readonly non2xx: number
  /**
   * The app's CPU time (user + system, from /proc) during the run over its requests, in
   * microseconds: what the app spends per request, which other processes on the machine move
   * far less than they move req/s. Linux only.
   */
  readonly cpuUsPerRequest?: number
}

/** The contenders other cells are compared with, by id. */
export const references = {
  redis: 'connect-redis',
  ceiling: 'no-sessions',
  bss: 'better-sqlite3-session-store',
  bssWal: 'better-sqlite3-session-store-wal',
  pgSimple: 'connect-pg-simple',
} as const

export interface Cell {
  readonly samples: Sample[]
  /** Medians over the rounds of each round's figure. */
  rps: number
  p50Ms: number
  p99Ms: number
  /** Median over rounds of the app's CPU microseconds per request, where measured. */
  cpuUsPerRequest?: number | undefined
  /** Median over rounds of (this cell's req/s / the reference's req/s in the same round), by reference id. */
  ratios: Record<string, number>
  /** The lowest and highest of those per-round ratios, by reference id: how much the ratio moved. */
  spreads?: Record<string, [min: number, max: number]>
  /**
   * The median over the later rounds of their req/s over the first round's, each divided by
   * its round's {@link roundIndex} (1.0: no decay; below: slower after the first round). A
   * step down after the first round and a steady decline both show; a burst of noise in one
   * later round does not.
   */
  drift: number | undefined
}

export interface ContenderResult {
  readonly id: string
  readonly label: string
  readonly backend: Backend
  readonly ours: boolean
  readonly cells: Partial<Record<Route, Cell>>
  /** Seconds the logins of all sessions took (the sessions are made before any measurement). */
  loginSeconds?: number
  error?: string
}

export interface Target {
  readonly what: string
  /** The measured value must be at least this. */
  readonly goal: number
  readonly measured: number | undefined
  /** The lowest and highest per-round ratio, when `measured` is a median of them. */
  readonly spread?: [min: number, max: number] | undefined
  /** 'met', 'missed by 0.12x', or 'n/a (why)'. */
  readonly verdict: string
}

export interface Results {
  readonly machine: {
    cpu: string
    cores: number
    node: string
    platform: string
    date: string
    loadBefore: number[]
    loadAfter?: number[]
  }
  readonly settings: {
    rounds: number
    seconds: number
    warmupSeconds: number
    cellWarmupSeconds: number
    sessions: number
    connections: number
    threads: number
    quick: boolean
  }
  readonly versions: Record<string, string>
  readonly contenders: ContenderResult[]
  readonly skipped: { id: string; reason: string }[]
  /** {@link roundIndex} per route. */
  readonly roundIndex: Partial<Record<Route, number[]>>
  targets: Target[]
  durationSeconds?: number
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** `a`'s req/s over `b`'s in the same round, for each round both cells ran. */
export function roundRatios(a: Cell | undefined, b: Cell | undefined): number[] {
  if (a === undefined || b === undefined) return []
  const ratios: number[] = []
  for (const sample of a.samples) {
    const other = b.samples.find((s) => s.round === sample.round)
    if (other !== undefined && other.rps > 0) ratios.push(sample.rps / other.rps)
  }
  return ratios
}

/** Median over the rounds both cells ran of `a`'s req/s over `b`'s in the same round. */
export function roundRatio(a: Cell | undefined, b: Cell | undefined): number | undefined {
  const ratios = roundRatios(a, b)
  return ratios.length === 0 ? undefined : median(ratios)
}

/** The lowest and highest per-round ratio of `a` over `b`. */
export function roundSpread(a: Cell | undefined, b: Cell | undefined): [number, number] | undefined {
  const ratios = roundRatios(a, b)
  return ratios.length === 0 ? undefined : [Math.min(...ratios), Math.max(...ratios)]
}

/** A cell from its samples; its ratios are filled in by {@link addRatios}. */
export function cellOf(samples: Sample[]): Cell {
  return {
    samples,
    rps: median(samples.map((s) => s.rps)),
    p50Ms: median(samples.map((s) => s.p50Ms)),
    p99Ms: median(samples.map((s) => s.p99Ms)),
    cpuUsPerRequest: samples.every((s) => s.cpuUsPerRequest !== undefined)
      ? median(samples.map((s) => s.cpuUsPerRequest!))
      : undefined,
    ratios: {},
    spreads: {},
    drift: undefined,
  }
}

/**
 * How fast the machine ran in each round, per route: the geometric mean over the contenders of
 * (their req/s in that round / their median req/s). Noise from elsewhere on a shared machine
 * moves every contender of a round alike; dividing by this index takes it out of the drift.
 */
export function roundIndex(results: Results, route: Route): number[] {
  const index: number[] = []
  for (let round = 1; round <= results.settings.rounds; round++) {
    const logs: number[] = []
    for (const contender of results.contenders) {
      const cell = contender.cells[route]
      const sample = cell?.samples.find((s) => s.round === round)
      if (cell !== undefined && sample !== undefined && sample.rps > 0 && cell.rps > 0) {
        logs.push(Math.log(sample.rps / cell.rps))
      }
    }
    index.push(logs.length === 0 ? Number.NaN : Math.exp(logs.reduce((a, b) => a + b, 0) / logs.length))
  }
  return index
}

/** Fills in every cell's ratios to the references and its drift across rounds. */
export function addRatios(results: Results): void {
  const byId = new Map(results.contenders.map((c) => [c.id, c]))
  for (const route of routes) {
    const index = roundIndex(results, route)
    results.roundIndex[route] = index
    for (const contender of results.contenders) {
      const cell = contender.cells[route]
      if (cell === undefined) continue
      cell.spreads = {}
      for (const reference of Object.values(references)) {
        const other = byId.get(reference)?.cells[route]
        const ratio = roundRatio(cell, other)
        if (ratio !== undefined) cell.ratios[reference] = ratio
        const spread = roundSpread(cell, other)
        if (spread !== undefined) cell.spreads[reference] = spread
      }
      const [first, ...later] = cell.samples
      if (first !== undefined && later.length > 0 && first.rps > 0) {
        const speed = (s: Sample) => s.rps / index[s.round - 1]!
        cell.drift = median(later.map(speed)) / speed(first)
      }
    }
  }
}

/** What "no decay across rounds" allows: the later rounds may be 10% below the first (see drift). */
export const DECAY_ALLOWED = 0.9

/** The HTTP targets of issue 15, read off this run. */
export function targets(results: Results): Target[] {
  const cell = (id: string, route: Route) => results.contenders.find((c) => c.id === id)?.cells[route]
  const why = (...ids: string[]) => {
    const missing = ids.filter((id) => !results.contenders.some((c) => c.id === id && c.error === undefined))
    const skipped = missing.map(
      (id) => results.skipped.find((s) => s.id === id)?.reason ?? `${id} did not run`,
    )
    return skipped.length > 0 ? skipped.join('; ') : 'not measured'
  }
  const out: Target[] = []
  const add = (
    what: string,
    goal: number,
    measured: number | undefined,
    ids: string[],
    spread?: [number, number],
  ) => {
    let verdict: string
    if (measured === undefined) verdict = `n/a (${why(...ids)})`
    else if (measured >= goal) verdict = 'met'
    else verdict = `missed by ${(goal - measured).toFixed(2)}x`
    out.push({ what, goal, measured, spread, verdict })
  }
  const vs = (what: string, goal: number, id: string, route: Route, to: string) =>
    add(
      what,
      goal,
      roundRatio(cell(id, route), cell(to, route)),
      [id, to],
      roundSpread(cell(id, route), cell(to, route)),
    )

  vs('SessionManager, SQLite: /read x no-session ceiling', 0.75, 'manager-sqlite', '/read', 'no-sessions')
  vs('SessionManager, Postgres: /read x no-session ceiling', 0.65, 'manager-postgres', '/read', 'no-sessions')
  vs('SessionManager, SQLite: /write x connect-redis', 1.2, 'manager-sqlite', '/write', 'connect-redis')
  vs('SessionManager, Postgres: /write x connect-redis', 0.9, 'manager-postgres', '/write', 'connect-redis')
  vs(
    'express-session + our adapter, SQLite: /read x better-sqlite3-session-store (its defaults)',
    1.3,
    'adapter-sqlite',
    '/read',
    'better-sqlite3-session-store',
  )
  vs(
    'express-session + our adapter, SQLite: /read x better-sqlite3-session-store, WAL + synchronous=NORMAL',
    1.3,
    'adapter-sqlite',
    '/read',
    'better-sqlite3-session-store-wal',
  )
  vs(
    'express-session + our adapter, SQLite: /read x connect-redis',
    1.0,
    'adapter-sqlite',
    '/read',
    'connect-redis',
  )
  vs(
    'express-session + our adapter, Postgres: /read x connect-pg-simple',
    1.5,
    'adapter-postgres',
    '/read',
    'connect-pg-simple',
  )
  for (const [id, engine] of [
    ['adapter-sqlite', 'SQLite'],
    ['adapter-postgres', 'Postgres'],
  ] as const) {
    for (const route of routes) {
      add(
        `express-session + our adapter, ${engine}: no decay on ${route} (drift: later rounds / first)`,
        DECAY_ALLOWED,
        cell(id, route)?.drift,
        [id],
      )
    }
  }
  vs(
    'SessionManager with idleTimeout, SQLite: /read x without idleTimeout',
    0.9,
    'manager-idle-sqlite',
    '/read',
    'manager-sqlite',
  )
  vs(
    'SessionManager with idleTimeout, Postgres: /read x without idleTimeout',
    0.9,
    'manager-idle-postgres',
    '/read',
    'manager-postgres',
  )
  return out
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')
const x = (n: number | undefined) => (n === undefined ? '' : `${n.toFixed(2)}x`)
/** A ratio with the range of its per-round ratios: `1.14x (1.07-1.33)`. */
const xs = (n: number | undefined, spread: [number, number] | undefined) =>
  n === undefined
    ? ''
    : spread === undefined
      ? x(n)
      : `${x(n)} (${spread[0].toFixed(2)}-${spread[1].toFixed(2)})`
const ms = (n: number) => (n >= 10 ? n.toFixed(1) : n.toFixed(2))

/** The same-engine peers a contender is compared with in the tables, with their short names. */
function enginePeers(backend: Backend): [id: string, short: string][] {
  if (backend === 'sqlite')
    return [
      [references.bss, 'bss'],
      [references.bssWal, 'bss WAL'],
    ]
  if (backend === 'postgres') return [[references.pgSimple, 'pg-simple']]
  return []
}

export function markdown(results: Results): string {
  const { machine: m, settings: s } = results
  const load = (l: number[] | undefined) => (l === undefined ? 'n/a' : l.map((v) => v.toFixed(2)).join(' '))
  const lines: string[] = [
    '# kysely-session-store: end-to-end HTTP benchmark',
    '',
    `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform}, ${m.date}. ` +
      `Load average before / after: ${load(m.loadBefore)} / ${load(m.loadAfter)}.`,
    '',
    `One Express 5 process per contender; wrk (${results.versions['wrk'] ?? 'wrk'}) in its own process, ` +
      `${s.connections} connections on ${s.threads} thread(s), each request carrying the cookie of the next of ` +
      `${s.sessions.toLocaleString('en-US')} logged-in sessions (made by POST /login before measuring). ` +
      `${s.rounds} interleaved rounds (the contenders take turns in an order rotated each round), ` +
      `${s.seconds} s per cell and round, after a ${s.warmupSeconds} s warm-up per contender and route` +
      (s.cellWarmupSeconds > 0 ? ` and ${s.cellWarmupSeconds} s before each cell` : '') +
      `${s.quick ? ' (--quick: a smoke run, not a measurement)' : ''}.` +
      (results.durationSeconds === undefined
        ? ''
        : ` The run took ${Math.round(results.durationSeconds)} s.`),
    '',
    "req/s, p50, p99 and CPU us/req (the app's own CPU time, user + system, over its requests: what it " +
      'spends per request, which the rest of the machine moves far less than req/s) are medians over the ' +
      "rounds of each round's figure; every ratio is the median over " +
      'the rounds of the per-round ratio (both contenders measured in the same round), followed by the lowest ' +
      'and highest per-round ratio: how much it moved from round to round. ' +
      '`GET /read` reads one value from the session; `GET /write` increments a counter in it.',
    '',
  ]
  for (const { id, reason } of results.skipped) lines.push(`- **${id}: skipped** (${reason})`)
  for (const c of results.contenders) if (c.error) lines.push(`- **${c.id} failed**: ${c.error}`)
  if (results.skipped.length > 0 || results.contenders.some((c) => c.error)) lines.push('')

  lines.push(
    '## Targets (issues 15 and 24)',
    '',
    '| target | goal | measured (rounds: min-max) | |',
    '| --- | ---: | ---: | --- |',
  )
  for (const t of results.targets) {
    lines.push(
      `| ${t.what} | >= ${t.goal.toFixed(2)}x | ${xs(t.measured, t.spread) || 'n/a'} | ${t.verdict} |`,
    )
  }
  lines.push('')

  for (const route of routes) {
    lines.push(
      `## GET ${route}`,
      '',
      '| contender | req/s | p50 ms | p99 ms | CPU us/req | x connect-redis | x no-session ceiling | x same-engine peer | non-2xx |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    )
    for (const c of results.contenders) {
      const cell = c.cells[route]
      if (cell === undefined) {
        lines.push(`| ${c.label} | ${c.error ? 'failed' : 'n/a'} | | | | | | | |`)
        continue
      }
      const spreads = cell.spreads ?? {}
      const peerText = enginePeers(c.backend)
        .filter(([peer]) => peer !== c.id && cell.ratios[peer] !== undefined)
        .map(([peer, short]) => `${xs(cell.ratios[peer], spreads[peer])} ${short}`)
        .join(', ')
      const bad = cell.samples.reduce((n, s) => n + s.non2xx + s.socketErrors, 0)
      const ref = (id: string) => xs(cell.ratios[id], spreads[id])
      lines.push(
        `| ${c.label} | ${int(cell.rps)} | ${ms(cell.p50Ms)} | ${ms(cell.p99Ms)} | ` +
          `${cell.cpuUsPerRequest === undefined ? '' : cell.cpuUsPerRequest.toFixed(0)} | ` +
          `${ref(references.redis)} | ${ref(references.ceiling)} | ${peerText} | ${bad} |`,
      )
    }
    lines.push('')
  }

  lines.push(
    '## Round by round',
    '',
    "req/s in each round, and the drift: the median over the later rounds of their req/s over the first round's, each divided by " +
      "that round's machine-speed index (the geometric mean over all contenders of their req/s in " +
      'the round over their median), so that a round the whole machine ran slow does not count. ' +
      'Below 1.0: the contender slowed down after the first round.',
    '',
  )
  for (const route of routes) {
    lines.push(`| ${route} | req/s by round | drift |`, '| --- | --- | ---: |')
    const index = results.roundIndex[route] ?? []
    lines.push(`| *machine-speed index* | ${index.map((v) => v.toFixed(2)).join(', ')} | |`)
    for (const c of results.contenders) {
      const cell = c.cells[route]
      if (cell === undefined) continue
      lines.push(`| ${c.label} | ${cell.samples.map((s) => int(s.rps)).join(', ')} | ${x(cell.drift)} |`)
    }
    lines.push('')
  }

  lines.push(
    '## How to read this',
    '',
    '- The machine may be shared: compare ratios within one run, never absolute req/s across runs.',
    '- Every app is a plain Express 5 app in bench/http/apps (one file each, the routes shared in serve.js), importing the built package ' +
      '(`kysely-session-store`, `/express`, `/sqlite`, `/postgres`) as users do. Cookies are `secure: false` ' +
      'only because the benchmark speaks plain HTTP.',
    '- express-session runs with `resave: false, saveUninitialized: false` and a 1-day `maxAge`: on a request ' +
      "that does not modify the session it calls the store's `touch`, so with a store that has `touch` every " +
      '/read is a lookup plus a write (connect-redis: EXPIRE; SQL stores: an UPDATE).',
    '- A non-2xx answer means a session was not found (the routes answer 401 without one); a correct run has 0.',
    '- Every store runs with its documented defaults. SQLite contenders each have their own file: ours in WAL ' +
      'mode with synchronous=NORMAL (what `sqlite(path)` sets); better-sqlite3-session-store as its README ' +
      "sets it up, on SQLite's defaults (a rollback journal, synchronous=FULL: each touch, an UPDATE on every " +
      'read, is a durable commit), and once more as "WAL + synchronous=NORMAL", given the pragmas our ' +
      '`sqlite()` sets, for the same durability as ours. Postgres contenders each have their own table and the default ' +
      "`pg.Pool` (10 connections). connect-pg-simple's table is made from its table.sql, with its fixed " +
      'constraint and index names made unique.',
    ...(results.versions['Postgres autovacuum'] === 'off'
      ? [
          '- **This Postgres server runs with autovacuum off.** The tables are vacuumed and analysed once, ' +
            'after the logins; during the rounds, every update (a touch, a write) leaves a dead row version ' +
            'that nothing removes, so Postgres contenders that write on every request slow down as the run ' +
            'goes on more than they would on a default server.',
        ]
      : []),
    `- "no decay" is judged on the drift (see Round by round): the later rounds may be at most ` +
      `${Math.round((1 - DECAY_ALLOWED) * 100)}% below the first (the issue saw 4,034 req/s, then about 2,700).`,
    '',
    '## Versions and settings',
    '',
    Object.entries(results.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ') + '.',
    '',
  )
  return lines.join('\n')
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * Two panels of grouped horizontal bars, like bench/report/chart.svg: each contender's /read
 * and /write throughput as a ratio to the no-session ceiling, then to express-session +
 * connect-redis (the dashed line is 1.0x). Ratios only: absolute req/s depend on the machine.
 */
export function chart(results: Results): string {
  // The issue's targets that are ratios to one of the two references, drawn as ticks on their bars.
  const goals = [
    { id: 'manager-sqlite', route: '/read', reference: references.ceiling, goal: 0.75 },
    { id: 'manager-postgres', route: '/read', reference: references.ceiling, goal: 0.65 },
    { id: 'manager-sqlite', route: '/write', reference: references.redis, goal: 1.2 },
    { id: 'manager-postgres', route: '/write', reference: references.redis, goal: 0.9 },
    { id: 'adapter-sqlite', route: '/read', reference: references.redis, goal: 1.0 },
  ]
  const panels = [
    { title: 'x the no-session ceiling (same routes, no store)', reference: references.ceiling },
    { title: 'x express-session + connect-redis', reference: references.redis },
  ].map((panel) => ({
    ...panel,
    rows: results.contenders
      .filter((c) => c.id !== panel.reference && c.id !== references.ceiling && c.error === undefined)
      .map((c) => ({
        label: c.label,
        ours: c.ours,
        bars: routes.map((route) => ({
          route,
          value: c.cells[route]?.ratios[panel.reference],
          goal: goals.find((g) => g.id === c.id && g.route === route && g.reference === panel.reference)
            ?.goal,
        })),
      })),
  }))
  const values = panels.flatMap((p) => p.rows.flatMap((r) => r.bars.map((b) => b.value ?? 0)))
  const max = Math.max(1.2, ...values)
  const left = 340
  const plot = 480
  const barHeight = 12
  const gap = 3
  const scale = (v: number) => (v / max) * plot
  const one = left + scale(1)
  let y = 90
  const body: string[] = []
  for (const panel of panels) {
    body.push(`<text x="10" y="${y}" font-weight="bold">${escape(panel.title)}</text>`)
    y += 10
    const top = y
    for (const row of panel.rows) {
      body.push(
        `<text x="${left - 8}" y="${y + barHeight + 2}" text-anchor="end"${row.ours ? ' font-weight="bold"' : ''}>${escape(row.label)}</text>`,
      )
      for (const bar of row.bars) {
        const fill =
          bar.route === '/read' ? (row.ours ? '#1f6feb' : '#9ec5fe') : row.ours ? '#d9480f' : '#ffc9a9'
        const value = bar.value ?? 0
        const end = Math.max(left + scale(value), bar.goal === undefined ? 0 : left + scale(bar.goal))
        body.push(
          `<rect x="${left}" y="${y}" width="${scale(value).toFixed(1)}" height="${barHeight}" fill="${fill}"/>`,
          `<text x="${end + 4}" y="${y + barHeight - 2}" font-size="11">${bar.value === undefined ? 'n/a' : `${value.toFixed(2)}x`} ${bar.route}${bar.goal === undefined ? '' : ` (target ${bar.goal.toFixed(2)}x)`}</text>`,
        )
        if (bar.goal !== undefined) {
          const at = (left + scale(bar.goal)).toFixed(1)
          body.push(
            `<line x1="${at}" y1="${y - 2}" x2="${at}" y2="${y + barHeight + 2}" stroke="black" stroke-width="3"/>`,
          )
        }
        y += barHeight + 1
      }
      y += gap + 4
    }
    body.push(
      `<line x1="${one}" y1="${top - 4}" x2="${one}" y2="${y}" stroke="#333" stroke-dasharray="4 3"/>`,
      `<text x="${one}" y="${y + 12}" text-anchor="middle" font-size="11">1.0x</text>`,
    )
    y += 40
  }
  const width = left + plot + 190
  const height = y
  const { machine: m, settings: s } = results
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">End to end (Express 5, wrk, ${s.connections} connections): requests per second as ratios</text>`,
    `<text x="10" y="42" fill="#555">${escape(`${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.date.slice(0, 10)}; medians of per-round ratios over ${s.rounds} rounds.`)}</text>`,
    `<text x="10" y="60" fill="#555">Dark, bold: ours; light: others. Blue: GET /read; orange: GET /write. Black tick: the target of issue 15.</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n')
}
