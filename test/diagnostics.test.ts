// The store as an operator watches it: diagnostics_channel tracing of every store call,
// cleanup runs, and what is published when nobody listens (nothing). On one engine, SQLite
// in memory: the events come from the store's one code path, the same on every engine
// (retries are published on Postgres in test/faults.test.ts).
import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel'
import { inspect } from 'node:util'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { sqlite } from '../dialects/sqlite.js'
import { KyselyStore, migrate, SessionStoreError, type CleanupRun, type StoreCall } from '../src/index.js'
import { bytes, randomTable, randomToken } from './helpers.js'

type Event = [kind: 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error', call: StoreCall]

/** Records the events of the store's tracing channel while `fn` runs. */
async function traced(fn: () => Promise<unknown>): Promise<Event[]> {
  const events: Event[] = []
  const channel = tracingChannel<object, StoreCall>('kysely-session-store:call')
  const handlers = {
    start: (call: StoreCall) => events.push(['start', { ...call }]),
    end: (call: StoreCall) => events.push(['end', { ...call }]),
    asyncStart: (call: StoreCall) => events.push(['asyncStart', { ...call }]),
    asyncEnd: (call: StoreCall) => events.push(['asyncEnd', { ...call }]),
    error: (call: StoreCall) => events.push(['error', { ...call }]),
  }
  channel.subscribe(handlers)
  try {
    await fn()
  } finally {
    channel.unsubscribe(handlers)
  }
  return events
}

describe('diagnostics_channel', () => {
  let db: Kysely<any>
  let table: string
  let store: KyselyStore
  beforeAll(async () => {
    db = sqlite(':memory:')
    table = randomTable('diag')
    await migrate(db, { tableName: table })
    store = new KyselyStore(db, 0, { tableName: table })
  })
  afterAll(() => db.destroy())

  test('each store call publishes start, end, asyncStart and asyncEnd with operation, family, table, duration, rows and attempts', async () => {
    const token = randomToken()
    const events = await traced(async () => {
      await store.commit(token, bytes('x'), new Date(Date.now() + 60_000))
      await store.find(token)
    })
    expect(events.map(([kind, call]) => `${kind} ${call.operation}`)).toEqual([
      'start commit',
      'end commit',
      'asyncStart commit',
      'asyncEnd commit',
      'start find',
      'end find',
      'asyncStart find',
      'asyncEnd find',
    ])
    const [, commit] = events[3]!
    const [, find] = events[7]!
    expect(commit).toMatchObject({
      operation: 'commit',
      family: 'sqlite',
      table,
      schema: undefined,
      rows: 1,
      attempts: 1,
    })
    expect(find).toMatchObject({ operation: 'find', family: 'sqlite', table, rows: 1, attempts: 1 })
    for (const call of [commit, find]) {
      expect(call.duration).toBeGreaterThanOrEqual(0)
      expect(call.duration).toBeLessThan(60_000)
    }
    expect(events[0]![1].duration).toBeUndefined() // not known at start
  })

  test('a failing call publishes error with the SessionStoreError, then asyncEnd', async () => {
    const broken = new KyselyStore(db, 0, { tableName: randomTable('missing') })
    const events = await traced(() => broken.find(randomToken()).catch(() => undefined))
    expect(events.map(([kind]) => kind)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd'])
    const [, call] = events[2]!
    expect(call.error).toBeInstanceOf(SessionStoreError)
    expect((call.error as SessionStoreError).code).toBe('missing_table')
    expect(call.attempts).toBe(1)
  })

  test('nothing a subscriber sees contains a token, session data or a subject', async () => {
    const token = randomToken('secret-token')
    const data = 'secret-session-data'
    const subject = 'secret-subject-id'
    const cleanups: unknown[] = []
    const onCleanup = (message: unknown) => cleanups.push(message)
    subscribe('kysely-session-store:cleanup', onCleanup)
    const events = await traced(async () => {
      await store.commit(token, bytes(data), new Date(Date.now() + 60_000), { subject })
      await store.get(token)
      await store.update(token, bytes(data), new Date(Date.now() + 60_000), { subject })
      await store.listBySubject(subject)
      await store.deleteBySubject(subject, { except: token })
      await store.touch(token, new Date(Date.now() + 60_000))
      await store.delete(token, { tombstone: true })
      await store.cleanup()
      await new KyselyStore(db, 0, { tableName: randomTable('missing') })
        .commit(token, bytes(data), new Date(Date.now() + 1000))
        .catch(() => undefined)
    })
    unsubscribe('kysely-session-store:cleanup', onCleanup)
    expect(events.length).toBeGreaterThan(30)
    const printed = inspect([events, cleanups], { depth: 10 })
    for (const secret of [token, data, subject]) expect(printed).not.toContain(secret)
  })

  test('each cleanup run publishes how many rows it deleted, in how many batches, and whether the timer ran it', async () => {
    const name = randomTable('diagclean')
    await migrate(db, { tableName: name })
    const runs: CleanupRun[] = []
    const onCleanup = (message: unknown) => runs.push(message as CleanupRun)
    subscribe('kysely-session-store:cleanup', onCleanup)
    try {
      const s = new KyselyStore(db, 0, { tableName: name, cleanupBatchSize: 2 })
      for (let i = 0; i < 5; i++) await s.commit(randomToken(), bytes('x'), new Date(Date.now() - 1))
      expect(await s.cleanup()).toBe(5)
      const background = new KyselyStore(db, 5, { tableName: name })
      await new Promise((resolve) => setTimeout(resolve, 50))
      await background.stopCleanup()
    } finally {
      unsubscribe('kysely-session-store:cleanup', onCleanup)
    }
    expect(runs[0]).toMatchObject({
      family: 'sqlite',
      table: name,
      deleted: 5,
      batches: 3,
      background: false,
    })
    expect(runs[0]!.duration).toBeGreaterThanOrEqual(0)
    expect(runs.slice(1).some((run) => run.background && run.deleted === 0)).toBe(true)
  })

  test('after unsubscribing, nothing is published', async () => {
    const seen: unknown[] = []
    const channel = tracingChannel<object, StoreCall>('kysely-session-store:call')
    const handlers = {
      start: (call: StoreCall) => seen.push(call),
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: (call: StoreCall) => seen.push(call),
      error: (call: StoreCall) => seen.push(call),
    }
    channel.subscribe(handlers)
    await store.find(randomToken())
    expect(seen).toHaveLength(2)
    channel.unsubscribe(handlers)
    expect(channel.hasSubscribers).toBe(false)
    await store.find(randomToken())
    await store.cleanup()
    expect(seen).toHaveLength(2)
  })
})
