import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import session from 'express-session'
import { CompiledQuery, Kysely, SqliteDialect } from 'kysely'
import { betterSqlite3SessionStore, ConnectSessionKnexStore, knex } from '../../legs/peers/index.js'
import { KyselyStore, migrate, sqlite, type NodeSqliteDatabase } from '../ours.js'
import { bulkInsert, DAY_MS, question, sessionPayload, type Contender, type Engine } from '../harness.js'
import { peerGet, peerSet, type CallbackStore } from '../peers.js'

type Db = Database.Database

/** Imported through a variable: Node 20 and Bun have no node:sqlite, and bundlers leave it alone. */
const NODE_SQLITE: string = 'node:sqlite'

type DatabaseSync = new (path: string) => NodeSqliteDatabase & { exec(sql: string): void }

/** node:sqlite's DatabaseSync where this Node has one (22.13+), else undefined. */
async function nodeSqlite(): Promise<DatabaseSync | undefined> {
  try {
    return ((await import(NODE_SQLITE)) as { DatabaseSync: DatabaseSync }).DatabaseSync
  } catch {
    return undefined
  }
}

function open(path: string): Db {
  const db = new Database(path)
  if (!db.memory) {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
  }
  return db
}

/** Inserts rows in one transaction through a handle of our own. */
function preload(db: Db, head: string, rows: readonly (readonly unknown[])[]): Promise<void> {
  db.exec('BEGIN')
  const done = bulkInsert((text, params) => db.prepare(text).run(params), head, question, rows)
  return done.then(() => void db.exec('COMMIT'))
}

/**
 * SQLite over better-sqlite3, a WAL file (synchronous=NORMAL) in a temp dir or `:memory:`:
 * raw prepared statements, our store twice, better-sqlite3-session-store, and (file only)
 * connect-session-knex; on Node 22.13+ also our store on node:sqlite, the driver sqlite(path)
 * falls back to, beside it in the same rounds. Each contender has its own database.
 */
export async function openSqlite(memory: boolean): Promise<Engine> {
  const dir = mkdtempSync(join(tmpdir(), 'kss-bench-'))
  const path = (name: string) => (memory ? ':memory:' : join(dir, `${name}.db`))
  const { session: sess, bytes } = sessionPayload()
  const ourRows = (tokens: readonly string[]) => {
    const far = Date.now() + DAY_MS
    return tokens.map((t) => [t, bytes, far])
  }

  const raw = (): Contender => {
    const db = open(path('raw'))
    let find: Database.Statement | undefined
    let commit: Database.Statement | undefined
    return {
      name: 'raw better-sqlite3, prepared once',
      role: 'raw',
      async setup(tokens) {
        await migrate(sqlite(db), { tableName: 'sessions' })
        await preload(db, 'INSERT INTO sessions (token, data, expiry)', ourRows(tokens))
        find = db.prepare('SELECT data FROM "sessions" WHERE token = ? AND expiry > ?')
        commit = db.prepare(
          'INSERT INTO "sessions" (token, data, expiry) VALUES (?, ?, ?) ' +
            'ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry',
        )
      },
      find: async (token) => find!.get(token, Date.now()),
      commit: async (token) => commit!.run(token, bytes, Date.now() + DAY_MS),
      close: async () => void db.close(),
    }
  }

  /** Our store on the Kysely instance `connect` makes; `afterDestroy` runs after db.destroy(). */
  const kysely = (
    name: string,
    role: 'factory' | 'stock',
    connect: () => Kysely<any>,
    afterDestroy = () => {},
  ): Contender => {
    let db: Kysely<any> | undefined
    let store: KyselyStore | undefined
    return {
      name,
      role,
      async setup(tokens) {
        db = connect()
        await migrate(db)
        // Preload through the same connection (the only way into a :memory: database).
        const rows = ourRows(tokens)
        await db.transaction().execute(async (trx) => {
          await bulkInsert(
            (text, params) => trx.executeQuery(CompiledQuery.raw(text, params)),
            'INSERT INTO sessions (token, data, expiry)',
            question,
            rows,
          )
        })
        store = new KyselyStore(db, 0)
      },
      find: (token) => store!.find(token),
      commit: (token) => store!.commit(token, bytes, new Date(Date.now() + DAY_MS)),
      close: async () => {
        await store?.stopCleanup()
        await db?.destroy()
        afterDestroy()
      },
    }
  }

  /**
   * Our store on node:sqlite: sqlite(database) given a DatabaseSync with the settings
   * sqlite(path) makes for a file, which it would open this way without better-sqlite3. Role
   * 'stock': a row of the table, but not the factory row the targets and the chart read.
   */
  const onNodeSqlite = (DatabaseSync: DatabaseSync): Contender => {
    let database: InstanceType<DatabaseSync> | undefined
    return kysely(
      'KyselyStore, sqlite() on node:sqlite',
      'stock',
      () => {
        database = new DatabaseSync(path('node-sqlite'))
        const settings = [
          'journal_mode = WAL',
          'synchronous = NORMAL',
          'busy_timeout = 5000',
          'mmap_size = 268435456',
        ]
        if (!memory) for (const setting of settings) database.exec(`PRAGMA ${setting}`)
        return sqlite(database)
      },
      () => database?.close(),
    )
  }

  const bss = (): Contender => {
    const db = open(path('bss'))
    const SqliteStore = betterSqlite3SessionStore(session)
    // Its constructor always starts a 15-minute setInterval that is neither unref'd nor kept
    // (expired.clear: false is ignored: `false || true`), so the process could never exit.
    // Overriding startInterval() is the only way to switch it off.
    class NoTimerStore extends (SqliteStore as new (options: Record<string, unknown>) => object) {
      startInterval(): void {}
    }
    const store = new NoTimerStore({ client: db, expired: { clear: false } }) as unknown as CallbackStore
    return {
      name: 'better-sqlite3-session-store',
      role: 'peer',
      async setup(tokens) {
        const far = new Date(Date.now() + DAY_MS).toISOString()
        await preload(
          db,
          'INSERT INTO sessions (sid, sess, expire)',
          tokens.map((t) => [t, JSON.stringify(sess), far]),
        )
      },
      find: (token) => peerGet(store, token),
      commit: (token) => peerSet(store, token, sess),
      close: async () => void db.close(),
    }
  }

  const sessionKnex = (): Contender => {
    const k = knex({
      client: 'better-sqlite3',
      connection: { filename: path('knex') },
      useNullAsDefault: true,
      pool: {
        afterCreate: (connection: Db, done: (error: unknown, connection: Db) => void) => {
          connection.pragma('journal_mode = WAL')
          connection.pragma('synchronous = NORMAL')
          done(null, connection)
        },
      },
    })
    const store = new ConnectSessionKnexStore({ knex: k, tableName: 'sessions', cleanupInterval: 0 })
    return {
      name: 'connect-session-knex',
      role: 'peer',
      async setup(tokens) {
        await store.ready
        const far = new Date(Date.now() + DAY_MS).toISOString()
        const rows = tokens.map((t) => [t, JSON.stringify(sess), far])
        await k.transaction(async (trx) => {
          await bulkInsert(
            (text, params) => trx.raw(text, params as never[]),
            'INSERT INTO sessions (sid, sess, expired)',
            question,
            rows,
          )
        })
      },
      find: (token) => peerGet(store as unknown as CallbackStore, token),
      commit: (token) => peerSet(store as unknown as CallbackStore, token, sess),
      close: () => k.destroy(),
    }
  }

  const contenders: Contender[] = [
    raw(),
    kysely('KyselyStore, sqlite() factory', 'factory', () => sqlite(path('factory'))),
    kysely(
      'KyselyStore, stock SqliteDialect',
      'stock',
      () => new Kysely({ dialect: new SqliteDialect({ database: open(path('stock')) }) }),
    ),
    bss(),
  ]
  const DatabaseSync = await nodeSqlite()
  if (DatabaseSync !== undefined) contenders.push(onNodeSqlite(DatabaseSync))
  const drivers = DatabaseSync === undefined ? 'better-sqlite3' : 'better-sqlite3, node:sqlite'
  if (!memory) contenders.push(sessionKnex())
  return {
    name: `${memory ? 'SQLite :memory:' : 'SQLite file, WAL, synchronous=NORMAL'} (${drivers})`,
    concurrency: [1],
    contenders,
    close: async () => rmSync(dir, { recursive: true, force: true }),
  }
}
