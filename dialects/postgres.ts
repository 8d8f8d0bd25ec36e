import { Kysely, PostgresDialect, sql, type KyselyConfig, type PostgresPool } from 'kysely'
import type { SqlFamily } from '../src/family.js'
import { checkFactoryConfig, optionalPeer } from './shared.js'

/** @internal The Postgres SQL family, shared by server Postgres and PGlite. */
export const postgresFamily: SqlFamily = {
  name: 'postgres',
  quote: (identifier) => `"${identifier}"`,
  statements(table) {
    const t = `"${table}"`
    return {
      find: `SELECT data FROM ${t} WHERE token = $1 AND expiry > $2`,
      commit:
        `INSERT INTO ${t} (token, data, expiry) VALUES ($1, $2, $3) ` +
        `ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`,
      touch: `UPDATE ${t} SET expiry = $1 WHERE token = $2 AND expiry > $3`,
      delete: `DELETE FROM ${t} WHERE token = $1`,
      all: `SELECT token, data FROM ${t} WHERE expiry > $1`,
      // ANY(ARRAY(...)) makes each batch a set of primary-key lookups; SKIP LOCKED lets several
      // instances clean at once without waiting on each other.
      cleanup:
        `DELETE FROM ${t} WHERE token = ANY (ARRAY(` +
        `SELECT token FROM ${t} WHERE expiry <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)) AND expiry <= $1`,
    }
  },
  // An ISO string with milliseconds: TIMESTAMPTZ keeps microseconds, so nothing is rounded.
  expiry: (ms) => new Date(ms).toISOString(),
  data: (bytes) => bytes,
  isMissingTable: (error) => (error as { code?: unknown } | null)?.code === '42P01',
  async migrate(db, table, statements) {
    await db.transaction().execute(async (trx) => {
      // Serialises concurrent migrations: CREATE ... IF NOT EXISTS alone races in the catalog.
      await sql`SELECT pg_advisory_xact_lock(hashtext(${`kysely-session-store:${table}`}))`.execute(trx)
      for (const statement of statements) await sql.raw(statement).execute(trx)
    })
  },
}

/**
 * What `postgres()` needs of a `pg.Pool`: the subset Kysely's `PostgresDialect` uses.
 * Any object of that shape fits, so a second copy of the driver does too.
 *
 * @example
 * ```ts
 * postgres(new pg.Pool({ max: 20 }))
 * ```
 */
export type PostgresPoolLike = PostgresPool

/**
 * A Kysely instance on server Postgres, over `pg` (an optional peer dependency).
 *
 * Given a connection string, it opens its own `pg.Pool` on first use; `db.destroy()` ends
 * that pool. Given a pool, it uses it and `db.destroy()` leaves it open: the pool is yours.
 *
 * @param poolOrConnectionString - `postgres://user@host:5432/db`, or a `pg.Pool`.
 * @param config - further Kysely options (`log`, `plugins`).
 *
 * @example
 * ```ts
 * import { KyselyStore, migrate } from 'kysely-session-store'
 * import { postgres } from 'kysely-session-store/postgres'
 *
 * const db = postgres(process.env.DATABASE_URL!)
 * await migrate(db)
 * const store = new KyselyStore(db)
 * ```
 */
export function postgres(
  poolOrConnectionString: string | PostgresPoolLike,
  config?: Omit<KyselyConfig, 'dialect'>,
): Kysely<any> {
  checkFactoryConfig('postgres', config)
  if (typeof poolOrConnectionString === 'string' && poolOrConnectionString.length > 0) {
    const connectionString = poolOrConnectionString
    const pool = async (): Promise<PostgresPool> => {
      const pg = await optionalPeer<typeof import('pg')>('pg', 'postgres', () => import('pg'))
      return new pg.default.Pool({ connectionString })
    }
    return new Kysely({ ...config, dialect: new PostgresDialect({ pool }) })
  }
  const given = poolOrConnectionString as Partial<PostgresPool> | null | undefined
  if (typeof given?.connect !== 'function' || typeof given.end !== 'function') {
    throw new TypeError(
      "postgres(poolOrConnectionString): expected a connection string such as 'postgres://user@localhost:5432/app' or a pg.Pool",
    )
  }
  const pool: PostgresPool = {
    get Client() {
      return given.Client
    },
    get options() {
      return given.options ?? {}
    },
    connect: () => given.connect!(),
    end: async () => undefined, // the pool is the caller's: db.destroy() leaves it open
  }
  return new Kysely({ ...config, dialect: new PostgresDialect({ pool }) })
}
