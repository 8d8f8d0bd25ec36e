import { readFile } from 'node:fs/promises'
import type { Kysely } from 'kysely'
import { SessionStoreError, describeCause } from './errors.js'
import { resolveFamily, type FamilyName, type SqlFamily } from './family.js'
import { DEFAULT_TABLE_NAME, checkFamily } from './options.js'
import { checkObject, checkTableName } from './validate.js'

/**
 * Options of {@link migrate}.
 *
 * @example
 * ```ts
 * await migrate(db, { tableName: 'app_sessions' })
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
 * Creates the sessions table and its expiry index if they are missing, by running
 * `schema/<family>.sql` (`postgres.sql` for Postgres and PGlite, `sqlite.sql` for SQLite,
 * `mysql.sql` for MySQL and MariaDB)
 * with the table name substituted. Idempotent, and safe when several processes run it at
 * once against one database. Never closes `db`.
 *
 * @example
 * ```ts
 * import { migrate } from 'kysely-session-store'
 *
 * await migrate(db)                              // table "sessions"
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
  const statements = await schemaStatements(family, tableName)
  try {
    await family.migrate(db, tableName, (await family.adapt?.(db, statements)) ?? statements)
  } catch (cause) {
    throw new SessionStoreError(
      `migrate of table "${tableName}" failed: ${describeCause(cause)} (see error.cause)`,
      'engine',
      cause,
    )
  }
}

/**
 * The statements of `schema/<family>.sql` for `tableName`: comments dropped, split at `;`,
 * and the identifiers `sessions` and `sessions_expiry_idx` replaced by quoted ones.
 */
export async function schemaStatements(family: SqlFamily, tableName: string): Promise<string[]> {
  checkTableName(tableName)
  const text = await readFile(new URL(`../schema/${family.name}.sql`, import.meta.url), 'utf8')
  return text
    .replace(/--[^\n]*/g, '')
    .split(';')
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0)
    .map((statement) =>
      statement.replace(/\bsessions(_expiry_idx)?\b/g, (_, index = '') =>
        family.quote(`${tableName}${index}`),
      ),
    )
}
