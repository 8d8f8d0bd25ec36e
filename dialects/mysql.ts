import { Kysely, MysqlDialect, sql, type KyselyConfig, type MysqlPool } from 'kysely'
import type { SqlFamily } from '../src/family.js'
import { checkFactoryConfig, optionalPeer } from './shared.js'

/** @internal The MySQL SQL family, for MySQL and MariaDB: expiry is BIGINT milliseconds. */
export const mysqlFamily: SqlFamily = {
  name: 'mysql',
  quote: (identifier) => `\`${identifier}\``,
  statements(table) {
    const t = `\`${table}\``
    return {
      find: `SELECT data FROM ${t} WHERE token = ? AND expiry > ?`,
      // VALUES(): MariaDB 10.11 has no row-alias form of ON DUPLICATE KEY UPDATE.
      commit:
        `INSERT INTO ${t} (token, data, expiry) VALUES (?, ?, ?) ` +
        `ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry)`,
      touch: `UPDATE ${t} SET expiry = ? WHERE token = ? AND expiry > ?`,
      delete: `DELETE FROM ${t} WHERE token = ?`,
      all: `SELECT token, data FROM ${t} WHERE expiry > ?`,
      page: `SELECT token, data FROM ${t} WHERE expiry > ? AND token > ? ORDER BY token LIMIT ?`,
      // MariaDB refuses LIMIT inside IN (...); DELETE ... ORDER BY ... LIMIT walks the index.
      cleanup: `DELETE FROM ${t} WHERE expiry <= ? ORDER BY expiry LIMIT ?`,
    }
  },
  expiry: (ms) => ms,
  data: (bytes) =>
    Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  isMissingTable: (error) => (error as { code?: unknown } | null)?.code === 'ER_NO_SUCH_TABLE',
  // InnoDB picks a victim when a cleanup's index-range locks meet an upsert's key locks.
  isDeadlock: (error) => (error as { code?: unknown } | null)?.code === 'ER_LOCK_DEADLOCK',
  async adapt(db, statements) {
    const { rows } = await sql<{ version: string }>`SELECT VERSION() AS version`.execute(db)
    if (/mariadb/i.test(rows[0]?.version ?? '')) return statements
    return statements.map((statement) => statement.replaceAll('utf8mb4_nopad_bin', 'utf8mb4_0900_bin'))
  },
  async migrate(db, table, statements) {
    // DDL commits implicitly in MySQL, so a named lock on one connection serialises migrations.
    await db.connection().execute(async (connection) => {
      const lock = `kysely-session-store:${table}`
      await sql`SELECT GET_LOCK(${lock}, 30)`.execute(connection)
      try {
        for (const statement of statements) await sql.raw(statement).execute(connection)
      } finally {
        await sql`SELECT RELEASE_LOCK(${lock})`.execute(connection)
      }
    })
  },
}

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
