import { Kysely, MysqlDialect, type KyselyConfig, type MysqlPool, type MysqlPoolConnection } from 'kysely'
import {
  checkFactoryOptions,
  checkScheme,
  ConnectionTimeoutError,
  DEFAULT_CONNECTION_TIMEOUT,
  connectionTimeoutMessage,
  kyselyOptions,
  type ServerPoolOptions,
} from './connection.js'
import { optionalPeer } from './shared.js'
import { AbandonedError, InFlight, registerCanceller } from '../src/store/direct.js'

export { ConnectionTimeoutError, DEFAULT_CONNECTION_TIMEOUT, type ServerPoolOptions }

/**
 * A session variable's value: bound as a parameter, never spliced into the SQL text.
 *
 * @example
 * ```ts
 * import type { SessionVariableValue } from 'kysely-session-store/mysql'
 *
 * const zone: SessionVariableValue = '+00:00'
 * ```
 */
export type SessionVariableValue = string | number | boolean

/**
 * Options of {@link mysql}: the pool's (it opens one from a connection string), what every new
 * connection is set up with, and Kysely's own (`log`, `plugins`). Unknown keys are refused.
 *
 * @example
 * ```ts
 * import { mysql, type MysqlOptions } from 'kysely-session-store/mysql'
 *
 * const options: MysqlOptions = { poolSize: 20, sessionVariables: { innodb_lock_wait_timeout: 5 } }
 * const db = mysql('mysql://app@db.internal:3306/app', options)
 * ```
 */
export interface MysqlOptions extends ServerPoolOptions, Omit<KyselyConfig, 'dialect'> {
  /**
   * Session variables set on every new connection before its first statement
   * (`SET SESSION name = value`), for example `{ wsrep_sync_wait: 1 }` or
   * `{ time_zone: '+00:00' }`. Names are plain identifiers; values are bound as parameters. A
   * connection whose `SET` fails is closed and the statement that needed it rejects.
   * @default {}
   */
  readonly sessionVariables?: Readonly<Record<string, SessionVariableValue>>
  /**
   * On a Galera node (MariaDB Galera Cluster, Percona XtraDB Cluster: `wsrep_on = ON`), makes
   * each new connection wait for the cluster's earlier commits before its reads, updates and
   * deletes (`wsrep_sync_wait` gains bits 1 and 2), so a `find`, `touch` or `delete` right
   * after a resolved `commit` sees it, whichever node serves it. Without it, about one find
   * in six on another node right after a commit returned old data or nothing. Inserts need no
   * wait: Galera certifies them against concurrent writes. Costs one `SHOW VARIABLES` per new
   * connection, and on Galera a wait of about one replication round trip per read. `false`
   * leaves the server's setting alone; a `wsrep_sync_wait` in `sessionVariables` wins.
   * @default true
   */
  readonly causalReads?: boolean
}

const OPTION_KEYS = ['sessionVariables', 'causalReads'] as const

/** `wsrep_sync_wait` bits: 1 = reads (SELECT, SHOW, BEGIN), 2 = UPDATE and DELETE. */
const CAUSAL_SYNC_WAIT = 3

/**
 * What `mysql()` needs of a `mysql2` pool (the callback pool of `mysql2`, not
 * `mysql2/promise`): the subset Kysely's `MysqlDialect` uses. Any object of that shape fits.
 *
 * @example
 * ```ts
 * import { createPool } from 'mysql2'
 *
 * mysql(createPool({ uri: 'mysql://app@localhost/app', connectionLimit: 20, connectTimeout: 10_000 }))
 * ```
 */
export type MysqlPoolLike = MysqlPool

/**
 * A Kysely instance on MySQL or MariaDB, over `mysql2` (an optional peer dependency).
 *
 * Given a connection string (`mysql://` or `mariadb://`), it opens its own pool on first use,
 * with `poolSize` connections (default 10), a `connectionTimeout` (default 10 s) that bounds
 * both opening a connection and waiting for a busy pool to free one (a statement that gets
 * none in time rejects with a {@link ConnectionTimeoutError} as its cause), and an
 * `idleTimeout`. Each new connection gets `sessionVariables`, and on a Galera node causal
 * reads (see `causalReads`). `db.destroy()` ends that pool.
 *
 * Given a pool, it uses it and `db.destroy()` leaves it open: the pool is yours, and so are
 * its connections' settings. Pool options, `sessionVariables` and `causalReads` are then
 * refused; set the variables yourself on each new connection, as mysql2 emits it:
 * `pool.on('connection', (c) => c.query('SET SESSION wsrep_sync_wait = 3'))` (on Galera), or
 * set `wsrep_sync_wait` in the servers' configuration.
 *
 * @param poolOrConnectionString - `mysql://user:password@host:3306/db`, or a `mysql2` pool.
 * @param options - pool options (connection strings only), `sessionVariables`, `causalReads`, and Kysely's `log` and `plugins`.
 * @throws TypeError for a non-pool object or an unknown or misplaced option; RangeError for
 *   another engine's URL (`postgres://`, `file:`, a SQLite file) or a bad option value.
 *
 * @example
 * ```ts
 * import { KyselyStore, migrate } from 'kysely-session-store'
 * import { mysql } from 'kysely-session-store/mysql'
 *
 * const db = mysql('mysql://root@127.0.0.1:3306/app', { poolSize: 20 })
 * await migrate(db)
 * const store = new KyselyStore(db)
 * const galera = mysql('mysql://app@galera-proxy:3306/app') // causal reads: on by default
 * const relaxed = mysql('mysql://app@galera-proxy:3306/app', { causalReads: false })
 * ```
 */
export function mysql(poolOrConnectionString: string | MysqlPoolLike, options?: MysqlOptions): Kysely<any> {
  const ownPool = typeof poolOrConnectionString === 'string' && poolOrConnectionString.length > 0
  if (ownPool) checkScheme('mysql', poolOrConnectionString, ['mysql', 'mariadb'])
  checkFactoryOptions(
    'mysql',
    options,
    OPTION_KEYS,
    ownPool,
    'configure your mysql2 pool instead (connectionLimit, connectTimeout, idleTimeout)',
    [
      [
        OPTION_KEYS,
        "on your own pool, set session variables on each new connection: pool.on('connection', (c) => c.query('SET SESSION ...'))",
      ],
    ],
  )
  const config = kyselyOptions(options as Record<string, unknown> | undefined)
  const running = new Running()
  if (ownPool) {
    const uri = poolOrConnectionString
    const setup = connectionSetup(options)
    const timeout = options?.connectionTimeout ?? DEFAULT_CONNECTION_TIMEOUT
    const timeoutMessage = connectionTimeoutMessage('mysql', timeout, uri)
    const pool = async (): Promise<MysqlPool> => {
      const { createPool } = await running.load()
      const poolSize = options?.poolSize ?? 10
      const opened = createPool({
        uri,
        connectionLimit: poolSize,
        connectTimeout: timeout,
        // mysql2 closes idle connections only while maxIdle is below connectionLimit.
        ...(options?.idleTimeout === undefined
          ? {}
          : { idleTimeout: options.idleTimeout, maxIdle: Math.max(poolSize - 1, 1) }),
      }) as unknown as MysqlPool
      return running.tracking(settingUpPool(opened, setup, timeout, timeoutMessage))
    }
    const db = new Kysely<any>({ ...config, dialect: new MysqlDialect({ pool }) })
    registerCanceller(db, (values) => running.cancel(values))
    return db
  }
  const given = poolOrConnectionString as Partial<MysqlPool> | null | undefined
  if (typeof given?.getConnection !== 'function' || typeof given.end !== 'function') {
    throw new TypeError(
      "mysql(poolOrConnectionString): expected a connection string such as 'mysql://user@localhost:3306/app' or a mysql2 pool",
    )
  }
  const pool = async (): Promise<MysqlPool> => {
    await running.load()
    return running.tracking({
      getConnection: (callback) => given.getConnection!(callback),
      end: (callback) => callback(undefined), // the pool is the caller's: db.destroy() leaves it open
    })
  }
  const db = new Kysely<any>({ ...config, dialect: new MysqlDialect({ pool }) })
  registerCanceller(db, (values) => running.cancel(values))
  return db
}

/**
 * Which connection runs each statement in flight ({@link InFlight}), and how to cancel one:
 * `KILL QUERY` from a connection of its own, outside the pool, which the statement may be
 * keeping busy (see {@link Canceller}). The pool's connections are handed to Kysely in a
 * wrapper of their own, so that a pool of the caller's is not changed.
 */
class Running {
  readonly #inFlight = new InFlight<MysqlPoolConnection>()
  readonly #wrappers = new WeakMap<MysqlPoolConnection, MysqlPoolConnection>()
  #mysql2: typeof import('mysql2') | undefined

  /** Loads mysql2 (before any statement runs: the pool is made on first use). */
  async load(): Promise<typeof import('mysql2')> {
    return (this.#mysql2 ??= await optionalPeer('mysql2', 'mysql', () => import('mysql2')))
  }

  /** `pool`, handing out connections that record what they run. */
  tracking(pool: MysqlPool): MysqlPool {
    return {
      getConnection: (callback) =>
        pool.getConnection((error, connection) => callback(error, connection && this.#wrapped(connection))),
      end: (callback) => pool.end(callback),
    }
  }

  cancel(values: readonly unknown[]): void {
    const connection = this.#inFlight.giveUp(values)
    if (connection === undefined || this.#mysql2 === undefined) return
    const { threadId, config } = connection
    // As Kysely's own control connection: these two settings make mysql2 warn when passed back.
    const { clientFlags: _, maxPacketSize: __, ...settings } = config as Record<string, unknown>
    const control = this.#mysql2.createConnection(settings)
    control.on('error', () => undefined)
    const end = () => control.end(() => undefined)
    control.connect((error) => {
      if (error || !this.#inFlight.runs(values, connection)) return end()
      control.query(`KILL QUERY ${Number(threadId)}`, end)
    })
  }

  #wrapped(connection: MysqlPoolConnection): MysqlPoolConnection {
    let wrapper = this.#wrappers.get(connection)
    if (wrapper !== undefined) return wrapper
    const inFlight = this.#inFlight
    wrapper = {
      get config() {
        return connection.config
      },
      get threadId() {
        return connection.threadId
      },
      connect: (callback) => connection.connect(callback),
      destroy: () => connection.destroy(),
      release: () => connection.release(),
      query(sql, parameters, callback) {
        if (!Array.isArray(parameters) || callback === undefined)
          return connection.query(sql, parameters, callback)
        if (!inFlight.start(parameters, connection)) {
          callback(new AbandonedError(), [])
          return { stream: () => ({ [Symbol.asyncIterator]: () => undefined }) }
        }
        return connection.query(sql, parameters, (error, result) => {
          inFlight.end(parameters, connection)
          callback(error, result)
        })
      },
    }
    this.#wrappers.set(connection, wrapper)
    return wrapper
  }
}

/** The statements each new connection runs, from the options; checked at once. */
function connectionSetup(options: MysqlOptions | undefined): {
  variables: [string, SessionVariableValue][]
  causal: boolean
} {
  const { sessionVariables = {}, causalReads = true } = options ?? {}
  if (typeof sessionVariables !== 'object' || sessionVariables === null || Array.isArray(sessionVariables)) {
    throw new TypeError('options.sessionVariables must be an object of variable names to values')
  }
  const variables = Object.entries(sessionVariables)
  for (const [name, value] of variables) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) {
      throw new RangeError(
        `options.sessionVariables: ${JSON.stringify(name.slice(0, 70))} is not a variable name (letters, digits, _)`,
      )
    }
    if (!['string', 'number', 'boolean'].includes(typeof value) || Number.isNaN(value)) {
      throw new TypeError(`options.sessionVariables.${name} must be a string, a number or a boolean`)
    }
  }
  if (typeof causalReads !== 'boolean') {
    throw new TypeError(`options.causalReads must be a boolean, got ${typeof causalReads}`)
  }
  const explicit = variables.some(([name]) => name.toLowerCase() === 'wsrep_sync_wait')
  return { variables, causal: causalReads && !explicit }
}

type Setup = ReturnType<typeof connectionSetup>

function query(connection: MysqlPoolConnection, sql: string, parameters: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) =>
    connection.query(sql, parameters, (error, result) => (error ? reject(error) : resolve(result))),
  )
}

async function setUp(connection: MysqlPoolConnection, { variables, causal }: Setup): Promise<void> {
  if (variables.length > 0) {
    const assignments = variables.map(([name]) => `SESSION ${name} = ?`).join(', ')
    await query(
      connection,
      `SET ${assignments}`,
      variables.map(([, value]) => value),
    )
  }
  if (causal) {
    // SHOW VARIABLES answers on MySQL too, where @@wsrep_on is an unknown variable.
    const rows = (await query(connection, "SHOW VARIABLES LIKE 'wsrep_on'", [])) as { Value?: unknown }[]
    if (String(rows[0]?.Value ?? '').toUpperCase() === 'ON') {
      await query(
        connection,
        `SET SESSION wsrep_sync_wait = @@session.wsrep_sync_wait | ${CAUSAL_SYNC_WAIT}`,
        [],
      )
    }
  }
}

/**
 * `pool` whose new connections are set up before their first use, and whose `getConnection`
 * gives up after `timeout` ms (mysql2's pool queue has no time limit of its own).
 */
function settingUpPool(pool: MysqlPool, setup: Setup, timeout: number, timeoutMessage: string): MysqlPool {
  const ready = new WeakSet<object>()
  return {
    getConnection(callback) {
      let settled = false
      const settle = (error: unknown, connection?: MysqlPoolConnection) => {
        if (settled) return false
        settled = true
        clearTimeout(timer)
        callback(error, connection!)
        return true
      }
      const timer = setTimeout(() => settle(new ConnectionTimeoutError(timeoutMessage)), timeout)
      timer.unref()
      pool.getConnection((error, connection) => {
        if (error) {
          const code = (error as { code?: unknown } | null)?.code
          settle(code === 'ETIMEDOUT' ? new ConnectionTimeoutError(timeoutMessage, { cause: error }) : error)
          return
        }
        if (settled) return connection.release() // it came too late: give it back
        if (ready.has(connection)) return void settle(undefined, connection)
        setUp(connection, setup).then(
          () => {
            ready.add(connection)
            if (!settle(undefined, connection)) connection.release()
          },
          (setupError: unknown) => {
            connection.destroy() // never hand out a connection without its settings
            settle(setupError)
          },
        )
      })
    },
    end: (callback) => pool.end(callback),
  }
}
