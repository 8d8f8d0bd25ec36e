import { Kysely } from 'kysely'
import { PostgresJSDialect, postgresJs } from '../../legs/drivers/index.js'
import { KyselyStore, migrate } from '../ours.js'
import { bulkInsert, DAY_MS, dollar, sessionPayload, type Contender, type Engine } from '../harness.js'

const url =
  process.env['BENCH_POSTGRES_URL'] ??
  process.env['TEST_POSTGRES_URL'] ??
  'postgres://postgres@127.0.0.1:5432/test'

const tables = { raw: 'bench_pgjs_raw', ours: 'bench_pgjs_kss' }

/**
 * Server Postgres over postgres.js: the raw driver (its own prepared statements, `sql.unsafe`
 * with `prepare: true`) and our store on kysely-postgres-js, 8 connections each.
 */
export async function openPostgresJs(): Promise<Engine> {
  const admin = postgresJs(url, { max: 2, connect_timeout: 3, onnotice: () => undefined })
  try {
    for (const table of Object.values(tables)) await admin.unsafe(`DROP TABLE IF EXISTS "${table}"`)
  } catch (error) {
    await admin.end()
    throw error
  }
  const adminDb = new Kysely<any>({ dialect: new PostgresJSDialect({ postgres: admin }) })
  const { bytes } = sessionPayload()
  const expiry = () => new Date(Date.now() + DAY_MS).toISOString()
  const preload = async (table: string, tokens: readonly string[]) => {
    await migrate(adminDb, { tableName: table })
    const far = expiry()
    await bulkInsert(
      (text, values) => admin.unsafe(text, values as never[]),
      `INSERT INTO "${table}" (token, data, expiry)`,
      dollar,
      tokens.map((t) => [t, bytes, far]),
    )
  }

  const raw = (): Contender => {
    const table = tables.raw
    const find = `SELECT data FROM "${table}" WHERE token = $1 AND expiry > $2`
    const commit =
      `INSERT INTO "${table}" (token, data, expiry) VALUES ($1, $2, $3) ` +
      `ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`
    const sql = postgresJs(url, { max: 8, onnotice: () => undefined })
    return {
      name: 'raw postgres.js, prepared',
      role: 'raw',
      setup: (tokens) => preload(table, tokens),
      find: (token) => sql.unsafe(find, [token, new Date().toISOString()], { prepare: true }),
      commit: (token) => sql.unsafe(commit, [token, bytes, expiry()], { prepare: true }),
      close: () => sql.end(),
    }
  }

  const ours = (): Contender => {
    const db = new Kysely<any>({
      dialect: new PostgresJSDialect({ postgres: postgresJs(url, { max: 8, onnotice: () => undefined }) }),
    })
    const store = new KyselyStore(db, 0, { tableName: tables.ours })
    return {
      name: 'KyselyStore, kysely-postgres-js',
      role: 'stock',
      setup: (tokens) => preload(tables.ours, tokens),
      find: (token) => store.find(token),
      commit: (token) => store.commit(token, bytes, new Date(Date.now() + DAY_MS)),
      close: () => db.destroy(),
    }
  }

  return {
    name: 'Postgres over postgres.js',
    concurrency: [1, 8],
    contenders: [raw(), ours()],
    close: async () => {
      for (const table of Object.values(tables)) await admin.unsafe(`DROP TABLE IF EXISTS "${table}"`)
      await adminDb.destroy() // ends admin
    },
  }
}
