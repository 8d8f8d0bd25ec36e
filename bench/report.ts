/** Ratios, the Markdown tables, the JSON and the SVG chart of one benchmark run. */
import { cpus } from 'node:os'
import { workloads, type Cell, type Role, type Workload } from './harness.js'

export interface CellResult extends Cell {
  /** The median over rounds of ops/s divided by the raw prepared contender's in the same round. */
  xRaw?: number
  /** The lowest and highest of those per-round ratios. */
  xRawSpread?: [min: number, max: number]
  /** ops/s divided by the raw unnamed contender's (Postgres only). */
  xRawUnnamed?: number
  /** ops/s divided by the fastest peer's, in this cell. */
  xBestPeer?: number
  bestPeer?: string
}

export interface Row {
  readonly contender: string
  readonly role: Role
  readonly cells: Partial<Record<Workload, CellResult>>
  error?: string
}

export interface Section {
  readonly engine: string
  readonly concurrency: number
  readonly rows: Row[]
}

export interface Target {
  readonly engine: string
  readonly what: string
  readonly goal: number
  /** The median over rounds of the per-round ratio. */
  readonly measured: number | undefined
  /** The lowest and highest per-round ratio: how much it moved from round to round. */
  readonly spread: [min: number, max: number] | undefined
  readonly met: boolean
}

export interface Results {
  readonly machine: { cpu: string; cores: number; node: string; platform: string; date: string }
  readonly settings: {
    seconds: number
    warmupSeconds: number
    rounds: number
    sessions: number
    payloadBytes: number
    quick: boolean
  }
  readonly sections: Section[]
  readonly skipped: { engine: string; reason: string }[]
  targets: Target[]
}

export function machine(): Results['machine'] {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * `a`'s ops/s over `b`'s round by round (both measured in the same round, taking turns): the
 * median and the lowest and highest; from the whole cells when either has no rounds.
 */
export function roundRatio(a: Cell, b: Cell): { median: number; spread: [number, number] } | undefined {
  const n = Math.min(a.rounds?.length ?? 0, b.rounds?.length ?? 0)
  const ratios: number[] = []
  for (let i = 0; i < n; i++) if (b.rounds[i]! > 0) ratios.push(a.rounds[i]! / b.rounds[i]!)
  if (ratios.length === 0) {
    if (!(b.opsPerSec > 0)) return undefined
    const whole = a.opsPerSec / b.opsPerSec
    return { median: whole, spread: [whole, whole] }
  }
  return { median: median(ratios), spread: [Math.min(...ratios), Math.max(...ratios)] }
}

/** Fills in every cell's ratios to the raw contenders and to the best peer. */
export function addRatios(section: Section): void {
  const byRole = (role: Role) => section.rows.find((row) => row.role === role)
  const peers = section.rows.filter((row) => row.role === 'peer')
  for (const workload of workloads) {
    const raw = byRole('raw')?.cells[workload]
    const unnamed = byRole('raw-unnamed')?.cells[workload]
    let best: { name: string; cell: Cell } | undefined
    for (const peer of peers) {
      const cell = peer.cells[workload]
      if (cell !== undefined && (best === undefined || cell.opsPerSec > best.cell.opsPerSec))
        best = { name: peer.contender, cell }
    }
    for (const row of section.rows) {
      const cell = row.cells[workload]
      if (cell === undefined) continue
      const toRaw = raw && roundRatio(cell, raw)
      if (toRaw) {
        cell.xRaw = toRaw.median
        cell.xRawSpread = toRaw.spread
      }
      const toUnnamed = unnamed && roundRatio(cell, unnamed)
      if (toUnnamed) cell.xRawUnnamed = toUnnamed.median
      const toBest = best && roundRatio(cell, best.cell)
      if (best && toBest) {
        cell.xBestPeer = toBest.median
        cell.bestPeer = best.name
      }
    }
  }
}

/** The targets of the performance work, read off this run. */
export function targets(sections: readonly Section[]): Target[] {
  const out: Target[] = []
  const ratio = (section: Section | undefined, workload: Workload, to: (row: Row) => boolean) => {
    const ours = section?.rows.find((row) => row.role === 'factory')?.cells[workload]
    const other = section?.rows.find(to)?.cells[workload]
    return ours !== undefined && other !== undefined ? roundRatio(ours, other) : undefined
  }
  const add = (
    engine: string,
    section: Section | undefined,
    what: string,
    goal: number,
    measured: { median: number; spread: [number, number] } | undefined,
  ) =>
    out.push({
      engine,
      what,
      goal,
      measured: measured?.median,
      spread: measured?.spread,
      met: measured !== undefined && measured.median >= goal,
    })
  const find = (prefix: string, concurrency: number) =>
    sections.find((s) => s.engine.startsWith(prefix) && s.concurrency === concurrency)

  const file = find('SQLite file', 1)
  if (file) {
    add(
      'SQLite file',
      file,
      'find hit vs raw prepared',
      0.9,
      ratio(file, 'find hit', (r) => r.role === 'raw'),
    )
    add(
      'SQLite file',
      file,
      'find miss vs raw prepared',
      0.7,
      ratio(file, 'find miss', (r) => r.role === 'raw'),
    )
    const bss = (r: Row) => r.contender === 'better-sqlite3-session-store'
    add('SQLite file', file, 'find hit vs better-sqlite3-session-store', 2, ratio(file, 'find hit', bss))
    add(
      'SQLite file',
      file,
      'commit update vs raw prepared',
      0.85,
      ratio(file, 'commit update', (r) => r.role === 'raw'),
    )
    add(
      'SQLite file',
      file,
      'commit insert vs raw prepared',
      0.85,
      ratio(file, 'commit insert', (r) => r.role === 'raw'),
    )
  }
  const unnamed = (r: Row) => r.role === 'raw-unnamed'
  const simple = (r: Row) => r.contender === 'connect-pg-simple'
  const pg1 = find('Postgres', 1)
  if (pg1) {
    for (const workload of ['find hit', 'commit update'] as const) {
      add('Postgres, 1 in flight', pg1, `${workload} vs connect-pg-simple`, 1.2, ratio(pg1, workload, simple))
    }
  }
  const pg8 = find('Postgres', 8)
  if (pg8) {
    for (const workload of ['find hit', 'commit update'] as const) {
      add('Postgres, 8 in flight', pg8, `${workload} vs raw pg unnamed`, 1.0, ratio(pg8, workload, unnamed))
      add('Postgres, 8 in flight', pg8, `${workload} vs connect-pg-simple`, 1.2, ratio(pg8, workload, simple))
    }
  }
  const lite = find('PGlite', 1)
  if (lite) {
    for (const workload of ['find hit', 'commit update'] as const) {
      add(
        'PGlite',
        lite,
        `${workload} vs raw pglite.query`,
        0.9,
        ratio(lite, workload, (r) => r.role === 'raw'),
      )
    }
  }
  return out
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')
const x = (n: number | undefined) => (n === undefined ? '' : `${n.toFixed(2)}x`)

export function markdown(results: Results): string {
  const { machine: m, settings: s } = results
  const lines: string[] = [
    '# kysely-session-store benchmark',
    '',
    `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform}, ${m.date}.`,
    `${s.sessions.toLocaleString('en-US')} sessions preloaded per table, ${s.payloadBytes}-byte payloads, ` +
      `${s.seconds} s per cell (in ${s.rounds} rounds, the contenders taking turns) after a ${s.warmupSeconds} s warm-up` +
      `${s.quick ? ' (--quick)' : ''}. ` +
      'Cells: `ops/s (x raw prepared [lowest-highest per-round ratio], x best peer)`: ops/s over all rounds; ' +
      'each ratio is the median over the rounds of the per-round ratio (both measured in the same round), ' +
      'and the bracket says how much it moved from round to round. Each contender has its own table; all see the same tokens.',
    '',
  ]
  for (const { engine, reason } of results.skipped) lines.push(`- **${engine}: skipped** (${reason})`)
  if (results.skipped.length > 0) lines.push('')
  for (const section of results.sections) {
    lines.push(`## ${section.engine}, ${section.concurrency} in flight`, '')
    lines.push(
      `| contender | ${workloads.join(' | ')} |`,
      `| --- |${workloads.map(() => ' ---: |').join('')}`,
    )
    for (const row of section.rows) {
      const cells = workloads.map((w) => {
        const c = row.cells[w]
        if (c === undefined) return row.error ? 'error' : ''
        const spread = c.xRawSpread
        const ratios = [
          c.xRaw !== undefined
            ? `${x(c.xRaw)} raw${spread === undefined || row.role === 'raw' ? '' : ` [${spread[0].toFixed(2)}-${spread[1].toFixed(2)}]`}`
            : '',
          c.xBestPeer !== undefined ? `${x(c.xBestPeer)} best peer` : '',
        ]
        return `${int(c.opsPerSec)} (${ratios.filter(Boolean).join(', ')})`
      })
      lines.push(`| ${row.contender} | ${cells.join(' | ')} |`)
    }
    const unnamed = section.rows.find((r) => r.role === 'raw-unnamed')
    if (unnamed) {
      const ours = section.rows.find((r) => r.role === 'factory')
      const cells = workloads.map((w) => x(ours?.cells[w]?.xRawUnnamed))
      lines.push(`| *our factory store vs raw pg unnamed* | ${cells.join(' | ')} |`)
    }
    lines.push('', `<details><summary>latency p50 / p99 (microseconds)</summary>`, '')
    lines.push(
      `| contender | ${workloads.join(' | ')} |`,
      `| --- |${workloads.map(() => ' ---: |').join('')}`,
    )
    for (const row of section.rows) {
      const cells = workloads.map((w) => {
        const c = row.cells[w]
        return c ? `${c.p50us.toFixed(0)} / ${c.p99us.toFixed(0)}` : ''
      })
      lines.push(`| ${row.contender} | ${cells.join(' | ')} |`)
    }
    lines.push('', '</details>', '')
    for (const row of section.rows) if (row.error) lines.push(`- ${row.contender} failed: ${row.error}`)
  }
  lines.push(
    '## How to read this',
    '',
    '- Every contender is called through a promise: the raw drivers too (better-sqlite3 is synchronous; ' +
      'its calls are wrapped in async functions), since a session store API is asynchronous.',
    '- Our store and the raw drivers take the 256 bytes as bytes; the peers take the equivalent session ' +
      'object (an express-session store serialises JSON itself), so they pay a JSON.stringify/parse of ' +
      'about 1 us per operation that the others do not.',
    '- Commits on Postgres and MariaDB wait for the WAL/redo log flush (synchronous_commit on, ' +
      'innodb_flush_log_at_trx_commit = 1): their ratios sit near 1.0 whatever the client does.',
    '- The machine is shared: compare ratios within one run, never absolute numbers across runs.',
    '- better-sqlite3-session-store starts a 15-minute setInterval in its constructor that cannot be ' +
      'stopped or unref-ed (`expired.clear: false` is ignored); the benchmark subclasses it with a ' +
      'no-op `startInterval()` so the process can exit.',
    '',
  )
  if (results.targets.length > 0) {
    lines.push(
      '## Targets (our factory store)',
      '',
      'Medians over the rounds of the per-round ratio, with the lowest and highest per-round ratio.',
      '',
      '| engine | ratio | goal | median | rounds: min-max | |',
      '| --- | --- | ---: | ---: | ---: | --- |',
    )
    for (const t of results.targets) {
      const spread = t.spread === undefined ? '' : `${t.spread[0].toFixed(2)}-${t.spread[1].toFixed(2)}`
      lines.push(
        `| ${t.engine} | ${t.what} | >= ${t.goal.toFixed(2)}x | ${x(t.measured) || 'n/a'} | ${spread} | ${t.met ? 'met' : 'MISSED'} |`,
      )
    }
    lines.push('')
  }
  return lines.join('\n')
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * Grouped horizontal bars: per engine (and concurrency), our factory store's and each peer's
 * find-hit and commit-update throughput as a ratio to the raw prepared driver (the dashed line).
 */
export function chart(results: Results): string {
  const groups = results.sections.map((section) => ({
    title: `${section.engine}, ${section.concurrency} in flight`,
    bars: section.rows
      .filter((row) => row.role === 'factory' || row.role === 'peer')
      .flatMap((row) =>
        (['find hit', 'commit update'] as const).map((w) => ({
          label: `${row.role === 'factory' ? 'KyselyStore (ours)' : row.contender}: ${w}`,
          ours: row.role === 'factory',
          workload: w,
          value: row.cells[w]?.xRaw ?? 0,
        })),
      ),
  }))
  const max = Math.max(1.2, ...groups.flatMap((g) => g.bars.map((b) => b.value)))
  const left = 300
  const plot = 520
  const barHeight = 14
  const gap = 4
  const scale = (v: number) => (v / max) * plot
  let y = 70
  const body: string[] = []
  for (const group of groups) {
    body.push(`<text x="10" y="${y}" font-weight="bold">${escape(group.title)}</text>`)
    y += 10
    for (const bar of group.bars) {
      const fill =
        bar.workload === 'find hit' ? (bar.ours ? '#1f6feb' : '#9ec5fe') : bar.ours ? '#d9480f' : '#ffc9a9'
      body.push(
        `<text x="${left - 8}" y="${y + barHeight - 3}" text-anchor="end">${escape(bar.label)}</text>`,
        `<rect x="${left}" y="${y}" width="${scale(bar.value).toFixed(1)}" height="${barHeight}" fill="${fill}"/>`,
        `<text x="${left + scale(bar.value) + 4}" y="${y + barHeight - 3}">${bar.value.toFixed(2)}x</text>`,
      )
      y += barHeight + gap
    }
    y += 22
  }
  const width = left + plot + 80
  const height = y + 10
  const one = left + scale(1)
  const { machine: m } = results
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">Throughput as a ratio to the raw prepared driver (dashed line = 1.0x)</text>`,
    `<text x="10" y="42" fill="#555">${escape(`${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.date.slice(0, 10)}. Dark: our store; light: peers. Blue: find hit; orange: commit update.`)}</text>`,
    ...body,
    `<line x1="${one}" y1="55" x2="${one}" y2="${height - 20}" stroke="#333" stroke-dasharray="4 3"/>`,
    `<text x="${one}" y="${height - 6}" text-anchor="middle">1.0x raw</text>`,
    '</svg>',
    '',
  ].join('\n')
}
