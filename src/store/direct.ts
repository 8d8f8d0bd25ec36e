import type { Kysely, QueryResult } from 'kysely'
import type { Statement } from '../families/index.js'

/**
 * Runs one of the store's statements at once on the connection of a Kysely instance, without
 * its executor, or answers `undefined` when that is not safe right now (the connection is in
 * use or awaited, or not open yet), and the store goes through `db.executeQuery` instead.
 * Throws what the driver throws.
 *
 * Only a factory whose driver is synchronous and has a single connection registers one
 * (`sqlite()`): there, running a statement while nobody holds or awaits the connection is
 * what acquiring it, running the statement and releasing it would do, minus the executor's
 * promise hops, which are most of the store's time over the raw driver. A statement that reads
 * at most one row (`rows: 'one'`) may be run for that row alone.
 */
export type DirectRunner = (
  statement: Pick<Statement<unknown>, 'sql' | 'rows'>,
  parameters: readonly unknown[],
) => QueryResult<unknown> | undefined

const runners = new WeakMap<Kysely<any>, DirectRunner>()

/** Registers the direct runner of a Kysely instance a factory made (and nobody else has). */
export function registerDirectRunner(db: Kysely<any>, runner: DirectRunner): void {
  runners.set(db, runner)
}

/** The direct runner registered for exactly this instance (not one derived from it). */
export function directRunnerOf(db: Kysely<any>): DirectRunner | undefined {
  return runners.get(db)
}

/**
 * Gives up the statement the store sent with exactly `values` (the array it passed in the
 * compiled query, which the driver receives as it is): cancels it on the server if it runs,
 * and if it is still waiting for a connection, makes sure it is never sent. Never throws and
 * never rejects: it is called when a store call has already given up (its `timeout` passed).
 * The server factories register one (`postgres()`: `pg_cancel_backend` on a connection of its
 * own; `mysql()`: `KILL QUERY`), since they see which connection runs which statement.
 */
export type Canceller = (values: readonly unknown[]) => void

const cancellers = new WeakMap<Kysely<any>, Canceller>()

/** Registers how the statements of a Kysely instance a factory made are cancelled. */
export function registerCanceller(db: Kysely<any>, cancel: Canceller): void {
  cancellers.set(db, cancel)
}

/** The canceller registered for exactly this instance (not one derived from it, such as a transaction). */
export function cancellerOf(db: Kysely<any>): Canceller | undefined {
  return cancellers.get(db)
}

/**
 * Which connection runs each of the store's statements in flight, keyed by its parameter array
 * (the store passes it and Kysely hands it over as it is), and which statements were given up
 * before they got one: what a factory's {@link Canceller} needs to know. A factory's
 * connection wrapper calls `start` before it sends a statement and `end` when it answered.
 */
export class InFlight<Connection> {
  readonly #running = new WeakMap<readonly unknown[], Connection>()
  /** Statements given up before they were sent: never sent. */
  readonly #abandoned = new WeakSet<readonly unknown[]>()

  /** Records that `connection` sends the statement; false when it was given up: do not send it (answer {@link AbandonedError}). */
  start(values: readonly unknown[], connection: Connection): boolean {
    if (this.#abandoned.has(values)) return false
    this.#running.set(values, connection)
    return true
  }

  /** Records that the statement's answer came on `connection`. */
  end(values: readonly unknown[], connection: Connection): void {
    if (this.#running.get(values) === connection) this.#running.delete(values)
  }

  /**
   * Gives the statement up: the connection that runs it, to cancel it there, or undefined when
   * it has none yet, and then it is never sent.
   */
  giveUp(values: readonly unknown[]): Connection | undefined {
    const connection = this.#running.get(values)
    if (connection === undefined) this.#abandoned.add(values)
    return connection
  }

  /** Whether the statement still runs on `connection` (checked again before cancelling there). */
  runs(values: readonly unknown[], connection: Connection): boolean {
    return this.#running.get(values) === connection
  }
}

/** What a factory's connection answers for a statement given up before it was sent (see {@link Canceller}). */
export class AbandonedError extends Error {
  override readonly name = 'AbandonedError'
  constructor() {
    super('the store call timed out before this statement got a connection: it was not sent')
  }
}
