import fc from 'fast-check'
import type { Kysely } from 'kysely'
import { test } from 'vitest'
import { KyselyStore, migrate, type FamilyName } from '../src/index.js'
import { randomTable, readRows } from './helpers.js'
import type { EngineLeg } from './legs.js'

/*
 * Model-based tests: fast-check generates random sequences of store operations and clock
 * moves, runs each against the real engine and against a tiny in-memory model of the
 * contract documented in src/store.ts, and compares every result. After every command it
 * also reads the table directly and compares it with the model, row for row.
 */

/**
 * Few tokens, so operations collide often. 'a', 'A' and 'a ' differ only by case and a
 * trailing space (one session under a case-insensitive or PAD SPACE collation); 'ä' differs
 * from 'a' only by an accent; '😀' is outside the BMP (4 bytes in UTF-8, 2 UTF-16 units).
 */
export const TOKENS = ['a', 'A', 'a ', 'ä', '😀'] as const

/** One session as the contract sees it. */
export interface ModelSession {
  data: Uint8Array
  expiry: number
}

/** The reference model: the application's clock and the rows the table should hold. */
export interface Model {
  now: number
  sessions: Map<string, ModelSession>
}

/** Counters shared by every run on one engine. */
export interface ModelStats {
  /** Store calls executed (commit, find, delete, all, cleanup, touch). */
  operations: number
  /** Clock moves executed. */
  clockMoves: number
  /** Runs started (each on a fresh table). */
  runs: number
}

/** The system under test: a store on a fresh table, on an injected clock. */
export interface Real {
  db: Kysely<any>
  family: FamilyName
  table: string
  store: KyselyStore
  clock: { now: number }
  stats: ModelStats
}

type ModelCommand = fc.AsyncCommand<Model, Real>

export function newStats(): ModelStats {
  return { operations: 0, clockMoves: 0, runs: 0 }
}

/** A divergence between the store and the model, with both sides in the message. */
class Divergence extends Error {
  override name = 'Divergence'
}

function hex(data: Uint8Array | undefined): string {
  return data === undefined ? 'undefined' : `<${Buffer.from(data).toString('hex')}>`
}

function sameBytes(actual: unknown, expected: Uint8Array): boolean {
  return actual instanceof Uint8Array && Buffer.compare(actual, expected) === 0
}

function live(model: Model, token: string): ModelSession | undefined {
  const session = model.sessions.get(token)
  return session !== undefined && model.now < session.expiry ? session : undefined
}

const at = (offset: number) => (offset === 0 ? 'now' : offset > 0 ? `now+${offset}` : `now${offset}`)

/** The table, read around the store, must hold exactly the model's rows. */
async function checkTable(model: Model, real: Real, after: string): Promise<void> {
  const rows = await readRows(real.db, real.table, real.family)
  const stored = new Map(rows.map((row) => [row.token, row]))
  const problems: string[] = []
  if (stored.size !== rows.length)
    problems.push(`duplicate tokens: ${JSON.stringify(rows.map((r) => r.token))}`)
  for (const [token, expected] of model.sessions) {
    const row = stored.get(token)
    if (row === undefined) problems.push(`${JSON.stringify(token)} missing`)
    else if (!sameBytes(row.data, expected.data) || row.expiry !== expected.expiry) {
      problems.push(
        `${JSON.stringify(token)} is ${hex(row.data)} until ${row.expiry}, ` +
          `model says ${hex(expected.data)} until ${expected.expiry}`,
      )
    }
  }
  for (const token of stored.keys()) {
    if (!model.sessions.has(token)) problems.push(`${JSON.stringify(token)} present, model has no such row`)
  }
  if (problems.length > 0) {
    throw new Divergence(`table after ${after} at now=${model.now}: ${problems.join('; ')}`)
  }
}

class Commit implements ModelCommand {
  constructor(
    readonly token: string,
    readonly data: Uint8Array,
    readonly offset: number,
  ) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    const expiry = model.now + this.offset
    real.stats.operations++
    await real.store.commit(this.token, this.data, new Date(expiry))
    model.sessions.set(this.token, { data: this.data, expiry })
    await checkTable(model, real, this.toString())
  }
  toString = () => `commit(${JSON.stringify(this.token)}, ${hex(this.data)}, ${at(this.offset)})`
}

class Find implements ModelCommand {
  constructor(readonly token: string) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    real.stats.operations++
    const actual = await real.store.find(this.token)
    const expected = live(model, this.token)?.data
    const agree = expected === undefined ? actual === undefined : sameBytes(actual, expected)
    if (!agree)
      throw new Divergence(`${this} at now=${model.now}: got ${hex(actual)}, model says ${hex(expected)}`)
    await checkTable(model, real, this.toString())
  }
  toString = () => `find(${JSON.stringify(this.token)})`
}

class Delete implements ModelCommand {
  constructor(readonly token: string) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    real.stats.operations++
    const result: unknown = await real.store.delete(this.token)
    if (result !== undefined) throw new Divergence(`${this}: resolved to ${String(result)}, not undefined`)
    model.sessions.delete(this.token)
    await checkTable(model, real, this.toString())
  }
  toString = () => `delete(${JSON.stringify(this.token)})`
}

class All implements ModelCommand {
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    real.stats.operations++
    const actual = await real.store.all()
    const expected = new Map<string, Uint8Array>()
    for (const token of model.sessions.keys()) {
      const session = live(model, token)
      if (session !== undefined) expected.set(token, session.data)
    }
    const agree =
      actual instanceof Map &&
      actual.size === expected.size &&
      [...expected].every(([token, data]) => actual.has(token) && sameBytes(actual.get(token), data))
    if (!agree) {
      const show = (map: Map<string, Uint8Array>) =>
        `{${[...map].map(([token, data]) => `${JSON.stringify(token)}: ${hex(data)}`).join(', ')}}`
      throw new Divergence(`all() at now=${model.now}: got ${show(actual)}, model says ${show(expected)}`)
    }
    await checkTable(model, real, this.toString())
  }
  toString = () => 'all()'
}

class Cleanup implements ModelCommand {
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    real.stats.operations++
    const actual = await real.store.cleanup()
    let expected = 0
    for (const [token, session] of model.sessions) {
      if (session.expiry <= model.now) {
        model.sessions.delete(token)
        expected++
      }
    }
    if (actual !== expected)
      throw new Divergence(`cleanup() at now=${model.now}: got ${actual}, model says ${expected}`)
    await checkTable(model, real, this.toString())
  }
  toString = () => 'cleanup()'
}

class Touch implements ModelCommand {
  constructor(
    readonly token: string,
    readonly offset: number,
  ) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    const expiry = model.now + this.offset
    real.stats.operations++
    const actual = await real.store.touch(this.token, new Date(expiry))
    const session = live(model, this.token)
    if (session !== undefined) session.expiry = expiry
    const expected = session !== undefined
    if (actual !== expected)
      throw new Divergence(`${this} at now=${model.now}: got ${actual}, model says ${expected}`)
    await checkTable(model, real, this.toString())
  }
  toString = () => `touch(${JSON.stringify(this.token)}, ${at(this.offset)})`
}

class AdvanceClock implements ModelCommand {
  constructor(readonly ms: number) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    real.stats.clockMoves++
    model.now += this.ms
    real.clock.now += this.ms
  }
  toString = () => `clock += ${this.ms} ms`
}

const token = fc.constantFrom(...TOKENS)
// Small byte arrays, the empty one included (and often: it is the smallest value).
const data = fc.uint8Array({ maxLength: 6 })
// Expiries relative to the clock, from 2 s ago to 5 s ahead, with the boundaries (now,
// now+1ms, now-1ms) drawn often.
const offset = fc.oneof(
  { arbitrary: fc.constantFrom(0, 1, -1), weight: 3 },
  { arbitrary: fc.integer({ min: -5, max: 5 }), weight: 2 },
  { arbitrary: fc.integer({ min: -2000, max: 5000 }), weight: 2 },
)
// 0, 1 ms, a few ms, or seconds.
const clockMove = fc.oneof(
  fc.constantFrom(0, 1),
  fc.integer({ min: 2, max: 5 }),
  fc.integer({ min: 1000, max: 3000 }),
)

/** Every command the model knows, weighted towards the ones that change state. */
export const commandArbitraries: fc.Arbitrary<ModelCommand>[] = [
  fc.oneof(
    { arbitrary: fc.tuple(token, data, offset).map(([t, d, o]) => new Commit(t, d, o)), weight: 4 },
    { arbitrary: token.map((t) => new Find(t)), weight: 3 },
    { arbitrary: fc.tuple(token, offset).map(([t, o]) => new Touch(t, o)), weight: 3 },
    { arbitrary: token.map((t) => new Delete(t)), weight: 1 },
    { arbitrary: fc.constant(new All()), weight: 2 },
    { arbitrary: fc.constant(new Cleanup()), weight: 2 },
    { arbitrary: clockMove.map((ms) => new AdvanceClock(ms)), weight: 3 },
  ),
]

/**
 * Where the clock starts: a fixed instant, just before the Unix epoch (negative
 * milliseconds, so expiries cross 1970), or anywhere from 1971 to 2100.
 */
const start = fc.oneof(
  fc.constant(Date.UTC(2031, 4, 6, 7, 8, 9, 123)),
  fc.constant(-1500),
  fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2100, 0, 1) }),
)

/** 1 and 2 make a cleanup of a few rows take several batches. */
const batchSize = fc.constantFrom(1, 2, 1000)

/**
 * The property: for any start time, cleanup batch size and command sequence, on a fresh
 * table, the store agrees with the model after every command. The table is dropped after
 * each run.
 */
export function modelProperty(db: Kysely<any>, family: FamilyName, stats: ModelStats, maxCommands: number) {
  return fc.asyncProperty(
    start,
    batchSize,
    fc.commands(commandArbitraries, { maxCommands, size: 'max' }),
    async (now, cleanupBatchSize, commands) => {
      stats.runs++
      const table = randomTable('model')
      await migrate(db, { tableName: table })
      const clock = { now }
      const store = new KyselyStore(db, 0, { tableName: table, now: () => clock.now, cleanupBatchSize })
      try {
        await fc.asyncModelRun(
          () => ({ model: { now, sessions: new Map() }, real: { db, family, table, store, clock, stats } }),
          commands,
        )
      } finally {
        await store.stopCleanup()
        await db.schema.dropTable(table).ifExists().execute()
      }
    },
  )
}

/**
 * Registers one vitest test that runs `runs` random command sequences (up to 30 commands
 * each) on the engine `open` returns, then lets go of it with `close`.
 */
export function modelSuite(leg: EngineLeg, runs: number): void {
  test(`${leg.name}: random operation sequences agree with the model`, { timeout: 120_000 }, async () => {
    const db = await leg.open()
    try {
      await fc.assert(modelProperty(db, leg.family, newStats(), 30), {
        numRuns: runs,
        includeErrorInReport: true,
      })
    } finally {
      await leg.close(db)
    }
  })
}
