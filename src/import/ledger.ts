// What the importer has imported into one table of ours, so that no run brings back a
// session that ended, was deleted or cleared since: "<table>_imported", one row per session
// id it ever decided on, keyed by the SHA-256 of the id (never the id: the ledger outlives
// the sessions it lists).
import { createHash } from 'node:crypto'
import { sql, type Compilable, type Kysely } from 'kysely'
import { redact } from '../errors.js'
import type { FamilyName } from '../families/index.js'

/** The ledger of table `name`: this suffix fits within 63 characters with any table name we accept (48). */
export const LEDGER_SUFFIX = '_imported'

/**
 * A ledger row is kept this long past the expiry of the session it lists (a day), so that a
 * request of the old store that loaded the session just before its expiry, and extends it
 * just after, extends the row too before the row may go (each run moves the row's expiry to
 * the session's latest).
 */
const LEDGER_MARGIN = 24 * 3600_000

/** The key a session id is listed under. */
export function ledgerId(sid: string): string {
  return createHash('sha256').update(sid).digest('hex')
}

/** A session as the ledger lists it. */
export interface LedgerEntry {
  readonly id: string
  /** The session's expiry, ms since the epoch. */
  readonly expiry: number
}

type Values = Array<{ id: string; expiry: number }>

/**
 * An INSERT that records each entry, or moves an entry already there to the later expiry,
 * per family (Postgres needs the table's name to tell its row from EXCLUDED's; MySQL has no
 * ON CONFLICT). `qualified` is the table as "schema.name" or "name".
 */
const upsertLater: Record<
  FamilyName,
  (db: Kysely<any>, table: string, qualified: string, values: Values) => Compilable
> = {
  postgres: (db, table, qualified, values) =>
    db
      .insertInto(table)
      .values(values)
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet({ expiry: sql`GREATEST(${sql.table(qualified)}.expiry, EXCLUDED.expiry)` }),
      ),
  sqlite: (db, table, _, values) =>
    db
      .insertInto(table)
      .values(values)
      .onConflict((oc) => oc.column('id').doUpdateSet({ expiry: sql`max(expiry, excluded.expiry)` })),
  mysql: (db, table, _, values) =>
    db
      .insertInto(table)
      .values(values)
      .onDuplicateKeyUpdate({ expiry: sql`GREATEST(expiry, VALUES(expiry))` }),
}

/** The ledger of one table of ours. Each method runs on the executor it is given (a transaction). */
export class Ledger {
  readonly #schema: string | undefined
  readonly #name: string
  readonly #family: FamilyName

  constructor(schema: string | undefined, table: string, family: FamilyName) {
    this.#schema = schema
    this.#name = `${table}${LEDGER_SUFFIX}`
    this.#family = family
  }

  get name(): string {
    return this.#name
  }

  #scoped(executor: Kysely<any>): Kysely<any> {
    return this.#schema === undefined ? executor : executor.withSchema(this.#schema)
  }

  /** Creates the ledger if it is missing. */
  async create(executor: Kysely<any>): Promise<void> {
    await run(
      executor,
      this.#scoped(executor)
        .schema.createTable(this.#name)
        .ifNotExists()
        .addColumn('id', 'varchar(64)', (column) => column.primaryKey().notNull())
        .addColumn('expiry', 'bigint', (column) => column.notNull()),
    )
  }

  /** Forgets the sessions that expired more than a day before `now`: none of them can come back. */
  async prune(executor: Kysely<any>, now: number): Promise<void> {
    await run(
      executor,
      this.#scoped(executor)
        .deleteFrom(this.#name)
        .where('expiry', '<', now - LEDGER_MARGIN),
    )
  }

  /** Which of `ids` are listed. */
  async listed(executor: Kysely<any>, ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    const rows = await run<{ id: unknown }>(
      executor,
      this.#scoped(executor)
        .selectFrom(this.#name)
        .select(sql<string>`${sql.ref('id')}`.as('id'))
        .where('id', 'in', ids),
    )
    return new Set(rows.map((row) => String(row.id)))
  }

  /** Lists `entries`, each with the later of its listed expiry and its own. */
  async record(executor: Kysely<any>, entries: readonly LedgerEntry[]): Promise<void> {
    if (entries.length === 0) return
    const values = entries.map(({ id, expiry }) => ({ id, expiry: Math.ceil(expiry) }))
    const qualified = this.#schema === undefined ? this.#name : `${this.#schema}.${this.#name}`
    await run(executor, upsertLater[this.#family](this.#scoped(executor), this.#name, qualified, values))
  }
}

/** Runs `query`; a failure rejects with a copy of the driver's error that quotes no value. */
async function run<R = unknown>(executor: Kysely<any>, query: Compilable): Promise<R[]> {
  const compiled = query.compile()
  try {
    return (await executor.executeQuery<R>(compiled)).rows
  } catch (cause) {
    throw redact(cause, compiled.sql, compiled.parameters)
  }
}
