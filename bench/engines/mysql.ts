import session from 'express-session'
import { Kysely, MysqlDialect } from 'kysely'
import { createPool } from 'mysql2'
import { createPool as createPromisePool } from 'mysql2/promise'
import { ConnectSessionKnexStore, knex } from '../../legs/peers/index.js'
import { KyselyStore, migrate, mysql } from '../ours.js'
import { bulkInsert, DAY_MS, question, sessionPayload, type Contender, type Engine } from '../harness.js'
import { peerGet, peerSet, type CallbackStore } from '../peers.js'

const uri =
  process.env['BENCH_MYSQL_URL'] ?? process.env['TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test'

const tables = {
  raw: 'bench_raw',
  factory: 'bench_kss_factory',
  stock: 'bench_kss_stock',
  knex: 'bench_connect_session_knex',
}

/** MariaDB over mysql2: raw `pool.execute`, our store twice, connect-session-knex. */
export async function openMysql(): Promise<Engine> {
  const admin = createPromisePool({ uri, connectionLimit: 2, connectTimeout: 3000 })
  try {
    await admin.query('SELECT 1')
    for (const table of Object.values(tables)) await admin.query(`DROP TABLE IF EXISTS \`${table}\``)
  } catch (error) {
    await admin.end()
    throw error
  }
  const [[version]] = (await admin.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]]
  const { session: sess, bytes } = sessionPayload()
  const preloadOurs = async (table: string, tokens: readonly string[]) => {
    const db = mysql(admin.pool as never)
    await migrate(db, { tableName: table })
    await db.destroy()
    const far = Date.now() + DAY_MS
    await bulkInsert(
      (text, values) => admin.query(text, values),
      `INSERT INTO \`${table}\` (token, data, expiry)`,
      question,
      tokens.map((t) => [t, bytes, far]),
    )
  }

  const raw = (): Contender => {
    const pool = createPromisePool({ uri })
    const find = `SELECT data FROM \`${tables.raw}\` WHERE token = ? AND expiry > ?`
    const commit =
      `INSERT INTO \`${tables.raw}\` (token, data, expiry) VALUES (?, ?, ?) ` +
      `ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry)`
    return {
      name: 'raw mysql2 pool.execute (prepared)',
      role: 'raw',
      setup: (tokens) => preloadOurs(tables.raw, tokens),
      find: (token) => pool.execute(find, [token, Date.now()]),
      commit: (token) => pool.execute(commit, [token, bytes, Date.now() + DAY_MS]),
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

  const sessionKnex = (): Contender => {
    const k = knex({ client: 'mysql2', connection: uri })
    const store = new ConnectSessionKnexStore({ knex: k, tableName: tables.knex, cleanupInterval: 0 })
    return {
      name: 'connect-session-knex',
      role: 'peer',
      async setup(tokens) {
        await store.ready
        const far = new Date(Date.now() + DAY_MS).toISOString().slice(0, 19).replace('T', ' ')
        await bulkInsert(
          (text, values) => admin.query(text, values),
          `INSERT INTO \`${tables.knex}\` (sid, sess, expired)`,
          question,
          tokens.map((t) => [t, JSON.stringify(sess), far]),
        )
      },
      find: (token) => peerGet(store as unknown as CallbackStore, token),
      commit: (token) => peerSet(store as unknown as CallbackStore, token, sess),
      close: () => k.destroy(),
    }
  }

  return {
    name: `MariaDB ${version.v.split('-')[0]} (mysql2, loopback)`,
    concurrency: [1, 8],
    contenders: [
      raw(),
      kysely('KyselyStore, mysql() factory', 'factory', tables.factory, () => mysql(uri)),
      kysely(
        'KyselyStore, stock MysqlDialect',
        'stock',
        tables.stock,
        () => new Kysely({ dialect: new MysqlDialect({ pool: createPool({ uri }) as never }) }),
      ),
      sessionKnex(),
    ],
    close: () => admin.end(),
  }
}
