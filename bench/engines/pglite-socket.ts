import { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { PGLiteSocketServer } from '../../legs/drivers/index.js'
import { KyselyStore, migrate, postgres } from '../ours.js'
import { bulkInsert, DAY_MS, dollar, sessionPayload, type Contender, type Engine } from '../harness.js'

/** The stack legs' port range is 55500-55599; the benchmark takes 55590. */
const PORT = 55590

/**
 * PGlite in memory served over the wire by @electric-sql/pglite-socket (in this process): raw
 * pg unnamed statements (named ones collide in PGlite's one shared session), our store on
 * postgres(pool) and on Kysely's PostgresDialect. 8 connections each.
 */
export async function openPgliteSocket(): Promise<Engine> {
  const instance = await PGlite.create()
  const server = new PGLiteSocketServer({ db: instance, host: '127.0.0.1', port: PORT, maxConnections: 40 })
  await server.start()
  const url = `postgres://postgres@127.0.0.1:${PORT}/postgres`
  const admin = new pg.Pool({ connectionString: url, max: 1 })
  const { bytes } = sessionPayload()
  const expiry = () => new Date(Date.now() + DAY_MS).toISOString()
  const preload = async (table: string, tokens: readonly string[]) => {
    await migrate(new Kysely<any>({ dialect: new PostgresDialect({ pool: admin }) }), { tableName: table })
    const far = expiry()
    await bulkInsert(
      (text, values) => admin.query(text, values),
      `INSERT INTO "${table}" (token, data, expiry)`,
      dollar,
      tokens.map((t) => [t, bytes, far]),
    )
  }

  const raw = (): Contender => {
    const table = 'bench_sock_raw'
    const find = `SELECT data FROM "${table}" WHERE token = $1 AND expiry > $2`
    const commit =
      `INSERT INTO "${table}" (token, data, expiry) VALUES ($1, $2, $3) ` +
      `ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`
    const pool = new pg.Pool({ connectionString: url, max: 8 })
    return {
      name: 'raw pg, unnamed',
      role: 'raw',
      setup: (tokens) => preload(table, tokens),
      find: (token) => pool.query(find, [token, new Date().toISOString()]),
      commit: (token) => pool.query(commit, [token, bytes, expiry()]),
      close: () => pool.end(),
    }
  }

  const ours = (name: string, role: 'factory' | 'stock', table: string): Contender => {
    const pool = new pg.Pool({ connectionString: url, max: 8 })
    const db =
      role === 'factory' ? postgres(pool) : new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
    const store = new KyselyStore(db, 0, { tableName: table })
    return {
      name,
      role,
      setup: (tokens) => preload(table, tokens),
      find: (token) => store.find(token),
      commit: (token) => store.commit(token, bytes, new Date(Date.now() + DAY_MS)),
      close: async () => {
        await db.destroy()
        if (!(pool as pg.Pool & { ended: boolean }).ended) await pool.end()
      },
    }
  }

  return {
    name: 'PGlite in memory over pglite-socket',
    concurrency: [1, 8],
    contenders: [
      raw(),
      ours('KyselyStore, postgres(pool) factory', 'factory', 'bench_sock_factory'),
      ours('KyselyStore, stock PostgresDialect', 'stock', 'bench_sock_stock'),
    ],
    close: async () => {
      await admin.end()
      await server.stop()
      await instance.close()
    },
  }
}
