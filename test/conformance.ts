import { randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import { sql, type Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { EngineLeg } from './legs.js'
import {
  KyselyStore,
  migrate,
  SessionStoreError,
  type FamilyName,
  type KyselyStoreOptions,
} from '../src/index.js'
import {
  bytes,
  createVersion1Table,
  text,
  columnTypes,
  columnsOf,
  hasIndex,
  randomTable,
  randomToken,
  readRows,
  recording,
  refedTimers,
  sleep,
  waitFor,
} from './helpers.js'

export type { EngineLeg }

const HOUR = 3600_000

/**
 * Registers the whole store contract for one engine leg. Every sentence of the store's
 * documented behaviour has exactly one test here; each engine's test file calls this once
 * per leg (our factory, Kysely's stock dialect).
 */
export function conformance(leg: EngineLeg): void {
  describe(leg.name, () => {
    let db: Kysely<any>
    let table: string
    const tables: string[] = []
    // The application's clock, injected: expiry tests move it instead of sleeping.
    const clock = { now: Date.UTC(2031, 4, 6, 7, 8, 9, 123) }
    const stores: KyselyStore[] = []

    /** A store on the shared table with background cleanup off, on the test clock. */
    function store(options: KyselyStoreOptions = {}, interval = 0, on: Kysely<any> = db): KyselyStore {
      const created = new KyselyStore(on, interval, { tableName: table, now: () => clock.now, ...options })
      stores.push(created)
      return created
    }

    /** A freshly migrated table of its own, for tests that count rows. */
    async function freshTable(): Promise<string> {
      const name = randomTable()
      tables.push(name)
      await migrate(db, { tableName: name })
      return name
    }

    const at = (offset: number) => new Date(clock.now + offset)

    beforeAll(async () => {
      db = await leg.open()
      table = await freshTable()
    })

    afterAll(async () => {
      await Promise.all(stores.map((s) => s.stopCleanup()))
      if (db) {
        for (const name of tables) await db.schema.dropTable(name).ifExists().execute()
        await leg.close(db)
      }
    })

    describe('find and expiry', () => {
      test('a session is live while now < expiry', async () => {
        const s = store()
        const token = randomToken()
        await s.commit(token, bytes('live'), at(1000))
        clock.now += 999
        try {
          expect(text(await s.find(token))).toBe('live')
          expect((await s.all()).has(token)).toBe(true)
        } finally {
          clock.now -= 999
        }
      })

      test('from now >= expiry, find returns undefined before any cleanup ran', async () => {
        const s = store()
        const token = randomToken()
        await s.commit(token, bytes('x'), at(0))
        expect(await s.find(token)).toBeUndefined()
        const stored = (await readRows(db, table, leg.family)).find((row) => row.token === token)
        expect(stored?.expiry).toBe(clock.now) // still in the table: no cleanup ran
      })

      test('from now >= expiry, all() omits the session before any cleanup ran', async () => {
        const s = store({ tableName: await freshTable() })
        const [live, expired] = [randomToken('live'), randomToken('expired')]
        await s.commit(live, bytes('a'), at(1))
        await s.commit(expired, bytes('b'), at(0))
        const all = await s.all()
        expect([...all.keys()]).toEqual([live])
        expect(text(all.get(live))).toBe('a')
      })

      test('find returns undefined for a token never committed', async () => {
        expect(await store().find(randomToken())).toBeUndefined()
      })

      test('expiry is stored exact to the millisecond and compared to the millisecond', async () => {
        const s = store()
        const token = randomToken()
        const expiry = new Date(Date.UTC(2031, 4, 6, 7, 8, 10, 987))
        await s.commit(token, bytes('ms'), expiry)
        const stored = (await readRows(db, table, leg.family)).find((row) => row.token === token)
        expect(stored?.expiry).toBe(expiry.getTime())
        const saved = clock.now
        try {
          clock.now = expiry.getTime() - 1
          expect(await s.find(token)).toBeDefined()
          clock.now = expiry.getTime()
          expect(await s.find(token)).toBeUndefined()
        } finally {
          clock.now = saved
        }
      })

      test("the application's clock, not the database's, decides expiry", async () => {
        // Real time says this session expired a day ago; the injected clock says it is live.
        const realNow = Date.now()
        const token = randomToken()
        const s = new KyselyStore(db, 0, { tableName: table, now: () => realNow - 2 * 24 * HOUR })
        await s.commit(token, bytes('old'), new Date(realNow - 24 * HOUR))
        expect(text(await s.find(token))).toBe('old')
        expect((await s.all()).has(token)).toBe(true)
        expect(await new KyselyStore(db, 0, { tableName: table }).find(token)).toBeUndefined()
      })
    })

    describe('commit', () => {
      test('commit inserts a new session', async () => {
        const s = store()
        const token = randomToken()
        await s.commit(token, bytes('new'), at(HOUR))
        const stored = (await readRows(db, table, leg.family)).filter((row) => row.token === token)
        expect(stored).toHaveLength(1)
        expect(text(stored[0]?.data)).toBe('new')
        expect(stored[0]?.expiry).toBe(clock.now + HOUR)
      })

      test('commit on an existing token replaces data and expiry', async () => {
        const s = store()
        const token = randomToken()
        await s.commit(token, bytes('first'), at(HOUR))
        await s.commit(token, bytes('second'), at(2 * HOUR))
        expect(text(await s.find(token))).toBe('second')
        const stored = (await readRows(db, table, leg.family)).filter((row) => row.token === token)
        expect(stored.map((row) => row.expiry)).toEqual([clock.now + 2 * HOUR])
      })

      test('an expiry moved earlier, even into the past, takes effect', async () => {
        const s = store()
        const [earlier, past] = [randomToken(), randomToken()]
        await s.commit(earlier, bytes('a'), at(2 * HOUR))
        await s.commit(earlier, bytes('a'), at(HOUR))
        await s.commit(past, bytes('b'), at(HOUR))
        await s.commit(past, bytes('b'), at(-HOUR))
        expect(await s.find(past)).toBeUndefined()
        const stored = await readRows(db, table, leg.family)
        expect(stored.find((row) => row.token === earlier)?.expiry).toBe(clock.now + HOUR)
        expect(stored.find((row) => row.token === past)?.expiry).toBe(clock.now - HOUR)
      })
    })

    describe('touch', () => {
      test('touch moves the expiry of a live session without rewriting its data', async () => {
        const s = store()
        const token = randomToken()
        await s.commit(token, bytes('kept'), at(HOUR))
        expect(await s.touch(token, at(3 * HOUR))).toBe(true)
        const stored = (await readRows(db, table, leg.family)).filter((row) => row.token === token)
        expect(stored.map((row) => [text(row.data), row.expiry])).toEqual([['kept', clock.now + 3 * HOUR]])
        expect(await s.touch(token, at(-1))).toBe(true) // earlier works too: it is now expired
        expect(await s.find(token)).toBeUndefined()
      })

      test('touch of an unknown token resolves to false and creates nothing', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        expect(await s.touch(randomToken(), at(HOUR))).toBe(false)
        expect(await readRows(db, name, leg.family)).toEqual([])
      })

      test('touch never revives an expired session', async () => {
        const s = store()
        const token = randomToken()
        await s.commit(token, bytes('x'), at(0))
        expect(await s.touch(token, at(HOUR))).toBe(false)
        expect(await s.find(token)).toBeUndefined()
        expect((await readRows(db, table, leg.family)).find((row) => row.token === token)?.expiry).toBe(
          clock.now,
        )
      })
    })

    describe('data', () => {
      const payloads: Array<[string, () => Uint8Array]> = [
        ['empty', () => new Uint8Array(0)],
        ['only 0x00 bytes', () => new Uint8Array(64)],
        ['all 256 byte values', () => Uint8Array.from({ length: 256 }, (_, i) => i)],
        ['1 MiB of random bytes', () => new Uint8Array(randomBytes(1024 * 1024))],
        ['a view into a larger buffer', () => new Uint8Array(Buffer.from('xxpayloadxx')).subarray(2, 9)],
      ]
      test.each(payloads)('data round-trips byte for byte: %s', async (_, make) => {
        const s = store()
        const token = randomToken()
        const data = make()
        await s.commit(token, data, at(HOUR))
        const found = await s.find(token)
        expect(found).toBeInstanceOf(Uint8Array)
        expect(Buffer.from(found!).equals(Buffer.from(data))).toBe(true)
        const all = await s.all()
        expect(Buffer.from(all.get(token)!).equals(Buffer.from(data))).toBe(true)
      })
    })

    describe('tokens', () => {
      test('tokens are stored and found literally, whatever they contain', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        const tokens = [
          "it's",
          '"quoted"',
          "'; DROP TABLE sessions; --",
          '%',
          '_',
          'a%b_c',
          '\\',
          '\\x00',
          'ünïcödé 😀 中文 🏳️‍🌈',
          'x'.repeat(255),
        ]
        for (const [i, token] of tokens.entries()) await s.commit(token, bytes(`v${i}`), at(HOUR))
        for (const [i, token] of tokens.entries()) expect(text(await s.find(token))).toBe(`v${i}`)
        expect(new Set((await readRows(db, name, leg.family)).map((row) => row.token))).toEqual(
          new Set(tokens),
        )
        expect(new Set((await s.all()).keys())).toEqual(new Set(tokens))
      })

      test("'a', 'A' and 'a ' are three different sessions", async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        await s.commit('a', bytes('lower'), at(HOUR))
        await s.commit('A', bytes('upper'), at(HOUR))
        await s.commit('a ', bytes('space'), at(HOUR))
        expect(text(await s.find('a'))).toBe('lower')
        expect(text(await s.find('A'))).toBe('upper')
        expect(text(await s.find('a '))).toBe('space')
        expect((await readRows(db, name, leg.family)).map((row) => row.token).sort()).toEqual([
          'A',
          'a',
          'a ',
        ])
      })
    })

    describe('delete and all', () => {
      test('delete removes the session', async () => {
        const s = store()
        const token = randomToken()
        await s.commit(token, bytes('x'), at(HOUR))
        await s.delete(token)
        expect(await s.find(token)).toBeUndefined()
        expect((await readRows(db, table, leg.family)).some((row) => row.token === token)).toBe(false)
      })

      test('delete of a missing token is a no-op', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        await s.commit('kept', bytes('x'), at(HOUR))
        await expect(s.delete(randomToken())).resolves.toBeUndefined()
        expect((await readRows(db, name, leg.family)).map((row) => row.token)).toEqual(['kept'])
      })

      test('all() returns every unexpired session as a Map of token to data', async () => {
        const s = store({ tableName: await freshTable() })
        const expected = new Map<string, Buffer>()
        for (let i = 0; i < 5; i++) {
          const token = randomToken()
          expected.set(token, Buffer.from(`data ${i}`))
          await s.commit(token, expected.get(token)!, at(HOUR + i))
        }
        const all = await s.all()
        expect(all).toBeInstanceOf(Map)
        expect(new Map([...all].map(([k, v]) => [k, Buffer.from(v)]))).toEqual(expected)
      })

      test('entries() yields every live session once, page by page', async () => {
        const name = await freshTable()
        const spy = recording(db)
        const s = store({ tableName: name }, 0, spy.db)
        const live = ['e', 'a', 'd', 'A', 'b ', 'c']
        for (const token of live) await s.commit(token, bytes(`v-${token}`), at(1))
        for (const token of ['b', 'ab']) await s.commit(token, bytes('x'), at(0)) // expired
        spy.queries.length = 0
        const seen: Array<[string, string | undefined]> = []
        for await (const [token, data] of s.entries({ pageSize: 2 })) seen.push([token, text(data)])
        // 6 rows in pages of 2, then an empty page that ends the iteration.
        expect(spy.queries).toHaveLength(4)
        expect(seen.map(([token]) => token).sort()).toEqual([...live].sort())
        expect(seen.every(([token, value]) => value === `v-${token}`)).toBe(true)
      })

      test('all() on an empty table is an empty Map', async () => {
        expect((await store({ tableName: await freshTable() }).all()).size).toBe(0)
      })
    })

    describe('cleanup', () => {
      test('cleanup deletes exactly the expired rows and resolves to their number', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        const live: string[] = []
        for (let i = 0; i < 5; i++) {
          live.push(randomToken('live'))
          await s.commit(live.at(-1)!, bytes('l'), at(1 + i))
        }
        for (let i = 0; i < 7; i++) await s.commit(randomToken('dead'), bytes('d'), at(-i)) // at(0) is expired too
        expect(await s.cleanup()).toBe(7)
        expect((await readRows(db, name, leg.family)).map((row) => row.token).sort()).toEqual(live.sort())
        expect(await s.cleanup()).toBe(0)
      })

      test('cleanup deletes in batches of cleanupBatchSize rows, one statement each', async () => {
        const name = await freshTable()
        const spy = recording(db)
        const s = store({ tableName: name, cleanupBatchSize: 3 }, 0, spy.db)
        for (let i = 0; i < 10; i++) await s.commit(randomToken(), bytes('d'), at(-1))
        await s.commit(randomToken(), bytes('l'), at(1))
        spy.queries.length = 0
        expect(await s.cleanup()).toBe(10)
        // 3 + 3 + 3 + 1: the short batch tells the run that nothing is left.
        expect(spy.queries).toHaveLength(4)
        for (const query of spy.queries) {
          expect(query.sql).toMatch(/^DELETE/)
          expect(query.parameters).toContain(3)
        }
        expect(await readRows(db, name, leg.family)).toHaveLength(1)
      })

      test('cleanup runs never overlap: a call during a run starts after it', async () => {
        const name = await freshTable()
        const spy = recording(db, { match: /^DELETE/, ms: 10 })
        const s = store({ tableName: name, cleanupBatchSize: 2 }, 0, spy.db)
        for (let i = 0; i < 6; i++) await s.commit(randomToken(), bytes('d'), at(-1))
        const counts = await Promise.all([s.cleanup(), s.cleanup(), s.cleanup()])
        expect(counts).toEqual([6, 0, 0])
        expect(spy.maxInFlight).toBe(1)
      })

      test('the background timer deletes expired rows every cleanupInterval ms', async () => {
        const name = await freshTable()
        const writer = store({ tableName: name })
        for (let i = 0; i < 3; i++) await writer.commit(randomToken(), bytes('d'), at(-1))
        await writer.commit('survivor', bytes('l'), at(HOUR))
        const s = store({ tableName: name }, 20)
        await waitFor(async () => (await readRows(db, name, leg.family)).length === 1)
        expect((await readRows(db, name, leg.family)).map((row) => row.token)).toEqual(['survivor'])
        await s.stopCleanup()
      })

      test('background runs never overlap, even when a run outlasts the interval', async () => {
        const name = await freshTable()
        const spy = recording(db, { match: /^DELETE/, ms: 30 })
        const s = store({ tableName: name }, 1, spy.db)
        await waitFor(() => spy.queries.length >= 4)
        await s.stopCleanup()
        expect(spy.maxInFlight).toBe(1)
      })

      test('an interval of 0 disables the background cleanup', async () => {
        const spy = recording(db)
        store({}, 0, spy.db)
        await sleep(50)
        expect(spy.queries).toHaveLength(0)
      })

      test('the timer never keeps the process alive', async () => {
        const before = refedTimers()
        const s = store({}, 60_000)
        expect(refedTimers()).toBe(before)
        await s.stopCleanup()
      })

      test('a failing run goes to onError, contains no token, and the timer keeps going', async () => {
        const name = randomTable('later')
        tables.push(name)
        const secret = randomToken('secret')
        const errors: SessionStoreError[] = []
        const s = store({ tableName: name, onError: (error) => errors.push(error) }, 5)
        await waitFor(() => errors.length >= 2)
        expect(errors[0]).toBeInstanceOf(SessionStoreError)
        expect(errors[0]?.message).toContain(`"${name}"`)
        expect(errors[0]?.cause).toBeDefined()
        // The table appears: the same timer, still running, now cleans it.
        await migrate(db, { tableName: name })
        await store({ tableName: name }).commit(secret, bytes('secret data'), at(-1))
        await waitFor(async () => (await readRows(db, name, leg.family)).length === 0)
        await s.stopCleanup()
        for (const error of errors) expect(error.message).not.toContain(secret)
      })

      test('by default a failing run is one warning line without a token', async () => {
        const name = randomTable('missing')
        const lines: string[] = []
        const original = console.warn
        console.warn = (...args: unknown[]) => lines.push(args.map(String).join(' '))
        try {
          const s = store({ tableName: name }, 5)
          await waitFor(() => lines.length >= 1)
          await s.stopCleanup()
        } finally {
          console.warn = original
        }
        expect(lines[0]).toMatch(/^kysely-session-store: cleanup failed: table "[a-z_0-9]+" does not exist/)
        expect(lines[0]).not.toContain('\n')
      })

      test('an onError that throws does not stop the timer or crash the process', async () => {
        let calls = 0
        const s = store(
          {
            tableName: randomTable('missing'),
            onError: () => {
              calls++
              throw new Error('onError failed')
            },
          },
          5,
        )
        await waitFor(() => calls >= 3)
        await s.stopCleanup()
      })
    })

    describe('concurrency', () => {
      test('200 concurrent commits to one token: no error, and the final state is one of them', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        const token = randomToken()
        const values = Array.from({ length: 200 }, (_, i) => `value ${i}`)
        await Promise.all(values.map((value, i) => s.commit(token, bytes(value), at(HOUR + i))))
        const rows = await readRows(db, name, leg.family)
        expect(rows).toHaveLength(1)
        const i = values.indexOf(text(rows[0]!.data)!)
        expect(i).toBeGreaterThanOrEqual(0)
        expect(rows[0]!.expiry).toBe(clock.now + HOUR + i) // data and expiry from the same commit
      })

      test('200 concurrent commits to 200 tokens: no error, every one stored', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        const tokens = Array.from({ length: 200 }, () => randomToken())
        await Promise.all(tokens.map((token) => s.commit(token, bytes(token), at(HOUR))))
        const rows = await readRows(db, name, leg.family)
        expect(rows.map((row) => row.token).sort()).toEqual([...tokens].sort())
        expect(rows.every((row) => text(row.data) === row.token)).toBe(true)
      })

      test('finds and gets asked for at once each answer their own session: live, missing, expired, ended, asked twice', async () => {
        const s = store()
        const live = Array.from({ length: 30 }, () => randomToken())
        const expired = randomToken()
        const ended = randomToken()
        await Promise.all(
          live.map((token) => s.commit(token, bytes(token), at(HOUR), { subject: token.slice(0, 20) })),
        )
        await s.commit(expired, bytes('old'), at(-1))
        await s.commit(ended, bytes('ended'), at(HOUR))
        await s.delete(ended, { tombstone: true })
        const asked = [...live, randomToken(), expired, ended, live[0]!, live[1]!]
        const [found, got] = await Promise.all([
          Promise.all(asked.map((token) => s.find(token))),
          Promise.all(asked.map((token) => s.get(token))),
        ])
        const expected = asked.map((token) => (live.includes(token) ? token : undefined))
        expect(found.map(text)).toEqual(expected)
        expect(got.map((stored) => text(stored?.data))).toEqual(expected)
        expect(got.map((stored) => stored?.subject)).toEqual(expected.map((token) => token?.slice(0, 20)))
        expect(
          got.every((stored) => stored === undefined || stored.expiry.getTime() === clock.now + HOUR),
        ).toBe(true)
      })

      test('a read asked for after a write resolved sees it, while other reads are in flight', async () => {
        const s = store()
        const token = randomToken()
        const others = Array.from({ length: 10 }, () => randomToken())
        await s.commit(token, bytes('v0'), at(HOUR))
        for (let i = 1; i <= 5; i++) {
          const busy = others.map((other) => s.find(other))
          await s.commit(token, bytes(`v${i}`), at(HOUR))
          const [seen] = await Promise.all([s.find(token), ...busy])
          expect(text(seen)).toBe(`v${i}`)
        }
      })

      test('cleanup racing commits that revive expired tokens never deletes a live session', async () => {
        const name = await freshTable()
        const s = store({ tableName: name, cleanupBatchSize: 7 })
        for (let round = 0; round < 5; round++) {
          const tokens = Array.from({ length: 60 }, () => randomToken())
          await Promise.all(tokens.map((token) => s.commit(token, bytes('old'), at(-1))))
          const revived = tokens.filter((_, i) => i % 2 === 0)
          await Promise.all([
            s.cleanup(),
            ...revived.map((token) => s.commit(token, bytes('revived'), at(HOUR))),
            s.cleanup(),
          ])
          for (const token of revived) expect(text(await s.find(token))).toBe('revived')
          await s.cleanup()
          const left = (await readRows(db, name, leg.family)).map((row) => row.token)
          expect(left.sort()).toEqual(expect.arrayContaining(revived))
          expect(left.filter((token) => !revived.includes(token))).toEqual(
            left.filter((token) => !revived.includes(token) && !tokens.includes(token)),
          )
        }
      })
    })

    describe('stopping', () => {
      test('after stopCleanup() resolves, the timer issues no further query', async () => {
        const spy = recording(db)
        const s = store({}, 5, spy.db)
        await waitFor(() => spy.queries.length >= 1)
        await s.stopCleanup()
        const issued = spy.queries.length
        await sleep(60)
        expect(spy.queries).toHaveLength(issued)
      })

      test('stopCleanup() resolves only once a running cleanup has finished', async () => {
        const spy = recording(db, { match: /^DELETE/, ms: 60 })
        const s = store({}, 1, spy.db)
        await waitFor(() => spy.inFlight > 0)
        await s.stopCleanup()
        expect(spy.inFlight).toBe(0)
      })

      test('stopCleanup() is idempotent and the store stays usable', async () => {
        const s = store({}, 1000)
        await s.stopCleanup()
        await expect(s.stopCleanup()).resolves.toBeUndefined()
        const token = randomToken()
        await s.commit(token, bytes('x'), at(HOUR))
        expect(text(await s.find(token))).toBe('x')
        expect(await s.cleanup()).toBeGreaterThanOrEqual(0)
      })

      test('await using stops the cleanup at the end of the scope', async () => {
        const spy = recording(db)
        {
          await using s = new KyselyStore(spy.db, 5, { tableName: table, now: () => clock.now })
          await waitFor(() => spy.queries.length >= 1)
          expect(s).toBeInstanceOf(KyselyStore)
        }
        const issued = spy.queries.length
        await sleep(60)
        expect(spy.queries).toHaveLength(issued)
      })

      test('nothing here ever calls db.destroy(): the caller owns the database', async () => {
        const spy = recording(db)
        const s = store({ tableName: await freshTable() }, 5, spy.db)
        await s.commit(randomToken(), bytes('x'), at(-1))
        await s.cleanup()
        await s.all()
        await s.stopCleanup()
        await s[Symbol.asyncDispose]()
        await migrate(spy.db, { tableName: randomTable() }).catch(() => undefined)
        expect(spy.destroyed).toBe(0)
        expect((await sql<{ one: number }>`SELECT 1 AS one`.execute(db)).rows).toHaveLength(1)
      })
    })

    // Input refused before any query needs no engine: test/bad-input.test.ts checks it once.
    describe('limits and bad input, on the engine', () => {
      test('data larger than maxDataSize is refused, data of exactly that size is stored', async () => {
        const spy = recording(db)
        const s = store({ maxDataSize: 1024 }, 0, spy.db)
        const error = await s.commit(randomToken(), new Uint8Array(1025), at(HOUR)).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(RangeError)
        expect((error as Error).message).toBe(
          'data must be at most 1024 bytes (the maxDataSize option), got 1025',
        )
        expect(spy.queries).toHaveLength(0)
        const token = randomToken()
        await s.commit(token, new Uint8Array(1024), at(HOUR))
        expect((await s.find(token))?.byteLength).toBe(1024)
      })

      test('a table name that is a reserved word is quoted, not refused', async () => {
        const name = 'select'
        tables.push(name)
        await migrate(db, { tableName: name })
        const s = store({ tableName: name })
        await s.commit('t', bytes('reserved'), at(HOUR))
        expect(text(await s.find('t'))).toBe('reserved')
      })

      test('a table with bad input is left unchanged', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        await s.commit('kept', bytes('x'), at(HOUR))
        const before = await readRows(db, name, leg.family)
        await s
          .commit("x'; DELETE FROM sessions; --", 'not bytes' as unknown as Uint8Array, at(HOUR))
          .catch(() => 0)
        await s.commit('', bytes('y'), at(HOUR)).catch(() => 0)
        expect(await readRows(db, name, leg.family)).toEqual(before)
      })
    })

    describe('get, subjects and when a session was created and last seen', () => {
      test('get returns data, expiry, subject, createdAt and lastSeenAt of a live session', async () => {
        const s = store()
        const token = randomToken()
        await s.commit(token, bytes('got'), at(HOUR), { subject: 'user-1' })
        const stored = await s.get(token)
        expect(text(stored?.data)).toBe('got')
        expect(stored?.data).toBeInstanceOf(Uint8Array)
        expect([stored?.expiry, stored?.subject, stored?.createdAt, stored?.lastSeenAt]).toEqual([
          at(HOUR),
          'user-1',
          at(0),
          at(0),
        ])
      })

      test('get returns undefined where find finds nothing: unknown, expired, ended', async () => {
        const s = store()
        const [expired, ended] = [randomToken(), randomToken()]
        await s.commit(expired, bytes('x'), at(0))
        await s.commit(ended, bytes('x'), at(HOUR))
        await s.delete(ended, { tombstone: true })
        for (const token of [randomToken(), expired, ended]) expect(await s.get(token)).toBeUndefined()
      })

      test('commit sets created_at on insert only and last_seen_at on every commit', async () => {
        const s = store()
        const token = randomToken()
        const created = clock.now
        await s.commit(token, bytes('a'), at(HOUR))
        clock.now += 5000
        try {
          await s.commit(token, bytes('b'), at(HOUR))
          const row = (await readRows(db, table, leg.family)).find((r) => r.token === token)!
          expect([row.createdAt, row.lastSeenAt]).toEqual([created, created + 5000])
        } finally {
          clock.now -= 5000
        }
      })

      test('commit with subject sets it, subject null clears it, and without the option it is kept', async () => {
        const s = store()
        const token = randomToken()
        const subject = async () =>
          (await readRows(db, table, leg.family)).find((r) => r.token === token)?.subject
        await s.commit(token, bytes('a'), at(HOUR))
        expect(await subject()).toBeNull() // a new session without the option has none
        await s.commit(token, bytes('a'), at(HOUR), { subject: 'alice' })
        expect(await subject()).toBe('alice')
        await s.commit(token, bytes('b'), at(HOUR))
        expect(await subject()).toBe('alice')
        await s.commit(token, bytes('c'), at(HOUR), { subject: 'bob' })
        expect(await subject()).toBe('bob')
        await s.commit(token, bytes('d'), at(HOUR), { subject: null })
        expect(await subject()).toBeNull()
      })

      test('touch moves lastSeenAt to now, and leaves createdAt', async () => {
        const s = store()
        const token = randomToken()
        await s.commit(token, bytes('a'), at(HOUR))
        clock.now += 1234
        try {
          expect(await s.touch(token, at(2 * HOUR))).toBe(true)
          const stored = await s.get(token)
          expect([stored?.createdAt, stored?.lastSeenAt]).toEqual([at(-1234), at(0)])
        } finally {
          clock.now -= 1234
        }
      })
    })

    describe('update: update-only', () => {
      test('update replaces data, expiry and lastSeenAt of a live session and resolves to true', async () => {
        const s = store()
        const token = randomToken()
        await s.commit(token, bytes('old'), at(HOUR), { subject: 'kept' })
        clock.now += 10
        try {
          expect(await s.update(token, bytes('new'), at(2 * HOUR))).toBe(true)
          const row = (await readRows(db, table, leg.family)).find((r) => r.token === token)!
          expect([text(row.data), row.expiry, row.subject, row.lastSeenAt, row.createdAt]).toEqual([
            'new',
            clock.now + 2 * HOUR,
            'kept',
            clock.now,
            clock.now - 10,
          ])
          expect(await s.update(token, bytes('newer'), at(HOUR), { subject: 'changed' })).toBe(true)
          expect((await s.get(token))?.subject).toBe('changed')
        } finally {
          clock.now -= 10
        }
      })

      test('update writes nothing and resolves to false without a live session: unknown, expired, deleted, ended', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        const [unknown, expired, deleted, ended] = [
          randomToken(),
          randomToken(),
          randomToken(),
          randomToken(),
        ]
        await s.commit(expired, bytes('x'), at(0))
        await s.commit(deleted, bytes('x'), at(HOUR))
        await s.delete(deleted)
        await s.commit(ended, bytes('x'), at(HOUR))
        await s.delete(ended, { tombstone: true })
        const before = await readRows(db, name, leg.family)
        for (const token of [unknown, expired, deleted, ended]) {
          expect(await s.update(token, bytes('resurrected'), at(HOUR), { subject: 'x' })).toBe(false)
        }
        expect(await readRows(db, name, leg.family)).toEqual(before)
      })
    })

    describe('tombstones: delete(token, { tombstone: true })', () => {
      test('the row stays until its expiry, emptied, without subject, ended now', async () => {
        const s = store()
        const token = randomToken()
        await s.commit(token, bytes('secret'), at(HOUR), { subject: 'user' })
        await s.delete(token, { tombstone: true })
        const row = (await readRows(db, table, leg.family)).find((r) => r.token === token)!
        expect([row.data.byteLength, row.subject, row.expiry, row.endedAt]).toEqual([
          0,
          null,
          clock.now + HOUR,
          clock.now,
        ])
      })

      test('find, get, all, entries and count never return an ended session', async () => {
        const s = store({ tableName: await freshTable() })
        const [live, ended] = [randomToken('live'), randomToken('ended')]
        await s.commit(live, bytes('l'), at(HOUR))
        await s.commit(ended, bytes('e'), at(HOUR))
        await s.delete(ended, { tombstone: true })
        expect(await s.find(ended)).toBeUndefined()
        expect(await s.get(ended)).toBeUndefined()
        expect([...(await s.all()).keys()]).toEqual([live])
        const entries: string[] = []
        for await (const [token] of s.entries()) entries.push(token)
        expect(entries).toEqual([live])
        expect(await s.count()).toBe(1)
      })

      test('no commit, update or touch brings an ended session back', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        const token = randomToken()
        await s.commit(token, bytes('before logout'), at(HOUR))
        await s.delete(token, { tombstone: true })
        const before = await readRows(db, name, leg.family)
        await s.commit(token, bytes('resurrected'), at(2 * HOUR), { subject: 'attacker' })
        await s.commit(token, bytes('resurrected'), at(2 * HOUR))
        expect(await s.update(token, bytes('resurrected'), at(2 * HOUR))).toBe(false)
        expect(await s.touch(token, at(2 * HOUR))).toBe(false)
        expect(await s.find(token)).toBeUndefined()
        expect(await readRows(db, name, leg.family)).toEqual(before)
      })

      test('cleanup removes a tombstone once its expiry and 10 minutes more (clock skew) have passed, and not before', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        const token = randomToken()
        await s.commit(token, bytes('x'), at(HOUR))
        await s.delete(token, { tombstone: true })
        expect(await s.cleanup()).toBe(0)
        clock.now += HOUR
        try {
          // A cleaner whose clock runs up to 10 minutes ahead leaves it for the others.
          expect(await s.cleanup()).toBe(0)
          clock.now += 10 * 60_000 - 1
          expect(await s.cleanup()).toBe(0)
          clock.now += 1
          expect(await s.cleanup()).toBe(1)
          expect(await readRows(db, name, leg.family)).toEqual([])
          await s.commit(token, bytes('a new session'), at(HOUR)) // the token is free again
          expect(text(await s.find(token))).toBe('a new session')
        } finally {
          clock.now -= HOUR + 10 * 60_000
        }
      })

      test('a tombstone of an unknown token is a no-op', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        await s.delete(randomToken(), { tombstone: true })
        expect(await readRows(db, name, leg.family)).toEqual([])
      })
    })

    describe('count and clear', () => {
      test('count is the number of live sessions', async () => {
        const s = store({ tableName: await freshTable() })
        for (let i = 0; i < 3; i++) await s.commit(randomToken(), bytes('l'), at(HOUR))
        await s.commit(randomToken(), bytes('expired'), at(0))
        expect(await s.count()).toBe(3)
      })

      test('clear deletes every row, live, expired and ended, and resolves to how many', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        const ended = randomToken()
        await s.commit(randomToken(), bytes('live'), at(HOUR))
        await s.commit(randomToken(), bytes('expired'), at(-1))
        await s.commit(ended, bytes('ended'), at(HOUR))
        await s.delete(ended, { tombstone: true })
        expect(await s.clear()).toBe(3)
        expect(await readRows(db, name, leg.family)).toEqual([])
      })
    })

    describe("a subject's sessions", () => {
      /** Sessions of `subject` (and of others) in a fresh table. */
      async function devices(subject: string, tokens: string[]) {
        const s = store({ tableName: await freshTable() })
        const base = clock.now
        for (const [i, token] of tokens.entries()) {
          clock.now = base + i // created (and last seen) i ms later, expiring an hour after that
          await s.commit(token, bytes(`d${i}`), at(HOUR), { subject })
        }
        clock.now = base
        await s.commit(randomToken('other'), bytes('o'), at(HOUR), { subject: `${subject}-other` })
        await s.commit(randomToken('anon'), bytes('a'), at(HOUR))
        return s
      }

      test('listBySubject lists its live sessions, the most recently seen first, with expiry, createdAt and lastSeenAt, no data', async () => {
        const tokens = ['c', 'a', 'b']
        const s = await devices('alice', tokens)
        await s.commit('z-expired', bytes('x'), at(0), { subject: 'alice' })
        await s.commit('y-ended', bytes('x'), at(HOUR), { subject: 'alice' })
        await s.delete('y-ended', { tombstone: true })
        const listed = await s.listBySubject('alice')
        expect(listed).toEqual(
          ['b', 'a', 'c'].map((token) => {
            const i = tokens.indexOf(token)
            return { token, expiry: at(HOUR + i), createdAt: at(i), lastSeenAt: at(i) }
          }),
        )
      })

      test('listBySubject: a session seen again moves to the front; equal times by token, descending; never seen (another program wrote it) last', async () => {
        const s = await devices('amy', ['p', 'q', 'r', 's'])
        clock.now += 10
        try {
          await s.touch('q', at(HOUR))
          await s.commit('t', bytes('x'), at(HOUR), { subject: 'amy' }) // seen at the same time as q
        } finally {
          clock.now -= 10
        }
        const q = leg.family === 'mysql' ? '`' : '"'
        expect((await s.listBySubject('amy')).map((d) => d.token)).toEqual(['t', 'q', 's', 'r', 'p'])
        // Rows without last_seen_at (imported, or written by another program) come last.
        const tableName = await freshTable()
        const other = store({ tableName })
        for (const token of ['m', 'n']) await other.commit(token, bytes('x'), at(HOUR), { subject: 'amy' })
        await sql
          .raw(
            `UPDATE ${q}${tableName}${q} SET last_seen_at = NULL, created_at = NULL WHERE token IN ('m', 'n')`,
          )
          .execute(db)
        await other.commit('o', bytes('x'), at(HOUR), { subject: 'amy' })
        expect((await other.listBySubject('amy')).map((d) => [d.token, d.lastSeenAt])).toEqual([
          ['o', at(0)],
          ['n', null],
          ['m', null],
        ])
      })

      test('listBySubject pages with limit and after, through sessions never seen', async () => {
        const s = await devices('bob', ['1', '2', '3', '4', '5'])
        const q = leg.family === 'mysql' ? '`' : '"'
        const name = await freshTable()
        const t = store({ tableName: name })
        for (const [i, token] of ['1', '2', '3', '4', '5'].entries()) {
          clock.now += i
          try {
            await t.commit(token, bytes('x'), at(HOUR), { subject: 'bob' })
          } finally {
            clock.now -= i
          }
        }
        await sql.raw(`UPDATE ${q}${name}${q} SET last_seen_at = NULL WHERE token IN ('1', '2')`).execute(db)
        for (const [store, expected] of [
          [s, [['5', '4'], ['3', '2'], ['1']]],
          [t, [['5', '4'], ['3', '2'], ['1']]],
        ] as const) {
          const first = await store.listBySubject('bob', { limit: 2 })
          const second = await store.listBySubject('bob', { limit: 2, after: first.at(-1)!.token })
          const third = await store.listBySubject('bob', { limit: 2, after: second.at(-1)!.token })
          expect([first, second, third].map((page) => page.map((d) => d.token))).toEqual(expected)
        }
        expect(await s.listBySubject('bob', { after: 'gone' })).toEqual([]) // a token no longer stored
      })

      test("listBySubject with withData also returns each session's data", async () => {
        const s = await devices('ann', ['p', 'q'])
        const listed = await s.listBySubject('ann', { withData: true })
        expect(listed.map((d) => [d.token, text(d.data)])).toEqual([
          ['q', 'd1'],
          ['p', 'd0'],
        ])
        const next = await s.listBySubject('ann', { withData: true, after: 'q' })
        expect(next.map((d) => [d.token, text(d.data)])).toEqual([['p', 'd0']])
        expect((await s.listBySubject('ann'))[0]).not.toHaveProperty('data')
      })

      test('listBySubject with createdAt lists the sessions created at that instant (null: without a creation time)', async () => {
        const s = await devices('abe', ['p', 'q', 'r'])
        expect((await s.listBySubject('abe', { createdAt: at(1) })).map((d) => d.token)).toEqual(['q'])
        expect(await s.listBySubject('abe', { createdAt: at(5) })).toEqual([])
        expect(await s.listBySubject('abe', { createdAt: null })).toEqual([])
        expect(await s.listBySubject('abe-other', { createdAt: at(1) })).toEqual([])
      })

      test('trimBySubject keeps except and the most recently seen others, up to keep, and deletes the rest', async () => {
        const s = await devices('ava', ['p', 'q', 'r', 's', 't'])
        expect(await s.trimBySubject('ava', { keep: 3, except: 'p' })).toBe(2) // p, t, s stay
        expect((await s.listBySubject('ava')).map((d) => d.token)).toEqual(['t', 's', 'p'])
        expect(await s.trimBySubject('ava', { keep: 3 })).toBe(0)
        expect(await s.trimBySubject('ava', { keep: 1 })).toBe(2)
        expect((await s.listBySubject('ava')).map((d) => d.token)).toEqual(['t'])
        expect(await s.trimBySubject('ava', { keep: 1, except: 'p' })).toBe(1) // p is gone: t goes too
        expect(await s.countBySubject('ava')).toBe(0)
        expect(await s.countBySubject('ava-other')).toBe(1)
        expect(await s.count()).toBe(2)
      })

      test('countBySubject counts its live sessions only', async () => {
        const s = await devices('carol', ['p', 'q'])
        await s.commit('r', bytes('x'), at(0), { subject: 'carol' })
        expect(await s.countBySubject('carol')).toBe(2)
        expect(await s.countBySubject('nobody')).toBe(0)
      })

      test('deleteBySubject deletes its live sessions, resolves to how many, and leaves everyone else', async () => {
        const s = await devices('dave', ['p', 'q', 'r'])
        expect(await s.deleteBySubject('dave')).toBe(3)
        expect(await s.listBySubject('dave')).toEqual([])
        expect(await s.count()).toBe(2)
      })

      test('deleteBySubject with except keeps that session', async () => {
        const s = await devices('erin', ['p', 'q', 'r'])
        expect(await s.deleteBySubject('erin', { except: 'q' })).toBe(2)
        expect((await s.listBySubject('erin')).map((d) => d.token)).toEqual(['q'])
      })

      test('deleteBySubject with tombstone ends them for good', async () => {
        const s = await devices('fay', ['p', 'q'])
        expect(await s.deleteBySubject('fay', { except: 'q', tombstone: true })).toBe(1)
        await s.commit('p', bytes('resurrected'), at(HOUR), { subject: 'fay' })
        expect(await s.find('p')).toBeUndefined()
        expect((await s.listBySubject('fay')).map((d) => d.token)).toEqual(['q'])
      })
    })

    describe('upgrading a table in place', () => {
      test('migrate() adds the new columns and the subject index to a table of version 0.1, keeping every session', async () => {
        const name = randomTable('v1')
        tables.push(name)
        await createVersion1Table(db, leg.family, name)
        const old = new KyselyStore(db, 0, { tableName: name, now: () => clock.now })
        const missing = (await old.find(randomToken()).catch((e: unknown) => e)) as SessionStoreError
        expect(missing).toBeInstanceOf(SessionStoreError)
        expect(missing.code).toBe('missing_column')
        expect(missing.message).toContain(`migrate(db, { tableName: '${name}' })`)
        const q = leg.family === 'mysql' ? '`' : '"'
        const time =
          leg.family === 'postgres'
            ? `'${new Date(clock.now + HOUR).toISOString()}'`
            : String(clock.now + HOUR)
        const blob = leg.family === 'postgres' ? `'\\x6b657074'::bytea` : `X'6b657074'`
        for (const token of ['kept-1', 'kept-2']) {
          await sql
            .raw(`INSERT INTO ${q}${name}${q} (token, data, expiry) VALUES ('${token}', ${blob}, ${time})`)
            .execute(db)
        }
        await migrate(db, { tableName: name })
        await migrate(db, { tableName: name }) // idempotent
        for (const index of ['subject_seen_idx', 'subject_created_idx']) {
          expect(await hasIndex(db, leg.family, name, `${name}_${index}`)).toBe(true)
        }
        const s = store({ tableName: name })
        for (const token of ['kept-1', 'kept-2']) expect(text(await s.find(token))).toBe('kept')
        expect(await s.get('kept-1')).toMatchObject({ subject: null, createdAt: null, lastSeenAt: null })
        await s.commit('kept-1', bytes('now with a subject'), at(HOUR), { subject: 'u' })
        expect((await s.listBySubject('u')).map((d) => d.token)).toEqual(['kept-1'])
      })

      test('migrate() leaves a table of that name without token, data and expiry alone, naming its columns', async () => {
        const name = randomTable('other')
        tables.push(name)
        const types = columnTypes(leg.family)
        await db.schema
          .createTable(name)
          .addColumn('sid', types.token, (c) => c.primaryKey())
          .addColumn('sess', types.data)
          .addColumn('expire', types.expiry)
          .execute()
        const error = (await migrate(db, { tableName: name }).catch((e: unknown) => e)) as SessionStoreError
        expect(error).toBeInstanceOf(SessionStoreError)
        expect(error.code).toBe('table_shape')
        expect(error.message).toContain(`migrate of table "${name}" failed: it exists with the columns`)
        expect(error.message).toMatch(/\bsid\b.*\bsess\b.*\bexpire\b|\bexpire\b/)
        expect(await columnsOf(db, leg.family, name)).toEqual(['expire', 'sess', 'sid'])
      })
    })

    describe('engine failures', () => {
      test('a missing table rejects with an error naming the table and the fix, with cause', async () => {
        const name = randomTable('absent')
        const s = store({ tableName: name })
        const token = randomToken()
        const calls = [
          () => s.find(token),
          () => s.commit(token, bytes('x'), at(HOUR)),
          () => s.touch(token, at(HOUR)),
          () => s.delete(token),
          () => s.all(),
          () => s.cleanup(),
          () => s.entries().next(),
        ]
        for (const call of calls) {
          const error = (await call().catch((e: unknown) => e)) as SessionStoreError
          expect(error).toBeInstanceOf(SessionStoreError)
          expect(error.code).toBe('missing_table')
          expect(error.message).toContain(`table "${name}" does not exist`)
          expect(error.message).toContain(`migrate(db, { tableName: '${name}' })`)
          expect(error.message).toContain(`schema/${leg.family}.sql`)
          expect(error.cause).toBeInstanceOf(Error)
          expect(error.message).not.toContain(token)
        }
      })

      test('an engine failure rejects with SessionStoreError and cause, without token or data', async () => {
        // A table whose data column is UNIQUE: the driver's own message quotes the duplicate.
        const name = randomTable('broken')
        tables.push(name)
        const types = columnTypes(leg.family)
        await db.schema
          .createTable(name)
          .addColumn('token', types.token, (c) => c.primaryKey())
          .addColumn('data', types.data, (c) => c.notNull().unique())
          .addColumn('expiry', types.expiry, (c) => c.notNull())
          .addColumn('subject', types.subject)
          .addColumn('created_at', types.expiry)
          .addColumn('last_seen_at', types.expiry)
          .addColumn('ended_at', types.expiry)
          .execute()
        const s = store({ tableName: name })
        const secretData = 'secret-data-0123456789'
        const token = randomToken('secret')
        await s.commit(randomToken(), bytes(secretData), at(HOUR))
        await s.commit(token, bytes('other data'), at(HOUR))
        // Updating the second row to the first one's data breaks the UNIQUE constraint.
        const error = (await s
          .commit(token, bytes(secretData), at(HOUR))
          .catch((e: unknown) => e)) as SessionStoreError
        expect(error).toBeInstanceOf(SessionStoreError)
        expect(error.code).toBe('engine')
        expect(error.message).toContain(`commit on table "${name}" failed`)
        expect(error.cause).toBeInstanceOf(Error)
        // Nor anywhere in what logging the error prints, its cause included.
        const printed = inspect(error, { depth: 10 }) + JSON.stringify(error.cause)
        for (const secret of [token, secretData, Buffer.from(secretData).toString('hex')]) {
          expect(error.message).not.toContain(secret)
          expect(printed).not.toContain(secret)
        }
      })
    })

    describe('engine and migrate', () => {
      test(`the store detects the ${leg.family} SQL family of this Kysely instance`, async () => {
        // Forcing the other family on this engine breaks it: so detection chose this one. The
        // cleanup statement, since bun:sqlite and libsql bind $1 by position and run the find.
        const other: FamilyName = leg.family === 'postgres' ? 'sqlite' : 'postgres'
        const forced = store({ family: other })
        await expect(forced.cleanup()).rejects.toBeInstanceOf(SessionStoreError)
        const detected = store()
        await expect(detected.find(randomToken())).resolves.toBeUndefined()
        await expect(store({ family: leg.family }).find(randomToken())).resolves.toBeUndefined()
      })

      test('migrate() is idempotent and keeps existing sessions', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        await s.commit('kept', bytes('x'), at(HOUR))
        await migrate(db, { tableName: name })
        await migrate(db, { tableName: name })
        expect(text(await s.find('kept'))).toBe('x')
      })

      test('migrate() creates the table with its columns, an index on expiry, one on (subject, last_seen_at) and one on (subject, created_at)', async () => {
        const name = await freshTable()
        expect(await columnsOf(db, leg.family, name)).toEqual([
          'created_at',
          'data',
          'ended_at',
          'expiry',
          'last_seen_at',
          'subject',
          'token',
        ])
        expect(await hasIndex(db, leg.family, name, `${name}_expiry_idx`)).toBe(true)
        expect(await hasIndex(db, leg.family, name, `${name}_subject_seen_idx`)).toBe(true)
        expect(await hasIndex(db, leg.family, name, `${name}_subject_created_idx`)).toBe(true)
        expect(await hasIndex(db, leg.family, name, `${name}_subject_idx`)).toBe(false)
      })

      test('migrate() upgrades a table of the previous version: the recency and creation indexes replace its subject index', async () => {
        const name = await freshTable()
        const s = store({ tableName: name })
        await s.commit('kept', bytes('x'), at(HOUR), { subject: 'u' })
        const q = leg.family === 'mysql' ? '`' : '"'
        const statements =
          leg.family === 'mysql'
            ? [
                `ALTER TABLE ${q}${name}${q} DROP INDEX ${q}${name}_subject_seen_idx${q}, ` +
                  `DROP INDEX ${q}${name}_subject_created_idx${q}, ADD INDEX ${q}${name}_subject_idx${q} (subject)`,
              ]
            : [
                `DROP INDEX ${q}${name}_subject_seen_idx${q}`,
                `DROP INDEX ${q}${name}_subject_created_idx${q}`,
                `CREATE INDEX ${q}${name}_subject_idx${q} ON ${q}${name}${q} (subject) WHERE subject IS NOT NULL`,
              ]
        for (const statement of statements) await sql.raw(statement).execute(db)
        await migrate(db, { tableName: name })
        await migrate(db, { tableName: name }) // idempotent
        expect(await hasIndex(db, leg.family, name, `${name}_subject_seen_idx`)).toBe(true)
        expect(await hasIndex(db, leg.family, name, `${name}_subject_created_idx`)).toBe(true)
        expect(await hasIndex(db, leg.family, name, `${name}_subject_idx`)).toBe(false)
        expect((await s.listBySubject('u')).map((d) => d.token)).toEqual(['kept'])
      })
    })
  })
}
