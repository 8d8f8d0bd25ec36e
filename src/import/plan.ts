// The import, in two steps: planImport() checks every option and queries nothing; the plan
// then reads the old table (checkSource) and runs. The command checks the old table before
// it creates ours, so that a wrong --from writes nothing.
import { sql, type Compilable, type InsertQueryBuilder, type InsertResult, type Kysely } from 'kysely'
import { SessionStoreError, describeCause, redact } from '../errors.js'
import { resolveFamily, type FamilyName, type SqlFamily } from '../families/index.js'
import { DEFAULT_MAX_DATA_SIZE, DEFAULT_TABLE_NAME } from '../store/options.js'
import {
  checkFunction,
  checkIdentifier,
  checkKnownKeys,
  checkKysely,
  checkObject,
  checkPositiveInteger,
  checkSubject,
  checkToken,
  MAX_TABLE_NAME_LENGTH,
} from '../validate.js'
import type { ImportOptions, ImportResult } from './options.js'
import { Ledger, ledgerId } from './ledger.js'
import {
  ownPageReader,
  pageReader,
  sourceKinds,
  type OwnRow,
  type ReadOwnPage,
  type ReadPage,
} from './sources.js'

/**
 * Rows read and written per batch unless told otherwise.
 *
 * @example
 * ```ts
 * import { DEFAULT_IMPORT_BATCH_SIZE, importSessions } from 'kysely-session-store/import'
 *
 * await importSessions(db, { from: 'connect-pg-simple', batchSize: 2 * DEFAULT_IMPORT_BATCH_SIZE })
 * ```
 */
export const DEFAULT_IMPORT_BATCH_SIZE = 1000
/** The largest batch size accepted. */
export const MAX_IMPORT_BATCH_SIZE = 5000
/** An INSERT is split once its data reaches this many bytes (MySQL's packet limit). */
const MAX_INSERT_BYTES = 4 * 1024 * 1024
/** Rows per INSERT: at 6 values a row, well under SQLite's 32,766 bound parameters. */
const MAX_INSERT_ROWS = 1000

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

/** An import whose options were checked; nothing was queried yet. */
export interface ImportPlan {
  /** The old table, as the messages name it. */
  readonly table: string
  /** Reads one row of the old table and writes nothing: a missing table or column fails here. */
  checkSource(): Promise<void>
  /** Checks both tables, lists what earlier runs imported, then imports batch by batch. */
  run(): Promise<ImportResult>
}

/**
 * Checks `options` (TypeError or RangeError, naming the option and the fix) and returns the
 * plan of the import; queries nothing.
 */
export function planImport(db: Kysely<any>, options: ImportOptions): ImportPlan {
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
  if (subject !== undefined) checkFunction('subject', subject)
  checkPositiveInteger('batchSize', batchSize, MAX_IMPORT_BATCH_SIZE)
  checkFunction('now', now)
  if (onProgress !== undefined) checkFunction('onProgress', onProgress)

  const sameTable = source === db && table === tableName && schema === targetSchema
  const upgrade = from === 'kysely-session-store'
  if (upgrade) {
    if (!hashSids) {
      throw new RangeError(
        "options.hashSids: from: 'kysely-session-store' stores each clear id hashed: leave hashSids out",
      )
    }
    if (options.sidColumn !== undefined) {
      throw new RangeError("options.sidColumn: our table's id column is token: leave sidColumn out")
    }
    if (subject !== undefined) {
      throw new RangeError(
        "options.subject: from: 'kysely-session-store' keeps each session's own subject: leave subject out",
      )
    }
    if (source !== db) {
      throw new RangeError(
        "options.source: from: 'kysely-session-store' moves each session within one database, in one " +
          'transaction: leave source out, and give the database that holds both tables as db',
      )
    }
    if (sameTable) {
      throw new RangeError(
        `options.tableName: the clear-id table "${table}" cannot be the hashed one too: an id of 64 hex ` +
          'characters cannot be told from a hash, so the two kinds of row must not share a table. Give ' +
          "the hashed store a table of its own (KyselyStore's tableName, made by migrate()) and name it here",
      )
    }
  } else if (sameTable) {
    throw new RangeError(
      `options.tableName: our table must not be the old store's table "${table}": name ours otherwise (tableName)`,
    )
  }
  const sourceFamily = resolveFamily(source, undefined)
  const family = resolveFamily(db, undefined)
  const readPage = upgrade
    ? undefined
    : pageReader(source, from, sourceFamily.name, { schema, table, sidColumn })
  if (!upgrade && readPage === undefined) {
    throw new RangeError(
      `options.from: ${from} does not run on ${sourceFamily.name}, so it has no table there`,
    )
  }
  const target = new Target(targetSchema, tableName, family, {
    subject: upgrade || subject !== undefined,
    times: upgrade,
  })
  const ledger = new Ledger(targetSchema, tableName, family.name)
  const settings: Settings = { db, family: family.name, target, ledger, now, after: undefined }

  const readOwn = upgrade ? ownPageReader(family.name, { schema, table }) : undefined
  const checkSource = async () => {
    await guard(`read of table "${table}"`, async () => {
      await (readOwn === undefined ? readPage!(undefined, 1) : readOwn(db, undefined, 1))
    })
  }
  return {
    table,
    checkSource,
    async run() {
      const counts = { read: 0, imported: 0, existing: 0, expired: 0, invalid: 0 }
      settings.after = undefined
      await checkSource()
      await guard(`check of table "${tableName}" (ours: migrate() makes it)`, () => target.check(db))
      await guard(`creating table "${ledger.name}"`, () => ledger.create(db))
      await guard(`pruning table "${ledger.name}"`, () => ledger.prune(db, now()))
      for (;;) {
        const page =
          readOwn === undefined
            ? await copyPage(settings, readPage!, table, subject, hashSids, batchSize)
            : await guard(`move from table "${table}" into table "${tableName}"`, () =>
                inTransaction(db, family.name, (trx) =>
                  movePage(settings, trx, readOwn, { schema, table }, batchSize),
                ),
              )
        if (page === undefined) break
        counts.read += page.read
        counts.imported += page.imported
        counts.existing += page.existing
        counts.expired += page.expired
        counts.invalid += page.invalid
        onProgress?.({ ...counts })
        if (page.read < batchSize) break
      }
      return { ...counts }
    },
  }
}

interface Settings {
  readonly db: Kysely<any>
  readonly family: FamilyName
  readonly target: Target
  readonly ledger: Ledger
  readonly now: () => number
  /** The last id of the page read last: the next page starts after it (keyset). */
  after: string | undefined
}

/** What one batch did; `read` 0 is never returned (undefined instead). */
interface Page {
  read: number
  imported: number
  existing: number
  expired: number
  invalid: number
}

/**
 * One page of another store's table, copied: the sessions not listed in the ledger are
 * inserted into ours (skipping ids ours has), and every live one is listed, in one
 * transaction. The old table is not written.
 */
async function copyPage(
  settings: Settings,
  readPage: ReadPage,
  table: string,
  subject: ImportOptions['subject'],
  hashSids: boolean,
  batchSize: number,
): Promise<Page | undefined> {
  const rows = await guard(`read of table "${table}"`, () => readPage(settings.after, batchSize))
  if (rows.length === 0) return undefined
  settings.after = rows[rows.length - 1]!.sid
  const page: Page = { read: rows.length, imported: 0, existing: 0, expired: 0, invalid: 0 }
  const at = settings.now()
  const batch: Row[] = []
  for (const row of rows) {
    if (!(row.expiry > at)) {
      page.expired++
      continue
    }
    const converted = convert(row.sid, row.sess, row.expiry, hashSids, subject)
    if (converted === undefined) page.invalid++
    else batch.push(converted)
  }
  const written = await guard(`import into table "${settings.target.name}"`, () =>
    inTransaction(settings.db, settings.family, (trx) => write(settings, trx, batch)),
  )
  page.imported = written
  page.existing = batch.length - written
  return page
}

/**
 * One page of our clear-id table, moved: inside the transaction the rows are read locked,
 * those not listed in the ledger are inserted under the hash of their id, with every column
 * they have, every live one is listed, and the clear rows are deleted. A row whose hashed
 * session is already there, or was imported before (and has ended since), is deleted and
 * not moved: it is a stale copy. Expired and invalid rows stay where they are.
 */
async function movePage(
  settings: Settings,
  trx: Kysely<any>,
  readOwn: ReadOwnPage,
  clear: { readonly schema: string | undefined; readonly table: string },
  batchSize: number,
): Promise<Page | undefined> {
  const rows = await readOwn(trx, settings.after, batchSize)
  if (rows.length === 0) return undefined
  settings.after = rows[rows.length - 1]!.token
  const page: Page = { read: rows.length, imported: 0, existing: 0, expired: 0, invalid: 0 }
  const at = settings.now()
  const batch: Row[] = []
  for (const row of rows) {
    if (!(row.expiry > at)) {
      page.expired++
      continue
    }
    const moved = hashed(row)
    if (moved === undefined) page.invalid++
    else batch.push(moved)
  }
  page.imported = await write(settings, trx, batch)
  page.existing = batch.length - page.imported
  await deleteTokens(
    trx,
    clear,
    batch.map((row) => row.from),
  )
  return page
}

/** Inserts the rows of `batch` the ledger does not list, lists them all; the count inserted. */
async function write(settings: Settings, trx: Kysely<any>, batch: Row[]): Promise<number> {
  if (batch.length === 0) return 0
  const listed = await settings.ledger.listed(
    trx,
    batch.map((row) => row.id),
  )
  const inserted = await settings.target.insert(
    trx,
    batch.filter((row) => !listed.has(row.id)),
  )
  await settings.ledger.record(trx, batch)
  return inserted
}

/** A session as our table keeps it, with the key the ledger lists it under. */
interface Row {
  /** The ledger's key: the SHA-256 of the session id. */
  readonly id: string
  /** The clear id the row is moved from (the upgrade), or the old store's id. */
  readonly from: string
  readonly token: string
  readonly data: Uint8Array
  readonly expiry: number
  readonly subject: string | null
  readonly createdAt: number | null
  readonly lastSeenAt: number | null
}

function convert(
  sid: string,
  sess: string,
  expiry: number,
  hashSids: boolean,
  subject: ImportOptions['subject'],
): Row | undefined {
  const id = ledgerId(sid)
  const token = hashSids ? id : sid
  try {
    checkToken(token)
  } catch {
    return undefined
  }
  if (jsonObject(sess) === undefined) return undefined
  const data = Buffer.from(sess, 'utf8')
  if (data.byteLength > DEFAULT_MAX_DATA_SIZE) return undefined
  let owner: string | null = null
  if (subject !== undefined) {
    const value = subject(jsonObject(sess)!)
    owner = typeof value === 'number' && Number.isFinite(value) ? String(value) : (value as string)
    try {
      checkSubject(owner)
    } catch {
      owner = null // not a user id: the session is imported without a subject
    }
  }
  return { id, from: sid, token, data, expiry, subject: owner, createdAt: null, lastSeenAt: null }
}

/** A row of our clear-id table under the hash of its id, or undefined when its data is not a JSON object. */
function hashed(row: OwnRow): Row | undefined {
  if (jsonObject(Buffer.from(row.data).toString('utf8')) === undefined) return undefined
  const id = ledgerId(row.token)
  return { ...row, id, from: row.token, token: id }
}

function jsonObject(text: string): Record<string, any> | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, any>)
    : undefined
}

/**
 * Our table: each INSERT skips the tokens it already has (they are left alone). (A SELECT
 * of those tokens first made Postgres scan the whole table per batch: its statistics of a
 * table filled moments ago are stale.)
 */
class Target {
  readonly schema: string | undefined
  readonly name: string
  readonly #family: SqlFamily
  readonly #columns: { readonly subject: boolean; readonly times: boolean }

  constructor(
    schema: string | undefined,
    name: string,
    family: SqlFamily,
    columns: { readonly subject: boolean; readonly times: boolean },
  ) {
    this.schema = schema
    this.name = name
    this.#family = family
    this.#columns = columns
  }

  #scoped(executor: Kysely<any>): Kysely<any> {
    return this.schema === undefined ? executor : executor.withSchema(this.schema)
  }

  /** Reads no row, but fails when the table or one of its columns is missing. */
  async check(executor: Kysely<any>): Promise<void> {
    const table = sql.table(this.schema === undefined ? this.name : `${this.schema}.${this.name}`)
    await sql`SELECT token, data, expiry, subject, created_at, last_seen_at, ended_at FROM ${table} WHERE 1 = 0`.execute(
      executor,
    )
  }

  /** Inserts `rows`, skipping tokens already there; the count inserted. */
  async insert(executor: Kysely<any>, rows: readonly Row[]): Promise<number> {
    let inserted = 0
    for (let start = 0; start < rows.length;) {
      let end = start
      let bytes = 0
      while (
        end < rows.length &&
        end - start < MAX_INSERT_ROWS &&
        (end === start || bytes < MAX_INSERT_BYTES)
      ) {
        bytes += rows[end]!.data.byteLength
        end++
      }
      inserted += await this.#insert(executor, rows.slice(start, end))
      start = end
    }
    return inserted
  }

  async #insert(executor: Kysely<any>, rows: readonly Row[]): Promise<number> {
    const family = this.#family
    const time = (ms: number | null) => (ms === null ? null : family.time(ms))
    const values = rows.map((row) => ({
      token: row.token,
      data: family.data(row.data),
      expiry: family.time(row.expiry),
      ...(this.#columns.subject ? { subject: row.subject } : {}),
      ...(this.#columns.times ? { created_at: time(row.createdAt), last_seen_at: time(row.lastSeenAt) } : {}),
    }))
    const insert = skipConflicts[family.name](this.#scoped(executor).insertInto(this.name) as Insert, values)
    const compiled = insert.compile()
    try {
      return Number((await executor.executeQuery(compiled)).numAffectedRows ?? 0)
    } catch (cause) {
      throw redact(cause, compiled.sql, compiled.parameters)
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

/** Deletes the rows of `tokens` from `table` (the clear copies the upgrade moved). */
async function deleteTokens(
  executor: Kysely<any>,
  { schema, table }: { readonly schema: string | undefined; readonly table: string },
  tokens: readonly string[],
): Promise<void> {
  if (tokens.length === 0) return
  const scoped = schema === undefined ? executor : executor.withSchema(schema)
  await run(executor, scoped.deleteFrom(table).where('token', 'in', tokens))
}

/** Runs `query`; a failure rejects with a copy of the driver's error that quotes no value. */
async function run(executor: Kysely<any>, query: Compilable): Promise<void> {
  const compiled = query.compile()
  try {
    await executor.executeQuery(compiled)
  } catch (cause) {
    throw redact(cause, compiled.sql, compiled.parameters)
  }
}

type Transact = <T>(db: Kysely<any>, run: (trx: Kysely<any>) => Promise<T>) => Promise<T>

/**
 * A transaction that holds what it reads until it commits, per family: Postgres and MySQL
 * lock the rows read FOR UPDATE; SQLite takes the write lock at BEGIN IMMEDIATE (a deferred
 * transaction that read and then writes fails with SQLITE_BUSY when another wrote meanwhile).
 */
const transactions: Record<FamilyName, Transact> = {
  postgres: (db, run) => db.transaction().execute(run),
  mysql: (db, run) => db.transaction().execute(run),
  sqlite: (db, run) =>
    db.connection().execute(async (connection) => {
      await sql`BEGIN IMMEDIATE`.execute(connection)
      try {
        const result = await run(connection)
        await sql`COMMIT`.execute(connection)
        return result
      } catch (error) {
        await sql`ROLLBACK`.execute(connection).catch(() => undefined)
        throw error
      }
    }),
}

/** Runs `run` in a transaction of `db`'s, or in `db` when it is one already. */
function inTransaction<T>(
  db: Kysely<any>,
  family: FamilyName,
  run: (trx: Kysely<any>) => Promise<T>,
): Promise<T> {
  return db.isTransaction ? run(db) : transactions[family](db, run)
}

async function guard<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (cause) {
    if (cause instanceof SessionStoreError) throw cause
    throw new SessionStoreError(`${what} failed: ${describeCause(cause)} (see error.cause)`, 'engine', cause)
  }
}
