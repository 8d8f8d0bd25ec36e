import { sql, type Kysely } from 'kysely'
import mysql2 from 'mysql2/promise'
import pg from 'pg'
import { describe, test } from 'vitest'

/** The Postgres server the tests use: TEST_POSTGRES_URL, else the local server. */
export const postgresUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * Holds an ACCESS EXCLUSIVE lock on `table` on the Postgres server from another client (every
 * statement on the table waits) until `release()`.
 */
export async function lockPostgresTable(table: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: postgresUrl })
  await client.connect()
  await client.query('BEGIN')
  await client.query(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`)
  return {
    async release() {
      await client.query('COMMIT')
      await client.end()
    },
  }
}

/** How many statements on `table` the Postgres server is running or waiting on, other than `admin`'s and the lock's. */
export async function postgresStatementsOn(admin: Kysely<any>, table: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    SELECT count(*) AS n FROM pg_stat_activity
    WHERE pid <> pg_backend_pid() AND state <> 'idle' AND query LIKE ${`%"${table}"%`}
      AND query NOT LIKE 'LOCK TABLE%'`.execute(admin)
  return Number(rows[0]!.n)
}

/** The MySQL or MariaDB server the tests use: TEST_MYSQL_URL, else the local server. */
export const mysqlUrl = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'

async function postgresUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return reasonOf(error)
  } finally {
    await client.end().catch(() => undefined)
  }
}

async function mysqlUnavailable(): Promise<string | undefined> {
  try {
    const connection = await mysql2.createConnection({ uri: mysqlUrl, connectTimeout: 3000 })
    await connection.query('SELECT 1')
    await connection.end()
    return undefined
  } catch (error) {
    return reasonOf(error)
  }
}

function reasonOf(error: unknown): string {
  return (error as Error).message || (error as { code?: string }).code || 'unreachable'
}

const servers = {
  Postgres: { url: postgresUrl, variable: 'TEST_POSTGRES_URL', unavailable: postgresUnavailable },
  MySQL: { url: mysqlUrl, variable: 'TEST_MYSQL_URL', unavailable: mysqlUnavailable },
}

/**
 * Registers `suite` inside a describe block that runs when the server answers. When it does
 * not: under CI=true a failing test says so; elsewhere the same suite is registered as
 * skipped, by this probe's result, and the reason is printed.
 */
export async function withServer(server: keyof typeof servers, suite: () => void): Promise<void> {
  const { url, variable, unavailable } = servers[server]
  const reason = await unavailable()
  const message =
    reason === undefined
      ? undefined
      : `${server} at ${url.replace(/:[^:@/]*@/, ':***@')} is unreachable (${reason}); set ${variable}`
  if (message !== undefined && process.env.CI === 'true') {
    test(`the ${server} server is reachable (required under CI=true)`, () => {
      throw new Error(message)
    })
    return
  }
  if (message !== undefined) console.warn(`skipping the ${server} tests: ${message}`)
  describe.skipIf(message !== undefined)(
    message === undefined ? server : `${server} (skipped: ${message})`,
    suite,
  )
}
