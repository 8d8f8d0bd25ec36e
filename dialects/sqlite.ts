import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import {
  Kysely,
  SqliteDialect,
  SqliteDriver,
  type Driver,
  type KyselyConfig,
  type SqliteDatabase,
  type SqliteStatement,
} from 'kysely'
import { registerDirectRunner } from '../src/store/direct.js'
import {
  ConnectionUse,
  IncompatibleDriverError,
  MissingPeerDependencyError,
  checkFactoryConfig,
  countingUse,
  executorOptional,
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

/**
 * A prepared statement's first row alone, its values as arguments, `undefined` (bun:sqlite:
 * `null`) when there is none:
 * better-sqlite3's and libsql's `get`, and node:sqlite's and bun:sqlite's through
 * {@link nodeSqliteStatement}.
 */
interface OneRow {
  get(...parameters: unknown[]): unknown
}

/** Statements that return rows, for a `node:sqlite` without `StatementSync.columns()` (before Node 22.16). */
const READER = /^\s*(?:select|with|pragma|values|explain)\b|\breturning\b/i

/**
 * A `node:sqlite` StatementSync in the shape of better-sqlite3's: parameters as an array, and
 * `reader`. Empty byte arrays are bound as {@link EMPTY_BLOB} (see there).
 */
function nodeSqliteStatement(
  statement: NodeSqliteStatement,
  text: string,
): SqliteStatement & Partial<OneRow> {
  const get = statement.get?.bind(statement)
  return {
    reader: typeof statement.columns === 'function' ? statement.columns().length > 0 : READER.test(text),
    all: (parameters) => statement.all(...bindable(parameters)),
    get: get && ((...parameters) => get(...bindable(parameters))),
    run: (parameters) => statement.run(...bindable(parameters)),
    iterate: (parameters) => statement.iterate(...bindable(parameters)),
  }
}

/**
 * Zero bytes whose memory exists. Node 22's node:sqlite hands SQLite a null pointer for a view
 * of an empty ArrayBuffer (`Buffer.from(new Uint8Array(0).buffer)`, what the store binds for
 * empty data), and SQLite binds a null pointer as NULL: `NOT NULL constraint failed:
 * sessions.data`. A zero-length view of a one-byte buffer is bound as an empty blob on every
 * runtime (Node 22, 24 and 26, Bun, Deno). Nothing can write into zero bytes, so one serves all.
 */
const EMPTY_BLOB = new Uint8Array(new ArrayBuffer(1), 0, 0)

/** `parameters`, with every empty byte array replaced by {@link EMPTY_BLOB}; the same array when none is. */
function bindable(parameters: readonly unknown[]): readonly unknown[] {
  let copy: unknown[] | undefined
  for (let i = 0; i < parameters.length; i++) {
    const value = parameters[i]
    if (ArrayBuffer.isView(value) && value.byteLength === 0 && value !== EMPTY_BLOB) {
      copy ??= [...parameters]
      copy[i] = EMPTY_BLOB
    }
  }
  return copy ?? parameters
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
  get?(...parameters: unknown[]): unknown
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

/**
 * Which driver `sqlite(path)` opens files with in this process ({@link whichSqliteDriver}),
 * and, when it is not better-sqlite3 on Node, why.
 *
 * @example
 * ```ts
 * import { whichSqliteDriver, type SqliteDriverChoice } from 'kysely-session-store/sqlite'
 *
 * const choice: SqliteDriverChoice = await whichSqliteDriver()
 * if (choice.driver === 'node:sqlite') console.log(choice.reason)
 * ```
 */
export interface SqliteDriverChoice {
  /**
   * `'better-sqlite3'` on Node when it is installed and its addon loads; `'node:sqlite'` on
   * Node 22.13+ otherwise, and on Deno; `'bun:sqlite'` on Bun.
   */
  readonly driver: 'better-sqlite3' | 'node:sqlite' | 'bun:sqlite'
  /**
   * Why better-sqlite3 is not the driver, on Node: "better-sqlite3 is not installed", or
   * "better-sqlite3 12.9.0 cannot load on Node 24.11.0: ..." followed by the loader's own
   * message (an addon built for another Node, `NODE_MODULE_VERSION 115 ... requires 137`, is
   * the usual case: `npm rebuild better-sqlite3` builds it for this Node). Undefined when the
   * driver is better-sqlite3, and on Bun and Deno, whose own SQLite is the only choice.
   */
  readonly reason?: string
}

/** A driver that opens files, with the choice {@link whichSqliteDriver} reports. */
interface FileDriver extends SqliteDriverChoice {
  open(path: string): Opened
}

/** The parts of a driver's Database that opening a file needs: one statement without results. */
interface Opened {
  database: SqliteDatabaseLike
  exec(statement: string): void
  close(): void
}

type ExecDatabase = SqliteDatabaseLike & { exec(sql: string): void }

/**
 * Which SQLite driver `sqlite(path)` opens files with here, and why: on Node, better-sqlite3
 * when it is installed and its addon loads, otherwise Node's own `node:sqlite` (Node 22.13+);
 * `bun:sqlite` on Bun, `node:sqlite` on Deno. `sqlite(path)` decides the same way, by the same
 * function, when it opens its file, so the answer is the driver your store runs on. It loads
 * the driver to find out (better-sqlite3's addon, by opening an in-memory database); it does
 * not import `node:sqlite` when better-sqlite3 is the driver, so Node 22 prints no
 * `ExperimentalWarning` for it.
 *
 * Rejects, like `sqlite(path)` on first use, when no driver can be used: with a
 * {@link MissingPeerDependencyError} when better-sqlite3 is not installed on a Node without
 * `node:sqlite`, and with an {@link IncompatibleDriverError} naming the fix when it is
 * installed but cannot run on this Node (built for another Node: `npm rebuild better-sqlite3`).
 *
 * @example
 * ```ts
 * import { whichSqliteDriver } from 'kysely-session-store/sqlite'
 *
 * const { driver, reason } = await whichSqliteDriver()
 * console.log(`sessions on SQLite through ${driver}${reason ? ` (${reason})` : ''}`)
 * ```
 */
export async function whichSqliteDriver(): Promise<SqliteDriverChoice> {
  const { driver, reason } = await fileDriver()
  return reason === undefined ? { driver } : { driver, reason }
}

/** The runtime's driver for files: see {@link whichSqliteDriver}. */
async function fileDriver(): Promise<FileDriver> {
  const where = runtime()
  if (where === 'bun') {
    const { Database } = (await import(BUN_SQLITE)) as { Database: new (path: string) => ExecDatabase }
    return { driver: 'bun:sqlite', open: (path) => opened(new Database(path)) }
  }
  if (where === 'deno') return { driver: 'node:sqlite', open: await nodeSqliteOpener() }
  const better = await betterSqlite3()
  if ('open' in better) return { driver: 'better-sqlite3', open: better.open }
  let open: FileDriver['open']
  try {
    open = await nodeSqliteOpener()
  } catch {
    // Before Node 22.5 there is no node:sqlite; until 22.13 it needs --experimental-sqlite.
    throw better.error
  }
  return { driver: 'node:sqlite', reason: better.reason, open }
}

async function nodeSqliteOpener(): Promise<FileDriver['open']> {
  const { DatabaseSync } = (await import(NODE_SQLITE)) as { DatabaseSync: new (path: string) => ExecDatabase }
  return (path) => opened(new DatabaseSync(path))
}

function opened(database: ExecDatabase): Opened {
  return { database, exec: (statement) => database.exec(statement), close: () => database.close() }
}

/**
 * Why better-sqlite3 is not the driver: the error `sqlite(path)` rejects with where no other
 * driver exists, and the reason {@link whichSqliteDriver} reports where one does.
 */
interface Unfit {
  error: MissingPeerDependencyError | IncompatibleDriverError
  reason: string
}

/**
 * better-sqlite3's opener when it can run here, or why not: not installed, too new for this
 * Node (read from its package.json before its addon is loaded: better-sqlite3 13 crashes Node
 * 20 with a segmentation fault, no message), or its addon does not load (built for another
 * Node, or not built at all). The addon loads on the first `new Database()`: an in-memory one
 * is opened and closed to find out, so that a file's own errors (a missing directory) are
 * never taken for the driver's.
 */
async function betterSqlite3(): Promise<Pick<FileDriver, 'open'> | Unfit> {
  const node = process.versions.node
  let manifest: { version?: unknown; engines?: { node?: unknown } } | undefined
  try {
    const file = createRequire(import.meta.url).resolve('better-sqlite3/package.json')
    manifest = JSON.parse(readFileSync(file, 'utf8')) as typeof manifest
  } catch (error) {
    if ((error as { code?: unknown }).code === 'MODULE_NOT_FOUND') return missingBetterSqlite3(error)
    // A package.json that cannot be read leaves the decision to the import.
  }
  const version = String(manifest?.version ?? '')
  const major = Number(/^(\d+)\./.exec(version)?.[1])
  // engines.node of 13.x is ">=22"; older releases list majors ("20.x || 22.x").
  const floor = /^>=\s*(\d+)/.exec(String(manifest?.engines?.node ?? ''))?.[1]
  const needs = floor !== undefined ? Number(floor) : major >= 13 ? 22 : undefined
  if (needs !== undefined && Number(node.split('.')[0]) < needs) {
    const reason = `better-sqlite3 ${version} is built for Node ${needs} or later and crashes Node ${node}`
    const fix = `run npm install better-sqlite3@^12 (or use Node ${needs}+)`
    return { error: new IncompatibleDriverError(`sqlite(): ${reason}: ${fix}`), reason }
  }
  let Database: new (path: string) => ExecDatabase
  try {
    ;({ default: Database } = (await import('better-sqlite3')) as unknown as { default: typeof Database })
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === 'ERR_MODULE_NOT_FOUND')
      return missingBetterSqlite3(error)
    return cannotLoad(version, error)
  }
  try {
    new Database(':memory:').close()
  } catch (error) {
    return cannotLoad(version, error)
  }
  return { open: (path) => opened(new Database(path)) }
}

function missingBetterSqlite3(cause: unknown): Unfit {
  const error = new MissingPeerDependencyError(
    "sqlite(): the optional peer dependency 'better-sqlite3' is not installed: run npm install " +
      'better-sqlite3@^12 (or use Node 22.13+, whose node:sqlite sqlite() opens instead)',
    { cause },
  )
  return { error, reason: 'better-sqlite3 is not installed' }
}

/** better-sqlite3 is installed but its addon does not load: the loader's message says why. */
function cannotLoad(version: string, cause: unknown): Unfit {
  // On one line, and short: bindings lists every path it tried.
  const message = String((cause as { message?: unknown } | null)?.message ?? cause)
  const why = message.replace(/\s+/g, ' ').trim().slice(0, 400)
  const reason = `better-sqlite3${version === '' ? '' : ` ${version}`} cannot load on Node ${process.versions.node}: ${why}`
  const fix =
    'run npm rebuild better-sqlite3 to build it for this Node (or use Node 22.13+, whose node:sqlite sqlite() opens instead)'
  return { error: new IncompatibleDriverError(`sqlite(): ${reason}: ${fix}`, { cause }), reason }
}

/**
 * A Kysely instance on SQLite, with the runtime's driver: `better-sqlite3` on Node (an
 * optional peer dependency), `bun:sqlite` on Bun, `node:sqlite` on Deno and on Node 22.13+
 * wherever better-sqlite3 is not installed or its addon does not load (built for another
 * Node: `NODE_MODULE_VERSION 115 ... requires 127`). {@link whichSqliteDriver} tells which one
 * it is and why. Both Node drivers are first class: the same settings, statement cache and
 * test suite (empty data included: the node:sqlite adapter binds it as an empty blob, which
 * Node 22's node:sqlite would bind as NULL). On Node 22, Node prints `ExperimentalWarning:
 * SQLite is an experimental feature` once per process when `node:sqlite` is loaded (24 and 26
 * do not); it is Node's, and left alone here: `node --disable-warning=ExperimentalWarning`
 * hides it (and every other experimental warning), and a working better-sqlite3 avoids it.
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
 * loading the addon (which would crash the process). On a Node without `node:sqlite` (before
 * 22.13), a better-sqlite3 whose addon does not load rejects with an
 * {@link IncompatibleDriverError} that says `npm rebuild better-sqlite3`.
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
      const opened = (await fileDriver()).open(path)
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
  const use = new ConnectionUse<SqliteDatabase>()
  use.open = typeof database === 'function' ? undefined : database
  const dialectConfig = {
    // Kysely's driver opens a database from a function on its first query: keep what it opened.
    database: typeof database === 'function' ? async () => (use.open = await database()) : database,
  }
  const CountingDriver = countingUse(SqliteDriver, use)
  const dialect = new (class extends SqliteDialect {
    override createDriver(): Driver {
      return new CountingDriver(dialectConfig)
    }
  })(dialectConfig)
  const db = new Kysely<any>({ ...config, dialect })
  if (executorOptional(config)) {
    // Each store statement's prepared statement, for as long as the store keeps the statement:
    // no cache lookup by text, and no asking the driver whether it is being iterated (a
    // streamed query holds the connection, and then this runner does not run).
    const prepared = new WeakMap<object, SqliteStatement & Partial<OneRow>>()
    registerDirectRunner(db, (text, parameters) => {
      const { open } = use
      if (use.holders > 0 || open === undefined) return undefined
      let statement = prepared.get(text)
      if (statement === undefined) prepared.set(text, (statement = open.prepare(text.sql)))
      const { rows } = text
      if (rows === 'one' && statement.get !== undefined) {
        // The row alone: stepping once, without an array of all rows (about 10% of a find).
        // Values as arguments: better-sqlite3 binds them about 4% faster than one array.
        const row = statement.get(...parameters)
        return { rows: row === undefined || row === null ? [] : [row] }
      }
      if (statement.reader) return { rows: statement.all(parameters) as unknown[] }
      const { changes } = statement.run(parameters)
      return { rows: [], numAffectedRows: changes == null ? undefined : BigInt(changes) }
    })
  }
  return db
}
