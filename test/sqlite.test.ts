import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  CamelCasePlugin,
  Kysely,
  MssqlQueryCompiler,
  sql,
  SqliteAdapter,
  SqliteDriver,
  SqliteIntrospector,
} from 'kysely'
import { afterAll, describe, expect, test } from 'vitest'
import { sqlite } from '../dialects/sqlite.js'
import { KyselyStore, migrate, SessionStoreError } from '../src/index.js'
import { conformance } from './conformance.js'
import { sessionConformance } from './session-suite.js'
import { bytes, randomToken, text, waitFor } from './helpers.js'
import { withBetterSqlite3 } from './leg-packages.js'
import { legs, named, withPlugins } from './legs.js'

const dir = mkdtempSync(join(tmpdir(), 'kss-sqlite-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

conformance(named('SQLite file, sqlite() factory', legs.sqliteFile(join(dir, 'factory.db'))))
conformance(named('SQLite :memory:, sqlite() factory', legs.sqliteMemory()))
withBetterSqlite3("Kysely's stock SqliteDialect on better-sqlite3", () =>
  conformance(legs.sqliteStock(join(dir, 'stock.db'))),
)
// A result plugin renames what the store reads (created_at would become createdAt).
conformance(
  withPlugins('SQLite :memory:, a Kysely instance with CamelCasePlugin', legs.sqliteMemory(), [
    new CamelCasePlugin(),
  ]),
)
sessionConformance(legs.sqliteMemory())

describe('sqlite() factory', () => {
  test('a file opens in WAL mode, and db.destroy() closes what the factory opened', async () => {
    const file = join(dir, 'wal.db')
    const db = sqlite(file)
    const pragma = async (name: string) =>
      Object.values((await sql.raw(`PRAGMA ${name}`).execute(db)).rows[0] as object)[0]
    expect(await pragma('journal_mode')).toBe('wal')
    expect(await pragma('synchronous')).toBe(1) // NORMAL
    expect(await pragma('busy_timeout')).toBe(5000)
    expect(await pragma('mmap_size')).toBe(268435456)
    await migrate(db)
    expect(existsSync(`${file}-wal`)).toBe(true)
    await db.destroy()
    // SQLite removes the -wal file when the last connection to the database closes.
    expect(existsSync(`${file}-wal`)).toBe(false)
  })

  test('a Kysely instance whose executeQuery throws instead of rejecting: the call rejects with SessionStoreError', async () => {
    const real = sqlite(':memory:')
    await migrate(real)
    const thrown = new Error('thrown, not rejected')
    const db = new Proxy(real, {
      get(target, property) {
        if (property === 'executeQuery') {
          return () => {
            throw thrown
          }
        }
        const value: unknown = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const error = (await new KyselyStore(db, 0)
      .find(randomToken())
      .catch((e: unknown) => e)) as SessionStoreError
    expect(error).toBeInstanceOf(SessionStoreError)
    expect(error.code).toBe('engine')
    expect((error.cause as Error).message).toBe('thrown, not rejected')
    await real.destroy()
  })

  test.each([
    ['a number', 42],
    ['an empty path', ''],
    ['null', null],
    ['an object without prepare()', { close() {} }],
  ])('refuses %s with a TypeError naming the argument', (_, argument) => {
    expect(() => sqlite(argument as string)).toThrow(TypeError)
    expect(() => sqlite(argument as string)).toThrow(/^sqlite\(pathOrDatabase\): expected a file path/)
  })

  test('refuses a config that carries its own dialect', () => {
    expect(() => sqlite(':memory:', { dialect: {} } as never)).toThrow(/must not contain a dialect/)
  })
})

withBetterSqlite3('sqlite(database) and Kysely instances on better-sqlite3', (Database) => {
  describe('sqlite(database) on a better-sqlite3 Database', () => {
    test("a Database passed in is the caller's: db.destroy() leaves it open", async () => {
      const database = new Database(':memory:')
      const db = sqlite(database)
      await migrate(db)
      await new KyselyStore(db, 0).commit('t', bytes('x'), new Date(Date.now() + 60_000))
      await db.destroy()
      expect(database.open).toBe(true)
      expect(database.prepare('SELECT count(*) AS n FROM sessions').get()).toEqual({ n: 1 })
      database.close()
    })

    test('a closed database: operations reject with the cause, cleanup failures go to onError', async () => {
      const database = new Database(':memory:')
      const db = sqlite(database)
      await migrate(db)
      database.close()
      const errors: unknown[] = []
      const store = new KyselyStore(db, 5, { onError: (error) => errors.push(error) })
      const error = (await store.find(randomToken()).catch((e: unknown) => e)) as SessionStoreError
      expect(error).toBeInstanceOf(SessionStoreError)
      expect(error.code).toBe('engine')
      expect(error.cause).toBeInstanceOf(Error)
      await waitFor(() => errors.length >= 2)
      await store.stopCleanup()
      expect(errors.every((e) => e instanceof SessionStoreError)).toBe(true)
    })
  })

  describe('SQL family detection', () => {
    test('works on a Kysely instance from a second copy of Kysely (no instanceof)', async () => {
      const copy = join(dir, 'copy', 'node_modules', 'kysely')
      cpSync(join(import.meta.dirname, '..', 'node_modules', 'kysely'), copy, { recursive: true })
      const other = (await import(
        pathToFileURL(join(copy, 'dist', 'index.js')).href
      )) as typeof import('kysely')
      expect(other.Kysely).not.toBe(Kysely)
      const db = new other.Kysely<any>({
        dialect: new other.SqliteDialect({ database: new Database(':memory:') }),
      })
      await migrate(db)
      const store = new KyselyStore(db, 0)
      const token = randomToken()
      await store.commit(token, bytes('copy'), new Date(Date.now() + 60_000))
      expect(text(await store.find(token))).toBe('copy')
      await db.destroy()
    })

    test('an instance whose SQL is not recognised is refused, unless the family option is given', async () => {
      // A real SQLite engine behind a query compiler that writes @1 placeholders.
      const database = new Database(':memory:')
      const db = new Kysely<any>({
        dialect: {
          createAdapter: () => new SqliteAdapter(),
          createDriver: () => new SqliteDriver({ database }),
          createIntrospector: (k) => new SqliteIntrospector(k),
          createQueryCompiler: () => new MssqlQueryCompiler(),
        },
      })
      expect(() => new KyselyStore(db, 0)).toThrow(/^db: cannot tell which SQL family/)
      expect(() => new KyselyStore(db, 0)).toThrow(/pass the family option: 'postgres' or 'sqlite'/)
      await migrate(db, { family: 'sqlite' })
      const store = new KyselyStore(db, 0, { family: 'sqlite' })
      await store.commit('t', bytes('forced'), new Date(Date.now() + 60_000))
      expect(text(await store.find('t'))).toBe('forced')
      await db.destroy()
    })
  })
})

describe('what a driver returns in a row', () => {
  /** sqlite(':memory:') behind a plugin that rewrites one column of every row it returns. */
  async function rewriting(column: string, value: (old: unknown) => unknown) {
    const base = sqlite(':memory:')
    await migrate(base)
    const db = base.withPlugin({
      transformQuery: ({ node }) => node,
      transformResult: async ({ result }) => ({
        ...result,
        rows: result.rows.map((row) => (column in row ? { ...row, [column]: value(row[column]) } : row)),
      }),
    })
    const store = new KyselyStore(db, 0)
    await store.commit('t', bytes('kept'), new Date(Date.now() + 60_000))
    return { store, close: () => base.destroy() }
  }

  test('session data as an array of byte values (Cloudflare D1) is read as bytes', async () => {
    const { store, close } = await rewriting('data', (old) => Array.from(old as Uint8Array))
    expect(text(await store.find('t'))).toBe('kept')
    expect(text((await store.get('t'))!.data)).toBe('kept')
    await close()
  })

  test.each([
    ['session data', 'a string', 'data', /returned session data as string, not bytes/],
    ['an expiry', 'an object', 'expiry', /returned a time as object/],
    ['an expiry', 'a string that is no date', 'expiry', /returned a time as string/],
  ])(
    '%s as %s: get rejects with a SessionStoreError naming what came back',
    async (_, kind, column, message) => {
      const value = kind === 'an object' ? { at: 1 } : kind === 'a string' ? 'text' : 'not a date'
      const { store, close } = await rewriting(column, () => value)
      const error = (await store.get('t').catch((e: unknown) => e)) as SessionStoreError
      expect(error).toBeInstanceOf(SessionStoreError)
      expect(error.message).toMatch(message)
      await close()
    },
  )
})
