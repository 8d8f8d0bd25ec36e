import { PGlite } from '@electric-sql/pglite'
import { CompiledQuery, Kysely, PGliteDialect } from 'kysely'
import { KyselyStore, migrate, pglite } from '../ours.js'
import { bulkInsert, DAY_MS, dollar, sessionPayload, type Contender, type Engine } from '../harness.js'

/**
 * PGlite in memory: raw `pglite.query`, and our store on `pglite(instance)` and on the stock
 * PGliteDialect. One instance (initdb costs seconds and hundreds of MiB), one table each.
 */
export async function openPglite(): Promise<Engine> {
  const instance = await PGlite.create()
  const { bytes } = sessionPayload()
  const expiry = () => new Date(Date.now() + DAY_MS).toISOString()
  const borrowed = () => pglite(instance as never) // leaves the instance open on destroy
  const preload = async (table: string, tokens: readonly string[]) => {
    const db = borrowed()
    await migrate(db, { tableName: table })
    const far = expiry()
    await bulkInsert(
      (text, params) => db.executeQuery(CompiledQuery.raw(text, params)),
      `INSERT INTO "${table}" (token, data, expiry)`,
      dollar,
      tokens.map((t) => [t, bytes, far]),
    )
    await db.destroy()
  }

  const raw = (): Contender => {
    const find = 'SELECT data FROM "bench_raw" WHERE token = $1 AND expiry > $2'
    const commit =
      'INSERT INTO "bench_raw" (token, data, expiry) VALUES ($1, $2, $3) ' +
      'ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry'
    return {
      name: 'raw pglite.query',
      role: 'raw',
      setup: (tokens) => preload('bench_raw', tokens),
      find: (token) => instance.query(find, [token, new Date().toISOString()]),
      commit: (token) => instance.query(commit, [token, bytes, expiry()]),
      close: async () => undefined,
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
        await preload(table, tokens)
        db = open()
        store = new KyselyStore(db, 0, { tableName: table })
      },
      find: (token) => store!.find(token),
      commit: (token) => store!.commit(token, bytes, new Date(Date.now() + DAY_MS)),
      close: async () => {
        await store?.stopCleanup()
      },
    }
  }

  return {
    name: 'PGlite 0.5 in memory',
    concurrency: [1],
    contenders: [
      raw(),
      kysely('KyselyStore, pglite() factory', 'factory', 'bench_kss_factory', borrowed),
      // The stock dialect's destroy() would close the shared instance: it is not destroyed.
      kysely(
        'KyselyStore, stock PGliteDialect',
        'stock',
        'bench_kss_stock',
        () => new Kysely({ dialect: new PGliteDialect({ pglite: instance as never }) }),
      ),
    ],
    close: () => instance.close(),
  }
}
