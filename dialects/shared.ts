/** Helpers shared by the engine factories. */
import type { DatabaseConnection, Driver, KyselyConfig } from 'kysely'
import { FactoryError } from '../src/errors.js'
import { isKysely, unknownKey } from '../src/validate.js'
import { KYSELY_KEYS, otherEngine } from './connection.js'

/**
 * Thrown on first use of a factory whose driver package is not installed. The store passes
 * its message on, since it names a package, never data.
 *
 * @example
 * ```ts
 * import { SessionStoreError } from 'kysely-session-store'
 * import { MissingPeerDependencyError } from 'kysely-session-store/sqlite'
 *
 * const error = await store.find(token).catch((e: unknown) => e)
 * if (error instanceof SessionStoreError && error.cause instanceof MissingPeerDependencyError) {
 *   console.error(error.message) // "... run npm install better-sqlite3"
 * }
 * ```
 */
export class MissingPeerDependencyError extends FactoryError {
  override readonly name = 'MissingPeerDependencyError'
}

/**
 * Loads an optional peer dependency, or explains how to install it. `load` is a literal
 * `import()` so bundlers see it, and the entry that needs the peer is the only one to load it.
 */
export async function optionalPeer<T>(name: string, factory: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (cause) {
    if ((cause as { code?: unknown } | null)?.code !== 'ERR_MODULE_NOT_FOUND') throw cause
    throw new MissingPeerDependencyError(
      `${factory}(): the optional peer dependency '${name}' is not installed: run npm install ${name}`,
      { cause },
    )
  }
}

export function checkFactoryConfig(factory: string, config: unknown): void {
  if (config === undefined) return
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new TypeError(`${factory}(..., config): config must be an object of Kysely options such as { log }`)
  }
  if ('dialect' in config) {
    throw new TypeError(
      `${factory}(..., config): config must not contain a dialect; ${factory}() makes its own`,
    )
  }
  checkKyselyKeys(`${factory}(..., config)`, config)
}

/** Refuses a key of Kysely options (`config`, printed as `where`) that is not Kysely's `log` or `plugins`. */
export function checkKyselyKeys(where: string, config: object): void {
  refuseUnknownKeys(where, config, KYSELY_KEYS, `Kysely's ${KYSELY_KEYS.join(' and ')}`)
}

/**
 * Throws a TypeError naming the first key of `options` not in `known` and the options there
 * are (`listed`, or `known`), after `where`, the argument as printed: `sqlite(..., config)`.
 */
export function refuseUnknownKeys(
  where: string,
  options: object,
  known: readonly string[],
  listed = known.join(', '),
): void {
  const key = unknownKey(options, known)
  if (key !== undefined)
    throw new TypeError(`${where}: ${key} is not an option here; the options are ${listed}`)
}

/**
 * Thrown on first use of a factory whose installed driver cannot run here (better-sqlite3 13
 * on Node 20, Kysely 0.28 for PGlite), before the driver is loaded: its message names the
 * version to install.
 *
 * @example
 * ```ts
 * import { IncompatibleDriverError } from 'kysely-session-store/sqlite'
 *
 * const error = await store.find(token).catch((e: unknown) => e)
 * if (error instanceof Error && error.cause instanceof IncompatibleDriverError) {
 *   console.error(error.cause.message) // names the version to install
 * }
 * ```
 */
export class IncompatibleDriverError extends FactoryError {
  override readonly name = 'IncompatibleDriverError'
}

/**
 * A TypeError or RangeError for a value users give a factory by mistake (a Promise not
 * awaited, a Kysely instance, a pg or mysql2 pool, a URL), with the fix; undefined
 * when `value` is none of these. `argument` is the factory's parameter name as printed;
 * `schemes` the URL schemes the factory takes (PGlite's `memory://` and `idb://`).
 */
export function wrongMove(
  factory: string,
  argument: string,
  value: unknown,
  schemes: readonly string[] = [],
): Error | undefined {
  const where = `${factory}(${argument})`
  if (typeof value === 'string') {
    const scheme = /^([a-z][a-z0-9+.-]+):\/\//i.exec(value)?.[1]?.toLowerCase()
    if (scheme === 'file') {
      return new RangeError(`${where}: got a file:// URL: pass a path (fileURLToPath(url))`)
    }
    return scheme === undefined ? undefined : otherEngine(where, scheme, schemes)
  }
  if (typeof value !== 'object' || value === null) return undefined
  if (typeof (value as { then?: unknown }).then === 'function') {
    return new TypeError(`${where}: got a Promise: await it first (for example await PGlite.create())`)
  }
  if (value instanceof URL) {
    return new TypeError(`${where}: got a URL object: pass a path string (fileURLToPath(url))`)
  }
  if (isKysely(value)) {
    return new TypeError(
      `${where}: got a Kysely instance: pass it to new KyselyStore(db) and migrate(db) directly, no factory needed`,
    )
  }
  const client = value as { connect?: unknown; getConnection?: unknown; query?: unknown }
  if (typeof client.query === 'function' && (client.connect ?? client.getConnection) !== undefined) {
    return new TypeError(
      `${where}: got a client or pool of a database server: use postgres(pool) or mysql(pool) from kysely-session-store/postgres or /mysql`,
    )
  }
  return undefined
}

/**
 * Whether the store may send its statements past Kysely's executor on an instance made with
 * `config`: not when it has plugins or a log, which the executor applies.
 */
export function executorOptional(config: Omit<KyselyConfig, 'dialect'> | undefined): boolean {
  return (config?.plugins?.length ?? 0) === 0 && config?.log === undefined
}

/**
 * What a factory's runner checks before it sends a store statement past Kysely's executor, on
 * a dialect with one connection (sqlite(), pglite()): whether anyone holds or awaits that
 * connection (a caller's transaction, `db.connection()`, a streamed query), and the driver's
 * database while it is open.
 */
export class ConnectionUse<Database> {
  /** How many hold or await the connection. */
  holders = 0
  /** The driver's database, from when it opened until `db.destroy()`. */
  open: Database | undefined
}

/**
 * `Base`, a Kysely driver class, keeping `use` up to date: counting who holds or awaits its
 * connection, and forgetting the database at `destroy()`.
 */
export function countingUse<Database, B extends new (...args: any[]) => Driver>(
  Base: B,
  use: ConnectionUse<Database>,
): B {
  return class extends Base {
    override async acquireConnection(): Promise<DatabaseConnection> {
      use.holders++
      try {
        return await super.acquireConnection()
      } catch (error) {
        use.holders--
        throw error
      }
    }
    override async releaseConnection(connection: DatabaseConnection): Promise<void> {
      try {
        await super.releaseConnection(connection)
      } finally {
        use.holders--
      }
    }
    override async destroy(): Promise<void> {
      use.open = undefined
      await super.destroy()
    }
  }
}
