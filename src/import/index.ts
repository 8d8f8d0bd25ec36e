import type { Kysely } from 'kysely'
import type { ImportOptions, ImportResult } from './options.js'
import { planImport } from './plan.js'

export type { ImportOptions, ImportResult } from './options.js'
export type { SourceKind } from './sources.js'
export { DEFAULT_IMPORT_BATCH_SIZE } from './plan.js'

/**
 * Copies the live sessions of another express-session store's table into ours, so that
 * after switching to {@link ExpressSessionStore} every existing cookie still finds its
 * session and nobody is logged out. Reads connect-pg-simple's table (Postgres) or
 * connect-session-knex's (Postgres, SQLite, MySQL/MariaDB) in batches ordered by sid, and
 * writes each batch in one transaction: an INSERT of the sessions that no earlier run
 * imported (skipping ids our table already has), and their ids' hashes into the ledger
 * `<tableName>_imported`. Running it again imports only the sessions the old store created
 * since: it never overwrites a session that changed, and never brings back one that ended,
 * was deleted or cleared since, so it is safe to run before the switch and once more after
 * it. The ledger costs one row (an SHA-256 and an expiry) per imported session, pruned a day
 * after its expiry, and one indexed read and one write per batch. Session data is copied as
 * the JSON the old store kept; the expiry is the old row's. With
 * `from: 'kysely-session-store'` it moves sessions from a clear-id table of ours into the
 * hashed one instead (see {@link ImportOptions.from}). Never closes `db` or `source`.
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
  return planImport(db, options).run()
}
