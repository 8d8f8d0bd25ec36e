import session from 'express-session'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { connectPgSimple, ConnectSessionKnexStore, knex } from '../../legs/peers/index.js'
import { KyselyStore, migrate, postgres } from '../ours.js'
import { bulkInsert, DAY_MS, dollar, sessionPayload, type Contender, type Engine } from '../harness.js'
import { peerGet, peerSet, type CallbackStore } from '../peers.js'

const url =
  process.env['BENCH_POSTGRES_URL'] ??
  process.env['TEST_POSTGRES_URL'] ??
  'postgres://postgres@127.0.0.1:5432/test'

const tables = {
  named: 'bench_raw_named',
  unnamed: 'bench_raw_unnamed',
  factory: 'bench_kss_factory',
  stock: 'bench_kss_stock',
  pgSimple: 'bench_connect_pg_simple',
  knex: 'bench_connect_session_knex',
}

/** Server Postgres: raw pg (named and unnamed), our store twice, connect-pg-simple, connect-session-knex. */
export async function openPostgres(): Promise<Engine> {
  const admin = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 3000 })
  try {
    await admin.query('SELECT 1')
    for (const table of Object.values(tables)) await admin.query(`DROP TABLE IF EXISTS "${table}"`)
  } catch (error) {
    await admin.end()
    throw error
  }
  const { session: sess, bytes } = sessionPayload()
  const expiry = () => new Date(Date.now() + DAY_MS).toISOString()
  const preloadOurs = async (table: string, tokens: readonly string[]) => {
    await migrate(postgres(admin), { tableName: table })
    const far = expiry()
    await bulkInsert(
      (text, values) => admin.query(text, values),
      `INSERT INTO "${table}" (token, data, expiry)`,
      dollar,
      tokens.map((t) => [t, bytes, far]),
    )
  }

  const raw = (table: string, named: boolean): Contender => {
    const find = `SELECT data FROM "${table}" WHERE token = $1 AND expiry > $2`
    const commit =
      `INSERT INTO "${table}" (token, data, expiry) VALUES ($1, $2, $3) ` +
      `ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`
    const pool = new pg.Pool({ connectionString: url, max: 8 })
    return {
      name: named ? 'raw pg, named prepared' : 'raw pg, unnamed',
      role: named ? 'raw' : 'raw-unnamed',
      setup: (tokens) => preloadOurs(table, tokens),
      find: named
        ? (token) => pool.query({ name: 'find', text: find, values: [token, new Date().toISOString()] })
        : (token) => pool.query(find, [token, new Date().toISOString()]),
      commit: named
        ? (token) => pool.query({ name: 'commit', text: commit, values: [token, bytes, expiry()] })
        : (token) => pool.query(commit, [token, bytes, expiry()]),
      close: () => pool.end(),
    }
  }

  const kysely = (
    name: string,
    role: 'factory' | 'stock',
    table: string,
    open: () => Kysely<any>,
  ): Contender => {
    let db: Kysely<any> | undefined
    let store: KyselyStore | undefined
    return {
      name,
      role,
      async setup(tokens) {
        await preloadOurs(table, tokens)
        db = open()
        store = new KyselyStore(db, 0, { tableName: table })
      },
      find: (token) => store!.find(token),
      commit: (token) => store!.commit(token, bytes, new Date(Date.now() + DAY_MS)),
      close: async () => {
        await store?.stopCleanup()
        await db?.destroy()
      },
    }
  }

  const pgSimple = (): Contender => {
    const PGStore = connectPgSimple(session)
    const pool = new pg.Pool({ connectionString: url, max: 8 })
    const store = new PGStore({
      pool,
      tableName: tables.pgSimple,
      createTableIfMissing: true, // runs its table.sql on first use
      pruneSessionInterval: false, // no background prune
    }) as unknown as CallbackStore & { close(): Promise<void> }
    return {
      name: 'connect-pg-simple',
      role: 'peer',
      async setup(tokens) {
        await peerGet(store, 'warm-up-creates-the-table')
        const far = new Date(Date.now() + DAY_MS)
        await bulkInsert(
          (text, values) => admin.query(text, values),
          `INSERT INTO "${tables.pgSimple}" (sid, sess, expire)`,
          dollar,
          tokens.map((t) => [t, JSON.stringify(sess), far]),
        )
      },
      find: (token) => peerGet(store, token),
      commit: (token) => peerSet(store, token, sess),
      close: async () => {
        await store.close() // leaves a pool it was given open
        await pool.end()
      },
    }
  }

  const sessionKnex = (): Contender => {
    const k = knex({ client: 'pg', connection: url, pool: { min: 0, max: 8 } })
    const store = new ConnectSessionKnexStore({ knex: k, tableName: tables.knex, cleanupInterval: 0 })
    return {
      name: 'connect-session-knex',
      role: 'peer',
      async setup(tokens) {
        await store.ready
        const far = new Date(Date.now() + DAY_MS).toISOString()
        await bulkInsert(
          (text, values) => admin.query(text, values),
          `INSERT INTO "${tables.knex}" (sid, sess, expired)`,
          dollar,
          tokens.map((t) => [t, JSON.stringify(sess), far]),
        )
      },
      find: (token) => peerGet(store as unknown as CallbackStore, token),
      commit: (token) => peerSet(store as unknown as CallbackStore, token, sess),
      close: () => k.destroy(),
    }
  }

  return {
    name: 'Postgres 15 (pg, loopback)',
    concurrency: [1, 8],
    contenders: [
      raw(tables.named, true),
      raw(tables.unnamed, false),
      kysely('KyselyStore, postgres() factory', 'factory', tables.factory, () => postgres(url)),
      kysely(
        'KyselyStore, stock PostgresDialect',
        'stock',
        tables.stock,
        () =>
          new Kysely({
            dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 8 }) }),
          }),
      ),
      pgSimple(),
      sessionKnex(),
    ],
    close: () => admin.end(),
  }
}
