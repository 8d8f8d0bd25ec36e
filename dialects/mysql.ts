import { Kysely, MysqlDialect, type KyselyConfig, type MysqlPool } from 'kysely'
import { checkFactoryConfig, optionalPeer } from './shared.js'

/**
 * What `mysql()` needs of a `mysql2` pool (the callback pool of `mysql2`, not
 * `mysql2/promise`): the subset Kysely's `MysqlDialect` uses. Any object of that shape fits.
 *
 * @example
 * ```ts
 * mysql(createPool({ uri: 'mysql://app@localhost/app', connectionLimit: 20 }))
 * ```
 */
export type MysqlPoolLike = MysqlPool

/**
 * A Kysely instance on MySQL or MariaDB, over `mysql2` (an optional peer dependency).
 *
 * Given a connection string, it opens its own pool on first use; `db.destroy()` ends that
 * pool. Given a pool, it uses it and `db.destroy()` leaves it open: the pool is yours.
 *
 * @param poolOrConnectionString - `mysql://user:password@host:3306/db`, or a `mysql2` pool.
 * @param config - further Kysely options (`log`, `plugins`).
 *
 * @example
 * ```ts
 * import { KyselyStore, migrate } from 'kysely-session-store'
 * import { mysql } from 'kysely-session-store/mysql'
 *
 * const db = mysql('mysql://root@127.0.0.1:3306/app')
 * await migrate(db)
 * const store = new KyselyStore(db)
 * ```
 */
export function mysql(
  poolOrConnectionString: string | MysqlPoolLike,
  config?: Omit<KyselyConfig, 'dialect'>,
): Kysely<any> {
  checkFactoryConfig('mysql', config)
  if (typeof poolOrConnectionString === 'string' && poolOrConnectionString.length > 0) {
    const uri = poolOrConnectionString
    const pool = async (): Promise<MysqlPool> => {
      const { createPool } = await optionalPeer('mysql2', 'mysql', () => import('mysql2'))
      return createPool({ uri }) as unknown as MysqlPool
    }
    return new Kysely({ ...config, dialect: new MysqlDialect({ pool }) })
  }
  const given = poolOrConnectionString as Partial<MysqlPool> | null | undefined
  if (typeof given?.getConnection !== 'function' || typeof given.end !== 'function') {
    throw new TypeError(
      "mysql(poolOrConnectionString): expected a connection string such as 'mysql://user@localhost:3306/app' or a mysql2 pool",
    )
  }
  const pool: MysqlPool = {
    getConnection: (callback) => given.getConnection!(callback),
    end: (callback) => callback(undefined), // the pool is the caller's: db.destroy() leaves it open
  }
  return new Kysely({ ...config, dialect: new MysqlDialect({ pool }) })
}
