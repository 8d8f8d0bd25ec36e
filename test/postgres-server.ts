import pg from 'pg'
import { describe, test } from 'vitest'

/** The Postgres server the tests use: TEST_POSTGRES_URL, else the local server. */
export const postgresUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Why the server cannot be used, or undefined when it can. */
export async function postgresUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return `${(error as Error).message || (error as { code?: string }).code || 'unreachable'}`
  } finally {
    await client.end().catch(() => undefined)
  }
}

/**
 * Registers `suite` when the server answers. When it does not: a failure under CI=true, and
 * elsewhere a skip whose reason is printed.
 */
export async function withPostgres(name: string, suite: () => void): Promise<void> {
  const reason = await postgresUnavailable()
  if (reason === undefined) return suite()
  const message = `Postgres at ${postgresUrl.replace(/:[^:@/]*@/, ':***@')} is unreachable (${reason}); set TEST_POSTGRES_URL`
  if (process.env.CI === 'true') {
    test(`${name}: the Postgres server is reachable (required under CI=true)`, () => {
      throw new Error(message)
    })
  } else {
    console.warn(`skipping ${name}: ${message}`)
    describe.skip(`${name} (skipped: ${message})`, () => {
      test('needs a Postgres server', () => undefined)
    })
  }
}
