// Bad input, as a table: every public entry point against hostile and broken inputs. Each
// one is refused before any query with a TypeError or RangeError naming the argument (and the
// table is unchanged), or stored literally. The README's Reliability section shows the counts;
// the last test checks that it is up to date.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { pglite } from '../dialects/pglite.js'
import { sqlite } from '../dialects/sqlite.js'
import { KyselyStore, migrate } from '../src/index.js'
import { cases, reliabilityTable, type Context } from './bad-input-cases.js'
import { randomTable, readRows, recording } from './helpers.js'

describe.each([
  ['SQLite :memory:', async () => sqlite(':memory:')],
  ['PGlite', async () => pglite(await PGlite.create())],
])('bad input on %s', (_, open) => {
  const context = {} as Context
  beforeAll(async () => {
    context.db = await open()
    context.table = randomTable('bad')
    await migrate(context.db, { tableName: context.table })
    context.store = new KyselyStore(context.db, 0, { tableName: context.table })
    // Rows that every refused input must leave exactly as they are.
    for (const token of ['sentinel-1', 'sentinel-2', "sentinel-'3"]) {
      await context.store.commit(token, new TextEncoder().encode(token), new Date(Date.now() + 3600_000))
    }
  })
  afterAll(() => context.db.destroy())

  test.each(cases.map((c) => [`${c.entry} with ${c.input}`, c] as const))('%s', async (_, c) => {
    const spy = recording(context.db)
    const spied: Context = {
      ...context,
      db: spy.db,
      store: new KyselyStore(spy.db, 0, { tableName: context.table }),
    }
    const snapshot = async () =>
      (await readRows(context.db, context.table)).map(
        (row) => `${row.token} ${row.expiry} ${createHash('sha256').update(row.data).digest('hex')}`,
      )
    const before = c.outcome === 'refused' ? await snapshot() : []
    let thrown: unknown
    try {
      await c.run(spied)
    } catch (error) {
      thrown = error
    }
    if (c.outcome === 'stored') {
      expect(thrown).toBeUndefined()
      await c.check?.(context)
      return
    }
    if (c.error) {
      const [type, argument] = c.error
      expect(thrown).toBeInstanceOf(type)
      expect((thrown as Error).message.startsWith(argument)).toBe(true)
    } else {
      expect(thrown).toBeUndefined()
    }
    expect(spy.queries).toHaveLength(0)
    expect(await snapshot()).toEqual(before) // the table is unchanged
  })
})

test("the README's Reliability section shows this table, with these counts", () => {
  // Compared without the padding a formatter adds to Markdown tables.
  const normalise = (markdown: string) => markdown.replace(/ +/g, ' ').replace(/-{3,}/g, '---')
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8')
  expect(normalise(readme)).toContain(normalise(reliabilityTable()))
})
