import fc from 'fast-check'
import type { Kysely } from 'kysely'
import { test } from 'vitest'
import { KyselyStore, migrate, type FamilyName } from '../src/index.js'
import { TOMBSTONE_MARGIN } from '../src/families/index.js'
import { randomTable, readRows } from './helpers.js'
import type { EngineLeg } from './legs.js'

/*
 * Model-based tests: fast-check generates random sequences of store operations and clock
 * moves, runs each against the real engine and against a tiny in-memory model of the
 * contract documented in src/store/store.ts, and compares every result. After every command it
 * also reads the table directly and compares it with the model, row for row.
 */

/**
 * Few tokens, so operations collide often. 'a', 'A' and 'a ' differ only by case and a
 * trailing space (one session under a case-insensitive or PAD SPACE collation); 'ä' differs
 * from 'a' only by an accent; '😀' is outside the BMP (4 bytes in UTF-8, 2 UTF-16 units).
 */
export const TOKENS = ['a', 'A', 'a ', 'ä', '😀'] as const

/** One row as the contract sees it. */
export interface ModelSession {
  data: Uint8Array
  expiry: number
  subject: string | null
  createdAt: number
  lastSeenAt: number
  /** Set when the session was ended with a tombstone. */
  endedAt: number | null
}

/** The reference model: the application's clock and the rows the table should hold. */
export interface Model {
  now: number
  sessions: Map<string, ModelSession>
}

/** Counters shared by every run on one engine. */
export interface ModelStats {
  /** Store calls executed (commit, update, find, get, touch, delete, all, count, cleanup, and by subject). */
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
  return session !== undefined && model.now < session.expiry && session.endedAt === null ? session : undefined
}

/** The tokens of the live sessions of `subject`. */
function liveOf(model: Model, subject: string): string[] {
  return [...model.sessions.keys()].filter((token) => live(model, token)?.subject === subject)
}

const EMPTY = new Uint8Array(0)

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
    else {
      const actual = [hex(row.data), row.expiry, row.subject, row.createdAt, row.lastSeenAt, row.endedAt]
      const wanted = [
        hex(expected.data),
        expected.expiry,
        expected.subject,
        expected.createdAt,
        expected.lastSeenAt,
        expected.endedAt,
      ]
      if (JSON.stringify(actual) !== JSON.stringify(wanted)) {
        problems.push(
          `${JSON.stringify(token)} is [data, expiry, subject, createdAt, lastSeenAt, endedAt] ` +
            `${JSON.stringify(actual)}, model says ${JSON.stringify(wanted)}`,
        )
      }
    }
  }
  for (const token of stored.keys()) {
    if (!model.sessions.has(token)) problems.push(`${JSON.stringify(token)} present, model has no such row`)
  }
  if (problems.length > 0) {
    throw new Divergence(`table after ${after} at now=${model.now}: ${problems.join('; ')}`)
  }
}

/** `, { subject: ... }` as the command's text shows it, or nothing. */
const subjectText = (subject: string | null | undefined) =>
  subject === undefined ? '' : `, { subject: ${JSON.stringify(subject)} }`

class Commit implements ModelCommand {
  constructor(
    readonly token: string,
    readonly data: Uint8Array,
    readonly offset: number,
    readonly subject: string | null | undefined,
  ) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    const expiry = model.now + this.offset
    real.stats.operations++
    const options = this.subject === undefined ? undefined : { subject: this.subject }
    await real.store.commit(this.token, this.data, new Date(expiry), options)
    const existing = model.sessions.get(this.token)
    if (existing === undefined) {
      const { now } = model
      model.sessions.set(this.token, {
        data: this.data,
        expiry,
        subject: this.subject ?? null,
        createdAt: now,
        lastSeenAt: now,
        endedAt: null,
      })
    } else if (existing.endedAt === null) {
      // An expired row that cleanup has not removed yet is replaced like a live one.
      Object.assign(existing, { data: this.data, expiry, lastSeenAt: model.now })
      if (this.subject !== undefined) existing.subject = this.subject
    } // an ended session (a tombstone) is never written again
    await checkTable(model, real, this.toString())
  }
  toString = () =>
    `commit(${JSON.stringify(this.token)}, ${hex(this.data)}, ${at(this.offset)}${subjectText(this.subject)})`
}

class Update implements ModelCommand {
  constructor(
    readonly token: string,
    readonly data: Uint8Array,
    readonly offset: number,
    readonly subject: string | null | undefined,
  ) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    const expiry = model.now + this.offset
    real.stats.operations++
    const options = this.subject === undefined ? undefined : { subject: this.subject }
    const actual = await real.store.update(this.token, this.data, new Date(expiry), options)
    const session = live(model, this.token)
    if (session !== undefined) {
      Object.assign(session, { data: this.data, expiry, lastSeenAt: model.now })
      if (this.subject !== undefined) session.subject = this.subject
    }
    if (actual !== (session !== undefined))
      throw new Divergence(`${this} at now=${model.now}: got ${actual}, model says ${session !== undefined}`)
    await checkTable(model, real, this.toString())
  }
  toString = () =>
    `update(${JSON.stringify(this.token)}, ${hex(this.data)}, ${at(this.offset)}${subjectText(this.subject)})`
}

class Get implements ModelCommand {
  constructor(readonly token: string) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    real.stats.operations++
    const actual = await real.store.get(this.token)
    const session = live(model, this.token)
    const show = (value: Awaited<ReturnType<Real['store']['get']>>) =>
      value === undefined
        ? 'undefined'
        : JSON.stringify([
            hex(value.data),
            value.expiry.getTime(),
            value.subject,
            value.createdAt?.getTime() ?? null,
            value.lastSeenAt?.getTime() ?? null,
          ])
    const expected =
      session === undefined
        ? undefined
        : {
            data: session.data,
            expiry: new Date(session.expiry),
            subject: session.subject,
            createdAt: new Date(session.createdAt),
            lastSeenAt: new Date(session.lastSeenAt),
          }
    if (show(actual) !== show(expected))
      throw new Divergence(`${this} at now=${model.now}: got ${show(actual)}, model says ${show(expected)}`)
  }
  toString = () => `get(${JSON.stringify(this.token)})`
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
  constructor(
    readonly token: string,
    readonly tombstone: boolean,
  ) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    real.stats.operations++
    const result: unknown = await real.store.delete(
      this.token,
      this.tombstone ? { tombstone: true } : undefined,
    )
    if (result !== undefined) throw new Divergence(`${this}: resolved to ${String(result)}, not undefined`)
    const session = model.sessions.get(this.token)
    if (!this.tombstone) model.sessions.delete(this.token)
    else if (session !== undefined && session.endedAt === null)
      Object.assign(session, { data: EMPTY, subject: null, endedAt: model.now })
    await checkTable(model, real, this.toString())
  }
  toString = () => `delete(${JSON.stringify(this.token)}${this.tombstone ? ', { tombstone: true }' : ''})`
}

class Count implements ModelCommand {
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    real.stats.operations++
    const actual = await real.store.count()
    const expected = [...model.sessions.keys()].filter((token) => live(model, token)).length
    if (actual !== expected)
      throw new Divergence(`count() at now=${model.now}: got ${actual}, model says ${expected}`)
  }
  toString = () => 'count()'
}

class ListBySubject implements ModelCommand {
  constructor(readonly subject: string) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    real.stats.operations++
    // Pages of 2, so that paging is exercised; compared as sets (ORDER BY token follows the
    // database's collation, which differs between engines for these tokens).
    const listed: string[] = []
    let after: string | undefined
    for (;;) {
      const page = await real.store.listBySubject(this.subject, { limit: 2, ...(after ? { after } : {}) })
      listed.push(...page.map((device) => device.token))
      for (const device of page) {
        const session = live(model, device.token)
        if (
          session === undefined ||
          device.expiry.getTime() !== session.expiry ||
          device.lastSeenAt?.getTime() !== session.lastSeenAt
        )
          throw new Divergence(
            `${this} at now=${model.now}: listed ${JSON.stringify(device)}, model has ${JSON.stringify(session)}`,
          )
      }
      if (page.length < 2) break
      after = page.at(-1)!.token
    }
    const expected = liveOf(model, this.subject).sort()
    if (JSON.stringify([...listed].sort()) !== JSON.stringify(expected))
      throw new Divergence(
        `${this} at now=${model.now}: got ${JSON.stringify(listed)}, model says ${JSON.stringify(expected)}`,
      )
    const counted = await real.store.countBySubject(this.subject)
    if (counted !== expected.length)
      throw new Divergence(
        `countBySubject(${JSON.stringify(this.subject)}) at now=${model.now}: got ${counted}, model says ${expected.length}`,
      )
  }
  toString = () => `listBySubject(${JSON.stringify(this.subject)}) and countBySubject`
}

class DeleteBySubject implements ModelCommand {
  constructor(
    readonly subject: string,
    readonly except: string | undefined,
    readonly tombstone: boolean,
  ) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    real.stats.operations++
    const actual = await real.store.deleteBySubject(this.subject, {
      ...(this.except === undefined ? {} : { except: this.except }),
      tombstone: this.tombstone,
    })
    const doomed = liveOf(model, this.subject).filter((token) => token !== this.except)
    for (const token of doomed) {
      if (this.tombstone)
        Object.assign(model.sessions.get(token)!, { data: EMPTY, subject: null, endedAt: model.now })
      else model.sessions.delete(token)
    }
    if (actual !== doomed.length)
      throw new Divergence(`${this} at now=${model.now}: got ${actual}, model says ${doomed.length}`)
    await checkTable(model, real, this.toString())
  }
  toString = () =>
    `deleteBySubject(${JSON.stringify(this.subject)}, { except: ${JSON.stringify(this.except)}, tombstone: ${this.tombstone} })`
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
      // A tombstone stays TOMBSTONE_MARGIN longer (clock skew between instances).
      const margin = session.endedAt === null ? 0 : TOMBSTONE_MARGIN
      if (session.expiry + margin <= model.now) {
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
    if (session !== undefined) Object.assign(session, { expiry, lastSeenAt: model.now })
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
const subject = fc.constantFrom('alice', 'bob')
/** The subject option of commit and update: absent, cleared, or one of two subjects. */
const subjectOption = fc.constantFrom(undefined, undefined, null, 'alice', 'bob')
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
    {
      arbitrary: fc.tuple(token, data, offset, subjectOption).map(([t, d, o, s]) => new Commit(t, d, o, s)),
      weight: 4,
    },
    {
      arbitrary: fc.tuple(token, data, offset, subjectOption).map(([t, d, o, s]) => new Update(t, d, o, s)),
      weight: 2,
    },
    { arbitrary: token.map((t) => new Find(t)), weight: 3 },
    { arbitrary: token.map((t) => new Get(t)), weight: 1 },
    { arbitrary: fc.tuple(token, offset).map(([t, o]) => new Touch(t, o)), weight: 3 },
    { arbitrary: fc.tuple(token, fc.boolean()).map(([t, tomb]) => new Delete(t, tomb)), weight: 2 },
    { arbitrary: fc.constant(new Count()), weight: 1 },
    { arbitrary: subject.map((s) => new ListBySubject(s)), weight: 1 },
    {
      arbitrary: fc
        .tuple(subject, fc.option(token, { nil: undefined }), fc.boolean())
        .map(([s, e, tomb]) => new DeleteBySubject(s, e, tomb)),
      weight: 1,
    },
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
