import { Kysely, SqliteDialect, sql, type KyselyConfig, type SqliteDatabase } from 'kysely'
import type { SqlFamily } from '../src/family.js'
import { checkFactoryConfig, optionalPeer } from './shared.js'

/** @internal The SQLite SQL family: expiry is INTEGER milliseconds since the epoch (see schema/sqlite.sql). */
export const sqliteFamily: SqlFamily = {
  name: 'sqlite',
  quote: (identifier) => `"${identifier}"`,
  statements(table) {
    const t = `"${table}"`
    return {
      find: `SELECT data FROM ${t} WHERE token = ? AND expiry > ?`,
      commit:
        `INSERT INTO ${t} (token, data, expiry) VALUES (?, ?, ?) ` +
        `ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`,
      touch: `UPDATE ${t} SET expiry = ? WHERE token = ? AND expiry > ?`,
      delete: `DELETE FROM ${t} WHERE token = ?`,
      all: `SELECT token, data FROM ${t} WHERE expiry > ?`,
      cleanup: `DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE expiry <= ? LIMIT ?)`,
    }
  },
  expiry: (ms) => ms,
  // better-sqlite3 binds Buffers, not other Uint8Arrays: wrap the same memory, no copy.
  data: (bytes) =>
    Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  isMissingTable: (error) => error instanceof Error && /^no such table\b/.test(error.message),
  async migrate(db, _table, statements) {
    await db.transaction().execute(async (trx) => {
      for (const statement of statements) await sql.raw(statement).execute(trx)
    })
  },
}

/**
 * What `sqlite()` needs of a `better-sqlite3` Database: the subset Kysely's `SqliteDialect` uses.
 * Any object of that shape fits, so a second copy of the driver does too.
 *
 * @example
 * ```ts
 * sqlite(new Database('app.db', { readonly: false }))
 * ```
 */
export type SqliteDatabaseLike = SqliteDatabase

/**
 * A Kysely instance on SQLite, over `better-sqlite3` (an optional peer dependency, 12.x on
 * Node 20).
 *
 * Given a path, it opens the file on first use (`':memory:'` for an in-memory database) and
 * sets `journal_mode = WAL`, `synchronous = NORMAL` and a 5 s `busy_timeout` for files;
 * `db.destroy()` closes it. Given an open Database, it uses it as it is and `db.destroy()`
 * leaves it open: the handle is yours.
 *
 * @param pathOrDatabase - a file path, `':memory:'`, or a `better-sqlite3` Database.
 * @param config - further Kysely options (`log`, `plugins`).
 *
 * @example
 * ```ts
 * import { KyselyStore, migrate } from 'kysely-session-store'
 * import { sqlite } from 'kysely-session-store/sqlite'
 *
 * const db = sqlite('sessions.db')
 * await migrate(db)
 * const store = new KyselyStore(db)
 * ```
 */
export function sqlite(
  pathOrDatabase: string | SqliteDatabaseLike,
  config?: Omit<KyselyConfig, 'dialect'>,
): Kysely<any> {
  checkFactoryConfig('sqlite', config)
  if (typeof pathOrDatabase === 'string' && pathOrDatabase.length > 0) {
    const path = pathOrDatabase
    const database = async (): Promise<SqliteDatabase> => {
      const { default: Database } = await optionalPeer(
        'better-sqlite3',
        'sqlite',
        () => import('better-sqlite3'),
      )
      const opened = new Database(path)
      if (!opened.memory) {
        opened.pragma('journal_mode = WAL')
        opened.pragma('synchronous = NORMAL')
        opened.pragma('busy_timeout = 5000')
      }
      return opened
    }
    return new Kysely({ ...config, dialect: new SqliteDialect({ database }) })
  }
  const given = pathOrDatabase as Partial<SqliteDatabase> | null | undefined
  if (typeof given?.prepare !== 'function' || typeof given.close !== 'function') {
    throw new TypeError(
      "sqlite(pathOrDatabase): expected a file path, ':memory:', or a better-sqlite3 Database",
    )
  }
  const database: SqliteDatabase = { prepare: (text) => given.prepare!(text), close: () => undefined }
  return new Kysely({ ...config, dialect: new SqliteDialect({ database }) })
}
