import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import {
  Kysely,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type KyselyConfig,
  type SqliteDatabase,
  type SqliteStatement,
} from 'kysely'
import { registerDirectRunner } from '../src/direct.js'
import {
  IncompatibleDriverError,
  MissingPeerDependencyError,
  checkFactoryConfig,
  optionalPeer,
  wrongMove,
} from './shared.js'

export { IncompatibleDriverError, MissingPeerDependencyError } from './shared.js'

/**
 * The runtimes' own SQLite modules, imported through variables so that bundlers leave them
 * alone: `bun:sqlite` exists only in Bun, and esbuild refuses to bundle an import of it.
 */
const BUN_SQLITE: string = 'bun:sqlite'
const NODE_SQLITE: string = 'node:sqlite'

/** The most prepared statements `sqlite()` keeps per database (least recently used go first). */
const STATEMENT_CACHE_SIZE = 100

/**
 * `database` with a bounded cache in front of `prepare()`: Kysely's `SqliteDriver` prepares
 * every query it runs (about 9 us each in better-sqlite3), while the store sends the same few
 * texts again and again. At most {@link STATEMENT_CACHE_SIZE} statements are kept, least
 * recently used first out. A cached statement still being iterated (Kysely's `streamQuery`)
 * is `busy` and cannot run a second query, so a fresh one is prepared for that call.
 * Statements of `node:sqlite` (no `reader`, values as separate arguments) are adapted to the
 * shape Kysely's `SqliteDialect` calls. `close` runs on `db.destroy()`.
 */
function withStatementCache(database: SqliteDatabaseLike, close: () => void): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>()
  const prepare = (text: string): SqliteStatement => {
    const statement = database.prepare(text)
    return 'reader' in statement ? statement : nodeSqliteStatement(statement, text)
  }
  let newest: string | undefined
  return {
    prepare(text) {
      const cached = statements.get(text)
      if (cached !== undefined) {
        if ((cached as { busy?: boolean }).busy === true) return prepare(text)
        if (text !== newest) {
          // Map keeps insertion order: re-inserting makes this the most recently used.
          statements.delete(text)
          statements.set(text, cached)
          newest = text
        }
        return cached
      }
      const statement = prepare(text)
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

/** Statements that return rows, for a `node:sqlite` without `StatementSync.columns()` (before Node 22.16). */
const READER = /^\s*(?:select|with|pragma|values|explain)\b|\breturning\b/i

/** A `node:sqlite` StatementSync in the shape of better-sqlite3's: parameters as an array, and `reader`. */
function nodeSqliteStatement(statement: NodeSqliteStatement, text: string): SqliteStatement {
  return {
    reader: typeof statement.columns === 'function' ? statement.columns().length > 0 : READER.test(text),
    all: (parameters) => statement.all(...parameters),
    run: (parameters) => statement.run(...parameters),
    iterate: (parameters) => statement.iterate(...parameters),
  }
}

/**
 * A `node:sqlite` `DatabaseSync` (Node 22.5+, Deno), as far as `sqlite()` uses it.
 *
 * @example
 * ```ts
 * const database = new (await import('node:sqlite' as string)).DatabaseSync('app.db')
 * sqlite(database as NodeSqliteDatabase)
 * ```
 */
export interface NodeSqliteDatabase {
  prepare(sql: string): NodeSqliteStatement
  close(): void
}

/**
 * A `node:sqlite` `StatementSync`, as far as `sqlite()` uses it: values as separate arguments.
 *
 * @example
 * ```ts
 * const database = new (await import('node:sqlite' as string)).DatabaseSync(':memory:')
 * const statement: NodeSqliteStatement = database.prepare('SELECT 1')
 * ```
 */
export interface NodeSqliteStatement {
  all(...parameters: unknown[]): unknown[]
  run(...parameters: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint }
  iterate(...parameters: unknown[]): IterableIterator<unknown>
  columns?(): readonly unknown[]
}

/**
 * What `sqlite(database)` takes: a `better-sqlite3` Database (12.x on Node 20), a `bun:sqlite`
 * Database (Bun), a `node:sqlite` DatabaseSync (Node 22.5+, Deno), or a `libsql` Database
 * (the `libsql` package, better-sqlite3's API). Any object of one of these shapes fits, so a
 * second copy of a driver does too.
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3'
 * import { sqlite, type SqliteDatabaseLike } from 'kysely-session-store/sqlite'
 *
 * const database: SqliteDatabaseLike = new Database('app.db')
 * const db = sqlite(database) // db.destroy() leaves the handle open
 * ```
 */
export type SqliteDatabaseLike = SqliteDatabase | NodeSqliteDatabase

/** The runtime this module runs in: Bun and Deno bring their own SQLite. */
function runtime(): 'bun' | 'deno' | 'node' {
  const global = globalThis as { Bun?: unknown; Deno?: unknown }
  if (global.Bun !== undefined) return 'bun'
  if (global.Deno !== undefined) return 'deno'
  return 'node'
}

/** The parts of a driver's Database that opening a file needs: one statement without results. */
interface Opened {
  database: SqliteDatabaseLike
  exec(statement: string): void
  close(): void
}

/** Why better-sqlite3 is not the driver here: not installed, or built for another Node. */
type Unfit = 'missing' | IncompatibleDriverError

/**
 * A SQLite file or `':memory:'` opened with the runtime's driver: `bun:sqlite` on Bun,
 * `node:sqlite` on Deno (which refuses better-sqlite3's addon), and on Node `better-sqlite3`,
 * or `node:sqlite` where better-sqlite3 is not installed or not built for this Node.
 */
async function openFile(path: string): Promise<Opened> {
  const where = runtime()
  if (where === 'bun') {
    const { Database } = (await import(BUN_SQLITE)) as {
      Database: new (path: string) => SqliteDatabase & { exec(sql: string): void }
    }
    return opened(new Database(path))
  }
  const unfit = where === 'deno' ? 'missing' : betterSqlite3Unfit()
  if (unfit === undefined) {
    const { default: Database } = await optionalPeer(
      'better-sqlite3',
      'sqlite',
      () => import('better-sqlite3'),
    )
    return opened(new Database(path))
  }
  let DatabaseSync: new (path: string) => NodeSqliteDatabase & { exec(sql: string): void }
  try {
    ;({ DatabaseSync } = (await import(NODE_SQLITE)) as { DatabaseSync: typeof DatabaseSync })
  } catch (cause) {
    // Before Node 22.5 there is no node:sqlite; until 22.13 it needs --experimental-sqlite.
    if (unfit instanceof IncompatibleDriverError) throw unfit
    throw new MissingPeerDependencyError(
      "sqlite(): the optional peer dependency 'better-sqlite3' is not installed: run npm install " +
        'better-sqlite3@^12 (or use Node 22.13+, whose node:sqlite sqlite() opens instead)',
      { cause },
    )
  }
  return opened(new DatabaseSync(path))
}

function opened(database: SqliteDatabaseLike & { exec(sql: string): void }): Opened {
  return { database, exec: (statement) => database.exec(statement), close: () => database.close() }
}

/**
 * Why the installed better-sqlite3 cannot be used on this Node, read from its package.json
 * before its addon is loaded (better-sqlite3 13 is built for Node 22 and crashes Node 20 with
 * a segmentation fault, no message); undefined when it fits. A package.json that cannot be
 * read leaves the decision to the import.
 */
function betterSqlite3Unfit(): Unfit | undefined {
  let manifest: { version?: unknown; engines?: { node?: unknown } }
  try {
    const file = createRequire(import.meta.url).resolve('better-sqlite3/package.json')
    manifest = JSON.parse(readFileSync(file, 'utf8')) as typeof manifest
  } catch (error) {
    return (error as { code?: unknown }).code === 'MODULE_NOT_FOUND' ? 'missing' : undefined
  }
  const version = String(manifest.version)
  const major = Number(/^(\d+)\./.exec(version)?.[1])
  const nodeMajor = Number(process.versions.node.split('.')[0])
  // engines.node of 13.x is ">=22"; older releases list majors ("20.x || 22.x").
  const floor = /^>=\s*(\d+)/.exec(String(manifest.engines?.node ?? ''))?.[1]
  const needs = floor !== undefined ? Number(floor) : major >= 13 ? 22 : undefined
  if (needs === undefined || nodeMajor >= needs) return undefined
  return new IncompatibleDriverError(
    `sqlite(): better-sqlite3 ${version} is built for Node ${needs} or later and crashes Node ` +
      `${process.versions.node}: run npm install better-sqlite3@^12 (or use Node ${needs}+)`,
  )
}

/**
 * A Kysely instance on SQLite, with the runtime's driver: `better-sqlite3` on Node (an
 * optional peer dependency, 12.x on Node 20), `bun:sqlite` on Bun, `node:sqlite` on Deno and
 * on Node 22.13+ where better-sqlite3 is not installed or not built for that Node.
 *
 * Given a path, it opens the file on first use (`':memory:'` for an in-memory database) and
 * sets `journal_mode = WAL`, `synchronous = NORMAL`, a 5 s `busy_timeout` and a 256 MiB
 * `mmap_size` (reads through a memory map) for files;
 * `db.destroy()` closes it. Given an open database (see {@link SqliteDatabaseLike}: a
 * better-sqlite3, `bun:sqlite`, `node:sqlite` or `libsql` one), it uses it as it is and
 * `db.destroy()` leaves it open: the handle is yours. Either way, the statements it runs are
 * prepared once and kept in a bounded cache (at most 100, least recently used first out).
 * A `KyselyStore` on this instance runs its statements on the database at once, without
 * Kysely's executor, while nobody holds the connection; while a transaction or a streamed
 * query of yours holds it, the store's statements wait for it through the executor, and with
 * `plugins` or `log` in `config` every statement goes through the executor (which applies
 * them).
 *
 * better-sqlite3 13 and later are built for Node 22: on an older Node, `sqlite(path)` rejects
 * on first use with an {@link IncompatibleDriverError} naming the version to install, before
 * loading the addon (which would crash the process).
 *
 * @param pathOrDatabase - a file path, `':memory:'`, or an open database.
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
  const mistake = wrongMove('sqlite', 'pathOrDatabase', pathOrDatabase)
  if (mistake !== undefined) throw mistake
  if (typeof pathOrDatabase === 'string' && pathOrDatabase.length > 0) {
    const path = pathOrDatabase
    const database = async (): Promise<SqliteDatabase> => {
      const opened = await openFile(path)
      if (path !== ':memory:') {
        opened.exec('PRAGMA journal_mode = WAL')
        opened.exec('PRAGMA synchronous = NORMAL')
        opened.exec('PRAGMA busy_timeout = 5000')
        // Reads through a memory map instead of read() calls: with a million sessions, finds
        // stay within 1.3x of their time with ten thousand (measured: 1.9x without).
        opened.exec('PRAGMA mmap_size = 268435456')
      }
      return withStatementCache(opened.database, opened.close)
    }
    return kysely(database, config)
  }
  const given = pathOrDatabase as Partial<SqliteDatabaseLike> | null | undefined
  if (typeof given?.prepare !== 'function' || typeof given.close !== 'function') {
    throw new TypeError(
      "sqlite(pathOrDatabase): expected a file path, ':memory:', or an open better-sqlite3, bun:sqlite, node:sqlite or libsql Database",
    )
  }
  // The handle is the caller's: db.destroy() leaves it open.
  const database = withStatementCache(given as SqliteDatabaseLike, () => undefined)
  return kysely(database, config)
}

/**
 * A Kysely instance on Kysely's SqliteDialect whose store statements may skip the executor:
 * its driver counts who holds or awaits the one connection, and while nobody does (and
 * neither plugins nor a log are configured, which the executor applies), the store runs its
 * statement on the database at once ({@link registerDirectRunner}). A transaction or a
 * streamed query of the caller's holds the connection, and the store's statements then wait
 * for it through the executor as before.
 */
function kysely(
  database: SqliteDatabase | (() => Promise<SqliteDatabase>),
  config: Omit<KyselyConfig, 'dialect'> | undefined,
): Kysely<any> {
  let open: SqliteDatabase | undefined = typeof database === 'function' ? undefined : database
  let users = 0
  const dialectConfig = {
    // Kysely's driver opens a database from a function on its first query: keep what it opened.
    database: typeof database === 'function' ? async () => (open = await database()) : database,
  }
  /** Kysely's SqliteDriver, counting who holds or awaits its connection. */
  class CountingDriver extends SqliteDriver {
    override async acquireConnection(): Promise<DatabaseConnection> {
      users++
      try {
        return await super.acquireConnection()
      } catch (error) {
        users--
        throw error
      }
    }
    override async releaseConnection(): Promise<void> {
      try {
        await super.releaseConnection()
      } finally {
        users--
      }
    }
    override async destroy(): Promise<void> {
      open = undefined
      await super.destroy()
    }
  }
  const dialect = new (class extends SqliteDialect {
    override createDriver(): Driver {
      return new CountingDriver(dialectConfig)
    }
  })(dialectConfig)
  const db = new Kysely<any>({ ...config, dialect })
  if ((config?.plugins?.length ?? 0) === 0 && config?.log === undefined) {
    registerDirectRunner(db, (sql, parameters) => {
      if (users > 0 || open === undefined) return undefined
      const statement = open.prepare(sql)
      if (statement.reader) return { rows: statement.all(parameters) as unknown[] }
      const { changes } = statement.run(parameters)
      return { rows: [], numAffectedRows: changes == null ? undefined : BigInt(changes) }
    })
  }
  return db
}
