import {
  Kysely,
  PostgresDialect,
  type KyselyConfig,
  type PostgresClient,
  type PostgresPool,
  type PostgresPoolClient,
  type QueryResult,
} from 'kysely'
import {
  AbandonedError,
  InFlight,
  registerCanceller,
  registerQueryRunner,
  type Canceller,
} from '../src/store/direct.js'
import { statementName } from '../src/families/postgres.js'
import { pgConnectionFailure } from '../src/errors.js'
import {
  checkFactoryOptions,
  checkScheme,
  ConnectionTimeoutError,
  DEFAULT_CONNECTION_TIMEOUT,
  connectionTimeoutMessage,
  kyselyOptions,
  type ServerPoolOptions,
} from './connection.js'
import { executorOptional, optionalPeer } from './shared.js'

export { ConnectionTimeoutError, DEFAULT_CONNECTION_TIMEOUT, type ServerPoolOptions }

/**
 * Options of {@link postgres}: the pool's (when it opens one from a connection string), how
 * the store's statements are sent, and Kysely's own (`log`, `plugins`). Unknown keys are refused.
 *
 * @example
 * ```ts
 * import { postgres, type PostgresOptions } from 'kysely-session-store/postgres'
 *
 * const options: PostgresOptions = { poolSize: 20, connectionTimeout: 5_000, log: ['error'] }
 * const db = postgres('postgres://app@db.internal:5432/app', options)
 * ```
 */
export interface PostgresOptions extends ServerPoolOptions, Omit<KyselyConfig, 'dialect'> {
  /**
   * Whether the store's own statements (find, commit, touch, delete, all, cleanup) are sent as
   * named prepared statements, parsed once per connection and then only bound and executed
   * (about a quarter less work per query than Kysely's unnamed statements).
   *
   * With `true`, a connection whose server session turns out to be shared with other client
   * connections (PgBouncer or another pooler in transaction mode, pglite-socket) is noticed by
   * the first name that collides (`42P05` "already exists" or `26000` "does not exist"): that
   * statement is sent again unnamed, once, and from then on this `postgres()` instance sends
   * every statement unnamed. No error reaches the caller. Inside a transaction of yours,
   * statements are always sent unnamed, since a failed statement would abort the transaction.
   *
   * With `false`, nothing is ever named: every query is sent as Kysely sends it. Use it behind a
   * transaction-mode pooler to skip even that first collision.
   * @default true
   */
  readonly preparedStatements?: boolean
}

const OPTION_KEYS = ['preparedStatements'] as const

/** The error codes of a named statement that met a session it was not prepared in (or prepared twice). */
const SHARED_SESSION_CODES = new Set(['42P05', '26000'])

/**
 * What the wrappers share: whether names are still used, how to describe a connection timeout,
 * and which client runs each statement in flight, for {@link cancellerOf}.
 */
interface Naming {
  enabled: boolean
  timeoutMessage: string
  readonly inFlight: InFlight<PostgresPoolClient>
}

/**
 * `pool` handing out clients that run the store's statements as named prepared statements
 * (see {@link PostgresOptions.preparedStatements}). Every other query goes through unchanged.
 * `end` runs on `db.destroy()`.
 */
function namingPool(pool: Partial<PostgresPool>, naming: Naming, end: () => Promise<void>): PostgresPool {
  const clients = new WeakMap<PostgresPoolClient, PostgresPoolClient>()
  return {
    get Client() {
      return pool.Client
    },
    get options() {
      return pool.options ?? {}
    },
    async connect() {
      let client: PostgresPoolClient
      try {
        client = await pool.connect!()
      } catch (cause) {
        throw isPoolTimeout(cause) ? new ConnectionTimeoutError(naming.timeoutMessage, { cause }) : cause
      }
      let wrapped = clients.get(client)
      if (wrapped === undefined) {
        listenForErrors(client) // a pool that emits no 'connect' (not pg-pool): here, late but once
        wrapped = isPgClient(client) ? namingClient(client, naming) : client
        clients.set(client, wrapped)
      }
      return wrapped
    },
    end,
  }
}

/**
 * Gives `client` an 'error' listener. A connection the server drops while it is checked out
 * (between two queries, or in the same network chunk as the ReadyForQuery that completed its
 * connection, before pool.connect() has even resolved) emits 'error' on its client, which
 * crashes Node without a listener: pg-pool listens only while a client is idle. The query on
 * it fails with a SessionStoreError and the pool drops it.
 */
function listenForErrors(client: unknown): void {
  const emitter = client as {
    on?: (event: string, listener: () => void) => void
    listeners?: (event: string) => unknown[]
  }
  if (!emitter.listeners?.('error').includes(ignore)) emitter.on?.('error', ignore)
}

const ignore = () => undefined

/**
 * Listens, on pg-pool's 'connect' event, for the errors of every client `pool` creates, from
 * the moment its connection is made (see {@link listenForErrors}). On a caller's pool this adds
 * a listener to its clients only; the pool's own 'error' event stays the caller's.
 */
function listenForClientErrors(pool: Partial<PostgresPool>): void {
  ;(pool as { on?: (event: string, listener: (client: unknown) => void) => void }).on?.(
    'connect',
    listenForErrors,
  )
}

/** pg-pool's errors when no connection came in time (it gives them no code). */
function isPoolTimeout(error: unknown): boolean {
  const failure = pgConnectionFailure(error)
  return failure === 'pool timeout' || failure === 'connect timeout'
}

/** Whether `client` is pg's own Client, which takes `{ name, text, values }` and caches by name. */
function isPgClient(client: PostgresPoolClient): boolean {
  const connection = (client as { connection?: { parsedStatements?: unknown } }).connection
  return typeof connection?.parsedStatements === 'object' && connection.parsedStatements !== null
}

interface PgClientInternals {
  getTransactionStatus?: () => string | null
  connection?: { on?: (event: string, listener: (message: { status?: string }) => void) => void }
}

/**
 * The transaction status the server last reported on this connection: `'I'` idle (no
 * transaction), `'T'` in a transaction, `'E'` in a failed one, or null before any.
 */
function transactionStatus(client: PostgresPoolClient): () => string | null {
  const internals = client as unknown as PgClientInternals
  if (typeof internals.getTransactionStatus === 'function') {
    return () => internals.getTransactionStatus!()
  }
  let status: string | null = null // pg before 8.12: read it from the protocol
  internals.connection?.on?.('readyForQuery', (message) => {
    status = message.status ?? null
  })
  return () => status
}

/**
 * Whether a query's failure ended its connection's session: anything but an error the server
 * reported at severity ERROR (a statement's own error, a time limit's cancel), and our own
 * refusal to send a statement given up.
 */
function sessionEnded(error: unknown): boolean {
  if (error instanceof AbandonedError) return false
  return (error as { severity?: unknown } | null)?.severity !== 'ERROR'
}

function namingClient(client: PostgresPoolClient, naming: Naming): PostgresPoolClient {
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>
  const status = transactionStatus(client)
  const send = async (textOrCursor: unknown, parameters?: ReadonlyArray<unknown>) => {
    const name = typeof textOrCursor === 'string' ? statementName(textOrCursor) : undefined
    // Parameterless texts keep pg's simple protocol, exactly as before. Inside a transaction
    // a name is never used: on a shared session it could fail, and abort the transaction.
    if (
      !naming.enabled ||
      name === undefined ||
      parameters === undefined ||
      parameters.length === 0 ||
      (status() ?? 'I') !== 'I'
    ) {
      return parameters === undefined ? query(textOrCursor) : query(textOrCursor, parameters)
    }
    try {
      return await query({ name, text: textOrCursor, values: parameters })
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code
      if (typeof code !== 'string' || !SHARED_SESSION_CODES.has(code)) throw error
      // The server session is shared (a pooler in transaction mode): the name was prepared
      // by another client connection, or this one's went to another session. Parse or Bind
      // failed, so nothing ran; send it unnamed, and name nothing from now on.
      naming.enabled = false
      return query(textOrCursor, parameters)
    }
  }
  // Whether a query failed in a way that ended the connection's session (a FATAL such as
  // 57P01, or the socket closed): given back to the pool, the connection would be handed to
  // the next caller before Node reads its end, and fail that caller too. It is discarded
  // instead, whether the store or Kysely's driver releases it.
  let ended = false
  return {
    get processID() {
      return client.processID
    },
    query: (async (textOrCursor: unknown, parameters?: ReadonlyArray<unknown>) => {
      if (parameters !== undefined && !naming.inFlight.start(parameters, client)) throw new AbandonedError()
      try {
        return await send(textOrCursor, parameters)
      } catch (error) {
        if (sessionEnded(error)) ended = true
        throw error
      } finally {
        if (parameters !== undefined) naming.inFlight.end(parameters, client)
      }
    }) as PostgresPoolClient['query'],
    release: (destroy) => {
      const discard = ended || destroy
      ended = false
      client.release(discard)
    },
  }
}

/**
 * Cancels, with `pg_cancel_backend` from a connection of its own (made from the pool's own
 * options, outside the pool, which the statement may be keeping busy), the statement that runs
 * with `values`; see {@link Canceller}. Checks again, once connected, that the statement still
 * runs on that client, so that the next statement there is not cancelled instead.
 */
function cancellerOf(pool: () => Partial<PostgresPool> | undefined, naming: Naming): Canceller {
  return (values) => {
    const client = naming.inFlight.giveUp(values)
    const { Client, options } = pool() ?? {}
    const pid = client?.processID
    if (client === undefined || Client === undefined || typeof pid !== 'number') return
    // pg.Pool's options hold the password as a property that a spread may not copy.
    const config = { ...options, password: (options as { password?: unknown } | undefined)?.password }
    const control = new Client(config) as PostgresClient & {
      on?: (event: string, listener: () => void) => void
    }
    control.on?.('error', ignore)
    control
      .connect()
      .then(() =>
        naming.inFlight.runs(values, client)
          ? control.query('SELECT pg_cancel_backend($1)', [pid])
          : undefined,
      )
      .catch(ignore)
      .then(() => control.end()) // pg's end() returns a promise, which may reject
      .catch(ignore)
  }
}

/**
 * What `postgres()` needs of a `pg.Pool`: the subset Kysely's `PostgresDialect` uses.
 * Any object of that shape fits, so a second copy of the driver does too.
 *
 * @example
 * ```ts
 * import pg from 'pg'
 *
 * postgres(new pg.Pool({ max: 20, connectionTimeoutMillis: 10_000 }))
 * ```
 */
export type PostgresPoolLike = PostgresPool

/**
 * A Kysely instance on server Postgres, over `pg` (an optional peer dependency).
 *
 * Given a connection string (`postgres://` or `postgresql://`), it opens its own `pg.Pool` on
 * first use, with `poolSize` connections (default 10), a `connectionTimeout` (default 10 s:
 * a statement that cannot get a connection in that time rejects, with a
 * {@link ConnectionTimeoutError} as its cause, instead of waiting forever as pg's default
 * does) and an `idleTimeout` (pg's default, 10 s); `db.destroy()` ends that pool, and a
 * connection the server drops, at any moment (connecting, idle, checked out, mid-query),
 * never crashes the process. Given a `pg.Pool`, it uses it and `db.destroy()` leaves it open:
 * the pool is yours. `postgres()` then gives each client the pool creates an `'error'` listener
 * (on the pool's `'connect'` event), so a client dropped while checked out cannot crash the
 * process; the pool's own `'error'` event (an idle client dropped) stays yours: give it a
 * listener, and a `connectionTimeoutMillis`, as pg's defaults have neither.
 *
 * The store's own statements run as named prepared statements where that is safe (see
 * `preparedStatements`). Behind poolers:
 * - PgBouncer in **session** mode, or any pooler that gives a client connection a server
 *   session of its own: statements stay named, nothing to configure.
 * - PgBouncer in **transaction** mode (1.18 and every version without
 *   `max_prepared_statements`), and other poolers that share server sessions between
 *   transactions (pgcat, Supavisor in transaction mode): names collide. `postgres()` notices the first collision, sends that
 *   statement again unnamed and names nothing from then on: no error reaches you. Pass
 *   `{ preparedStatements: false }` to skip even that first attempt. PgBouncer 1.21+ with
 *   `max_prepared_statements` above 0 and pgcat with `prepared_statements = true` support
 *   named statements themselves; either setting works there.
 *
 * @param poolOrConnectionString - `postgres://user@host:5432/db`, or a `pg.Pool` (not a `pg.Client`).
 * @param options - pool options (connection strings only), `preparedStatements`, and Kysely's `log` and `plugins`.
 * @throws TypeError for a `pg.Client`, a non-pool object, or an unknown or misplaced option;
 *   RangeError for another engine's URL (`mysql://`, `file:`, a SQLite file) or a bad option value.
 *
 * @example
 * ```ts
 * import { KyselyStore, migrate } from 'kysely-session-store'
 * import { postgres } from 'kysely-session-store/postgres'
 *
 * const db = postgres(process.env.DATABASE_URL!, { poolSize: 20, connectionTimeout: 5_000 })
 * await migrate(db)
 * const store = new KyselyStore(db)
 * const behindPgBouncer = postgres('postgres://app@pgbouncer:6432/app', { preparedStatements: false })
 * ```
 */
export function postgres(
  poolOrConnectionString: string | PostgresPoolLike,
  options?: PostgresOptions,
): Kysely<any> {
  const ownPool = typeof poolOrConnectionString === 'string' && poolOrConnectionString.length > 0
  if (ownPool) checkScheme('postgres', poolOrConnectionString, ['postgres', 'postgresql', 'socket'])
  else checkPool(poolOrConnectionString)
  checkFactoryOptions(
    'postgres',
    options,
    OPTION_KEYS,
    ownPool,
    'configure your pg.Pool instead (max, connectionTimeoutMillis, idleTimeoutMillis)',
  )
  const { preparedStatements = true } = options ?? {}
  if (typeof preparedStatements !== 'boolean') {
    throw new TypeError(`options.preparedStatements must be a boolean, got ${typeof preparedStatements}`)
  }
  const config = kyselyOptions(options as Record<string, unknown> | undefined)
  if (ownPool) {
    const connectionString = poolOrConnectionString
    const connectionTimeoutMillis = options?.connectionTimeout ?? DEFAULT_CONNECTION_TIMEOUT
    const naming: Naming = {
      enabled: preparedStatements,
      timeoutMessage: connectionTimeoutMessage('postgres', connectionTimeoutMillis, connectionString),
      inFlight: new InFlight(),
    }
    let opened: import('pg').Pool | undefined
    const pool = async (): Promise<PostgresPool> => {
      const pg = await optionalPeer<typeof import('pg')>('pg', 'postgres', () => import('pg'))
      opened = new pg.default.Pool({
        connectionString,
        connectionTimeoutMillis,
        ...(options?.poolSize === undefined ? {} : { max: options.poolSize }),
        ...(options?.idleTimeout === undefined ? {} : { idleTimeoutMillis: options.idleTimeout }),
      })
      // An idle connection that the server drops (a restart, pg_terminate_backend) makes the
      // pool emit 'error', which crashes Node without a listener. The pool discards that
      // connection itself and the next query gets a new one, so there is nothing to do.
      opened.on('error', ignore)
      listenForClientErrors(opened)
      const own = opened
      return (driverPool = namingPool(own, naming, () => {
        driverPool = undefined
        return own.end()
      }))
    }
    /** The pool Kysely's driver uses, once it opened it and until db.destroy() ends it. */
    let driverPool: PostgresPool | undefined
    const db = new Kysely<any>({ ...config, dialect: new PostgresDialect({ pool }) })
    registerCanceller(
      db,
      cancellerOf(() => opened as Partial<PostgresPool> | undefined, naming),
    )
    registerRunner(db, config, () => driverPool)
    return db
  }
  const given = poolOrConnectionString as Partial<PostgresPool>
  const timeout = (given.options as { connectionTimeoutMillis?: unknown } | undefined)
    ?.connectionTimeoutMillis
  const naming: Naming = {
    enabled: preparedStatements,
    timeoutMessage: `postgres(): no connection within ${typeof timeout === 'number' ? `${timeout} ms` : 'the time'} (your pool's connectionTimeoutMillis)`,
    inFlight: new InFlight(),
  }
  // The pool is the caller's: db.destroy() leaves it open.
  listenForClientErrors(given)
  /** The pool Kysely's driver uses, once it took it and until db.destroy() (which leaves it open). */
  let driverPool: PostgresPool | undefined
  const pool = namingPool(given, naming, async () => {
    driverPool = undefined
  })
  // A function, so that the runner starts when Kysely's driver takes the pool, as with our own.
  const db = new Kysely<any>({
    ...config,
    dialect: new PostgresDialect({ pool: async () => (driverPool = pool) }),
  })
  registerCanceller(
    db,
    cancellerOf(() => given, naming),
  )
  registerRunner(db, config, () => driverPool)
  return db
}

/**
 * Registers, when `config` has no plugins and no log (which Kysely's executor applies), a
 * {@link registerQueryRunner query runner} that does what Kysely's executor and
 * PostgresDriver do for one statement (a client from the pool Kysely's driver uses, the
 * query, the client released), minus their promise hops. The clients are the naming wrapper's,
 * so statement names, {@link InFlight} cancellation, the connection timeout and the 'error'
 * listeners are exactly as through Kysely. Until the driver has its pool (before the first
 * query) and after db.destroy(), the store goes through Kysely.
 */
function registerRunner(
  db: Kysely<any>,
  config: Omit<KyselyConfig, 'dialect'>,
  pool: () => PostgresPool | undefined,
): void {
  if (!executorOptional(config)) return
  registerQueryRunner(db, (sql, parameters) => {
    const current = pool()
    return current === undefined ? undefined : runOn(current, sql, parameters)
  })
}

/** One statement on a client of `pool`, answered as Kysely's PostgresConnection answers it. */
async function runOn(
  pool: PostgresPool,
  sql: string,
  parameters: readonly unknown[],
): Promise<QueryResult<unknown>> {
  const client = await pool.connect()
  try {
    const { command, rowCount, rows } = await client.query(sql, parameters)
    if (command === 'ROLLBACK' || command === 'COMMIT') return { rows: [{ command }] }
    return {
      numAffectedRows:
        command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE'
          ? BigInt(rowCount)
          : undefined,
      rows: rows ?? [],
    }
  } finally {
    client.release(false) // as Kysely's PostgresDriver releases it (the wrapper discards an ended one)
  }
}

function checkPool(given: unknown): asserts given is PostgresPool {
  const candidate = given as Record<string, unknown> | null | undefined
  // A pg.Client has connect() and end() too, but one connection, and connect() resolves to nothing.
  if (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.query === 'function' &&
    ('connectionParameters' in candidate || 'processID' in candidate) &&
    !('totalCount' in candidate)
  ) {
    throw new TypeError(
      'postgres(poolOrConnectionString): got a pg.Client; pass a pg.Pool (new pg.Pool({ connectionString })), ' +
        'since the store runs statements on several connections at once, or a connection string',
    )
  }
  if (typeof candidate?.connect !== 'function' || typeof candidate.end !== 'function') {
    throw new TypeError(
      "postgres(poolOrConnectionString): expected a connection string such as 'postgres://user@localhost:5432/app' or a pg.Pool",
    )
  }
}
