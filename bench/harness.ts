/** The measuring loop, the workloads and the shared session payload of the benchmark. */

/** What a contender plays: the limit (raw driver), our store, or a peer. */
export type Role = 'raw' | 'raw-unnamed' | 'factory' | 'stock' | 'peer'

/** One implementation under test, in its own table, on one engine. */
export interface Contender {
  readonly name: string
  readonly role: Role
  /** Creates the table and preloads `tokens`, each live for a day. */
  setup(tokens: readonly string[]): Promise<void>
  /** Reads a session; a miss resolves too. */
  find(token: string): Promise<unknown>
  /** Writes the payload under `token` (insert or update), live for a day. */
  commit(token: string): Promise<unknown>
  /** Closes what the contender opened. */
  close(): Promise<void>
}

/** One engine's line-up; `open` throws (or rejects) when the engine is unreachable. */
export interface Engine {
  readonly name: string
  readonly concurrency: readonly number[]
  readonly contenders: readonly Contender[]
  close(): Promise<void>
}

export const workloads = ['find hit', 'find miss', 'commit update', 'commit insert', 'mixed 90/10'] as const
export type Workload = (typeof workloads)[number]

export interface Cell {
  readonly ops: number
  readonly opsPerSec: number
  readonly p50us: number
  readonly p99us: number
  /** ops/s in each round, in round order: the rounds in which all contenders took turns. */
  readonly rounds: number[]
}

export const DAY_MS = 86_400_000

/**
 * The session object express-session hands a store (about 256 bytes of JSON), and the same
 * JSON as bytes for the stores that take bytes.
 */
export function sessionPayload(): { session: Record<string, unknown>; bytes: Buffer } {
  const session: Record<string, unknown> = {
    cookie: {
      originalMaxAge: DAY_MS,
      expires: new Date(Date.now() + DAY_MS).toISOString(),
      secure: false,
      httpOnly: true,
      path: '/',
    },
    userId: 'user_0123456789',
    roles: ['reader', 'writer'],
    csrf: 'b6f0c1d2e3a4b5c6d7e8f90a1b2c3d4e',
    pad: '',
  }
  session['pad'] = 'x'.repeat(256 - JSON.stringify(session).length)
  const bytes = Buffer.from(JSON.stringify(session))
  if (bytes.length !== 256) throw new Error(`payload is ${bytes.length} bytes, expected 256`)
  return { session, bytes }
}

/** A small deterministic PRNG (xorshift32), so every contender draws the same tokens. */
export function random(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x / 0x1_0000_0000
  }
}

/** 43-character tokens like a base64url of 32 random bytes. */
export function makeTokens(n: number, prefix: string): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i.toString(36).padStart(8, '0')}`.padEnd(43, 'T'))
}

/** The operation of one workload for one contender; `next()` picks the i-th random draw. */
export function operation(
  workload: Workload,
  contender: Contender,
  tokens: readonly string[],
  seed: number,
  insertPrefix: string,
): () => Promise<unknown> {
  const rnd = random(seed)
  const pick = () => tokens[Math.floor(rnd() * tokens.length)]!
  let inserted = 0
  switch (workload) {
    case 'find hit':
      return () => contender.find(pick())
    case 'find miss':
      return () => contender.find(`miss-${Math.floor(rnd() * 1e9)}`.padEnd(43, 'M'))
    case 'commit update':
      return () => contender.commit(pick())
    case 'commit insert':
      return () => contender.commit(`${insertPrefix}${(inserted++).toString(36)}`.padEnd(43, 'I'))
    case 'mixed 90/10':
      return () => (rnd() < 0.9 ? contender.find(pick()) : contender.commit(pick()))
  }
}

/** What one timed run of a closed loop observed. */
export interface Sample {
  readonly ops: number
  readonly seconds: number
  readonly latencies: number[]
}

/** Runs `op` in a closed loop of `concurrency` workers for `seconds`, after a warm-up. */
export async function sample(
  op: () => Promise<unknown>,
  concurrency: number,
  seconds: number,
  warmupSeconds: number,
): Promise<Sample> {
  if (warmupSeconds > 0) await loop(op, concurrency, warmupSeconds, undefined)
  const latencies: number[] = []
  const started = process.hrtime.bigint()
  const ops = await loop(op, concurrency, seconds, latencies)
  return { ops, seconds: Number(process.hrtime.bigint() - started) / 1e9, latencies }
}

/** ops/s and latency quantiles over several samples of one cell. */
export function summarize(samples: readonly Sample[]): Cell {
  const latencies = samples.flatMap((s) => s.latencies).sort((a, b) => a - b)
  const ops = samples.reduce((n, s) => n + s.ops, 0)
  const seconds = samples.reduce((n, s) => n + s.seconds, 0)
  const quantile = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  return {
    ops,
    opsPerSec: ops / seconds,
    p50us: quantile(0.5),
    p99us: quantile(0.99),
    rounds: samples.map((s) => s.ops / s.seconds),
  }
}

async function loop(
  op: () => Promise<unknown>,
  concurrency: number,
  seconds: number,
  latencies: number[] | undefined,
): Promise<number> {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9))
  let ops = 0
  const worker = async () => {
    for (;;) {
      const t0 = process.hrtime.bigint()
      if (t0 >= deadline) return
      await op()
      latencies?.push(Number(process.hrtime.bigint() - t0) / 1000)
      ops++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return ops
}

/** Runs `rows` (arrays of values) through `insert(sql, params)` in multi-row chunks. */
export async function bulkInsert(
  insert: (sql: string, params: unknown[]) => Promise<unknown> | unknown,
  head: string,
  placeholders: (row: number, width: number) => string,
  rows: readonly (readonly unknown[])[],
  chunk = 500,
): Promise<void> {
  for (let start = 0; start < rows.length; start += chunk) {
    const part = rows.slice(start, start + chunk)
    const width = part[0]!.length
    const values = part.map((_, i) => placeholders(i, width)).join(', ')
    await insert(`${head} VALUES ${values}`, part.flat())
  }
}

/** `(?, ?, ?)` placeholders. */
export const question = (_row: number, width: number) => `(${Array(width).fill('?').join(', ')})`

/** `($1, $2, $3)` placeholders, numbered across a chunk. */
export const dollar = (row: number, width: number) =>
  `(${Array.from({ length: width }, (_, c) => `$${row * width + c + 1}`).join(', ')})`
