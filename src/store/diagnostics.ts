import { channel, tracingChannel } from 'node:diagnostics_channel'
import type { FamilyName } from '../families/index.js'

/**
 * What every traced store call publishes (on the tracing channel `kysely-session-store:call`,
 * that is `tracing:kysely-session-store:call:start`, `:end`, `:asyncStart`, `:asyncEnd` and
 * `:error`). Never a token, session data or a subject.
 *
 * @example
 * ```ts
 * import { tracingChannel } from 'node:diagnostics_channel'
 * import type { StoreCall } from 'kysely-session-store'
 *
 * tracingChannel<object, StoreCall>('kysely-session-store:call').subscribe({
 *   start() {},
 *   end() {},
 *   asyncStart() {},
 *   asyncEnd(call) {
 *     if (call.duration! > 100) console.warn(`slow ${call.operation} on ${call.table}: ${call.duration} ms`)
 *   },
 *   error() {},
 * })
 * ```
 */
export interface StoreCall {
  /**
   * The store method, or `'cleanup'` for one batch of a cleanup run. Finds and gets gathered
   * into one statement (Postgres and PGlite) are one call: `'get'`, or `'find'` when all were.
   */
  readonly operation: string
  readonly family: FamilyName
  /** The table, and its schema when one is set. */
  readonly table: string
  readonly schema: string | undefined
  /** Milliseconds the call took, retries included; set before `asyncEnd` and `error`. */
  duration?: number
  /** Rows returned (reads) or affected (writes); set before `asyncEnd`. */
  rows?: number
  /** How many times the statement ran (1, or more after retries); set before `asyncEnd` and `error`. */
  attempts?: number
  /** The `SessionStoreError` the call rejects with; set before `error`. */
  error?: unknown
}

/**
 * What the channel `kysely-session-store:retry` publishes each time the store runs a
 * statement again (its connection was lost, or it was a deadlock victim).
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel'
 * import type { StoreRetry } from 'kysely-session-store'
 *
 * subscribe('kysely-session-store:retry', (message) => {
 *   const retry = message as StoreRetry
 *   console.warn(`retrying ${retry.operation} (attempt ${retry.attempt}) after ${retry.reason}`)
 * })
 * ```
 */
export interface StoreRetry {
  readonly operation: string
  readonly family: FamilyName
  readonly table: string
  readonly schema: string | undefined
  /** The attempt about to run: 2 for the first retry. */
  readonly attempt: number
  /** Milliseconds waited before it. */
  readonly delay: number
  /** The driver's error code (`57P01`, `ECONNRESET`, `ER_LOCK_DEADLOCK`), or its class name. */
  readonly reason: string
}

/**
 * What the channel `kysely-session-store:cleanup` publishes after each cleanup run,
 * background or called.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel'
 * import type { CleanupRun } from 'kysely-session-store'
 *
 * subscribe('kysely-session-store:cleanup', (message) => {
 *   const run = message as CleanupRun
 *   console.info(`cleanup of ${run.table}: ${run.deleted} rows in ${run.batches} batches, ${run.duration} ms`)
 * })
 * ```
 */
export interface CleanupRun {
  readonly family: FamilyName
  readonly table: string
  readonly schema: string | undefined
  readonly deleted: number
  readonly batches: number
  readonly duration: number
  /** Whether the store's timer started it (else a call to `cleanup()`). */
  readonly background: boolean
  /** The error the run ended with, if it failed. */
  readonly error?: unknown
}

export const calls = tracingChannel<object, StoreCall>('kysely-session-store:call')
export const retries = channel('kysely-session-store:retry')
export const cleanups = channel('kysely-session-store:cleanup')
