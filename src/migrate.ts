import type { Kysely } from 'kysely'
import { SessionStoreError, describeCause } from './errors.js'
import { resolveFamily, type FamilyName } from './families/index.js'
import { DEFAULT_TABLE_NAME, checkFamily } from './options.js'
import { checkObject, checkTableName } from './validate.js'

/**
 * Options of {@link migrate}.
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
   * The table to create; the same rules as the store's `tableName`.
   * @default 'sessions'
   */
  readonly tableName?: string
  /**
   * The SQL family of `db`, when detection is not wanted.
   * @default detected from `db`
   */
  readonly family?: FamilyName
}

/**
 * Creates the sessions table and its expiry index if they are missing: the DDL of
 * `schema/<family>.sql` (`postgres.sql` for Postgres and PGlite, `sqlite.sql` for SQLite,
 * `mysql.sql` for MySQL and MariaDB), built in code for the table name, so no file is read.
 * Idempotent, and safe when several processes run it at once against one database. Given a
 * transaction (Kysely's `Migrator` runs each migration in one), it runs inside it. Never
 * closes `db`.
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
  if (typeof (db as Partial<Kysely<any>> | null)?.selectFrom !== 'function') {
    throw new TypeError('db must be a Kysely instance, for example pglite() from kysely-session-store/pglite')
  }
  if (options !== undefined) checkObject('options', options)
  const { tableName = DEFAULT_TABLE_NAME, family: familyName } = options ?? {}
  checkTableName(tableName)
  checkFamily(familyName)
  const family = resolveFamily(db, familyName)
  try {
    await family.migrate(db, tableName, family.ddl(tableName))
  } catch (cause) {
    throw new SessionStoreError(
      `migrate of table "${tableName}" failed: ${describeCause(cause)} (see error.cause)`,
      'engine',
      cause,
    )
  }
}
