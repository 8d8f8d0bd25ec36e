// A namespace import: Kysely 0.28 has no PGliteDialect, and a named import of it would fail
// while loading this module, with a message that names neither the package nor the fix.
import * as kysely from 'kysely'
import type { KyselyConfig, PGlite, QueryResult } from 'kysely'
import { registerQueryRunner } from '../src/store/direct.js'
import { lockDirectory } from './lock.js'
import {
  ConnectionUse,
  IncompatibleDriverError,
  checkFactoryConfig,
  countingUse,
  executorOptional,
  optionalPeer,
  wrongMove,
} from './shared.js'

export { DataDirectoryInUseError } from './lock.js'
export { IncompatibleDriverError, MissingPeerDependencyError } from './shared.js'

/** Kysely's PGlite dialect (since Kysely 0.29), or a clear error on an older Kysely. */
function pgliteDialect(): typeof kysely.PGliteDialect {
  const dialect = (kysely as Partial<typeof kysely>).PGliteDialect
  if (dialect !== undefined) return dialect
  throw new IncompatibleDriverError(
    'pglite(): kysely-session-store/pglite needs Kysely 0.29 or later (its PGliteDialect), and the ' +
      'installed Kysely has none: run npm install kysely@^0.29 (the other entries also work on 0.28)',
  )
}

/**
 * What `pglite()` needs of a PGlite instance: the subset Kysely's `PGliteDialect` uses.
 * Any object of that shape fits, so a second copy of the driver does too.
 *
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite'
 * import { pglite, type PGliteLike } from 'kysely-session-store/pglite'
 *
 * const instance: PGliteLike = await PGlite.create('./data')
 * const db = pglite(instance) // db.destroy() leaves the instance open
 * ```
 */
export type PGliteLike = PGlite

/**
 * A Kysely instance on PGlite, Postgres compiled to WebAssembly and run in process (an
 * optional peer dependency, `@electric-sql/pglite` 0.5). It speaks the Postgres SQL family
 * and uses `schema/postgres.sql`.
 *
 * With no argument the database lives in memory; with a directory it persists there. Either
 * way it opens on first use and `db.destroy()` closes it. PGlite does not lock a data
 * directory and two instances on one corrupt it, so `pglite(dataDir)` does: while one
 * instance has it open, in this process or another, opening it again fails with a
 * `DataDirectoryInUseError` (a lock left by a killed process is taken over). Given an
 * instance, it uses it and `db.destroy()` leaves it open: the instance is yours.
 *
 * It needs Kysely 0.29 or later (Kysely's own `PGliteDialect`): on Kysely 0.28 it throws an
 * {@link IncompatibleDriverError} saying so.
 *
 * @param dataDirOrInstance - nothing (in memory), a data directory, or a PGlite instance.
 * @param config - further Kysely options (`log`, `plugins`).
 *
 * @example
 * ```ts
 * import { KyselyStore, migrate } from 'kysely-session-store'
 * import { pglite } from 'kysely-session-store/pglite'
 *
 * const db = pglite('./.data/sessions') // or pglite() for memory
 * await migrate(db)
 * const store = new KyselyStore(db)
 * ```
 */
export function pglite(
  dataDirOrInstance?: string | PGliteLike,
  config?: Omit<KyselyConfig, 'dialect'>,
): kysely.Kysely<any> {
  checkFactoryConfig('pglite', config)
  pgliteDialect() // on Kysely 0.28, a clear error before anything else
  const mistake = wrongMove('pglite', 'dataDirOrInstance', dataDirOrInstance, ['memory', 'idb'])
  if (mistake !== undefined) throw mistake
  if (
    dataDirOrInstance === undefined ||
    (typeof dataDirOrInstance === 'string' && dataDirOrInstance.length > 0)
  ) {
    const dataDir = dataDirOrInstance
    const open = async (): Promise<PGlite> => {
      const { PGlite } = await optionalPeer(
        '@electric-sql/pglite',
        'pglite',
        () => import('@electric-sql/pglite'),
      )
      if (dataDir === undefined) return (await PGlite.create()) as unknown as PGlite
      const unlock = lockDirectory(dataDir, 'pglite')
      try {
        const instance = (await PGlite.create(dataDir)) as unknown as PGlite
        return wrap(instance, async () => {
          try {
            await instance.close()
          } finally {
            unlock()
          }
        })
      } catch (error) {
        unlock()
        throw error
      }
    }
    return kyselyOn(open, config)
  }
  const given = dataDirOrInstance as Partial<PGlite> | null
  if (typeof given?.query !== 'function' || typeof given.transaction !== 'function') {
    throw new TypeError(
      'pglite(dataDirOrInstance): expected nothing (in memory), a data directory path, or a PGlite instance',
    )
  }
  return kyselyOn(
    wrap(given as PGlite, async () => undefined),
    config,
  )
}

/**
 * A Kysely instance on `source` through Kysely's PGliteDialect. Without plugins and a log
 * (which the executor applies), it registers a {@link registerQueryRunner query runner}: the
 * store sends its statement to the instance at once while nobody holds Kysely's single
 * connection (a caller's transaction or `db.connection()` holds it, and PGlite's own `query()`
 * would wait for that transaction to end: such a call goes through Kysely, as it always did),
 * once the driver is open and until it is destroyed. Whoever waits for the connection gets it
 * after our statement, which PGlite runs before their transaction begins.
 */
function kyselyOn(
  source: PGlite | (() => Promise<PGlite>),
  config: Omit<KyselyConfig, 'dialect'> | undefined,
): kysely.Kysely<any> {
  const PGliteDialect = pgliteDialect()
  const PGliteDriver = kysely.PGliteDriver
  /** Who holds Kysely's connection, and the instance from the driver's init() until its destroy(). */
  const use = new ConnectionUse<PGlite>()
  let instance: PGlite | undefined = typeof source === 'function' ? undefined : source
  const dialectConfig = {
    pglite: typeof source === 'function' ? async () => (instance = await source()) : source,
  }
  /** Kysely's PGliteDriver, keeping `use` up to date. */
  class CountingDriver extends countingUse(PGliteDriver, use) {
    override async init(options?: Parameters<kysely.PGliteDriver['init']>[0]): Promise<void> {
      await super.init(options)
      use.open = instance
    }
  }
  const dialect = new (class extends PGliteDialect {
    override createDriver(): kysely.Driver {
      return new CountingDriver(dialectConfig)
    }
  })(dialectConfig)
  const db = new kysely.Kysely<any>({ ...config, dialect })
  if (executorOptional(config)) {
    registerQueryRunner(db, (sql, parameters) => {
      const { open } = use
      return use.holders > 0 || open === undefined
        ? undefined
        : open.query(sql, parameters as unknown[]).then(answer)
    })
  }
  return db
}

/**
 * A PGlite answer as Kysely's PGliteConnection returns it. Kysely asks for `rowMode: 'object'`,
 * which is PGlite's default: the runner passes no options, which measured about a tenth less
 * CPU per query in PGlite 0.5.
 */
function answer({ affectedRows, rows }: { affectedRows?: number; rows?: unknown[] }): QueryResult<unknown> {
  return { numAffectedRows: affectedRows != null ? BigInt(affectedRows) : undefined, rows: rows || [] }
}

/** `instance` with another `close()`: a no-op for the caller's, lock release for ours. */
function wrap(instance: PGlite, close: () => Promise<void>): PGlite {
  return {
    get closed() {
      return instance.closed
    },
    get ready() {
      return instance.ready
    },
    get waitReady() {
      return instance.waitReady
    },
    query: (query, params, options) => instance.query(query, params, options),
    transaction: (callback) => instance.transaction(callback),
    close,
  }
}
