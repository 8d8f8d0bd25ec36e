// Cloudflare Workers and D1. First, what needs no Worker: migrate() on a SQLite connection that
// refuses SQL transactions with D1's own message (better-sqlite3 underneath). Then, with the
// legs/workers folder installed, the real thing: the conformance suite inside workerd on a
// local D1 (legs/workers/conformance-worker.ts, bundled and run by wrangler's test harness), what
// a compatibility date and the nodejs_compat flag change, and examples/workers as a user runs it.
import { execFile } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import {
  Kysely,
  SqliteDialect,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely'
import { afterAll, describe, expect, test } from 'vitest'
import { KyselyStore, migrate, SessionStoreError } from '../src/index.js'
import { bytes, columnsOf, createVersion1Table, hasIndex, randomTable, text } from './helpers.js'

const root = resolve(import.meta.dirname, '..')
const dir = mkdtempSync(join(tmpdir(), 'kss-d1-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** What D1 (and a Durable Object's SQLite) answers to BEGIN and SAVEPOINT, word for word. */
const D1_REFUSAL =
  'D1_ERROR: To execute a transaction, please use the state.storage.transaction() or ' +
  'state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. ' +
  'The JavaScript API is safer because it will automatically roll back on exceptions, and because it ' +
  "interacts correctly with Durable Objects' automatic atomic write coalescing."

/** A connection that refuses statements `refuse` matches with `message`, and runs the rest. */
class RefusingConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    readonly refuse: RegExp,
    readonly message: string,
  ) {}
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.refuse.test(query.sql)) return Promise.reject(new Error(this.message))
    return this.inner.executeQuery(query)
  }
  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery(query, chunkSize)
  }
}

/** Kysely's SqliteDialect on `file`, whose connections refuse what `refuse` matches. */
function refusing(file: string, refuse = /^\s*(BEGIN|SAVEPOINT)\b/i, message = D1_REFUSAL): Kysely<any> {
  const inner = new SqliteDialect({ database: new Database(file) })
  const dialect: Dialect = {
    createAdapter: () => inner.createAdapter(),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createIntrospector: (db) => inner.createIntrospector(db),
    createDriver: (): Driver => {
      const driver = inner.createDriver()
      const wrapped = new WeakMap<DatabaseConnection, DatabaseConnection>()
      return {
        init: () => driver.init(),
        destroy: () => driver.destroy(),
        acquireConnection: async () => {
          const connection = await driver.acquireConnection()
          const refusingOne = new RefusingConnection(connection, refuse, message)
          wrapped.set(refusingOne, connection)
          return refusingOne
        },
        releaseConnection: (connection) => driver.releaseConnection(wrapped.get(connection) ?? connection),
        beginTransaction: () => Promise.reject(new Error(message)),
        commitTransaction: () => Promise.reject(new Error(message)),
        rollbackTransaction: () => Promise.reject(new Error(message)),
      }
    },
  }
  return new Kysely<any>({ dialect })
}

describe('migrate() on a connection that refuses SQL transactions, as D1 does', () => {
  test('creates the table, its columns and both indexes without BEGIN', async () => {
    const db = refusing(join(dir, 'create.db'))
    const table = randomTable()
    await migrate(db, { tableName: table })
    expect(await columnsOf(db, 'sqlite', table)).toEqual(
      ['created_at', 'data', 'ended_at', 'expiry', 'last_seen_at', 'subject', 'token'].sort(),
    )
    expect(await hasIndex(db, 'sqlite', table, `${table}_expiry_idx`)).toBe(true)
    expect(await hasIndex(db, 'sqlite', table, `${table}_subject_idx`)).toBe(true)
    await migrate(db, { tableName: table }) // idempotent
    const store = new KyselyStore(db, 0, { tableName: table })
    await store.commit('t', bytes('on D1'), new Date(Date.now() + 60_000), { subject: 'u' })
    expect(text(await store.find('t'))).toBe('on D1')
    await db.destroy()
  })

  test('two migrations of a version 0.1 table at once both succeed, and every session is kept', async () => {
    const file = join(dir, 'upgrade.db')
    const [a, b] = [refusing(file), refusing(file)]
    const table = randomTable()
    await createVersion1Table(a, 'sqlite', table)
    const raw = new Database(file)
    raw
      .prepare(`INSERT INTO "${table}" (token, data, expiry) VALUES ('old', X'6b657074', ?)`)
      .run(Date.now() + 60_000)
    raw.close()
    // Without a transaction each step runs alone: both read the old columns, both add `subject`.
    await Promise.all([migrate(a, { tableName: table }), migrate(b, { tableName: table })])
    expect(await columnsOf(a, 'sqlite', table)).toContain('ended_at')
    expect(await hasIndex(a, 'sqlite', table, `${table}_subject_idx`)).toBe(true)
    expect(text(await new KyselyStore(a, 0, { tableName: table }).find('old'))).toBe('kept')
    await Promise.all([a.destroy(), b.destroy()])
  })

  test('a BEGIN refused for another reason still fails the migration, with that cause', async () => {
    const db = refusing(join(dir, 'busy.db'), /^\s*BEGIN\b/i, 'SQLITE_BUSY: database is locked')
    const table = randomTable()
    const error = (await migrate(db, { tableName: table }).catch((e: unknown) => e)) as SessionStoreError
    expect(error).toBeInstanceOf(SessionStoreError)
    expect((error.cause as Error).message).toBe('SQLITE_BUSY: database is locked')
    expect(await columnsOf(db, 'sqlite', table)).toEqual([])
    await db.destroy()
  })
})
