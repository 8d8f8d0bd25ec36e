import mysql2 from 'mysql2/promise'
import pg from 'pg'
import { describe, test } from 'vitest'

/** The Postgres server the tests use: TEST_POSTGRES_URL, else the local server. */
export const postgresUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

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
