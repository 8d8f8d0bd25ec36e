import { execFile } from 'node:child_process'
import { tracingChannel } from 'node:diagnostics_channel'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql, type CompiledQuery, type Kysely } from 'kysely'
import type { FamilyName, StoreCall } from '../src/index.js'
import { timeMs } from '../src/families/index.js'

export { sleep }

/** A random token, so that tests never depend on each other. */
export function randomToken(prefix = 't'): string {
  return `${prefix}-${randomBytes(12).toString('base64url')}`
}

/** A random table name. */
export function randomTable(prefix = 'sess'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`
}

/** Bytes from a string. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

/** A row as the table holds it, with its times read back as milliseconds since the epoch. */
export interface StoredRow {
  token: string
  data: Uint8Array
  expiry: number
  subject: string | null
  createdAt: number | null
  lastSeenAt: number | null
  endedAt: number | null
}

/**
 * Reads the table directly, around the store. On Postgres times are read as epoch
 * milliseconds computed by the server: PGlite's own timestamptz parser turns the year 0001
 * into 2001 (it is stored right; only its JavaScript parsing is wrong).
 */
export async function readRows(db: Kysely<any>, table: string, family: FamilyName): Promise<StoredRow[]> {
  const time = (column: string) =>
    family === 'postgres'
      ? sql`round(extract(epoch FROM ${sql.ref(column)}) * 1000)::bigint`
      : sql.ref(column)
  const { rows } = await sql<Record<string, unknown>>`
    SELECT token, data, ${time('expiry')} AS expiry, subject, ${time('created_at')} AS created_at,
      ${time('last_seen_at')} AS last_seen_at, ${time('ended_at')} AS ended_at
    FROM ${sql.table(table)} ORDER BY token`.execute(db.withoutPlugins())
  return rows.map((row) => ({
    token: row.token as string,
    data: new Uint8Array(row.data as Uint8Array),
    expiry: timeMs(row.expiry)!,
    subject: (row.subject as string | null) ?? null,
    createdAt: timeMs(row.created_at),
    lastSeenAt: timeMs(row.last_seen_at),
    endedAt: timeMs(row.ended_at),
  }))
}

/**
 * The same Kysely instance, recording every compiled query the store executes. A spy, not a
 * mock: each query still runs on the real engine. `delay` holds queries whose SQL matches.
 */
export function recording(db: Kysely<any>, delay?: { match: RegExp; ms: number }) {
  const queries: CompiledQuery[] = []
  let inFlight = 0
  let maxInFlight = 0
  let destroyed = 0
  const proxy = new Proxy(db, {
    get(target, property) {
      if (property === 'executeQuery') {
        return async (query: CompiledQuery, options?: unknown) => {
          queries.push(query)
          inFlight++
          maxInFlight = Math.max(maxInFlight, inFlight)
          try {
            if (delay && delay.match.test(query.sql)) await sleep(delay.ms)
            return await target.executeQuery(query, options as never)
          } finally {
            inFlight--
          }
        }
      }
      if (property === 'destroy') {
        return async () => {
          destroyed++
        }
      }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return {
    db: proxy,
    queries,
    get inFlight() {
      return inFlight
    },
    get maxInFlight() {
      return maxInFlight
    },
    get destroyed() {
      return destroyed
    },
  }
}

/** Polls `condition` until it holds, failing after `ms`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`)
    await sleep(5)
  }
}

/** Column types per family, for tables the tests build by hand. */
export function columnTypes(family: FamilyName) {
  return (
    {
      postgres: { token: 'text', data: 'bytea', expiry: 'timestamptz', subject: 'text' },
      sqlite: { token: 'text', data: 'blob', expiry: 'integer', subject: 'text' },
      mysql: { token: 'varchar(255)', data: 'varbinary(64)', expiry: 'bigint', subject: 'varchar(255)' },
    } as const
  )[family]
}

/**
 * Creates `table` by hand as version 0.1 of migrate() made it (SCS's three columns and the
 * expiry index), for upgrade tests.
 */
export async function createVersion1Table(db: Kysely<any>, family: FamilyName, table: string): Promise<void> {
  const q = family === 'mysql' ? (name: string) => `\`${name}\`` : (name: string) => `"${name}"`
  const statements = {
    postgres: [
      `CREATE TABLE ${q(table)} (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)`,
      `CREATE INDEX ${q(`${table}_expiry_idx`)} ON ${q(table)} (expiry)`,
    ],
    sqlite: [
      `CREATE TABLE ${q(table)} (token TEXT NOT NULL PRIMARY KEY, data BLOB NOT NULL, expiry INTEGER NOT NULL)`,
      `CREATE INDEX ${q(`${table}_expiry_idx`)} ON ${q(table)} (expiry)`,
    ],
    mysql: [
      `CREATE TABLE ${q(table)} (token VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY, ` +
        `data LONGBLOB NOT NULL, expiry BIGINT NOT NULL, INDEX ${q(`${table}_expiry_idx`)} (expiry)) ENGINE = InnoDB`,
    ],
  }[family]
  for (const statement of statements) await sql.raw(statement).execute(db)
}

/** Query for one index of a table, per family. */
export async function hasIndex(
  db: Kysely<any>,
  family: FamilyName,
  table: string,
  index: string,
): Promise<boolean> {
  const query = {
    postgres: sql`SELECT indexname FROM pg_indexes WHERE tablename = ${table} AND indexname = ${index}`,
    sqlite: sql`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ${table} AND name = ${index}`,
    mysql: sql`SELECT index_name FROM information_schema.statistics
      WHERE table_schema = DATABASE() AND table_name = ${table} AND index_name = ${index}`,
  }[family]
  return (await query.execute(db)).rows.length > 0
}

/**
 * The column names of `table` (sorted; none when it does not exist), read for that table alone:
 * Kysely's getTables() reads every table, and fails when a test file running at the same time
 * drops one of them between its catalog reads (Postgres: relation "..." does not exist).
 */
export async function columnsOf(db: Kysely<any>, family: FamilyName, table: string): Promise<string[]> {
  const query = {
    postgres: sql<{ name: string }>`SELECT attname AS name FROM pg_attribute
      WHERE attrelid = to_regclass(quote_ident(${table})) AND attnum > 0 AND NOT attisdropped`,
    sqlite: sql<{ name: string }>`SELECT name FROM pragma_table_info(${table})`,
    mysql: sql<{ name: string }>`SELECT column_name AS name FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = ${table}`,
  }[family]
  return (await query.execute(db)).rows.map((row) => row.name).sort()
}

/** How many Postgres connections named `applicationName` are open, as `observer` sees them. */
export async function connectionsNamed(observer: Kysely<any>, applicationName: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE application_name = ${applicationName}`.execute(observer)
  return rows[0]!.n
}

/** Timers that keep the process alive. */
export function refedTimers(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length
}

/** Session data decoded as UTF-8, or undefined: compares a Buffer and a Uint8Array alike. */
export function text(data: Uint8Array | undefined): string | undefined {
  return data === undefined ? undefined : Buffer.from(data).toString('utf8')
}

/**
 * Runs migrate() for `table` in 4 processes at once, through the built package's `engine`
 * entry; resolves to each process's outcome ('ok' or its error).
 */
export async function migrateInProcesses(
  engine: 'postgres' | 'mysql' | 'sqlite',
  url: string,
  table: string,
): Promise<string[]> {
  const script = `
    import { migrate } from 'kysely-session-store'
    import { ${engine} } from 'kysely-session-store/${engine}'
    const db = ${engine}(process.env.URL)
    try { await migrate(db, { tableName: process.env.TABLE }) } finally { await db.destroy() }
  `
  const env = { ...process.env, URL: url, TABLE: table }
  const results = await Promise.allSettled(
    Array.from({ length: 4 }, () =>
      promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
        env,
        cwd: import.meta.dirname,
      }),
    ),
  )
  return results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))
}

/** A value nested `depth` arrays and objects deep, ending in a string. */
export function nested(depth: number): unknown {
  let value: unknown = 'leaf'
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { next: value }
  return value
}

/** The store calls traced while `fn` runs (on the tracing channel), each as it was when it settled, in that order. */
export async function tracedCalls(fn: () => Promise<unknown>): Promise<StoreCall[]> {
  const calls: StoreCall[] = []
  const channel = tracingChannel<object, StoreCall>('kysely-session-store:call')
  const settled = (call: StoreCall) => void calls.push({ ...call })
  const handlers = { start() {}, end() {}, asyncStart() {}, asyncEnd: settled, error: settled }
  channel.subscribe(handlers)
  try {
    await fn()
  } finally {
    channel.unsubscribe(handlers)
  }
  return calls
}
