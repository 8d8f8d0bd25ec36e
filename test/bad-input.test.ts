// Bad input, as a table: every public entry point against hostile and broken inputs. Each
// one is refused before any query with a TypeError or RangeError naming the argument, or
// stored literally. Refusals need no engine: they run once, on a Kysely instance whose
// driver (Kysely's DummyDriver) reaches no database, with a spy that proves no query was
// sent. What is stored literally is an engine's business: those cases run on SQLite and
// PGlite. The site's Reliability page (docs/operations/reliability.md) shows the counts; the last
// test keeps it true.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { KyselyStore, migrate } from '../src/index.js'
import { cases, reliabilityTable, type Context } from './bad-input-cases.js'
import { randomTable, readRows, recording } from './helpers.js'
import { legs, type EngineLeg } from './legs.js'

describe('bad input refused before any query (no engine)', () => {
  const db = new Kysely<any>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (k) => new SqliteIntrospector(k),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  })
  const refused = cases.filter((c) => c.outcome === 'refused')
  test.each(refused.map((c) => [`${c.entry} with ${c.input}`, c] as const))('%s', async (_, c) => {
    const spy = recording(db)
    const context: Context = {
      db: spy.db,
      family: 'sqlite',
      table: 'sessions',
      store: new KyselyStore(spy.db, 0),
    }
    let thrown: unknown
    try {
      await c.run(context)
    } catch (error) {
      thrown = error
    }
    if (c.error) {
      const [type, argument] = c.error
      expect(thrown).toBeInstanceOf(type)
      expect((thrown as Error).message.startsWith(argument)).toBe(true)
    } else {
      expect(thrown).toBeUndefined()
    }
    expect(spy.queries).toHaveLength(0)
  })
})

function storedLiterally(leg: EngineLeg) {
  describe(`stored literally on ${leg.name}`, () => {
    const context = {} as Context
    beforeAll(async () => {
      context.db = await leg.open()
      context.family = leg.family
      context.table = randomTable('bad')
      await migrate(context.db, { tableName: context.table })
      context.store = new KyselyStore(context.db, 0, { tableName: context.table })
    })
    afterAll(() => leg.close(context.db))

    const stored = cases.filter((c) => c.outcome === 'stored')
    test.each(stored.map((c) => [`${c.entry} with ${c.input}`, c] as const))('%s', async (_, c) => {
      await c.run(context)
      await c.check?.(context)
    })

    test('a refused input leaves the table exactly as it was', async () => {
      const { db, table, family, store } = context
      await store.commit('kept', new TextEncoder().encode('kept'), new Date(Date.now() + 3600_000))
      const snapshot = async () =>
        (await readRows(db, table, family)).map(
          (row) => `${row.token} ${row.expiry} ${createHash('sha256').update(row.data).digest('hex')}`,
        )
      const before = await snapshot()
      for (const c of cases.filter((c) => c.outcome === 'refused')) {
        await Promise.resolve()
          .then(() => c.run(context))
          .catch(() => undefined)
      }
      expect(await snapshot()).toEqual(before)
    })
  })
}

storedLiterally(legs.sqliteMemory())
storedLiterally(legs.pglite())

test('the Reliability page of the site shows this table, with these counts', () => {
  // Compared without the padding a formatter adds to Markdown tables.
  const normalise = (markdown: string) => markdown.replace(/ +/g, ' ').replace(/-{3,}/g, '---')
  const page = readFileSync(join(import.meta.dirname, '..', 'docs', 'operations', 'reliability.md'), 'utf8')
  expect(normalise(page)).toContain(normalise(reliabilityTable()))
})
