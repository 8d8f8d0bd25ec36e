import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CompiledQuery, type Kysely } from 'kysely'
import { sqlite, type NodeSqliteDatabase } from '../../dialects/sqlite.js'
import { KyselyStore, migrate } from '../../src/index.js'
import { bulkInsert, DAY_MS, question, sessionPayload, type Contender, type Engine } from '../harness.js'

const BUN_SQLITE: string = 'bun:sqlite'
const NODE_SQLITE: string = 'node:sqlite'

interface RuntimeDatabase extends NodeSqliteDatabase {
  exec(sql: string): void
}

/** The runtime's own SQLite: bun:sqlite in Bun, node:sqlite in Deno (and Node 22+). */
async function opener(): Promise<{ driver: string; open(path: string): RuntimeDatabase }> {
  if ((globalThis as { Bun?: unknown }).Bun !== undefined) {
    const { Database } = (await import(BUN_SQLITE)) as { Database: new (path: string) => RuntimeDatabase }
    return { driver: 'bun:sqlite', open: (path) => new Database(path) }
  }
  const { DatabaseSync } = (await import(NODE_SQLITE)) as {
    DatabaseSync: new (path: string) => RuntimeDatabase
  }
  return { driver: 'node:sqlite', open: (path) => new DatabaseSync(path) }
}

/**
 * SQLite in the runtime this runs in (Bun or Deno), a WAL file (synchronous=NORMAL): the
 * runtime's driver with statements prepared once, and our store on sqlite(path), which opens
 * that same driver. Each contender has its own database.
 */
export async function openRuntimeSqlite(runtime: string): Promise<Engine> {
  const { driver, open } = await opener()
  const dir = mkdtempSync(join(tmpdir(), 'kss-bench-runtime-'))
  const { bytes } = sessionPayload()
  const preload = async (db: Kysely<any>, tokens: readonly string[]) => {
    await migrate(db)
    const far = Date.now() + DAY_MS
    await db.transaction().execute((trx) =>
      bulkInsert(
        (text, params) => trx.executeQuery(CompiledQuery.raw(text, params)),
        'INSERT INTO sessions (token, data, expiry)',
        question,
        tokens.map((t) => [t, bytes, far]),
      ),
    )
  }

  const raw = (): Contender => {
    const database = open(join(dir, 'raw.db'))
    database.exec('PRAGMA journal_mode = WAL')
    database.exec('PRAGMA synchronous = NORMAL')
    let find: ReturnType<NodeSqliteDatabase['prepare']> | undefined
    let commit: ReturnType<NodeSqliteDatabase['prepare']> | undefined
    return {
      name: `raw ${driver}, prepared once`,
      role: 'raw',
      async setup(tokens) {
        await preload(sqlite(database), tokens)
        find = database.prepare('SELECT data FROM "sessions" WHERE token = ? AND expiry > ?')
        commit = database.prepare(
          'INSERT INTO "sessions" (token, data, expiry) VALUES (?, ?, ?) ' +
            'ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry',
        )
      },
      find: async (token) =>
        (find as unknown as { get(...values: unknown[]): unknown }).get(token, Date.now()),
      commit: async (token) => commit!.run(token, bytes, Date.now() + DAY_MS),
      close: async () => database.close(),
    }
  }

  const ours = (): Contender => {
    const db = sqlite(join(dir, 'factory.db'))
    const store = new KyselyStore(db, 0)
    return {
      name: 'KyselyStore, sqlite() factory',
      role: 'factory',
      setup: (tokens) => preload(db, tokens),
      find: (token) => store.find(token),
      commit: (token) => store.commit(token, bytes, new Date(Date.now() + DAY_MS)),
      close: () => db.destroy(),
    }
  }

  return {
    name: `SQLite file, WAL, synchronous=NORMAL (${runtime}, ${driver})`,
    concurrency: [1],
    contenders: [raw(), ours()],
    close: async () => rmSync(dir, { recursive: true, force: true }),
  }
}
