import type { Kysely } from 'kysely'
import { migrate, resolveMigrateOptions, type MigrateOptions } from './migrate.js'

/**
 * A migration for Kysely's `Migrator`: what a module in a migrations folder exports.
 *
 * @example
 * ```ts
 * import { sessionTable, type SessionTableMigration } from 'kysely-session-store'
 *
 * const migration: SessionTableMigration = sessionTable()
 * await migration.up(db)
 * ```
 */
export interface SessionTableMigration {
  /** Creates the sessions table and its indexes, as {@link migrate} does. */
  up(db: Kysely<any>): Promise<void>
  /** Drops the sessions table, and with it its indexes and its sessions. */
  down(db: Kysely<any>): Promise<void>
}

/**
 * The sessions table as a migration for Kysely's `Migrator`, to export from a file in your
 * own migrations folder: `up` runs {@link migrate} (inside the migration's transaction, where
 * the engine has transactional DDL: Postgres, PGlite, SQLite), `down` drops the table, which
 * drops its indexes with it (and every session in it). Your other migrations in the same
 * batch are unaffected. `options` are {@link migrate}'s, checked at once.
 *
 * @param options - `{ tableName, schema, family, timeout }`, as for {@link migrate}.
 * @throws TypeError or RangeError, at once, for options that {@link migrate} would refuse.
 *
 * @example
 * ```ts
 * // migrations/2026-01-01-sessions.ts
 * import { sessionTable } from 'kysely-session-store'
 *
 * export const { up, down } = sessionTable({ tableName: 'sessions' })
 * ```
 */
export function sessionTable(options: MigrateOptions = {}): SessionTableMigration {
  // The checks migrate() makes, made here at once rather than when the Migrator runs.
  const { tableName, schema } = resolveMigrateOptions(options)
  const settings: MigrateOptions = Object.freeze({ ...options })
  return Object.freeze({
    up: (db: Kysely<any>) => migrate(db, settings),
    down: async (db: Kysely<any>) => {
      const builder = schema === undefined ? db.schema : db.schema.withSchema(schema)
      await builder.dropTable(tableName).ifExists().execute()
    },
  })
}
