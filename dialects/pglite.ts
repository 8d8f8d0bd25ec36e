import { Kysely, PGliteDialect, type KyselyConfig, type PGlite } from 'kysely'
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
 * way it opens on first use and `db.destroy()` closes it. Given an instance, it uses it and
 * `db.destroy()` leaves it open: the instance is yours.
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
      return (await PGlite.create(dataDir)) as unknown as PGlite
    }
    return new Kysely({ ...config, dialect: new PGliteDialect({ pglite: open }) })
  }
  const given = dataDirOrInstance as Partial<PGlite> | null
  if (typeof given?.query !== 'function' || typeof given.transaction !== 'function') {
    throw new TypeError(
      'pglite(dataDirOrInstance): expected nothing (in memory), a data directory path, or a PGlite instance',
    )
  }
  return new Kysely({ ...config, dialect: new PGliteDialect({ pglite: borrowed(given as PGlite) }) })
}

/** The caller's instance, with `close()` made a no-op so that `db.destroy()` leaves it open. */
function borrowed(instance: PGlite): PGlite {
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
    close: async () => undefined,
  }
}
