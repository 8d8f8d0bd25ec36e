import type { Kysely } from 'kysely'
import { SessionStoreError, describeCause } from '../errors.js'
import { resolveFamily, TableShapeError, type FamilyName } from '../families/index.js'
import { resolveWith, STORE_OPTIONS, type OptionSpecs } from './options.js'
import { checkKysely } from '../validate.js'

/**
 * How long {@link migrate} may take unless told otherwise: 60 s (creating the subject indexes
 * on a large existing table takes a while).
 *
 * @example
 * ```ts
 * import { DEFAULT_MIGRATE_TIMEOUT, migrate } from 'kysely-session-store'
 *
 * await migrate(db, { timeout: DEFAULT_MIGRATE_TIMEOUT * 5 }) // a table of many millions
 * ```
 */
export const DEFAULT_MIGRATE_TIMEOUT = 60_000

/**
 * Options of {@link migrate}. A key not listed here is refused.
 *
 * @example
 * ```ts
 * import { migrate, type MigrateOptions } from 'kysely-session-store'
 *
 * const options: MigrateOptions = { tableName: 'app_sessions' }
 * await migrate(db, options)
 * ```
 */
export interface MigrateOptions {
  /**
   * The table to create or upgrade; the same rules as the store's `tableName`.
   * @default 'sessions'
   */
  readonly tableName?: string
  /**
   * The Postgres schema or MySQL database of the table, as the store's `schema`; it must exist.
   * @default the connection's own
   */
  readonly schema?: string
  /**
   * The SQL family of `db`, when detection is not wanted.
   * @default detected from `db`
   */
  readonly family?: FamilyName
  /**
   * How long the migration may take, in ms; then it rejects with a `SessionStoreError`
   * whose code is `'timeout'` (the statements may still complete on the server).
   * @default 60 s
   */
  readonly timeout?: number
}

/** {@link MigrateOptions}, checked as the store's options of the same name; see `STORE_OPTIONS`. */
const MIGRATE_OPTIONS = {
  tableName: STORE_OPTIONS.tableName,
  schema: STORE_OPTIONS.schema,
  family: STORE_OPTIONS.family,
  timeout: { ...STORE_OPTIONS.timeout, default: DEFAULT_MIGRATE_TIMEOUT },
} satisfies OptionSpecs<MigrateOptions>

/** Checks {@link migrate}'s options, before any query, and applies their defaults. */
export function resolveMigrateOptions(options: MigrateOptions | undefined) {
  return resolveWith(MIGRATE_OPTIONS, options)
}

/**
 * Creates the sessions table and its indexes if they are missing, or upgrades a table made by
 * an earlier version (or by SCS's pgxstore or sqlite3store) in place by adding the columns it
 * lacks (`subject`, `created_at`, `last_seen_at`, `ended_at`, all nullable, so a program
 * that knows only token, data and expiry keeps working on it) and the subject indexes (which
 * replace the earlier versions' index on subject alone). The
 * DDL is that of `schema/<family>.sql` (`postgres.sql` for Postgres and PGlite, `sqlite.sql`,
 * `mysql.sql` for MySQL and MariaDB), built in code for the table name, so no file is read.
 * Idempotent, and safe when several processes run it at once against one database. Given a
 * transaction (Kysely's `Migrator` runs each migration in one), it runs inside it. On an
 * engine that refuses SQL transactions (Cloudflare D1 through kysely-d1) its steps run one by
 * one, each idempotent, so a run cut short is finished by the next. A table
 * of that name without token, data and expiry is left alone, with an error naming its
 * columns. Never closes `db`.
 *
 * @example
 * ```ts
 * import { migrate } from 'kysely-session-store'
 *
 * await migrate(db) // table "sessions"
 * await migrate(db, { tableName: 'app_sessions' })
 * ```
 */
export async function migrate(db: Kysely<any>, options?: MigrateOptions): Promise<void> {
  checkKysely('db', db)
  const { tableName, schema, family: familyName, timeout } = resolveMigrateOptions(options)
  const family = resolveFamily(db, familyName, schema)
  const table = schema === undefined ? tableName : `${schema}.${tableName}`
  try {
    // The timer is ref'd: whoever awaits migrate() gets its answer before the process may exit.
    let timer: ReturnType<typeof setTimeout> | undefined
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new SessionStoreError(
              `migrate of table "${table}" failed: no answer within ${timeout} ms (the timeout option)`,
              'timeout',
              undefined,
            ),
          ),
        timeout,
      )
    })
    try {
      await Promise.race([family.migrate(db, { schema, name: tableName }), expired])
    } finally {
      clearTimeout(timer)
    }
  } catch (cause) {
    if (cause instanceof SessionStoreError) throw cause
    if (cause instanceof TableShapeError) {
      throw new SessionStoreError(
        `migrate of table "${table}" failed: ${cause.message}`,
        'table_shape',
        cause,
      )
    }
    throw new SessionStoreError(
      `migrate of table "${table}" failed: ${describeCause(cause)} (see error.cause)`,
      'engine',
      cause,
    )
  }
}
