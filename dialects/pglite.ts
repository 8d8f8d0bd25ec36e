import { Kysely, PGliteDialect, type KyselyConfig, type PGlite } from 'kysely'
import { lockDirectory } from './lock.js'

export { DataDirectoryInUseError } from './lock.js'
import { checkFactoryConfig, optionalPeer } from './shared.js'

/**
 * What `pglite()` needs of a PGlite instance: the subset Kysely's `PGliteDialect` uses.
 * Any object of that shape fits, so a second copy of the driver does too.
 *
 * @example
 * ```ts
 * pglite(await PGlite.create('./data'))
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
): Kysely<any> {
  checkFactoryConfig('pglite', config)
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
    return new Kysely({ ...config, dialect: new PGliteDialect({ pglite: open }) })
  }
  const given = dataDirOrInstance as Partial<PGlite> | null
  if (typeof given?.query !== 'function' || typeof given.transaction !== 'function') {
    throw new TypeError(
      'pglite(dataDirOrInstance): expected nothing (in memory), a data directory path, or a PGlite instance',
    )
  }
  return new Kysely({
    ...config,
    dialect: new PGliteDialect({ pglite: wrap(given as PGlite, async () => undefined) }),
  })
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
