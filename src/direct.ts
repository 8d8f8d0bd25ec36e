import type { Kysely, QueryResult } from 'kysely'

/**
 * Runs one of the store's statements at once on the connection of a Kysely instance, without
 * its executor, or answers `undefined` when that is not safe right now (the connection is in
 * use or awaited, or not open yet), and the store goes through `db.executeQuery` instead.
 * Throws what the driver throws.
 *
 * Only a factory whose driver is synchronous and has a single connection registers one
 * (`sqlite()`): there, running a statement while nobody holds or awaits the connection is
 * what acquiring it, running the statement and releasing it would do, minus the executor's
 * promise hops, which are most of the store's time over the raw driver.
 */
export type DirectRunner = (sql: string, parameters: readonly unknown[]) => QueryResult<unknown> | undefined

const runners = new WeakMap<Kysely<any>, DirectRunner>()

/** Registers the direct runner of a Kysely instance a factory made (and nobody else has). */
export function registerDirectRunner(db: Kysely<any>, runner: DirectRunner): void {
  runners.set(db, runner)
}

/** The direct runner registered for exactly this instance (not one derived from it). */
export function directRunnerOf(db: Kysely<any>): DirectRunner | undefined {
  return runners.get(db)
}
