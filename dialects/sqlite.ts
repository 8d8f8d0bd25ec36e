import { Kysely, SqliteDialect, type KyselyConfig, type SqliteDatabase, type SqliteStatement } from 'kysely'
import { checkFactoryConfig, optionalPeer } from './shared.js'

/** The most prepared statements `sqlite()` keeps per database (least recently used go first). */
const STATEMENT_CACHE_SIZE = 100

/**
 * `database` with a bounded cache in front of `prepare()`: Kysely's `SqliteDriver` prepares
 * every query it runs (about 9 us each in better-sqlite3), while the store sends the same few
 * texts again and again. At most {@link STATEMENT_CACHE_SIZE} statements are kept, least
 * recently used first out. A cached statement still being iterated (Kysely's `streamQuery`)
 * is `busy` and cannot run a second query, so a fresh one is prepared for that call.
 * `close` runs on `db.destroy()`.
 */
function withStatementCache(database: SqliteDatabase, close: () => void): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>()
  let newest: string | undefined
  return {
    prepare(text) {
      const cached = statements.get(text)
      if (cached !== undefined) {
        if ((cached as { busy?: boolean }).busy === true) return database.prepare(text)
        if (text !== newest) {
          // Map keeps insertion order: re-inserting makes this the most recently used.
          statements.delete(text)
          statements.set(text, cached)
          newest = text
        }
        return cached
      }
      const statement = database.prepare(text)
      statements.set(text, statement)
      newest = text
      if (statements.size > STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!)
      return statement
    },
    close() {
      statements.clear()
      close()
    },
  }
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
 * sets `journal_mode = WAL`, `synchronous = NORMAL`, a 5 s `busy_timeout` and a 256 MiB
 * `mmap_size` (reads through a memory map) for files;
 * `db.destroy()` closes it. Given an open Database, it uses it as it is and `db.destroy()`
 * leaves it open: the handle is yours. Either way, the statements it runs are prepared once
 * and kept in a bounded cache (at most 100, least recently used first out).
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
        // Reads through a memory map instead of read() calls: with a million sessions, finds
        // stay within 1.3x of their time with ten thousand (measured: 1.9x without).
        opened.pragma('mmap_size = 268435456')
      }
      return withStatementCache(opened, () => opened.close())
    }
    return new Kysely({ ...config, dialect: new SqliteDialect({ database }) })
  }
  const given = pathOrDatabase as Partial<SqliteDatabase> | null | undefined
  if (typeof given?.prepare !== 'function' || typeof given.close !== 'function') {
    throw new TypeError(
      "sqlite(pathOrDatabase): expected a file path, ':memory:', or a better-sqlite3 Database",
    )
  }
  // The handle is the caller's: db.destroy() leaves it open.
  const database = withStatementCache(given as SqliteDatabase, () => undefined)
  return new Kysely({ ...config, dialect: new SqliteDialect({ database }) })
}
