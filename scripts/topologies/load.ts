// A mixed load of concurrent workers on one or more KyselyStores, keeping the books a fault
// test needs: which commits were acknowledged (so none may be lost), which reads returned
// something other than the last acknowledged write (stale reads), and every rejection.
//
// Each worker owns its tokens, so the last acknowledged value of a token is known exactly. A
// write that rejected may still have happened (the server may have committed it before the
// connection died), so it is remembered as "uncertain": reading it back is not stale, and
// finding it stored is not a loss.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Kysely } from 'kysely'
import type { KyselyStore } from '../../src/index.js'

const HOUR = 3600_000

interface TokenState {
  /** The last acknowledged value, or null after an acknowledged delete. */
  value: string | null
  /** Values of writes since then that rejected (they may or may not have happened). */
  uncertain: Set<string | null>
}

export interface Rejection {
  at: number
  operation: string
  /** The SessionStoreError's code, else the error's name. */
  code: string
  /** The driver's code (cause.code), when there is one. */
  cause: string | undefined
  message: string
}

export interface LoadOptions {
  /** How many workers run at once. */
  workers: number
  /** Where worker `w` writes (commit, touch, delete). */
  writer: (worker: number) => KyselyStore
  /** Where worker `w` reads (find); another node than its writer tests causal reads. */
  reader: (worker: number) => KyselyStore
  /** Tokens each worker cycles through. */
  tokensPerWorker?: number
  /** Pause after a rejection, as an application would (do not spin while the database is away). */
  pauseAfterRejection?: number
  /** Stops after this many operations in all, if given. */
  maxOperations?: number
}

export interface LoadFigures {
  operations: number
  succeeded: number
  rejected: number
  staleReads: number
  commitsAcknowledged: number
  elapsedMs: number
  rejectionsByCode: Record<string, number>
  firstRejections: Rejection[]
}

export class Load {
  readonly #options: Required<Omit<LoadOptions, 'maxOperations'>> & { maxOperations: number }
  readonly #tokens: Map<string, TokenState>[] = []
  readonly rejections: Rejection[] = []
  /** End times of successful operations, with their start times. */
  readonly #successes: { start: number; end: number }[] = []
  #operations = 0
  #staleReads = 0
  #commitsAcknowledged = 0
  #running = false
  #workers: Promise<void>[] = []
  #startedAt = 0
  #stoppedAt = 0
  readonly prefix = `load${process.pid}x${Math.floor(Math.random() * 1e6)}`

  constructor(options: LoadOptions) {
    this.#options = {
      tokensPerWorker: 200,
      pauseAfterRejection: 20,
      maxOperations: Number.POSITIVE_INFINITY,
      ...options,
    }
    for (let w = 0; w < options.workers; w++) this.#tokens.push(new Map())
  }

  start(): void {
    this.#running = true
    this.#startedAt = Date.now()
    this.#workers = Array.from({ length: this.#options.workers }, (_, w) => this.#work(w))
  }

  async stop(): Promise<LoadFigures> {
    this.#running = false
    await Promise.all(this.#workers)
    this.#stoppedAt = Date.now()
    return this.figures()
  }

  /** Runs for `ms`, then stops. */
  async runFor(ms: number): Promise<LoadFigures> {
    this.start()
    await sleep(ms)
    return this.stop()
  }

  figures(): LoadFigures {
    const rejectionsByCode: Record<string, number> = {}
    for (const r of this.rejections) {
      const key = r.cause === undefined ? r.code : `${r.code}/${r.cause}`
      rejectionsByCode[key] = (rejectionsByCode[key] ?? 0) + 1
    }
    return {
      operations: this.#operations,
      succeeded: this.#successes.length,
      rejected: this.rejections.length,
      staleReads: this.#staleReads,
      commitsAcknowledged: this.#commitsAcknowledged,
      elapsedMs: (this.#stoppedAt || Date.now()) - this.#startedAt,
      rejectionsByCode,
      firstRejections: this.rejections.slice(0, 5),
    }
  }

  /** When the first operation that started at or after `since` succeeded, if one did. */
  firstSuccessAfter(since: number): number | undefined {
    let first: number | undefined
    for (const { start, end } of this.#successes) {
      if (start >= since && (first === undefined || end < first)) first = end
    }
    return first
  }

  /** Rejections at or after `since` and before `until`. */
  rejectionsBetween(since: number, until = Number.POSITIVE_INFINITY): number {
    return this.rejections.filter((r) => r.at >= since && r.at < until).length
  }

  /**
   * Compares what the table holds (token to data, as read directly) with the books: an
   * acknowledged write whose value is not there (and no uncertain write explains what is) is lost.
   */
  lostWrites(stored: Map<string, string>): { lost: number; examples: string[] } {
    let lost = 0
    const examples: string[] = []
    for (const tokens of this.#tokens) {
      for (const [token, state] of tokens) {
        const actual = stored.get(token) ?? null
        if (actual === state.value || state.uncertain.has(actual)) continue
        lost++
        if (examples.length < 5)
          examples.push(`${token}: expected ${state.value ?? 'absent'}, found ${actual ?? 'absent'}`)
      }
    }
    return { lost, examples }
  }

  async #work(w: number): Promise<void> {
    const tokens = this.#tokens[w]!
    const { tokensPerWorker, pauseAfterRejection, maxOperations } = this.#options
    let n = 0
    while (this.#running && this.#operations < maxOperations) {
      this.#operations++
      n++
      const token = `${this.prefix}-w${w}-${Math.floor(Math.random() * tokensPerWorker)}`
      const state = tokens.get(token)
      const roll = Math.random()
      const started = Date.now()
      let operation = 'find'
      try {
        if (state === undefined || state.value === null || roll < 0.35) {
          operation = 'commit'
          const value = `v${n}-${token}`
          const entry = state ?? { value: null, uncertain: new Set() }
          tokens.set(token, entry)
          entry.uncertain.add(value)
          await this.#options
            .writer(w)
            .commit(token, new TextEncoder().encode(value), new Date(Date.now() + HOUR))
          entry.value = value
          entry.uncertain.clear()
          this.#commitsAcknowledged++
        } else if (roll < 0.85) {
          operation = 'find'
          const data = await this.#options.reader(w).find(token)
          const read = data === undefined ? null : new TextDecoder().decode(data)
          if (read !== state.value && !state.uncertain.has(read)) this.#staleReads++
        } else if (roll < 0.95) {
          operation = 'touch'
          await this.#options.writer(w).touch(token, new Date(Date.now() + 2 * HOUR))
        } else {
          operation = 'delete'
          state.uncertain.add(null)
          await this.#options.writer(w).delete(token)
          state.value = null
          state.uncertain.clear()
        }
        this.#successes.push({ start: started, end: Date.now() })
      } catch (error) {
        const e = error as { code?: unknown; name?: string; message?: string; cause?: { code?: unknown } }
        this.rejections.push({
          at: Date.now(),
          operation,
          code: typeof e.code === 'string' ? e.code : (e.name ?? 'Error'),
          cause: typeof e.cause?.code === 'string' ? e.cause.code : undefined,
          message: String(e.message ?? error),
        })
        await sleep(pauseAfterRejection)
      }
    }
  }
}

/** Every row of `table` as token to data (UTF-8), read directly, around the store. */
export async function readTable(db: Kysely<any>, table: string): Promise<Map<string, string>> {
  const rows = await db.selectFrom(table).select(['token', 'data']).execute()
  return new Map(
    rows.map((row) => [row.token as string, Buffer.from(row.data as Uint8Array).toString('utf8')]),
  )
}

/** One line of figures, for the logs CI keeps. */
export function describeFigures(
  label: string,
  figures: LoadFigures,
  extra: Record<string, unknown> = {},
): string {
  const parts = [
    `${figures.operations} operations`,
    `${figures.rejected} rejected`,
    `${figures.staleReads} stale reads`,
    `${figures.commitsAcknowledged} commits acknowledged`,
    `${Math.round((figures.operations / Math.max(figures.elapsedMs, 1)) * 1000)} ops/s`,
    ...Object.entries(extra).map(([k, v]) => `${k} ${String(v)}`),
  ]
  const codes = Object.entries(figures.rejectionsByCode)
    .map(([k, v]) => `${k} x${v}`)
    .join(', ')
  return `${label}: ${parts.join(', ')}${codes ? ` (rejections: ${codes})` : ''}`
}
