import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { CompiledQuery, Kysely, SqliteDialect } from 'kysely'
import { Libsql as Database, LibsqlDialect, libsql } from '../../legs/drivers/index.js'
import { KyselyStore, migrate, sqlite } from '../ours.js'
import { bulkInsert, DAY_MS, question, sessionPayload, type Contender, type Engine } from '../harness.js'

const FIND = 'SELECT data FROM "sessions" WHERE token = ? AND expiry > ?'
const COMMIT =
  'INSERT INTO "sessions" (token, data, expiry) VALUES (?, ?, ?) ' +
  'ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry'

/** Creates the table in `db` and preloads `tokens`, in one transaction. */
async function preload(db: Kysely<any>, tokens: readonly string[], bytes: Uint8Array): Promise<void> {
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

/**
 * libSQL on a file in WAL mode with synchronous=NORMAL (its defaults, a rollback journal and
 * synchronous=FULL, make commits about 25x slower), through the `libsql` package
 * (better-sqlite3's API): raw statements prepared once, our store on sqlite(database) and on
 * Kysely's SqliteDialect. Each contender has its own database.
 */
export async function openLibsql(): Promise<Engine> {
  const dir = mkdtempSync(join(tmpdir(), 'kss-bench-libsql-'))
  const { bytes } = sessionPayload()
  const open = (name: string) => {
    const database = new Database(join(dir, `${name}.db`))
    database.exec('PRAGMA journal_mode = WAL')
    database.exec('PRAGMA synchronous = NORMAL')
    return database
  }

  const raw = (): Contender => {
    const database = open('raw')
    let find: ReturnType<Database.Database['prepare']> | undefined
    let commit: ReturnType<Database.Database['prepare']> | undefined
    return {
      name: 'raw libsql, prepared once',
      role: 'raw',
      async setup(tokens) {
        await preload(sqlite(database), tokens, bytes)
        find = database.prepare(FIND)
        commit = database.prepare(COMMIT)
      },
      find: async (token) => find!.get([token, Date.now()]),
      commit: async (token) => commit!.run([token, bytes, Date.now() + DAY_MS]),
      close: async () => void database.close(),
    }
  }

  const ours = (name: string, role: 'factory' | 'stock'): Contender => {
    const database = open(role)
    const db =
      role === 'factory' ? sqlite(database) : new Kysely<any>({ dialect: new SqliteDialect({ database }) })
    const store = new KyselyStore(db, 0)
    return {
      name,
      role,
      setup: (tokens) => preload(db, tokens, bytes),
      find: (token) => store.find(token),
      commit: (token) => store.commit(token, bytes, new Date(Date.now() + DAY_MS)),
      close: async () => {
        await db.destroy()
        if (database.open) database.close()
      },
    }
  }

  return {
    name: 'libSQL file, WAL, synchronous=NORMAL (libsql package)',
    concurrency: [1],
    contenders: [
      raw(),
      ours('KyselyStore, sqlite(libsql Database)', 'factory'),
      ours('KyselyStore, stock SqliteDialect', 'stock'),
    ],
    close: async () => rmSync(dir, { recursive: true, force: true }),
  }
}

/**
 * libSQL on a file (WAL, synchronous=NORMAL) through @libsql/client: its raw `execute` and
 * our store on @libsql/kysely-libsql.
 */
export async function openLibsqlClient(): Promise<Engine> {
  const dir = mkdtempSync(join(tmpdir(), 'kss-bench-libsql-client-'))
  const { bytes } = sessionPayload()
  const open = async (name: string): Promise<libsql.Client> => {
    const client = libsql.createClient({ url: pathToFileURL(join(dir, `${name}.db`)).href })
    await client.execute('PRAGMA journal_mode = WAL')
    await client.execute('PRAGMA synchronous = NORMAL')
    return client
  }

  const raw = (): Contender => {
    let client: libsql.Client | undefined
    return {
      name: 'raw @libsql/client execute',
      role: 'raw',
      async setup(tokens) {
        client = await open('raw')
        await preload(new Kysely<any>({ dialect: new LibsqlDialect({ client }) }), tokens, bytes)
      },
      find: (token) => client!.execute({ sql: FIND, args: [token, Date.now()] }),
      commit: (token) => client!.execute({ sql: COMMIT, args: [token, bytes, Date.now() + DAY_MS] }),
      close: async () => client?.close(),
    }
  }

  const ours = (): Contender => {
    let db: Kysely<any> | undefined
    let store: KyselyStore | undefined
    return {
      name: 'KyselyStore, @libsql/kysely-libsql',
      role: 'stock',
      async setup(tokens) {
        db = new Kysely<any>({ dialect: new LibsqlDialect({ client: await open('ours') }) })
        await preload(db, tokens, bytes)
        store = new KyselyStore(db, 0)
      },
      find: (token) => store!.find(token),
      commit: (token) => store!.commit(token, bytes, new Date(Date.now() + DAY_MS)),
      close: async () => db?.destroy(),
    }
  }

  return {
    name: 'libSQL file, WAL, synchronous=NORMAL (@libsql/client)',
    concurrency: [1],
    contenders: [raw(), ours()],
    close: async () => rmSync(dir, { recursive: true, force: true }),
  }
}
