// The importer's rate: 100,000 live sessions in the table of connect-pg-simple (Postgres)
// or connect-session-knex (SQLite file, MariaDB), each table made by that store itself,
// imported into ours with hashed ids. Prints sessions/s per engine.
//   npx tsx bench/import.ts [count]
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import expressSession from 'express-session'
import { sql, type Kysely } from 'kysely'
import pg from 'pg'
import {
  connectPgSimple as pgSession,
  ConnectSessionKnexStore,
  knex as knexFactory,
  type Knex,
} from '../legs/peers/index.js'
import { mysql } from '../dialects/mysql.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { importSessions, type ImportOptions } from '../src/import/index.js'
import { migrate } from '../src/store/migrate.js'

const COUNT = Number(process.argv[2] ?? 100_000)
const CHUNK = 400 // knex inserts on SQLite as a compound SELECT, limited to 500 terms
const postgresUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const mysqlUrl = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'

/** A session as express-session stores it: its cookie and a user id. */
function session(i: number, expires: Date): string {
  return JSON.stringify({
    cookie: { originalMaxAge: 86_400_000, expires, secure: false, httpOnly: true, path: '/' },
    userId: `user-${i % 10_000}`,
    cart: [i, i + 1, i + 2],
  })
}

const sid = () => randomBytes(24).toString('base64url')

async function fill(insert: (rows: Array<{ sid: string; sess: string; expires: Date }>) => Promise<void>) {
  const expires = new Date(Date.now() + 86_400_000)
  for (let done = 0; done < COUNT; done += CHUNK) {
    const rows = Array.from({ length: Math.min(CHUNK, COUNT - done) }, (_, k) => ({
      sid: sid(),
      sess: session(done + k, expires),
      expires,
    }))
    await insert(rows)
  }
}

async function measure(name: string, db: Kysely<any>, options: ImportOptions): Promise<void> {
  const ours = `bench_import_${randomBytes(4).toString('hex')}`
  await migrate(db, { tableName: ours })
  const started = performance.now()
  const result = await importSessions(db, { ...options, tableName: ours })
  const seconds = (performance.now() - started) / 1000
  if (result.imported !== COUNT) throw new Error(`${name}: imported ${result.imported} of ${COUNT}`)
  console.log(
    `${name}: ${COUNT} sessions in ${seconds.toFixed(2)} s = ${Math.round(COUNT / seconds)} sessions/s`,
  )
  await db.schema.dropTable(ours).execute()
  await db.schema.dropTable(`${ours}_imported`).execute() // the import's ledger
}

async function knexTable(knex: Knex, table: string): Promise<void> {
  const store = new ConnectSessionKnexStore({ knex, tableName: table, cleanupInterval: 0 })
  await store.ready
}

async function postgresLeg(): Promise<void> {
  const pool = new pg.Pool({ connectionString: postgresUrl })
  const schema = `bench_cps_${randomBytes(4).toString('hex')}`
  await pool.query(`CREATE SCHEMA "${schema}"`)
  const PgStore = pgSession(expressSession)
  const store = new PgStore({
    pool,
    schemaName: schema,
    createTableIfMissing: true,
    pruneSessionInterval: false,
  })
  await new Promise((resolve) => (store as expressSession.Store).get('none', resolve)) // creates its table
  await fill(async (rows) => {
    const values = rows.flatMap((r) => [r.sid, r.sess, Math.ceil(r.expires.getTime() / 1000)])
    const placeholders = rows.map((_, i) => `($${i * 3 + 1}, $${i * 3 + 2}, to_timestamp($${i * 3 + 3}))`)
    await pool.query(
      `INSERT INTO "${schema}".session (sid, sess, expire) VALUES ${placeholders.join(',')}`,
      values,
    )
  })
  const db = postgres(postgresUrl)
  try {
    await measure('Postgres, connect-pg-simple', db, { from: 'connect-pg-simple', schema })
  } finally {
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`)
    await (store as unknown as { close(): Promise<void> }).close()
    await pool.end()
    await db.destroy()
  }
}

async function sqliteLeg(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-import-'))
  const file = join(dir, 'app.db')
  const knex = knexFactory({
    client: 'better-sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
  })
  await knexTable(knex, 'sessions_knex')
  await fill(async (rows) => {
    await knex('sessions_knex').insert(
      rows.map((r) => ({ sid: r.sid, sess: r.sess, expired: r.expires.toISOString() })),
    )
  })
  await knex.destroy()
  const db = sqlite(file)
  try {
    await measure('SQLite file, connect-session-knex', db, {
      from: 'connect-session-knex',
      table: 'sessions_knex',
    })
  } finally {
    await db.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function mysqlLeg(): Promise<void> {
  const table = `bench_knex_${randomBytes(4).toString('hex')}`
  const knex = knexFactory({ client: 'mysql2', connection: mysqlUrl })
  await knexTable(knex, table)
  await fill(async (rows) => {
    await knex(table).insert(
      rows.map((r) => ({
        sid: r.sid,
        sess: r.sess,
        expired: r.expires.toISOString().slice(0, 19).replace('T', ' '),
      })),
    )
  })
  const db = mysql(mysqlUrl)
  try {
    await measure('MariaDB, connect-session-knex', db, { from: 'connect-session-knex', table })
  } finally {
    await sql`DROP TABLE ${sql.table(table)}`.execute(db)
    await knex.destroy()
    await db.destroy()
  }
}

for (const leg of [sqliteLeg, postgresLeg, mysqlLeg]) await leg()
