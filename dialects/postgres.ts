import {
  Kysely,
  PostgresDialect,
  type KyselyConfig,
  type PostgresPool,
  type PostgresPoolClient,
} from 'kysely'
import { statementName } from '../src/families/postgres.js'
import { checkFactoryConfig, optionalPeer } from './shared.js'

/**
 * `pool` handing out clients that run the store's statements as named prepared statements
 * (parsed once per connection, then only bound and executed: about a quarter less work per
 * query than Kysely's unnamed statements). pg's Client remembers per connection which names it
 * has prepared, so a connection the pool replaces prepares them again on first use. Every
 * other query goes through unchanged. `end` runs on `db.destroy()`.
 */
function namingPool(pool: Partial<PostgresPool>, end: () => Promise<void>): PostgresPool {
  const clients = new WeakMap<PostgresPoolClient, PostgresPoolClient>()
  return {
    get Client() {
      return pool.Client
    },
    get options() {
      return pool.options ?? {}
    },
    async connect() {
      const client = await pool.connect!()
      let named = clients.get(client)
      if (named === undefined) {
        // A connection the server drops while checked out (between two queries) emits 'error'
        // on its client, which crashes Node without a listener; pg-pool listens only while it
        // is idle. The next query on it fails with a SessionStoreError and the pool drops it.
        ;(client as { on?: (event: string, listener: () => void) => void }).on?.('error', () => undefined)
        named = isPgClient(client) ? namingClient(client) : client
        clients.set(client, named)
      }
      return named
    },
    end,
  }
}

/** Whether `client` is pg's own Client, which takes `{ name, text, values }` and caches by name. */
function isPgClient(client: PostgresPoolClient): boolean {
  const connection = (client as { connection?: { parsedStatements?: unknown } }).connection
  return typeof connection?.parsedStatements === 'object' && connection.parsedStatements !== null
}

function namingClient(client: PostgresPoolClient): PostgresPoolClient {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown
  return {
    get processID() {
      return client.processID
    },
    query: ((textOrCursor: unknown, parameters?: ReadonlyArray<unknown>) => {
      const name = typeof textOrCursor === 'string' ? statementName(textOrCursor) : undefined
      // Parameterless texts keep pg's simple protocol, exactly as before.
      if (name === undefined || parameters === undefined || parameters.length === 0) {
        return parameters === undefined ? query(textOrCursor) : query(textOrCursor, parameters)
      }
      return query({ name, text: textOrCursor, values: parameters })
    }) as PostgresPoolClient['query'],
    release: (destroy) => client.release(destroy),
  }
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
 * that pool, and a connection the server drops never crashes the process. Given a pool, it
 * uses it and `db.destroy()` leaves it open: the pool is yours (give it an `'error'`
 * listener, as pg requires).
 *
 * Either way, the store's own statements (find, commit, touch, delete, all, cleanup) run as
 * named prepared statements, parsed once per connection (Kysely's `PostgresDialect` sends
 * every query unnamed, parsed each time); every other query is sent exactly as Kysely sends it.
 * A pooler in transaction mode must support protocol-level prepared statements (PgBouncer
 * 1.21+ with `max_prepared_statements` above 0).
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
      const opened = new pg.default.Pool({ connectionString })
      // An idle connection that the server drops (a restart, pg_terminate_backend) makes the
      // pool emit 'error', which crashes Node without a listener. The pool discards that
      // connection itself and the next query gets a new one, so there is nothing to do.
      opened.on('error', () => undefined)
      return namingPool(opened, () => opened.end())
    }
    return new Kysely({ ...config, dialect: new PostgresDialect({ pool }) })
  }
  const given = poolOrConnectionString as Partial<PostgresPool> | null | undefined
  if (typeof given?.connect !== 'function' || typeof given.end !== 'function') {
    throw new TypeError(
      "postgres(poolOrConnectionString): expected a connection string such as 'postgres://user@localhost:5432/app' or a pg.Pool",
    )
  }
  // The pool is the caller's: db.destroy() leaves it open.
  const pool = namingPool(given, async () => undefined)
  return new Kysely({ ...config, dialect: new PostgresDialect({ pool }) })
}
