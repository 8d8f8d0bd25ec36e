/**
 * What the contenders' apps run on, made for one run and removed after it: a temp dir for the
 * SQLite files (and the cookie lists), one random Postgres table per Postgres contender, one
 * random Redis key prefix. `dispose()` removes all of it, and is safe to call twice.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createClient } from '../../legs/peers/index.js'
import type { Backend, Contender } from './contenders.js'

export const postgresUrl =
  process.env['BENCH_POSTGRES_URL'] ??
  process.env['TEST_POSTGRES_URL'] ??
  'postgres://postgres@127.0.0.1:5432/test'

export const redisUrl = process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379'

/** How long any one call to Postgres or Redis from the harness may take. */
const TIMEOUT_MS = 5_000

/** Why a backend cannot be used (unreachable), or undefined when it answers. */
export async function unavailable(backend: Backend): Promise<string | undefined> {
  try {
    if (backend === 'postgres') {
      const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: TIMEOUT_MS })
      try {
        await client.connect()
        await client.query('SELECT 1')
      } finally {
        await client.end().catch(() => undefined)
      }
    } else if (backend === 'redis') {
      const client = redisClient()
      try {
        await client.connect()
        await client.ping()
      } finally {
        client.destroy()
      }
    }
    return undefined
  } catch (error) {
    const reason = (error as Error).message || (error as { code?: string }).code || 'unreachable'
    const url = backend === 'postgres' ? postgresUrl : redisUrl
    return `${backend} at ${url.replace(/:[^:@/]*@/, ':***@')} is unreachable (${reason})`
  }
}

function redisClient() {
  const client = createClient({
    url: redisUrl,
    socket: { connectTimeout: TIMEOUT_MS, reconnectStrategy: false },
  })
  client.on('error', () => undefined) // failures surface as rejected calls
  return client
}

/**
 * connect-pg-simple's own table.sql, for a table of another name. Its `createTableIfMissing`
 * keeps the fixed names `session_pkey` and `IDX_session_expire`, which collide between two
 * such tables in one schema (two runs at once, or another benchmark), so the harness applies
 * the file itself with those names made unique, as connect-pg-simple's README suggests.
 */
function connectPgSimpleDdl(table: string): string {
  // connect-pg-simple is legs/peers' (npm run legs:install -- peers).
  const require = createRequire(new URL('../../legs/peers/package.json', import.meta.url))
  return readFileSync(require.resolve('connect-pg-simple/table.sql'), 'utf8')
    .replaceAll('"session_pkey"', `"${table}_pkey"`)
    .replaceAll('"IDX_session_expire"', `"${table}_expire_idx"`)
    .replaceAll('"session"', `"${table}"`)
}

export class Workspace {
  /** Holds the SQLite files and the cookie lists. */
  readonly dir = mkdtempSync(join(tmpdir(), 'kss-bench-http-'))
  /** express-session's cookie-signing secret. */
  readonly secret = randomBytes(24).toString('base64url')
  readonly #run = randomBytes(4).toString('hex')
  readonly #tables = new Set<string>()
  readonly #redisPrefixes = new Set<string>()
  #admin: pg.Pool | undefined
  #disposed = false

  /** Makes what `contender` needs and returns its app's environment. */
  async prepare(contender: Contender): Promise<Record<string, string>> {
    if (this.#disposed) throw new Error('the workspace is disposed')
    const env: Record<string, string> = { SESSION_SECRET: this.secret }
    const name = contender.id.replace(/[^a-z0-9]+/g, '_')
    switch (contender.backend) {
      case 'sqlite':
        env['DATABASE_PATH'] = join(this.dir, `${contender.id}.db`)
        break
      case 'postgres': {
        const table = `bench_http_${name}_${this.#run}`
        this.#tables.add(table) // before creating it: dispose() drops it even if creation half-failed
        env['DATABASE_URL'] = postgresUrl
        env['SESSION_TABLE'] = table
        if (contender.id === 'connect-pg-simple') await this.#pool().query(connectPgSimpleDdl(table))
        break
      }
      case 'redis': {
        const prefix = `bench-http:${this.#run}:${contender.id}:`
        this.#redisPrefixes.add(prefix)
        env['REDIS_URL'] = redisUrl
        env['REDIS_PREFIX'] = prefix
        break
      }
      case 'none':
        break
    }
    return env
  }

  /** The Postgres tables made so far (for the test that checks they are dropped). */
  get tables(): string[] {
    return [...this.#tables]
  }

  /** The Redis key prefixes handed out so far. */
  get redisPrefixes(): string[] {
    return [...this.#redisPrefixes]
  }

  /**
   * VACUUM ANALYZE on every Postgres table: after the logins, so that every contender starts
   * the rounds from the same state, with planner statistics, whether or not the server runs
   * autovacuum (the shared server here runs with autovacuum off).
   */
  async vacuum(): Promise<void> {
    for (const table of this.#tables) await this.#pool().query(`VACUUM ANALYZE "${table}"`)
  }

  /** Drops the tables, deletes the Redis keys and removes the temp dir; reports what failed. */
  async dispose(): Promise<void> {
    if (this.#disposed) return
    this.#disposed = true
    const failures: string[] = []
    if (this.#tables.size > 0) {
      try {
        for (const table of this.#tables) await this.#pool().query(`DROP TABLE IF EXISTS "${table}"`)
      } catch (error) {
        failures.push(`dropping the Postgres tables: ${(error as Error).message}`)
      }
    }
    await this.#admin?.end().catch(() => undefined)
    if (this.#redisPrefixes.size > 0) {
      const client = redisClient()
      try {
        await client.connect()
        for (const prefix of this.#redisPrefixes) {
          for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
            if (keys.length > 0) await client.del(keys)
          }
        }
      } catch (error) {
        failures.push(`deleting the Redis keys: ${(error as Error).message}`)
      } finally {
        client.destroy()
      }
    }
    rmSync(this.dir, { recursive: true, force: true })
    if (failures.length > 0) throw new Error(`cleanup failed: ${failures.join('; ')}`)
  }

  #pool(): pg.Pool {
    this.#admin ??= new pg.Pool({
      connectionString: postgresUrl,
      max: 1,
      connectionTimeoutMillis: TIMEOUT_MS,
      query_timeout: 60_000,
    })
    return this.#admin
  }
}
