// Readers of the tables other express-session stores keep: one page of rows at a time, in
// the order of their primary key (keyset pagination), with each row's expiry read back as
// milliseconds since the epoch the way that store wrote it.
import { sql, type Kysely, type RawBuilder } from 'kysely'
import { redact } from '../errors.js'
import { timeMs, type FamilyName } from '../families/index.js'

/** A row of another store's table: the session id, its JSON text, and its expiry in ms. */
export interface SourceRow {
  readonly sid: string
  readonly sess: string
  readonly expiry: number
}

/** Where the rows are: the table and the columns, all plain identifiers already checked. */
export interface SourceTable {
  readonly schema: string | undefined
  readonly table: string
  readonly sidColumn: string
}

/** One page of rows with sid greater than `after`, ordered by sid. */
export type ReadPage = (after: string | undefined, limit: number) => Promise<SourceRow[]>

/** How one store laid out its table: its columns, and how to read them per SQL family. */
interface Layout {
  readonly defaultTable: string
  readonly defaultSidColumn: string
  readonly sessColumn: string
  readonly expiryColumn: string
  /** Rows that are sessions at all (our own table keeps tombstones). */
  readonly where?: RawBuilder<boolean>
  readonly families: Partial<Record<FamilyName, { sess: Read; expiry: Read }>>
}
type Read = (column: string) => RawBuilder<unknown>

const text = (c: string) => sql<string>`${sql.ref(c)}::text`
const timestamptz = (c: string) =>
  sql<number>`(extract(epoch FROM ${sql.ref(c)}::timestamptz) * 1000)::float8`
const asIs = (c: string) => sql<unknown>`${sql.ref(c)}`

/**
 * How each supported store laid out its table, per SQL family it runs on.
 *
 * connect-pg-simple (Postgres only): `sid varchar`, `sess json`, `expire timestamp(6)`
 * WITHOUT time zone, written as `to_timestamp(seconds)`, so it holds local time in the
 * connection's `TimeZone`; casting it back to timestamptz in a connection with the same
 * setting gives the instant it meant.
 *
 * connect-session-knex 5: `sid varchar(255)` (or its `sidFieldName`), `sess json` (TEXT on
 * SQLite, LONGTEXT on MariaDB), `expired`: timestamptz on Postgres, DATETIME holding UTC
 * on MySQL (it writes `toISOString()` cut to seconds), and an ISO 8601 string on SQLite.
 *
 * kysely-session-store: our own table, as ExpressSessionStore 0.1 (or `hashSids: false`)
 * filled it, with session ids in clear; read whole by {@link ownPageReader}.
 */
export const sourceKinds = {
  'connect-pg-simple': {
    defaultTable: 'session',
    defaultSidColumn: 'sid',
    sessColumn: 'sess',
    expiryColumn: 'expire',
    families: { postgres: { sess: text, expiry: timestamptz } },
  },
  'connect-session-knex': {
    defaultTable: 'sessions',
    defaultSidColumn: 'sid',
    sessColumn: 'sess',
    expiryColumn: 'expired',
    families: {
      postgres: { sess: text, expiry: timestamptz },
      mysql: {
        sess: (c) => sql<string>`CAST(${sql.ref(c)} AS CHAR)`,
        expiry: (c) => sql<string>`DATE_FORMAT(${sql.ref(c)}, '%Y-%m-%dT%H:%i:%sZ')`,
      },
      sqlite: { sess: asIs, expiry: asIs },
    },
  },
  'kysely-session-store': {
    defaultTable: 'sessions',
    defaultSidColumn: 'token',
    sessColumn: 'data',
    expiryColumn: 'expiry',
    // Read by ownPageReader, whole rows: see there.
    families: {},
  },
} as const satisfies Record<string, Layout>

/** The stores whose tables {@link importSessions} reads. */
export type SourceKind = keyof typeof sourceKinds

/** The page reader for `kind`'s table on `db` (of SQL family `family`), or undefined when that store does not run there. */
export function pageReader(
  db: Kysely<any>,
  kind: SourceKind,
  family: FamilyName,
  where: SourceTable,
): ReadPage | undefined {
  const layout: Layout = sourceKinds[kind]
  const columns = layout.families[family]
  if (columns === undefined) return undefined
  const scoped = where.schema === undefined ? db : db.withSchema(where.schema)
  return async (after, limit) => {
    let query = scoped
      .selectFrom(where.table)
      .select([
        sql<string>`${sql.ref(where.sidColumn)}`.as('sid'),
        columns.sess(layout.sessColumn).as('sess'),
        columns.expiry(layout.expiryColumn).as('expiry'),
      ])
      .orderBy(where.sidColumn)
      .limit(limit)
    if (layout.where !== undefined) query = query.where(layout.where)
    if (after !== undefined) query = query.where(where.sidColumn, '>', after)
    const compiled = query.compile()
    let rows: Array<{ sid: unknown; sess: unknown; expiry: unknown }>
    try {
      ;({ rows } = await db.executeQuery<{ sid: unknown; sess: unknown; expiry: unknown }>(compiled))
    } catch (cause) {
      throw redact(cause, compiled.sql, compiled.parameters)
    }
    return rows.map((row) => ({
      sid: String(row.sid),
      sess: typeof row.sess === 'string' ? row.sess : JSON.stringify(row.sess),
      expiry: timeMs(row.expiry) ?? Number.NaN,
    }))
  }
}

/** How our own table's times read as ms, and whether a read can lock rows (FOR UPDATE), per family. */
const ownColumns: Record<FamilyName, { time: Read; lock: boolean }> = {
  postgres: { time: timestamptz, lock: true },
  mysql: { time: asIs, lock: true },
  sqlite: { time: asIs, lock: false },
}

/** A live row of our own table, whole: its times in ms since the epoch (null when not set). */
export interface OwnRow {
  readonly token: string
  readonly data: Uint8Array
  readonly expiry: number
  readonly subject: string | null
  readonly createdAt: number | null
  readonly lastSeenAt: number | null
}

/** One page of `table`'s live rows (not tombstones) with token greater than `after`. */
export type ReadOwnPage = (
  executor: Kysely<any>,
  after: string | undefined,
  limit: number,
) => Promise<OwnRow[]>

/**
 * The page reader for our own table (of SQL family `family`), as the upgrade from clear ids
 * reads it: every column the row has, so that the session moves whole (its subject, its
 * creation and last-seen times). The times are read as milliseconds, as the store binds them
 * (timestamptz on Postgres, milliseconds elsewhere). Run inside the move's transaction, the
 * rows are locked (FOR UPDATE; SQLite's transaction holds the write lock from its start): a
 * logout that ends one of them meanwhile waits, and then finds it moved, never undone.
 */
export function ownPageReader(family: FamilyName, where: Omit<SourceTable, 'sidColumn'>): ReadOwnPage {
  const { time, lock } = ownColumns[family]
  return async (executor, after, limit) => {
    const scoped = where.schema === undefined ? executor : executor.withSchema(where.schema)
    // One lowercase word per column, so that a CamelCasePlugin leaves the names alone.
    let query = scoped
      .selectFrom(where.table)
      .select([
        sql<string>`${sql.ref('token')}`.as('token'),
        sql<Uint8Array>`${sql.ref('data')}`.as('data'),
        time('expiry').as('expiry'),
        sql<string | null>`${sql.ref('subject')}`.as('subject'),
        time('created_at').as('created'),
        time('last_seen_at').as('seen'),
      ])
      .where(sql<boolean>`ended_at IS NULL`)
      .orderBy('token')
      .limit(limit)
    if (after !== undefined) query = query.where('token', '>', after)
    if (lock) query = query.forUpdate()
    const compiled = query.compile()
    let rows: Array<Record<string, unknown>>
    try {
      ;({ rows } = await executor.executeQuery<Record<string, unknown>>(compiled))
    } catch (cause) {
      throw redact(cause, compiled.sql, compiled.parameters)
    }
    return rows.map((row) => ({
      token: String(row.token),
      data: row.data as Uint8Array,
      expiry: timeMs(row.expiry) ?? Number.NaN,
      subject: typeof row.subject === 'string' ? row.subject : null,
      createdAt: timeMs(row.created),
      lastSeenAt: timeMs(row.seen),
    }))
  }
}
