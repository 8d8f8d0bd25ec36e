// The importer's options and result: the types index.ts exports and plan.ts reads.
import type { Kysely } from 'kysely'
import type { SourceKind } from './sources.js'

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
   * ExpressSessionStore 0.1, or `hashSids: false`). That upgrade **moves** each live session
   * into our hashed table (`tableName`, which must be another table of the same database),
   * under the hash of its id and with everything the row has (data, expiry, subject,
   * creation and last-seen times), and deletes the clear row in the same transaction: no
   * clear copy outlives a logout on the hashed side. Every row of the clear-id table is
   * taken for a clear id, whatever its shape (an id of 64 hex characters too); a row whose
   * hashed session is already there, or was moved before, is deleted without being moved.
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
   * The database that holds the old table, when it is not `db` (not with
   * `from: 'kysely-session-store'`, which moves rows within `db`).
   * @default db
   */
  readonly source?: Kysely<any>
  /**
   * Our table, as given to `KyselyStore` and `migrate()`; it must exist. Beside it the import
   * keeps `<tableName>_imported`, the SHA-256 of each session id it imported (and when the
   * session expires), so that no later run brings back a session that ended or was deleted
   * since; it creates that table when missing. Drop both when the old table goes.
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
   * A value that is not a valid subject leaves that session without one. Not with
   * `from: 'kysely-session-store'`, whose rows keep their own subject.
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
  /**
   * Live sessions that an earlier run imported (whether they are still in our table, ended or
   * deleted since) or that our table already had: left as they are, never imported again.
   */
  readonly existing: number
  /** Rows whose expiry had passed: skipped. */
  readonly expired: number
  /** Rows whose `sess` is not a JSON object, too large, or whose id cannot be a token: skipped. */
  readonly invalid: number
}
