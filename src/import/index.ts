import { createHash } from 'node:crypto'
import type { CompiledQuery, InsertQueryBuilder, InsertResult, Kysely } from 'kysely'
import { SessionStoreError, describeCause, redact } from '../errors.js'
import { resolveFamily, type FamilyName, type SqlFamily } from '../families/index.js'
import { DEFAULT_MAX_DATA_SIZE, DEFAULT_TABLE_NAME } from '../options.js'
import {
  checkFunction,
  checkIdentifier,
  checkKnownKeys,
  checkObject,
  checkPositiveInteger,
  checkSubject,
  checkToken,
  MAX_TABLE_NAME_LENGTH,
} from '../validate.js'
import { pageReader, sourceKinds, type SourceKind } from './sources.js'

export type { SourceKind } from './sources.js'

/** Rows read and written per batch unless told otherwise. */
export const DEFAULT_IMPORT_BATCH_SIZE = 1000
const MAX_IMPORT_BATCH_SIZE = 5000
/** A batch is written early once its data reaches this many bytes (MySQL's packet limit). */
const MAX_BATCH_BYTES = 4 * 1024 * 1024
/** A key as hashSids stores it: SHA-256 in hex. */
const HASHED = /^[0-9a-f]{64}$/

/**
 * Options of {@link importSessions}.
 *
 * @example
 * ```ts
 * const options: ImportOptions = { from: 'connect-pg-simple', table: 'session' }
 * ```
 */
export interface ImportOptions {
  /**
   * The store whose table is read: `'connect-pg-simple'`, `'connect-session-knex'`, or
   * `'kysely-session-store'` for a table of ours whose ids are stored in clear (by
   * ExpressSessionStore 0.1, or `hashSids: false`): each such session is stored again under
   * the hash of its id (rows already keyed by a hash are left alone), so that turning
   * `hashSids` on logs nobody out. The table may be the one written to.
   */
  readonly from: SourceKind
  /**
   * The old store's table.
   * @default 'session' for connect-pg-simple (its default), 'sessions' for the others
   */
  readonly table?: string
  /**
   * The old table's Postgres schema (connect-pg-simple's `schemaName`) or MySQL database.
   * @default the connection's search path or database
   */
  readonly schema?: string
  /**
   * The old table's session id column (connect-session-knex's `sidFieldName`).
   * @default 'sid' ('token' for kysely-session-store)
   */
  readonly sidColumn?: string
  /**
   * The database that holds the old table, when it is not `db`.
   * @default db
   */
  readonly source?: Kysely<any>
  /**
   * Our table, as given to `KyselyStore` and `migrate()`; it must exist.
   * @default 'sessions'
   */
  readonly tableName?: string
  /**
   * Our table's Postgres schema or MySQL database, as the store's `schema` option.
   * @default the connection's search path or database
   */
  readonly targetSchema?: string
  /**
   * Store SHA-256 hashes of the session ids, as {@link ExpressSessionStore} does by default.
   * Must match the adapter's `hashSids`, or no imported session will be found.
   * @default true
   */
  readonly hashSids?: boolean
  /**
   * The subject of each session, as the adapter's `subject` option (a string or a number;
   * `null` or `undefined` for none), so that `destroyBySubject` reaches imported sessions.
   * A value that is not a valid subject leaves that session without one.
   * @default none
   */
  readonly subject?: (session: Record<string, any>) => unknown
  /**
   * Rows read and written per batch.
   * @default 1000
   */
  readonly batchSize?: number
  /**
   * The application's clock: rows whose expiry is not later are skipped.
   * @default Date.now
   */
  readonly now?: () => number
  /** Called after each batch with the counts so far. */
  readonly onProgress?: (progress: ImportResult) => void
}

/**
 * What {@link importSessions} did. Every row read is counted once: `imported`, `existing`,
 * `expired` or `invalid`.
 *
 * @example
 * ```ts
 * const { imported, existing } = await importSessions(db, { from: 'connect-pg-simple' })
 * ```
 */
export interface ImportResult {
  /** Rows read from the old table. */
  readonly read: number
  /** Sessions written into our table. */
  readonly imported: number
  /** Live sessions that our table already had (a previous run, or ended since): left as they are. */
  readonly existing: number
  /** Rows whose expiry had passed: skipped. */
  readonly expired: number
  /** Rows whose `sess` is not a JSON object, too large, or whose id cannot be a token: skipped. */
  readonly invalid: number
}

const OPTION_KEYS = [
  'from',
  'table',
  'schema',
  'sidColumn',
  'source',
  'tableName',
  'targetSchema',
  'hashSids',
  'subject',
  'batchSize',
  'now',
  'onProgress',
]

/**
 * Copies the live sessions of another express-session store's table into ours, so that
 * after switching to {@link ExpressSessionStore} every existing cookie still finds its
 * session and nobody is logged out. Reads connect-pg-simple's table (Postgres) or
 * connect-session-knex's (Postgres, SQLite, MySQL/MariaDB) in batches ordered by sid, and
 * writes each batch in one INSERT that skips ids our table already has: running it again
 * imports nothing twice and never overwrites a session that changed (or ended) since, so
 * it is safe to run before the switch and once more after it. Session data is copied as
 * the JSON the old store kept; the expiry is the old row's. Never closes `db` or `source`.
 *
 * @param db - the database holding our table (made by `migrate()`).
 * @param options - see {@link ImportOptions}.
 * @returns the counts; see {@link ImportResult}.
 * @throws TypeError or RangeError before any query when an option is not valid; a
 * SessionStoreError when the database fails (its message quotes no session id or data).
 *
 * @example
 * ```ts
 * import { importSessions } from 'kysely-session-store/import'
 *
 * const result = await importSessions(db, { from: 'connect-pg-simple', table: 'session' })
 * console.log(`${result.imported} sessions imported, ${result.existing} already there`)
 * ```
 */
export async function importSessions(db: Kysely<any>, options: ImportOptions): Promise<ImportResult> {
  checkKysely('db', db)
  checkObject('options', options)
  checkKnownKeys('options', options, OPTION_KEYS)
  const { from } = options
  if (!Object.hasOwn(sourceKinds, from as string)) {
    throw new RangeError(
      `options.from must be one of ${Object.keys(sourceKinds)
        .map((k) => `'${k}'`)
        .join(', ')}, got ${JSON.stringify(String(from))}`,
    )
  }
  const kind = sourceKinds[from]
  const {
    table = kind.defaultTable,
    schema,
    sidColumn = kind.defaultSidColumn,
    source = db,
    tableName = DEFAULT_TABLE_NAME,
    targetSchema,
    hashSids = true,
    subject,
    batchSize = DEFAULT_IMPORT_BATCH_SIZE,
    now = Date.now,
    onProgress,
  } = options
  checkIdentifier('table', table)
  checkIdentifier('sidColumn', sidColumn)
  checkIdentifier('tableName', tableName, MAX_TABLE_NAME_LENGTH)
  if (schema !== undefined) checkIdentifier('schema', schema)
  if (targetSchema !== undefined) checkIdentifier('targetSchema', targetSchema)
  checkKysely('source', source)
  if (typeof hashSids !== 'boolean') throw new TypeError('hashSids must be a boolean')
  if (from === 'kysely-session-store' && !hashSids) {
    throw new RangeError(
      "hashSids must be true with from: 'kysely-session-store', which stores clear ids hashed",
    )
  }
  if (subject !== undefined) checkFunction('subject', subject)
  checkPositiveInteger('batchSize', batchSize, MAX_IMPORT_BATCH_SIZE)
  checkFunction('now', now)
  if (onProgress !== undefined) checkFunction('onProgress', onProgress)

  if (from !== 'kysely-session-store' && source === db && table === tableName && schema === targetSchema) {
    throw new RangeError(
      `options.tableName: our table must not be the old store's table "${table}": name ours otherwise (tableName)`,
    )
  }
  const sourceFamily = resolveFamily(source, undefined)
  const readPage = pageReader(source, from, sourceFamily.name, { schema, table, sidColumn })
  if (readPage === undefined) {
    throw new RangeError(
      `options.from: ${from} does not run on ${sourceFamily.name}, so it has no table there`,
    )
  }
  const target = new Target(db, targetSchema, tableName, subject !== undefined)

  const counts = { read: 0, imported: 0, existing: 0, expired: 0, invalid: 0 }
  let after: string | undefined
  for (;;) {
    const rows = await guard(`read of table "${table}"`, () => readPage(after, batchSize))
    if (rows.length === 0) break
    after = rows[rows.length - 1]!.sid
    counts.read += rows.length
    const at = now()
    const batch: Row[] = []
    let bytes = 0
    for (const row of rows) {
      if (from === 'kysely-session-store' && HASHED.test(row.sid)) {
        counts.existing++ // a row of ours already keyed by a hash
        continue
      }
      if (!(row.expiry > at)) {
        counts.expired++
        continue
      }
      const converted = convert(row.sid, row.sess, row.expiry, hashSids, subject)
      if (converted === undefined) {
        counts.invalid++
        continue
      }
      batch.push(converted)
      bytes += converted.data.byteLength
      if (bytes >= MAX_BATCH_BYTES) {
        await target.write(batch.splice(0), counts)
        bytes = 0
      }
    }
    await target.write(batch, counts)
    onProgress?.({ ...counts })
    if (rows.length < batchSize) break
  }
  return counts
}

/** A session as our table keeps it. */
interface Row {
  readonly token: string
  readonly data: Uint8Array
  readonly expiry: number
  readonly subject: string | null
}

function convert(
  sid: string,
  sess: string,
  expiry: number,
  hashSids: boolean,
  subject: ImportOptions['subject'],
): Row | undefined {
  let token = sid
  if (hashSids) token = createHash('sha256').update(sid).digest('hex')
  try {
    checkToken(token)
  } catch {
    return undefined
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(sess)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const data = Buffer.from(sess, 'utf8')
  if (data.byteLength > DEFAULT_MAX_DATA_SIZE) return undefined
  let owner: string | null = null
  if (subject !== undefined) {
    const value = subject(parsed as Record<string, any>)
    owner = typeof value === 'number' && Number.isFinite(value) ? String(value) : (value as string)
    try {
      checkSubject(owner)
    } catch {
      owner = null // not a user id: the session is imported without a subject
    }
  }
  return { token, data, expiry, subject: owner }
}

/**
 * Our table: each batch is one INSERT that skips the tokens it already has (they are left
 * alone). (A SELECT of those tokens first made Postgres scan the whole table per batch: its
 * statistics of a table filled moments ago are stale.)
 */
class Target {
  readonly #db: Kysely<any>
  readonly #table: string
  readonly #family: SqlFamily
  readonly #withSubject: boolean

  constructor(db: Kysely<any>, schema: string | undefined, table: string, withSubject: boolean) {
    this.#db = schema === undefined ? db : db.withSchema(schema)
    this.#table = table
    this.#family = resolveFamily(db, undefined)
    this.#withSubject = withSubject
  }

  async write(rows: Row[], counts: { imported: number; existing: number }): Promise<void> {
    if (rows.length === 0) return
    const family = this.#family
    const values = rows.map((row) => ({
      token: row.token,
      data: family.data(row.data),
      expiry: family.time(row.expiry),
      ...(this.#withSubject ? { subject: row.subject } : {}),
    }))
    const query = skipConflicts[family.name](this.#db.insertInto(this.#table) as Insert, values).compile()
    const result = await guard(`import into table "${this.#table}"`, () => this.#run(query))
    const inserted = Number(result.numAffectedRows ?? 0)
    counts.imported += inserted
    counts.existing += rows.length - inserted
  }

  async #run<R>(query: CompiledQuery) {
    try {
      return await this.#db.executeQuery<R>(query)
    } catch (cause) {
      throw redact(cause, query.sql, query.parameters)
    }
  }
}

type Insert = InsertQueryBuilder<any, any, InsertResult>
type Values = Array<Record<string, unknown>>

/**
 * An INSERT that skips a row whose token is already there (leaving that row as it is) and
 * reports only the rows it inserted as affected, per family. On MySQL that is INSERT
 * IGNORE: ON DUPLICATE KEY UPDATE counts an untouched row as affected when the client
 * sets CLIENT_FOUND_ROWS, as mysql2 does. Every value was checked before.
 */
const skipConflicts: Record<FamilyName, (insert: Insert, values: Values) => Insert> = {
  postgres: (insert, values) => insert.values(values).onConflict((oc) => oc.column('token').doNothing()),
  sqlite: (insert, values) => insert.values(values).onConflict((oc) => oc.column('token').doNothing()),
  mysql: (insert, values) => insert.ignore().values(values),
}

async function guard<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (cause) {
    if (cause instanceof SessionStoreError) throw cause
    throw new SessionStoreError(`${what} failed: ${describeCause(cause)} (see error.cause)`, 'engine', cause)
  }
}

function checkKysely(name: string, db: unknown): asserts db is Kysely<any> {
  const candidate = db as Partial<Kysely<any>> | null | undefined
  if (typeof candidate?.executeQuery !== 'function' || typeof candidate.selectFrom !== 'function') {
    throw new TypeError(`${name} must be a Kysely instance`)
  }
}
